"""ConnectionStatistics: a snapshot of a connection's counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

__all__ = ["ConnectionStatistics"]


@final
@dataclass(frozen=True, slots=True)
class ConnectionStatistics:
    """A snapshot of a connection's counters, from :meth:`WebSocketConnection.statistics`."""

    #: Messages sent.
    messages_sent: int
    #: Messages received (whole messages).
    messages_received: int
    #: Payload sent before compression, in bytes for binary messages and characters for text.
    bytes_sent: int
    #: Payload received after decompression, in bytes for binary and characters for text.
    bytes_received: int
    #: Bytes written to the transport (frames, compressed).
    wire_bytes_sent: int
    #: Bytes read from the transport.
    wire_bytes_received: int
    #: Message pieces waiting in the receive queue.
    queue_depth: int
    #: Pings sent and not yet answered.
    pings_in_flight: int
    #: Round-trip time of the last answered ping, in seconds, or ``None``.
    last_rtt: float | None
    #: Whether reading is paused because the receive queue is full (backpressure).
    reading_paused: bool = False
    #: ``"1.1"``, or ``"2"`` for a WebSocket opened by an extended CONNECT on an HTTP/2
    #: stream (RFC 8441).
    http_version: str = "1.1"

    @property
    def compression_ratio(self) -> float | None:
        """Wire bytes sent per payload byte sent (below 1.0 when compression helps)."""
        return self.wire_bytes_sent / self.bytes_sent if self.bytes_sent else None
