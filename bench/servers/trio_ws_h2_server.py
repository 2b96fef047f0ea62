"""trio-ws echo server for bench/run.py, WebSockets over HTTP/2 (RFC 8441): cleartext h2
with prior knowledge, one extended CONNECT stream per connection (the load generator's)."""

from __future__ import annotations

from functools import partial
from typing import Any

import _common
import trio

import trio_ws

OPTIONS = trio_ws.Options(max_message_size=_common.MAX_SIZE, compression=None)


async def handler(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        async for message in ws:
            await ws.send(message)
    except trio_ws.ConnectionClosed:
        pass


async def broadcast(message: bytes) -> None:
    raise NotImplementedError("no broadcast row over HTTP/2")


async def serve(port: int, task_status: Any) -> None:
    serve_one = partial(trio_ws.serve_stream, handler, options=OPTIONS, http2=True)
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(serve_one, listeners)


if __name__ == "__main__":
    _common.run(serve, broadcast)
