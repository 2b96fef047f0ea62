"""Keepalive: one scheduling task pings many connections.

Theory of operation. A connection is pinged ``ping_interval`` seconds after it opened, then
``ping_interval`` seconds after each keepalive ping was answered; a ping not answered within
``ping_timeout`` closes the connection with 1011 (see
:meth:`WebSocketConnection._keepalive_ping`).

Idle connections are the common case of a busy server, so they should cost as little as
possible: a sleeping task per connection costs a task, its frame and two cancel scopes. A
:class:`Keepalive` instead keeps a heap of due times and a single task that sleeps until the
next one. When a ping is due it starts the ping as a short-lived task *in the connection's own
nursery*, so the ping lives and dies with the connection like its reader. A server shares
one :class:`Keepalive` between all its connections; a client connection runs its own.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import weakref
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from ._connection import WebSocketConnection

__all__ = ["Keepalive"]

logger = logging.getLogger("trio_ws")


class Keepalive:
    """Schedule keepalive pings for a set of connections that share one ``ping_interval``."""

    __slots__ = ("_counter", "_heap", "_interval", "_wakeup")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._heap: list[tuple[float, int, weakref.ref[WebSocketConnection]]] = []
        self._counter = itertools.count()
        self._wakeup = trio.Event()

    def add(self, connection: WebSocketConnection) -> None:
        """Ping ``connection`` ``ping_interval`` seconds from now, and after each answer."""
        # A weak reference: a closed connection must not stay in memory until it falls due.
        due = trio.current_time() + self._interval
        heapq.heappush(self._heap, (due, next(self._counter), weakref.ref(connection)))
        self._wakeup.set()  # the scheduler may be waiting on an empty heap

    async def run(self) -> None:
        """Start the pings as they fall due; runs until cancelled."""
        heap = self._heap
        while True:
            if not heap:
                self._wakeup = trio.Event()
                await self._wakeup.wait()
                continue
            due = heap[0][0]
            if due > trio.current_time():
                # Entries pushed meanwhile are due later (one interval from a later "now").
                await trio.sleep_until(due)
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                _, _, ref = heapq.heappop(heap)
                connection = ref()
                if connection is None or connection.closed:
                    continue
                try:
                    connection._nursery.start_soon(self._ping, connection)
                except RuntimeError:  # the connection's nursery is closing
                    continue

    async def _ping(self, connection: WebSocketConnection) -> None:
        try:
            if await connection._keepalive_ping():
                self.add(connection)
        except Exception:  # never raise into the connection's nursery
            logger.exception("trio_ws: internal error in a keepalive ping")
