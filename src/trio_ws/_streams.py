"""Closing transport streams at once."""

from __future__ import annotations

import trio

__all__ = ["close_forcefully", "close_now"]


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
