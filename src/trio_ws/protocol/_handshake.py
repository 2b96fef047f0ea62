"""The HTTP/1.1 opening handshake of RFC 6455 §4, parsed with h11: what both roles share.

Theory of operation: h11 parses the HTTP head (and, on a client, the body of a refusal);
this module decides what the head means for WebSocket. Each side feeds bytes in with
``receive_data`` and gets ``None`` (need more) or one result, once; whatever follows the head
is handed back untouched (``ServerHandshake.trailing``, ``ClientAccepted.trailing``) because it
already belongs to the framing layer. h11 is never asked to switch protocols: once the head
is parsed, its buffer is the trailing data and the h11 object is dropped.

Responses the server sends are built directly rather than through h11, so that an error
response can be written whatever state the parser ended in.

Size limits: h11's ``max_incomplete_event_size`` stops an endless head, and the size of a
head that arrived whole is measured from what h11 consumed, so both obey
``Limits.max_handshake_size``.

The client's side is :mod:`._client_handshake`, the server's :mod:`._server_handshake`; this
module holds what they share: the key and accept computations, the head parser with its
limits, and the checks of application headers.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

import h11

from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import Headers
from ._limits import Limits

__all__ = [
    "CLOSED_DURING_HANDSHAKE",
    "GUID",
    "OWNED",
    "REJECT_OWNED",
    "HeadParser",
    "accept_value",
    "check_owned",
    "generate_key",
    "handshake_error",
    "show",
]

#: RFC 6455 §1.3: the GUID appended to ``Sec-WebSocket-Key`` to compute the accept value.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: Header fields the handshake writes itself; an application may not set them.
OWNED = frozenset(
    {"host", "upgrade", "connection", "content-length", "transfer-encoding"}
    | {f"sec-websocket-{name}" for name in ("key", "version", "protocol", "extensions", "accept")}
)
#: Header fields :meth:`ServerHandshake.reject` writes itself.
REJECT_OWNED = frozenset({"connection", "content-length", "transfer-encoding"})
CLOSED_DURING_HANDSHAKE = "connection closed during the opening handshake"
SHOWN = 40


def generate_key() -> str:
    """Return a fresh ``Sec-WebSocket-Key``: 16 random bytes, base64 (RFC 6455 §4.1).

    Returns:
        24 characters of base64.
    """
    return base64.b64encode(secrets.token_bytes(16)).decode("ascii")


def accept_value(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` for a key (RFC 6455 §4.2.2 item 5.4).

    Args:
        key: The ``Sec-WebSocket-Key`` value, as sent.

    Returns:
        base64 of the SHA-1 of the key followed by :data:`GUID`.
    """
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def show(value: str) -> str:
    """Quote a peer-supplied value for an error message, cut short."""
    return repr(value if len(value) <= SHOWN else value[:SHOWN] + "...")


def check_owned(headers: Headers, owned: frozenset[str], what: str) -> None:
    """Refuse application headers the handshake writes itself, or that cannot be sent."""
    for name, value in headers:
        if name.lower() in owned:
            raise LocalProtocolError(
                f"header {name!r} is set by the handshake; remove it from {what}"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"header {name!r} is not latin-1 text") from None


def handshake_error(message: str, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(message, http_status=status)


class HeadParser:
    """An h11 connection plus the accounting that enforces the head limits.

    Errors carry an HTTP status on the server (400, or 431 for the limits) and none on the
    client, which has no one to answer.
    """

    def __init__(self, *, server: bool, limits: Limits) -> None:
        role = h11.SERVER if server else h11.CLIENT
        self.h11 = h11.Connection(role, max_incomplete_event_size=limits.max_handshake_size)
        self.what = "request" if server else "response"
        self.status: int | None = 400 if server else None
        self.too_large_status: int | None = 431 if server else None
        self.limits = limits
        self.fed = 0
        self.head_size = 0

    def feed(self, data: bytes) -> None:
        self.h11.receive_data(data)
        self.fed += len(data)

    def buffered(self) -> bytes:
        return self.h11.trailing_data[0]

    def next_event(self) -> h11.Event | None:
        """Return the next event, or ``None`` when h11 needs more data."""
        consumed = self.fed - len(self.buffered())
        try:
            event = self.h11.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:  # h11's max_incomplete_event_size
                raise self._too_large() from None
            raise RemoteProtocolError(
                f"malformed HTTP {self.what}: {str(exc)[:100]}", http_status=self.status
            ) from None
        if not isinstance(event, h11.Event):
            return None  # NEED_DATA (PAUSED never happens: we stop at the head's end)
        if isinstance(event, h11.Request | h11.InformationalResponse | h11.Response):
            # The head just parsed is what h11 consumed in this call. A client counts every
            # head it reads (1xx included), so endless 100 Continue cannot keep it waiting.
            self.head_size += self.fed - len(self.buffered()) - consumed
            if self.head_size > self.limits.max_handshake_size:
                raise self._too_large()
            if len(event.headers) > self.limits.max_handshake_headers:
                raise RemoteProtocolError(
                    f"{self.what} has more than {self.limits.max_handshake_headers} header"
                    " fields (max_handshake_headers)",
                    http_status=self.too_large_status,
                )
        return event

    def _too_large(self) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"{self.what} head is larger than {self.limits.max_handshake_size} bytes"
            " (max_handshake_size)",
            http_status=self.too_large_status,
        )
