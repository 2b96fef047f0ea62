"""websockets.trio (websockets 17) echo server for bench/run.py."""

from __future__ import annotations

from typing import Any

import _common
import trio
from websockets.exceptions import ConnectionClosed
from websockets.trio.server import ServerConnection
from websockets.trio.server import serve as ws_serve

connections: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    connections.add(ws)
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass
    finally:
        connections.discard(ws)


async def broadcast(message: bytes) -> None:
    for ws in list(connections):
        try:
            await ws.send(message)
        except ConnectionClosed:
            pass


async def serve(port: int, task_status: Any) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: ws_serve(
                handler,
                port,
                host="127.0.0.1",
                max_size=_common.MAX_SIZE,
                task_status=task_status,
            )
        )
        task_status.started(server.listeners[0].socket.getsockname()[1])


if __name__ == "__main__":
    _common.run(serve, broadcast)
