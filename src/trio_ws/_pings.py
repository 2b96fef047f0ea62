"""Pings in flight: which payloads wait for their pong, and the last round-trip time."""

from __future__ import annotations

import os

import trio

__all__ = ["Pings"]


class Pings:
    """The pings a connection sent and that wait for their pong."""

    __slots__ = ("_waiting", "last_rtt")

    def __init__(self) -> None:
        # Payload → (set when answered or when the connection ends, when it was sent).
        self._waiting: dict[bytes, tuple[trio.Event, float]] = {}
        #: Round-trip time of the last answered ping, in seconds.
        self.last_rtt: float | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def new_payload(self) -> bytes:
        """Four random bytes that no ping in flight uses."""
        payload = os.urandom(4)
        while payload in self._waiting:
            payload = os.urandom(4)
        return payload

    def in_flight(self, payload: bytes) -> bool:
        """Whether a ping with ``payload`` waits for its pong."""
        return payload in self._waiting

    def sent(self, payload: bytes) -> trio.Event:
        """Record a ping just queued; return the event its pong (or the end) sets."""
        answered = trio.Event()
        self._waiting[payload] = (answered, trio.current_time())
        return answered

    def forget(self, payload: bytes) -> None:
        """Stop waiting for the pong of ``payload``."""
        self._waiting.pop(payload, None)

    def pong_received(self, payload: bytes) -> None:
        """A pong arrived: it answers its ping and every ping sent before it.

        RFC 6455 §5.5.3 lets an endpoint answer only the most recent of several pings.
        """
        waiting = self._waiting
        if payload not in waiting:
            return
        now = trio.current_time()
        for key, (answered, sent_at) in list(waiting.items()):
            if not answered.is_set():
                answered.set()
                if key == payload:
                    self.last_rtt = now - sent_at
            if key == payload:
                break

    def connection_finished(self) -> None:
        """Wake every ping waiting for its pong: none will come."""
        for answered, _ in self._waiting.values():
            answered.set()
