"""Close codes (RFC 6455 §7.4) and the close frame payload (§5.5.1)."""

from __future__ import annotations

from enum import IntEnum

from ._errors import RemoteProtocolError

__all__ = ["CloseCode", "is_sendable_close_code", "parse_close_payload", "serialize_close"]


class CloseCode(IntEnum):
    """Close codes defined by RFC 6455 §7.4.1 and the IANA registry."""

    #: The purpose of the connection was fulfilled.
    NORMAL_CLOSURE = 1000
    #: The endpoint is going away (server shutdown, page navigation).
    GOING_AWAY = 1001
    #: The peer broke the protocol.
    PROTOCOL_ERROR = 1002
    #: A data type the endpoint cannot accept.
    UNSUPPORTED_DATA = 1003
    #: Reserved; never on the wire.
    RESERVED = 1004
    #: No status code was present; never on the wire.
    NO_STATUS_RCVD = 1005
    #: The connection ended without a close frame; never on the wire.
    ABNORMAL_CLOSURE = 1006
    #: Data inconsistent with the message type (invalid UTF-8 in a text message).
    INVALID_PAYLOAD = 1007
    #: A message violated the endpoint's policy.
    POLICY_VIOLATION = 1008
    #: A message was too big to process.
    MESSAGE_TOO_BIG = 1009
    #: The client needed an extension the server did not negotiate.
    MANDATORY_EXTENSION = 1010
    #: The server hit an unexpected condition.
    INTERNAL_ERROR = 1011
    #: The service is restarting.
    SERVICE_RESTART = 1012
    #: Try again later (overload).
    TRY_AGAIN_LATER = 1013
    #: A gateway received an invalid response upstream.
    BAD_GATEWAY = 1014
    #: The TLS handshake failed; never on the wire.
    TLS_HANDSHAKE = 1015


def is_sendable_close_code(code: int) -> bool:
    """Tell whether ``code`` may appear in a close frame (RFC 6455 §7.4).

    1000-1003 and 1007-1014 are defined for use on the wire, 3000-3999 are registered by
    libraries and frameworks, and 4000-4999 are private. 1004, 1005, 1006 and 1015 never go on
    the wire, and nothing else is assigned.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def parse_close_payload(payload: bytes) -> tuple[int | None, str]:
    """Parse a received close frame's payload into ``(code, reason)``.

    Raises:
        RemoteProtocolError: a 1-byte payload or a code that may not be sent (close code 1002),
            or a reason that is not UTF-8 (1007).
    """
    if not payload:
        return None, ""
    if len(payload) == 1:
        raise RemoteProtocolError("close frame with a 1-byte payload", close_code=1002)
    code = int.from_bytes(payload[:2], "big")
    if not is_sendable_close_code(code):
        raise RemoteProtocolError(f"close frame with invalid code {code}", close_code=1002)
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("close reason is not valid UTF-8", close_code=1007) from None
    return code, reason


def serialize_close(code: int | None, reason: str) -> bytes:
    """Build a close frame's payload (the event has already been validated)."""
    if code is None:
        return b""
    return code.to_bytes(2, "big") + reason.encode("utf-8")
