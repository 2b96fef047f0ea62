"""What a server shares with the requests it serves: keepalive, connections, handler scopes.

A room of its own so that :mod:`trio_ws._request` and :mod:`trio_ws._server` need not import
each other: the server owns one :class:`Tracker` and hands it to each request, whose
``accept()`` registers the new connection in it.
"""

from __future__ import annotations

from typing import Protocol, final

import trio

from ._connection import WebSocketConnection
from ._keepalive import Keepalive

__all__ = ["GoingAway", "Tracker"]


class GoingAway(Protocol):
    """A multiplexed connection (HTTP/2) that can be told the server is shutting down."""

    def going_away(self) -> None:
        """Take no new requests; end once the open ones have."""


@final
class Tracker:
    """The open connections of one server, and the keepalive scheduler they share.

    Args:
        keepalive: The scheduler of every connection's pings, or ``None`` (no keepalive).
    """

    __slots__ = ("connections", "handler_scopes", "keepalive", "sessions")

    def __init__(self, keepalive: Keepalive | None) -> None:
        #: The keepalive scheduler given to each accepted connection.
        self.keepalive = keepalive
        #: The open connections.
        self.connections: set[WebSocketConnection] = set()
        #: The cancel scope of each running handler (cancelled when a shutdown runs late).
        self.handler_scopes: set[trio.CancelScope] = set()
        #: The open HTTP/2 connections (told to go away when the server shuts down).
        self.sessions: set[GoingAway] = set()

    def track(self, connection: WebSocketConnection) -> None:
        """Count ``connection`` among the open ones."""
        self.connections.add(connection)

    def untrack(self, connection: WebSocketConnection | None) -> None:
        """Forget ``connection`` (``None``: nothing was accepted)."""
        if connection is not None:
            self.connections.discard(connection)
