"""Facts about transport streams, and closing them at once."""

from __future__ import annotations

from typing import Any

import trio

__all__ = ["close_forcefully", "close_now", "peer_address", "socket_of"]


async def close_forcefully(stream: trio.abc.AsyncResource) -> None:
    """Close ``stream`` at once, as :func:`trio.aclose_forcefully` does.

    Performance: a plain :class:`trio.SocketStream` is closed by closing its socket, which is
    all its ``aclose()`` does apart from a checkpoint. Through ``aclose_forcefully()`` that
    checkpoint costs two passes through Trio's run loop and a ``Cancelled`` raised and caught,
    a noticeable share of a short connection's cost. For such a stream this function is
    therefore not a checkpoint; callers that must be one have one of their own.
    """
    if not close_now(stream):
        await trio.aclose_forcefully(stream)


def close_now(stream: trio.abc.AsyncResource) -> bool:
    """Close ``stream`` without awaiting, if that can be done; tell whether it was.

    It can for a plain :class:`trio.SocketStream`: closing its socket is all its ``aclose()``
    does apart from a checkpoint (and it wakes any task blocked reading or writing it).
    """
    if type(stream) is trio.SocketStream:
        stream.socket.close()
        return True
    return False


def peer_address(stream: trio.abc.Stream) -> Any:
    """The peer's socket address under ``stream``, or ``None`` (no socket, or gone)."""
    sock = socket_of(stream)
    try:
        return sock.getpeername() if sock is not None else None
    except OSError:
        return None


def socket_of(stream: trio.abc.Stream) -> Any:
    """The socket under ``stream`` (through TLS and other wrappers), or ``None``."""
    while True:
        sock = getattr(stream, "socket", None)
        if sock is not None:
            return sock
        inner = getattr(stream, "transport_stream", None)
        if inner is None:
            return None
        stream = inner
