"""Errors of the sans-IO core.

Blame decides the class (the idea comes from h11):

* :class:`LocalProtocolError`: the caller asked for something that RFC 6455 or the current
  state forbids. Raised at the call site, nothing is sent.
* :class:`RemoteProtocolError`: the peer broke a rule. The core never raises it out of
  :meth:`~trio_ws.protocol.Connection.receive_data`; it fails the connection instead and hands
  the error over inside a :class:`~trio_ws.protocol.ConnectionFailed` event. It carries what
  was answered on the wire: a close code, or an HTTP status during the handshake.

Hierarchy::

    WebSocketError
    └── ProtocolError
        ├── LocalProtocolError
        └── RemoteProtocolError
            └── MessageTooBig
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "MessageTooBig",
    "ProtocolError",
    "RemoteProtocolError",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Root of every exception that trio-ws raises on purpose."""


class ProtocolError(WebSocketError):
    """A rule of the WebSocket protocol was broken, by us or by the peer."""


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol or the connection's state forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer broke a rule of the protocol.

    Args:
        message: What went wrong, in words that name the rule.
        close_code: The close code sent to the peer because of it (1002, 1007, 1009, ...),
            or 1006 when the connection ended without a close frame. ``None`` during the
            opening handshake.
        http_status: The HTTP status answered during the opening handshake (400, 426, 431,
            ...), or ``None``.
    """

    def __init__(
        self, message: str, *, close_code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        #: The close code sent because of this error, if any.
        self.close_code = close_code
        #: The HTTP status answered because of this error, if any.
        self.http_status = http_status


class MessageTooBig(RemoteProtocolError):
    """The peer sent a message or frame over the configured size limit (close code 1009)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, close_code=1009)
