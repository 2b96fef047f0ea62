"""Exceptions of the Trio layer, on top of the core's.

Hierarchy::

    WebSocketError                      (trio_ws.protocol)
    ├── ProtocolError
    │   ├── LocalProtocolError          you misused the API
    │   └── RemoteProtocolError         the peer broke a rule
    │       └── MessageTooBig
    ├── ConnectionClosed                the connection is over
    │   ├── ConnectionClosedOK          ...cleanly, with 1000, 1001 or no status code
    │   └── ConnectionClosedError       ...any other way
    ├── HandshakeError                  the opening handshake failed
    │   ├── HandshakeRejected           the server answered with another status than 101
    │   ├── InvalidHandshake            the server's answer broke RFC 6455 §4
    │   ├── HandshakeTimeout            open_timeout ran out (also a trio.TooSlowError)
    │   └── ProxyError                  the HTTP proxy refused the CONNECT tunnel
    └── InvalidURI                      not a ws:// or wss:// URI (also a ValueError)
"""

from __future__ import annotations

import trio

from .protocol import CloseConnection, Headers, WebSocketError

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "HandshakeError",
    "HandshakeRejected",
    "HandshakeTimeout",
    "InvalidHandshake",
    "InvalidURI",
    "ProxyError",
]

#: Codes that mean the connection ended as intended. 1005: a close frame without a code.
OK_CLOSE_CODES = frozenset({1000, 1001, 1005})


class ConnectionClosed(WebSocketError):
    """The connection is closed; raised by calls that need it open.

    Args:
        received: The close frame the peer sent, if any.
        sent: The close frame we sent, if any.
        detail: Why, when no close frame tells: keepalive timeout, peer vanished, ...
    """

    def __init__(
        self,
        received: CloseConnection | None,
        sent: CloseConnection | None,
        detail: str = "",
    ) -> None:
        #: The close frame received from the peer, or ``None``.
        self.received = received
        #: The close frame we sent, or ``None``.
        self.sent = sent
        #: Extra words on why the connection ended.
        self.detail = detail
        super().__init__(self._describe())

    @property
    def code(self) -> int:
        """The close code that describes the end (the peer's if it sent one, else ours, else 1006).

        1005 stands for a close frame without a code.
        """
        frame = self.received or self.sent
        if frame is None:
            return 1006
        return 1005 if frame.code is None else frame.code

    @property
    def reason(self) -> str:
        """The close reason that goes with :attr:`code`."""
        frame = self.received or self.sent
        return frame.reason if frame is not None else ""

    def _describe(self) -> str:
        if self.received or self.sent:
            who = "the peer" if self.received else "us"
            text = f"connection closed by {who}: code {self.code}"
        else:
            text = f"connection lost without a close frame: code {self.code}"
        if self.reason:
            text += f", reason {self.reason!r}"
        if self.detail:
            text += f" ({self.detail})"
        return text


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed cleanly: close frames exchanged with 1000, 1001 or no code."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed with an error code, or without a closing handshake."""


def connection_closed(
    received: CloseConnection | None, sent: CloseConnection | None, detail: str = ""
) -> ConnectionClosed:
    """Build the right :class:`ConnectionClosed` subclass for how the connection ended."""
    clean = received is not None and sent is not None
    frame = received or sent
    code = 1006 if frame is None else 1005 if frame.code is None else frame.code
    if clean and code in OK_CLOSE_CODES:
        return ConnectionClosedOK(received, sent, detail)
    return ConnectionClosedError(received, sent, detail)


class HandshakeError(WebSocketError):
    """The opening handshake did not succeed."""


class HandshakeRejected(HandshakeError):
    """The server answered the opening handshake with a status other than 101.

    Args:
        status_code: The HTTP status.
        headers: The response's header fields, names lower-cased.
        body: The response body (cut at the client's ``max_reject_body_size``).
    """

    def __init__(self, status_code: int, headers: Headers, body: bytes) -> None:
        #: The HTTP status.
        self.status_code = status_code
        #: The response's header fields.
        self.headers = headers
        #: The response body.
        self.body = body
        super().__init__(f"server rejected the WebSocket handshake with HTTP {status_code}")


class InvalidHandshake(HandshakeError):
    """The server's answer to the opening handshake broke RFC 6455 §4 (or the stream ended)."""


class HandshakeTimeout(HandshakeError, trio.TooSlowError):
    """The TCP connection, TLS or the opening handshake took longer than ``open_timeout``."""


class ProxyError(HandshakeError):
    """The HTTP proxy did not open a tunnel to the server (``CONNECT`` refused or broken).

    Args:
        message: What went wrong, in words.
        status_code: The proxy's HTTP status (407: it wants credentials), or ``None`` when
            its answer was not a valid HTTP response or never came.
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        #: The proxy's HTTP status, or ``None``.
        self.status_code = status_code
        super().__init__(message)


class TLSError(HandshakeError):
    """The TLS handshake with the server failed (``wss://``).

    The :mod:`ssl` error (or the transport's) is the ``__cause__``.

    Args:
        message: What went wrong, in words.
        certificate_rejected: Whether the server's certificate failed verification.
    """

    def __init__(self, message: str, *, certificate_rejected: bool = False) -> None:
        #: Whether the server's certificate failed verification (not worth retrying).
        self.certificate_rejected = certificate_rejected
        super().__init__(message)


class InvalidURI(WebSocketError, ValueError):
    """The URI is not a valid ``ws://`` or ``wss://`` URI."""
