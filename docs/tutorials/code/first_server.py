"""The first-server tutorial: a handler that routes, rejects, accepts and echoes."""

import logging

import trio

import trio_ws


# step-1
async def handler(request: trio_ws.WebSocketRequest) -> None:
    if request.path == "/chat":
        await chat(request)  # step 3
        return
    if request.path != "/echo":
        await request.reject(404, body="Try /echo or /chat\n")
        return
    ws = await request.accept()
    print("client connected from", ws.remote_address)
    async for message in ws:
        await ws.send(message)
    print("client left with code", ws.close_code)


# step-2
async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, handler, "127.0.0.1", 8765)
        print(f"listening on ws://127.0.0.1:{server.port}/echo")


# step-3
async def chat(request: trio_ws.WebSocketRequest) -> None:
    name = request.query_params.get("name", ["stranger"])[0]
    ws = await request.accept(subprotocol="chat" if "chat" in request.subprotocols else None)
    await ws.send(f"Hello, {name}! Say something.")
    try:
        async for message in ws:
            if message == "bye":
                await ws.aclose(1000, "goodbye")
                break  # whatever the client sent after "bye" is not answered
            await ws.send(f"{name} said: {message}")
    except trio_ws.ConnectionClosedError as exc:
        print(f"{name} vanished: code {exc.code}")


# end-steps
async def demo() -> None:
    """Run the server on a free port and talk to it."""

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, handler, "127.0.0.1", 0)
        base = f"ws://127.0.0.1:{server.port}"
        async with trio_ws.open_websocket(base + "/echo") as ws:
            await ws.send("ping")
            assert await ws.receive() == "ping"
        try:
            async with trio_ws.open_websocket(base + "/nowhere"):
                raise AssertionError("not reached")
        except trio_ws.HandshakeRejected as exc:
            rejected = exc
        assert (rejected.status_code, rejected.body) == (404, b"Try /echo or /chat\n")
        async with trio_ws.open_websocket(base + "/chat?name=Ada", subprotocols=["chat"]) as ws:
            assert ws.subprotocol == "chat"
            assert await ws.receive() == "Hello, Ada! Say something."
            await ws.send("hi")
            assert await ws.receive() == "Ada said: hi"
            await ws.send("bye")
            await ws.send("anything after bye")  # must not make the handler fail
            async for _ in ws:
                raise AssertionError("no more messages")
            assert (ws.close_code, ws.close_reason) == (1000, "goodbye")
        await server.aclose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    trio.run(main)
