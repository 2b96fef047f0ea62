"""Every tunable of the Trio layer and its default, in one place (DESIGN.md's table).

Public functions take these as keyword arguments and build one :class:`Options` per
connection or server. ``None`` turns a limit or a timer off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, final

from .protocol import Limits
from .protocol._limits import (
    DEFAULT_MAX_FRAGMENTS,
    DEFAULT_MAX_HANDSHAKE_HEADERS,
    DEFAULT_MAX_HANDSHAKE_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
)
from .protocol.extensions import Extension, PerMessageDeflate

__all__ = ["Compression", "Options"]

#: ``"deflate"`` negotiates permessage-deflate (RFC 7692); ``None`` turns compression off.
Compression = Literal["deflate"] | None

# The defaults, named once: Options and every function that takes these keywords
# (open_websocket, reconnecting, serve, serve_unix) refer to them.
DEFAULT_MAX_QUEUE = 16
DEFAULT_PING_INTERVAL: float | None = 20.0
DEFAULT_PING_TIMEOUT: float | None = 20.0
DEFAULT_CLOSE_TIMEOUT: float | None = 10.0
DEFAULT_OPEN_TIMEOUT: float | None = 10.0
DEFAULT_COMPRESSION: Compression = "deflate"

#: Bytes asked of the transport per read: large enough for a 64 KiB frame in one go.
RECEIVE_SIZE = 65536


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The settings of one connection (or of every connection a server accepts).

    Args:
        max_message_size: Largest incoming message in bytes, after decompression
            (1009 beyond it).
        max_queue: Incoming messages (or pieces of a message) buffered before the reader
            stops reading the socket.
        ping_interval: Seconds between keepalive pings.
        ping_timeout: Seconds to wait for a keepalive pong before closing with 1011.
        close_timeout: Seconds to wait for the peer's close frame and for the TCP close.
        open_timeout: Seconds for TCP connect, TLS and the opening handshake.
        compression: ``"deflate"`` or ``None``.
        max_handshake_size: Largest HTTP head of the opening handshake.
        max_handshake_headers: Most header fields in that head.
        max_fragments: Most frames an incoming message may span.
        http2: Speak HTTP/2 where ALPN agrees on ``h2`` (RFC 8441 WebSockets); needs the
            ``h2`` package (``pip install 'trio-ws[http2]'``).
    """

    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
    max_queue: int = DEFAULT_MAX_QUEUE
    ping_interval: float | None = DEFAULT_PING_INTERVAL
    ping_timeout: float | None = DEFAULT_PING_TIMEOUT
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT
    compression: Compression = DEFAULT_COMPRESSION
    max_handshake_size: int = DEFAULT_MAX_HANDSHAKE_SIZE
    max_handshake_headers: int = DEFAULT_MAX_HANDSHAKE_HEADERS
    max_fragments: int | None = DEFAULT_MAX_FRAGMENTS
    http2: bool = False

    def __post_init__(self) -> None:
        if self.max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, not {self.max_queue}")
        if self.compression not in ("deflate", None):
            raise ValueError(f"compression must be 'deflate' or None, not {self.compression!r}")
        for name in ("ping_interval", "ping_timeout", "close_timeout", "open_timeout"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be positive or None, not {value}")

    def close_wait(self) -> float:
        """``close_timeout`` in seconds, ``inf`` when it is off (for a cancel scope)."""
        timeout = self.close_timeout
        return float("inf") if timeout is None else timeout

    def limits(self) -> Limits:
        """The core's limits for these options."""
        return Limits(
            max_message_size=self.max_message_size,
            max_fragments=self.max_fragments,
            max_handshake_size=self.max_handshake_size,
            max_handshake_headers=self.max_handshake_headers,
        )

    def extensions(self) -> list[Extension]:
        """Fresh extension instances for one connection."""
        return [PerMessageDeflate()] if self.compression == "deflate" else []
