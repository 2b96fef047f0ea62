"""trio-websocket's defaults, and how its settings and headers map onto trio-ws's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..._options import Options

__all__ = [
    "CONN_TIMEOUT",
    "MAX_MESSAGE_SIZE",
    "MESSAGE_QUEUE_SIZE",
    "RECEIVE_BYTES",
    "ByteHeaders",
    "bytes_headers",
    "options",
    "str_headers",
]

#: Default connect and disconnect timeout, in seconds (trio-websocket's).
CONN_TIMEOUT: Final = 60
#: Default size of the incoming message queue (trio-websocket's).
MESSAGE_QUEUE_SIZE: Final = 1
#: Default largest incoming message, in bytes (trio-websocket's).
MAX_MESSAGE_SIZE: Final = 2**20
#: Default size of each read from the transport, in bytes (trio-websocket's).
RECEIVE_BYTES: Final = 4 * 2**10

#: Header fields as trio-websocket takes them: (name, value) pairs of bytes.
ByteHeaders = list[tuple[bytes, bytes]]


def options(
    message_queue_size: int,
    max_message_size: int,
    connect_timeout: float | None,
    disconnect_timeout: float | None,
) -> Options:
    """The trio-ws options for trio-websocket's settings.

    trio-websocket has no keepalive and no compression, so neither has the compat layer. A
    queue of 0 (unbuffered) is a queue of 1 for trio-ws plus a gate on reading
    (:class:`~._stream.CompatStream`).
    """
    return Options(
        max_queue=max(1, message_queue_size),
        max_message_size=max_message_size,
        open_timeout=connect_timeout,
        close_timeout=disconnect_timeout,
        ping_interval=None,
        compression=None,
    )


def bytes_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    """Header fields as latin-1 bytes, as trio-websocket gives them."""
    return tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers)


def str_headers(
    headers: Iterable[tuple[bytes | str, bytes | str]] | None,
) -> list[tuple[str, str]]:
    """Header fields given as bytes (or str), as trio-ws takes them."""
    return [
        (
            name.decode("latin-1") if isinstance(name, bytes) else name,
            value.decode("latin-1") if isinstance(value, bytes) else value,
        )
        for name, value in headers or ()
    ]
