"""Helpers for testing trio-ws applications, in the spirit of :mod:`trio.testing`.

:func:`open_memory_websocket` serves a handler over an in-memory stream pair and connects a
client to it: no socket, no port, deterministic, and compatible with Trio's
``autojump_clock`` so keepalive and timeout logic can be tested in virtual time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio
import trio.testing

from ._client import open_websocket_stream
from ._connection import WebSocketConnection
from ._groups import reraise_single
from ._options import Options
from ._server import Handler, serve_stream

__all__ = ["open_memory_websocket"]


@asynccontextmanager
async def open_memory_websocket(
    handler: Handler,
    *,
    target: str = "/",
    subprotocols: Sequence[str] = (),
    headers: Sequence[tuple[str, str]] = (),
    client_options: Options | None = None,
    server_options: Options | None = None,
    lockstep: bool = False,
) -> AsyncIterator[WebSocketConnection]:
    """Serve ``handler`` in memory and yield a client connected to it.

    ::

        async with trio_ws.testing.open_memory_websocket(app) as ws:
            await ws.send("ping")
            assert await ws.receive() == "pong"

    When the block ends the client closes (1000) and the handler is given the time to
    finish, as it would be over TCP. A handler that raises is logged and closes with 1011, as
    in production; a rejected handshake raises :class:`~trio_ws.HandshakeRejected`.

    Args:
        handler: The server handler under test.
        target: The request target (path and query) the client asks for.
        subprotocols: Subprotocols the client offers.
        headers: Extra request header fields (``Authorization``, ``Origin``, ...).
        client_options: The client's settings.
        server_options: The server's settings.
        lockstep: Use :func:`trio.testing.lockstep_stream_pair` (no buffering at all: every
            write waits for the reader, which makes backpressure visible) instead of
            :func:`trio.testing.memory_stream_pair`.
    """
    client_stream: trio.abc.Stream
    server_stream: trio.abc.Stream
    if lockstep:
        client_stream, server_stream = trio.testing.lockstep_stream_pair()
    else:
        client_stream, server_stream = trio.testing.memory_stream_pair()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: serve_stream(handler, server_stream, options=server_options)
            )
            async with open_websocket_stream(
                client_stream,
                host="testserver",
                target=target,
                subprotocols=subprotocols,
                headers=headers,
                options=client_options,
            ) as ws:
                yield ws
    except BaseExceptionGroup as group:
        reraise_single(group)
