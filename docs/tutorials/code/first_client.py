"""The first-client tutorial: connect, talk, handle the ends."""

import sys

import trio

import trio_ws


# step-1
async def hello(url: str) -> None:
    async with trio_ws.open_websocket(url) as ws:
        await ws.send("Hello, world!")
        reply = await ws.receive()
        print("received:", reply)


# step-2
async def count(url: str) -> None:
    async with trio_ws.open_websocket(url) as ws:
        for number in range(3):
            await ws.send(str(number))
        await ws.send(b"\x00\x01")  # bytes go out as a binary message
        for _ in range(4):
            message = await ws.receive()
            print(type(message).__name__, repr(message))


# step-3
async def careful(url: str) -> None:
    try:
        async with trio_ws.open_websocket(url, open_timeout=5) as ws:
            await ws.send("Hello again")
            async for message in ws:  # ends when the server closes normally
                print("received:", message)
                await ws.aclose()  # we are done: close with 1000
                break
    except trio_ws.HandshakeRejected as exc:
        print(f"the server said no: HTTP {exc.status_code}")
    except trio_ws.ConnectionClosedError as exc:
        print(f"the connection broke: code {exc.code}, reason {exc.reason!r}")
    except (OSError, trio_ws.HandshakeError) as exc:
        print(f"could not connect: {exc}")


# end-steps
async def demo() -> None:
    """Run every step against a local echo server."""
    from echo import echo  # docs/tutorials/code/echo.py

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, echo, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.port}/"
        await hello(url)
        await count(url)
        await careful(url)
        await server.aclose()


if __name__ == "__main__":
    trio.run(hello, sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8765/")
