"""HTTP/2 header fields as trio-ws sends and reads them (both roles; no ``h2`` import).

A WebSocket's opening handshake over HTTP/2 (RFC 8441) is a header block each way; these
turn the application's fields into what HTTP/2 allows, and a received block into text.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Header", "outgoing_fields", "split_header_block"]

#: A header field as h2 gives it (names lower-case).
Header = tuple[bytes, bytes]

#: Header fields HTTP/2 forbids (RFC 9113 §8.2.2), and Host, which ``:authority`` replaces.
_CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}
)


def outgoing_fields(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The application's header fields as HTTP/2 wants them.

    Names lower-case; the connection-specific fields HTTP/2 forbids (and Host) dropped.
    """
    fields = []
    for name, value in headers:
        lowered = name.lower()
        if lowered not in _CONNECTION_SPECIFIC:
            fields.append((lowered, value))
    return fields


def split_header_block(block: Iterable[Header]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A received header block, decoded: its pseudo-header fields, and the other fields."""
    pseudo: dict[str, str] = {}
    fields: list[tuple[str, str]] = []
    for raw_name, raw_value in block:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name.startswith(":"):
            pseudo[name] = value
        else:
            fields.append((name, value))
    return pseudo, fields
