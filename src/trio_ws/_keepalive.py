"""Keepalive: one scheduling task pings many connections, through their public API only.

Theory of operation. A connection is pinged ``ping_interval`` seconds after it opened, then
``ping_interval`` seconds after each keepalive ping was answered. A server shares one
:class:`Keepalive` between all its connections (idle connections are the common case of a
busy server, and a sleeping task per connection would cost a task and its scopes each); a
client connection runs its own. The scheduler keeps a heap of due times and *weak*
references: a closed connection is never kept in memory by it, also not by a local variable
that outlives a loop iteration (the due pings are started from a function of their own).

Each due ping runs as a short task in the scheduler's nursery, using the connection's public
API only (:meth:`~trio_ws.WebSocketConnection.ping`, :meth:`~trio_ws.WebSocketConnection.aclose`,
:attr:`~trio_ws.WebSocketConnection.closed`, :meth:`~trio_ws.WebSocketConnection.statistics`).

Never blame the peer for our own slowness. A healthy connection must not be closed because the
application is slow: when the receive queue is full, reading stops (backpressure) and the
pong waits unread in the kernel. So the ping timeout only runs against a peer that is silent
while we are reading: a ``ping_timeout`` during which bytes arrived, or during which reading
was paused by our own backpressure, starts a new one. A peer silent for a whole
``ping_timeout`` while we read is closed with 1011.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import weakref
from typing import Protocol

import trio

from ._exceptions import ConnectionClosed
from ._statistics import ConnectionStatistics

__all__ = ["Keepalive", "keepalive_ping"]

logger = logging.getLogger("trio_ws")


class Pingable(Protocol):
    """What the keepalive uses of a connection: its public API, nothing more."""

    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""

    async def ping(self, payload: bytes | None = None) -> float:
        """Send a ping and wait for its pong."""

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection."""

    def statistics(self) -> ConnectionStatistics:
        """The connection's counters."""


class Keepalive:
    """Schedule keepalive pings for connections that share ``interval`` and ``timeout``.

    Args:
        interval: Seconds between a connection's opening (or its last answered ping) and
            its next keepalive ping.
        timeout: Seconds of silence from the peer, while we read, after which a ping that
            got no pong closes the connection with 1011; ``None`` waits for ever.
    """

    __slots__ = ("_counter", "_heap", "_interval", "_timeout", "_wakeup")

    def __init__(self, interval: float, timeout: float | None = None) -> None:
        self._interval = interval
        self._timeout = timeout
        self._heap: list[tuple[float, int, weakref.ref[Pingable]]] = []
        self._counter = itertools.count()
        self._wakeup = trio.Event()

    def add(self, connection: Pingable) -> None:
        """Ping ``connection`` ``interval`` seconds from now, and after each answer."""
        due = trio.current_time() + self._interval
        heapq.heappush(self._heap, (due, next(self._counter), weakref.ref(connection)))
        self._wakeup.set()  # the scheduler may be waiting on an empty heap

    async def run(self) -> None:
        """Start the pings as they fall due; runs until cancelled."""
        heap = self._heap
        async with trio.open_nursery() as nursery:
            while True:
                if not heap:
                    self._wakeup = trio.Event()
                    await self._wakeup.wait()
                    continue
                due = heap[0][0]
                if due > trio.current_time():
                    # Entries pushed meanwhile are due later (one interval from a later "now").
                    await trio.sleep_until(due)
                self._start_due(nursery)

    def _start_due(self, nursery: trio.Nursery) -> None:
        # A function of its own: no strong reference to a connection outlives this call.
        heap = self._heap
        now = trio.current_time()
        while heap and heap[0][0] <= now:
            connection = heapq.heappop(heap)[2]()
            if connection is not None and not connection.closed:
                nursery.start_soon(self._ping, weakref.ref(connection))

    async def _ping(self, ref: weakref.ref[Pingable]) -> None:
        connection = ref()
        if connection is None:
            return
        try:
            if await keepalive_ping(connection, self._timeout):
                self.add(connection)
        except Exception:  # never raise into the scheduler's nursery
            logger.exception("internal error in a keepalive ping")


async def keepalive_ping(connection: Pingable, timeout: float | None) -> bool:
    """Ping once; close with 1011 if the peer stays silent; tell whether to ping again."""
    done = trio.Event()

    async def ping() -> None:
        try:
            await connection.ping()
        except ConnectionClosed:
            pass
        finally:
            done.set()

    silent = False
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ping)
        if timeout is not None:
            seen = connection.statistics().wire_bytes_received
            while not done.is_set():
                with trio.move_on_after(timeout):
                    await done.wait()
                if done.is_set():
                    break
                stats = connection.statistics()
                if stats.wire_bytes_received != seen or stats.reading_paused:
                    seen = stats.wire_bytes_received  # a sign of life, or our own slowness
                    continue
                silent = True
                nursery.cancel_scope.cancel()
                break
    if silent:
        logger.info(
            "closing %r: keepalive ping timeout: the peer sent nothing for %s s",
            connection,
            timeout,
        )
        await connection.aclose(1011, "keepalive ping timeout")
        return False
    return not connection.closed
