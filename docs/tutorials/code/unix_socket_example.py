"""A server on a Unix domain socket, and a client that connects through it."""

import tempfile
from pathlib import Path

import trio

import trio_ws


async def echo(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


# demo
async def demo() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "app.sock"
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_ws.serve_unix, echo, path)
            # The URL gives the Host header and the path; the socket is the transport.
            async with trio_ws.open_websocket("ws://localhost/chat", unix_socket_path=path) as ws:
                await ws.send("over a Unix socket")
                assert await ws.receive() == "over a Unix socket"
            await server.aclose()
        assert not path.exists()  # serve_unix removes its socket file


# end
if __name__ == "__main__":
    trio.run(demo)
