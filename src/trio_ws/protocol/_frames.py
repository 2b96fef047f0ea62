"""Frames (RFC 6455 §5.2): the opcode table, the header parser and the serializer.

This module knows the wire format and the rules that hold for every frame whatever the role
and the connection state: reserved opcodes, control frames short and unfragmented, the 64-bit
length's top bit clear. Masking direction, RSV bits owned by extensions and continuation rules
depend on the connection and live in :mod:`._connection` and :mod:`._messages`.
"""

from __future__ import annotations

from enum import IntEnum
from struct import Struct

from ._errors import RemoteProtocolError
from ._mask import mask

__all__ = ["FrameHeader", "Opcode", "parse_header", "serialize_frame"]


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 §5.2, §11.8)."""

    #: Continues a fragmented message.
    CONTINUATION = 0x0
    #: Starts a text message.
    TEXT = 0x1
    #: Starts a binary message.
    BINARY = 0x2
    #: Close frame.
    CLOSE = 0x8
    #: Ping frame.
    PING = 0x9
    #: Pong frame.
    PONG = 0xA


_KNOWN_OPCODES = frozenset(int(op) for op in Opcode)
_U16 = Struct("!H")
_U64 = Struct("!Q")
_HEAD_16 = Struct("!BBH")
_HEAD_64 = Struct("!BBQ")

#: A parsed header: ``(fin, rsv, opcode, mask_key or None, payload_length, header_length)``.
FrameHeader = tuple[bool, int, int, bytes | None, int, int]


def parse_header(buf: bytes | bytearray, pos: int) -> FrameHeader | None:
    """Parse the frame header starting at ``buf[pos]``.

    Returns ``None`` while the header is incomplete. The payload is not looked at.

    Raises:
        RemoteProtocolError: a reserved opcode, a fragmented or oversized control frame, or a
            64-bit length with its most significant bit set (close code 1002).
    """
    available = len(buf) - pos
    if available < 2:
        return None
    b0 = buf[pos]
    b1 = buf[pos + 1]
    opcode = b0 & 0x0F
    length = b1 & 0x7F
    if opcode not in _KNOWN_OPCODES:
        raise RemoteProtocolError(f"reserved opcode {opcode:#x}", close_code=1002)
    # RFC 6455 §5.5: control frames MUST NOT be fragmented.
    if opcode & 0x08 and not b0 & 0x80:
        raise RemoteProtocolError("fragmented control frame", close_code=1002)
    header_length = 2
    if length == 126:
        header_length = 4
        if available < 4:
            return None
        length = _U16.unpack_from(buf, pos + 2)[0]
    elif length == 127:
        header_length = 10
        if available < 10:
            return None
        length = _U64.unpack_from(buf, pos + 2)[0]
        # RFC 6455 §5.2: "the most significant bit MUST be 0".
        if length >> 63:
            raise RemoteProtocolError(
                "64-bit payload length with the most significant bit set", close_code=1002
            )
    # RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less. Checked on the
    # decoded length: a non-minimal length encoding is allowed on receive (§5.2).
    if opcode & 0x08 and length > 125:
        raise RemoteProtocolError("control frame payload longer than 125 bytes", close_code=1002)
    mask_key = None
    if b1 & 0x80:
        if available < header_length + 4:
            return None
        mask_key = bytes(buf[pos + header_length : pos + header_length + 4])
        header_length += 4
    return bool(b0 & 0x80), b0 & 0x70, opcode, mask_key, length, header_length


def serialize_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask_key: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """Build one frame. Lengths use the shortest encoding; ``mask_key`` masks the payload.

    With ``length``, build only the header (and masking key) of a frame whose ``length``-byte
    payload the caller sends after it: large payloads are then not copied behind the header.
    """
    b0 = (0x80 if fin else 0) | rsv | opcode
    header_only = length is not None
    if length is None:
        length = len(payload)
    mask_bit = 0x80 if mask_key is not None else 0
    if length < 126:
        header = bytes((b0, mask_bit | length))
    elif length < 65536:
        header = _HEAD_16.pack(b0, mask_bit | 126, length)
    else:
        header = _HEAD_64.pack(b0, mask_bit | 127, length)
    if header_only:
        return header if mask_key is None else header + mask_key
    if mask_key is not None:
        return header + mask_key + mask(payload, mask_key)
    return header + payload
