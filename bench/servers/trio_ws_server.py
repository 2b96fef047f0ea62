"""trio-ws echo server for bench/run.py (compression accepted when the client offers it)."""

from __future__ import annotations

from typing import Any

import _common
import trio

import trio_ws

connections: set[trio_ws.WebSocketConnection] = set()


async def handler(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    connections.add(ws)
    try:
        async for message in ws:
            await ws.send(message)
    except trio_ws.ConnectionClosed:
        pass
    finally:
        connections.discard(ws)


async def broadcast(message: bytes) -> None:
    # The library's own broadcast() (the peers have none for Trio: they loop over send()).
    await trio_ws.broadcast(connections, message)


async def serve(port: int, task_status: Any) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: trio_ws.serve(
                handler,
                "127.0.0.1",
                port,
                max_message_size=_common.MAX_SIZE,
                task_status=task_status,
            )
        )
        task_status.started(server.port)


if __name__ == "__main__":
    _common.run(serve, broadcast)
