"""trio-websocket's exceptions and its description of a close (:class:`CloseReason`)."""

from __future__ import annotations

from typing import final

__all__ = [
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "HandshakeError",
]

# wsproto's names for close codes, which trio-websocket's CloseReason.name reports.
_CLOSE_NAMES = {
    1000: "NORMAL_CLOSURE",
    1001: "GOING_AWAY",
    1002: "PROTOCOL_ERROR",
    1003: "UNSUPPORTED_DATA",
    1005: "NO_STATUS_RCVD",
    1006: "ABNORMAL_CLOSURE",
    1007: "INVALID_FRAME_PAYLOAD_DATA",
    1008: "POLICY_VIOLATION",
    1009: "MESSAGE_TOO_BIG",
    1010: "MANDATORY_EXT",
    1011: "INTERNAL_ERROR",
    1012: "SERVICE_RESTART",
    1013: "TRY_AGAIN_LATER",
    1015: "TLS_HANDSHAKE_FAILED",
}


class HandshakeError(Exception):
    """Connecting to or disconnecting from the server failed.

    Raised for a network error, a timeout (:exc:`ConnectionTimeout`,
    :exc:`DisconnectionTimeout`) or a rejection (:exc:`ConnectionRejected`).
    """


class ConnectionTimeout(HandshakeError):
    """Connecting to the server took longer than ``connect_timeout``."""


class DisconnectionTimeout(HandshakeError):
    """Disconnecting from the server took longer than ``disconnect_timeout``."""


class ConnectionRejected(HandshakeError):
    """The server refused the connection: it answered with an HTTP status other than 101.

    Args:
        status_code: The HTTP status.
        headers: The response's header fields as (name, value) bytes, names lower-cased.
        body: The response body, or ``None`` for an informational (1xx) response, which
            has none.
    """

    def __init__(
        self, status_code: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes | None
    ) -> None:
        super().__init__(status_code, headers, body)
        #: The three-digit HTTP status.
        self.status_code = status_code
        #: The response's header fields, (name, value) pairs.
        self.headers = headers
        #: The response body, or ``None``.
        self.body = body

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}<status_code={self.status_code}>"


@final
class CloseReason:
    """Why a connection was closed (or is being closed).

    Args:
        code: The close code (1006 when there was no closing handshake).
        reason: The reason that came with it, or ``None``.
    """

    def __init__(self, code: int, reason: str | None) -> None:
        self._code = code
        self._reason = reason
        if code in _CLOSE_NAMES:
            self._name = _CLOSE_NAMES[code]
        elif 1000 <= code <= 2999:
            self._name = "RFC_RESERVED"
        elif 3000 <= code <= 3999:
            self._name = "IANA_RESERVED"
        elif 4000 <= code <= 4999:
            self._name = "PRIVATE_RESERVED"
        else:
            self._name = "INVALID_CODE"

    @property
    def code(self) -> int:
        """The numeric close code (read-only)."""
        return self._code

    @property
    def name(self) -> str:
        """The close code's name, such as ``NORMAL_CLOSURE`` (read-only)."""
        return self._name

    @property
    def reason(self) -> str | None:
        """The reason string, or ``None`` (read-only)."""
        return self._reason

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}<code={self.code}, name={self.name}, reason={self.reason}>"
        )


class ConnectionClosed(Exception):
    """The operation needs an open connection, and this one is closed or closing.

    Args:
        reason: Why the connection closed.
    """

    def __init__(self, reason: CloseReason | None) -> None:
        super().__init__(reason)
        #: Why the connection closed.
        self.reason = reason

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}<{self.reason}>"
