"""Events: what goes over a WebSocket connection, in both directions.

An event is a small frozen dataclass named for the thing on the wire. The same class serves
both directions: ``send(Ping(payload=b"x"))`` on one side makes the other side's ``events()``
return ``Ping(payload=b"x")``. Events check themselves when they are built, so an event that
could not legally go on the wire never exists (:class:`LocalProtocolError` is raised where it
is constructed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias, final

from ._close import is_sendable_close_code
from ._errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "AcceptConnection",
    "BytesMessage",
    "CloseConnection",
    "ConnectionFailed",
    "Event",
    "Headers",
    "Message",
    "Ping",
    "Pong",
    "RejectConnection",
    "Request",
    "TextMessage",
]

#: Header fields as ``(name, value)`` pairs, in order. Received names are lower-cased.
Headers: TypeAlias = tuple[tuple[str, str], ...]

# RFC 7230 §3.2.6: token = 1*tchar.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 7230 §3.2: field-value excludes CR, LF and NUL.
_FIELD_VALUE = re.compile(r"^[^\r\n\x00]*$")

#: RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
MAX_CONTROL_PAYLOAD = 125


def _check_headers(headers: object) -> Headers:
    if type(headers) is tuple and all(
        type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and type(pair[1]) is str
        for pair in headers
    ):
        pairs: Headers = headers  # already pairs of text: kept, not copied (memory)
    else:
        try:
            pairs = tuple((str(name), str(value)) for name, value in headers)  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            raise LocalProtocolError("headers must be a sequence of (name, value) pairs") from None
    for name, value in pairs:
        if not _TOKEN.match(name):
            raise LocalProtocolError(f"invalid header name {name!r}")
        if not _FIELD_VALUE.match(value):
            raise LocalProtocolError(
                f"invalid value for header {name!r}: CR, LF and NUL are not allowed"
            )
    return pairs


def _check_token(kind: str, value: str) -> None:
    if not _TOKEN.match(value):
        raise LocalProtocolError(f"invalid {kind} {value!r}: must be an RFC 7230 token")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of every event. Not meant to be built or subclassed by users."""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Request(Event):
    """The client's opening handshake (RFC 6455 §4.1), or a plain HTTP GET.

    A client sends it; a server receives it and answers with :class:`AcceptConnection` or
    :class:`RejectConnection`.

    Args:
        host: The Host header value (``example.com`` or ``example.com:8080``).
        target: The request target: path and query, e.g. ``/chat?room=1``.
        subprotocols: Subprotocols offered, in order of preference.
        extensions: Extension offers, as ``Sec-WebSocket-Extensions`` header values. When
            sending, leave it empty: the connection offers the extensions it was built with.
        headers: When sending, extra header fields (``Origin``, ``Authorization``, ...).
            When received, every header field of the request, names lower-cased.
        is_websocket: ``False`` for a plain HTTP GET without ``Upgrade: websocket``. A server
            may only answer it with :class:`RejectConnection` (any status, 200 included).
    """

    host: str
    target: str = "/"
    subprotocols: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    headers: Headers = ()
    is_websocket: bool = True

    def __post_init__(self) -> None:
        if not self.host or not _FIELD_VALUE.match(self.host) or " " in self.host:
            raise LocalProtocolError(f"invalid host {self.host!r}")
        if not self.target.startswith("/") or any(c in self.target for c in " \r\n\x00#"):
            raise LocalProtocolError(f"invalid request target {self.target!r}")
        object.__setattr__(self, "subprotocols", tuple(self.subprotocols))
        for subprotocol in self.subprotocols:
            _check_token("subprotocol", subprotocol)
        object.__setattr__(self, "extensions", tuple(self.extensions))
        object.__setattr__(self, "headers", _check_headers(self.headers))


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptConnection(Event):
    """The server's ``101 Switching Protocols`` answer (RFC 6455 §4.2.2).

    Args:
        subprotocol: The subprotocol chosen among those the client offered, or ``None``.
        extensions: The negotiated extensions as header values. Filled in by the core:
            leave it empty when sending.
        headers: When sending, extra header fields for the response. When received, every
            header field of the response, names lower-cased.
    """

    subprotocol: str | None = None
    extensions: tuple[str, ...] = ()
    headers: Headers = ()

    def __post_init__(self) -> None:
        if self.subprotocol is not None:
            _check_token("subprotocol", self.subprotocol)
        object.__setattr__(self, "extensions", tuple(self.extensions))
        object.__setattr__(self, "headers", _check_headers(self.headers))


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class RejectConnection(Event):
    """A server's HTTP answer other than 101: a refused handshake, or a plain HTTP response.

    The core adds ``Content-Length`` and ``Connection: close``; the connection is over once
    it is sent or received.

    Args:
        status_code: The HTTP status, 200 to 599.
        headers: Header fields (received names are lower-cased).
        body: The response body.
    """

    status_code: int = 400
    headers: Headers = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        if not 200 <= self.status_code <= 599:
            raise LocalProtocolError(f"invalid status code {self.status_code}: must be 200-599")
        object.__setattr__(self, "headers", _check_headers(self.headers))


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class TextMessage(Event):
    """A text message, or one piece of it.

    Args:
        data: The text.
        message_finished: ``False`` when more pieces of the same message follow. Piece
            boundaries carry no meaning (RFC 6455 §5.4 lets intermediaries re-fragment).
    """

    data: str
    message_finished: bool = True


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class BytesMessage(Event):
    """A binary message, or one piece of it.

    Args:
        data: The payload (any bytes-like object when sending).
        message_finished: ``False`` when more pieces of the same message follow.
    """

    data: bytes
    message_finished: bool = True


#: A data message event.
Message: TypeAlias = TextMessage | BytesMessage


def as_byte_buffer(data: bytes | bytearray | memoryview) -> bytes:
    """Return ``data`` as something whose ``len()`` counts bytes.

    ``bytes`` and ``bytearray`` pass as they are; a memoryview (or array) of wider items is
    viewed as bytes without a copy when contiguous, copied otherwise.
    """
    if isinstance(data, bytes | bytearray):
        return data  # type: ignore[return-value]
    view = memoryview(data)
    if view.c_contiguous:
        return view.cast("B")  # type: ignore[return-value]
    return view.tobytes()


def _check_control_payload(kind: str, payload: bytes) -> None:
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise LocalProtocolError(
            f"{kind} payload is {len(payload)} bytes; control frames carry at most 125"
            " (RFC 6455 §5.5)"
        )


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Event):
    """A ping (RFC 6455 §5.5.2). The core answers received pings by itself.

    Args:
        payload: At most 125 bytes of application data.
    """

    payload: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", bytes(self.payload))
        _check_control_payload("ping", self.payload)

    def response(self) -> Pong:
        """Return the :class:`Pong` that answers this ping."""
        return Pong(payload=self.payload)


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(Event):
    """A pong (RFC 6455 §5.5.3): the answer to a ping, or an unsolicited heartbeat.

    Args:
        payload: At most 125 bytes of application data.
    """

    payload: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", bytes(self.payload))
        _check_control_payload("pong", self.payload)


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CloseConnection(Event):
    """A close frame (RFC 6455 §5.5.1), which starts or completes the closing handshake.

    The core echoes a received close by itself.

    Args:
        code: The status code, or ``None`` for a close frame without one (received as an
            empty payload; applications usually report it as 1005). Only codes that may go on
            the wire are accepted: 1000-1003, 1007-1014 and 3000-4999.
        reason: Why, in at most 123 bytes of UTF-8. Must be empty when ``code`` is ``None``.
    """

    code: int | None = 1000
    reason: str = ""

    def __post_init__(self) -> None:
        if self.code is None:
            if self.reason:
                raise LocalProtocolError("a close reason needs a close code")
            return
        if not is_sendable_close_code(self.code):
            raise LocalProtocolError(
                f"close code {self.code} may not be sent: use 1000-1003, 1007-1014 or 3000-4999"
            )
        encoded = len(self.reason.encode("utf-8", "surrogatepass"))
        if encoded > MAX_CONTROL_PAYLOAD - 2:
            raise LocalProtocolError(
                f"close reason is {encoded} bytes of UTF-8; at most 123 fit in a close frame"
            )
        try:
            self.reason.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError("close reason is not valid UTF-8 (lone surrogate)") from None

    def response(self) -> CloseConnection:
        """Return the close frame that echoes this one (same code and reason)."""
        return CloseConnection(code=self.code, reason=self.reason)


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFailed(Event):
    """The terminal event of a connection that did not end with a clean closing handshake.

    The core has already queued what had to be answered (a close frame with
    :attr:`RemoteProtocolError.close_code`, or an HTTP error during the handshake); the I/O
    layer sends it and closes the transport. Only received, never sent.

    Args:
        error: What the peer did wrong. Its ``close_code`` is 1006 when the transport ended
            without a close frame.
    """

    error: RemoteProtocolError = field()

    @property
    def code(self) -> int | None:
        """The close code this failure stands for (1002, 1006, 1007, 1009, ...)."""
        return self.error.close_code
