"""What a server shares with the requests it serves: keepalive, connections, handler scopes.

A room of its own so that :mod:`trio_ws._request` and :mod:`trio_ws._server` need not import
each other: the server owns one :class:`Tracker` and hands it to each request, whose
``accept()`` registers the new connection in it.
"""

from __future__ import annotations

from typing import final

import trio

from ._connection import WebSocketConnection
from ._keepalive import Keepalive

__all__ = ["Tracker"]


@final
class Tracker:
    """The open connections of one server, and the keepalive scheduler they share.

    Args:
        keepalive: The scheduler of every connection's pings, or ``None`` (no keepalive).
    """

    __slots__ = ("connections", "handler_scopes", "keepalive")

    def __init__(self, keepalive: Keepalive | None) -> None:
        #: The keepalive scheduler given to each accepted connection.
        self.keepalive = keepalive
        #: The open connections.
        self.connections: set[WebSocketConnection] = set()
        #: The cancel scope of each running handler (cancelled when a shutdown runs late).
        self.handler_scopes: set[trio.CancelScope] = set()

    def track(self, connection: WebSocketConnection) -> None:
        """Count ``connection`` among the open ones."""
        self.connections.add(connection)

    def untrack(self, connection: WebSocketConnection | None) -> None:
        """Forget ``connection`` (``None``: nothing was accepted)."""
        if connection is not None:
            self.connections.discard(connection)
