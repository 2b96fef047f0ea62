"""trio-websocket (the incumbent, on wsproto) echo server for bench/run.py. No compression."""

from __future__ import annotations

from typing import Any

import _common
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, serve_websocket

connections: set[WebSocketConnection] = set()


async def handler(request: Any) -> None:
    ws = await request.accept()
    connections.add(ws)
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except ConnectionClosed:
        pass
    finally:
        connections.discard(ws)


async def broadcast(message: bytes) -> None:
    for ws in list(connections):
        try:
            await ws.send_message(message)
        except ConnectionClosed:
            pass


async def serve(port: int, task_status: Any) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: serve_websocket(
                handler,
                "127.0.0.1",
                port,
                None,
                max_message_size=_common.MAX_SIZE,
                task_status=task_status,
            )
        )
        task_status.started(server.port)


if __name__ == "__main__":
    _common.run(serve, broadcast)
