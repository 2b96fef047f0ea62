"""Serving one connection: read the request, run the handler on it, close what it left.

Used by :mod:`trio_ws._server` for each accepted stream and by ``serve_stream()``. A room of
its own so that the server module and the request module do not import each other: this
one imports the request module, the server module imports this one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import trio

from ._answer import send_final_answer
from ._handshake_reader import read_handshake_events
from ._options import Options
from ._request import (
    ORIGIN_NOT_ALLOWED,
    Upgrade,
    WebSocketRequest,
    accepted_connection,
    origin_allowed,
    run_handler,
)
from ._streams import close_forcefully
from ._tracking import Tracker
from .protocol import Connection, ConnectionFailed, RejectConnection, Request, Role

__all__ = ["Handler", "serve_connection"]

logger = logging.getLogger("trio_ws")

#: A server handler, called with each request to answer it.
Handler = Callable[[WebSocketRequest], Awaitable[Any]]


async def serve_connection(
    handler: Handler,
    stream: trio.abc.Stream,
    options: Options,
    origins: frozenset[str | None] | Collection[str | None] | None,
    tracker: Tracker | None,
) -> None:
    """Read the request on ``stream``, run ``handler`` on it, close what it left open.

    Args:
        handler: The application's handler.
        stream: An accepted stream.
        options: The server's options.
        origins: The allowed Origin values, or ``None`` (any).
        tracker: What the serving :class:`~trio_ws.Server` shares, or ``None``.
    """
    protocol = Connection(
        Role.SERVER, extensions=options.extensions(), limits=options.limits(), defer_failure=True
    )
    try:
        # The connection's nursery, opened first so that its cancel scope is also the one
        # Server.aclose() cancels (one scope per connection rather than two: memory).
        async with trio.open_nursery() as nursery:
            if tracker is not None:
                tracker.handler_scopes.add(nursery.cancel_scope)
            request: WebSocketRequest | None = None
            try:
                timeout = options.open_timeout
                event: Request | None = None
                with trio.move_on_after(float("inf") if timeout is None else timeout):
                    event = await _read_request(stream, protocol)
                if event is None:
                    return  # bad request (already answered), client gone, or too slow
                if not origin_allowed(event, origins):
                    body = f"{ORIGIN_NOT_ALLOWED}\n".encode()
                    protocol.send(RejectConnection(status_code=403, body=body))
                    await send_final_answer(stream, protocol.data_to_send())
                    return
                request = WebSocketRequest(
                    Upgrade(stream, protocol), event, options, nursery, tracker
                )
                await run_handler(handler, request)
            finally:
                if tracker is not None:
                    tracker.handler_scopes.discard(nursery.cancel_scope)
                    if request is not None:
                        tracker.untrack(accepted_connection(request))
    finally:
        await close_forcefully(stream)


async def _read_request(stream: trio.abc.Stream, protocol: Connection) -> Request | None:
    while events := await read_handshake_events(stream, protocol):
        for event in events:
            if isinstance(event, Request):
                return event
            if isinstance(event, ConnectionFailed):
                # 400, 405, 426, 431...: answered so that a client still sending reads it.
                await send_final_answer(stream, protocol.data_to_send())
                return None
    return None
