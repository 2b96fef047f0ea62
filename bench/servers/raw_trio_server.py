"""The limit: a raw Trio TCP echo server framing messages with a 4-byte length prefix.

It does what any message server must do and nothing else: read, split the byte stream into
messages, write each message back with its prefix. No handshake, no masking, no UTF-8 checks.
"""

from __future__ import annotations

from struct import Struct
from typing import Any

import _common
import trio

_PREFIX = Struct("!I")
connections: set[trio.SocketStream] = set()


async def handler(stream: trio.SocketStream) -> None:
    connections.add(stream)
    buf = bytearray()
    try:
        while data := await stream.receive_some(65536):
            buf += data
            while len(buf) >= 4:
                (n,) = _PREFIX.unpack_from(buf)
                if len(buf) < 4 + n:
                    break
                message = bytes(buf[4 : 4 + n])
                del buf[: 4 + n]
                await stream.send_all(_PREFIX.pack(n) + message)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        connections.discard(stream)
        await trio.aclose_forcefully(stream)


async def broadcast(message: bytes) -> None:
    frame = _PREFIX.pack(len(message)) + message
    for stream in list(connections):
        try:
            await stream.send_all(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def serve(port: int, task_status: Any) -> None:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handler, listeners)


if __name__ == "__main__":
    _common.run(serve, broadcast)
