"""An echo server and a client that talks to it, in one file."""

import trio

import trio_ws


async def echo(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


async def demo() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, echo, "127.0.0.1", 0)
        async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("Hello, world!")
            print(await ws.receive())
        await server.aclose()


if __name__ == "__main__":
    trio.run(demo)
