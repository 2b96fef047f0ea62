"""Sending the server's final HTTP answer so that it reaches the client.

An HTTP error (431 for a huge request head, 400, 403, 404, 426, a handler's reject() or
respond()) is the last thing the server writes on a connection. Closing the socket right
after writing it is not enough: if the client is still sending (a 1 MB request head) and
unread bytes sit in the server's receive buffer when it closes, the kernel answers with a
TCP reset, and a reset makes the client's kernel throw away the answer it had not read yet.

So, as HTTP servers do (a "lingering close"): write the answer, shut down the write side
(``send_eof``, where the stream supports it), read and discard what the client still sends
until it closes, at most :data:`DRAIN_BYTES` bytes and :data:`DRAIN_SECONDS` seconds, and
only then close.

A stream that cannot half-close (TLS: :class:`trio.SSLStream` has no ``send_eof``) is closed
right after the answer, since a client reading until the end of the stream would otherwise
wait the whole drain time.
"""

from __future__ import annotations

import trio

from ._options import RECEIVE_SIZE
from ._streams import close_forcefully

__all__ = ["DRAIN_BYTES", "DRAIN_SECONDS", "send_final_answer"]

#: At most this many bytes are read and discarded after an HTTP answer (a few times the
#: 8 KiB head limit and more than a 1 MB head, so that a large-header attack still reads
#: its 431; not unbounded, so that a client cannot keep the server reading forever).
DRAIN_BYTES = 4 * 2**20
#: And for at most this long.
DRAIN_SECONDS = 2.0


async def send_final_answer(stream: trio.abc.Stream, data: bytes) -> None:
    """Write ``data``, half-close, drain the client's bytes (bounded), then close ``stream``.

    Never raises for a broken or closed stream; a cancellation only cuts the drain short
    (the stream is closed either way).
    """
    try:
        if data:
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
        if isinstance(stream, trio.abc.HalfCloseableStream):
            try:
                await stream.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            await _drain(stream)
    finally:
        await close_forcefully(stream)


async def _drain(stream: trio.abc.Stream) -> None:
    left = DRAIN_BYTES
    with trio.move_on_after(DRAIN_SECONDS):
        while left > 0:
            try:
                data = await stream.receive_some(min(RECEIVE_SIZE, left))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            left -= len(data)
