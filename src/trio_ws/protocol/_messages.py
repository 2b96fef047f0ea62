"""Incoming message assembly (RFC 6455 §5.4, §5.6): continuation rules, size budget, text.

:class:`MessageAssembler` follows the message being received. The connection calls
:meth:`~MessageAssembler.frame_start` with each data frame's header, before any of its
payload is read, so every rule and limit that the header can break fails before memory is
spent on the payload; then :meth:`~MessageAssembler.frame_data` with each piece of payload as
it arrives. Pieces are decoded by the negotiated extensions and, for text, checked as UTF-8
at once, so an invalid sequence fails the connection where it appears, not at the message's
end. What comes out is a stream of :class:`TextMessage` / :class:`BytesMessage` pieces whose
last one has ``message_finished=True``; piece boundaries carry no meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._errors import MessageTooBig, RemoteProtocolError
from ._events import BytesMessage, Message, TextMessage
from ._frames import Opcode
from ._utf8 import Utf8Decoder
from .extensions import Extension

__all__ = ["MessageAssembler"]

_CONTINUATION = Opcode.CONTINUATION
_TEXT = Opcode.TEXT


class MessageAssembler:
    """Track the incoming data message and turn frame payloads into message events."""

    __slots__ = (
        "_extensions",
        "_fin",
        "_fragments",
        "_max_fragments",
        "_max_frame_size",
        "_max_size",
        "_opcode",
        "_rsv",
        "_rsv_allowed",
        "_size",
        "_utf8",
    )

    def __init__(
        self, *, max_size: int | None, max_frame_size: int | None, max_fragments: int | None
    ) -> None:
        self._max_size = max_size
        self._max_frame_size = max_frame_size
        self._max_fragments = max_fragments
        self._extensions: Sequence[Extension] = ()
        self._rsv_allowed = 0
        self._opcode: int | None = None
        self._rsv = 0
        self._fin = False
        self._size = 0
        self._fragments = 0
        self._utf8: Utf8Decoder | None = None

    def use_extensions(self, extensions: Sequence[Extension]) -> None:
        """Decode with the extensions negotiated in the opening handshake."""
        self._extensions = extensions
        self._rsv_allowed = 0
        for extension in extensions:
            self._rsv_allowed |= extension.rsv_mask

    def frame_start(self, opcode: int, rsv: int, fin: bool, length: int) -> None:
        """Check a data frame's header against the message in progress and the limits.

        Raises:
            RemoteProtocolError: a continuation rule or RSV rule is broken (1002).
            MessageTooBig: the frame or the message would exceed a limit (1009).
        """
        if opcode == _CONTINUATION:
            if self._opcode is None:
                raise RemoteProtocolError(
                    "continuation frame without a message to continue", close_code=1002
                )
            if rsv:
                raise RemoteProtocolError("RSV bits set on a continuation frame", close_code=1002)
            self._fragments += 1
            if self._max_fragments is not None and self._fragments > self._max_fragments:
                raise MessageTooBig(f"message spans more than {self._max_fragments} frames")
        else:
            if self._opcode is not None:
                raise RemoteProtocolError(
                    "new data message started before the previous one finished", close_code=1002
                )
            # RFC 6455 §5.2: RSV bits MUST be 0 unless a negotiated extension defines them.
            if rsv & ~self._rsv_allowed:
                raise RemoteProtocolError(
                    "RSV bits set without a negotiated extension that defines them",
                    close_code=1002,
                )
            self._opcode = opcode
            self._rsv = rsv
            self._size = 0
            self._fragments = 1
            self._utf8 = None
        self._fin = fin
        if self._max_frame_size is not None and length > self._max_frame_size:
            raise MessageTooBig(
                f"frame of {length} bytes exceeds the limit of {self._max_frame_size} bytes"
            )
        if self._max_size is not None:
            remaining = self._max_size - self._size
            if self._rsv:
                # A compressed payload is checked for what it inflates to, in frame_data()
                # (inflation is bounded by the budget); here only its wire size is bounded,
                # generously: incompressible data grows by up to ~4 % with zlib's memLevel 1.
                remaining += remaining // 8 + 1024
            if length > remaining:
                raise MessageTooBig(
                    f"message exceeds the limit of {self._max_size} bytes"
                    f" (a frame of {length} bytes was announced)"
                )

    def frame_data(self, data: bytes, frame_done: bool) -> Message | None:
        """Turn one piece of a data frame's payload into a message event.

        Args:
            data: Unmasked payload bytes.
            frame_done: Whether this piece completes the frame.

        Returns:
            The event, or ``None`` for an empty piece in the middle of a message.

        Raises:
            RemoteProtocolError: invalid UTF-8 (1007) or undecodable extension data.
            MessageTooBig: the decoded message exceeds the size limit (1009).
        """
        final = frame_done and self._fin
        if self._rsv:
            for extension in reversed(self._extensions):
                budget = None if self._max_size is None else self._max_size - self._size
                data = extension.decode(data, rsv=self._rsv, fin=final, max_size=budget)
        self._size += len(data)
        if self._opcode == _TEXT:
            utf8 = self._utf8
            try:
                if final and utf8 is None:
                    text = str(data, "utf-8")
                else:
                    if utf8 is None:
                        utf8 = self._utf8 = Utf8Decoder()
                    text = utf8.decode(data, final)
            except UnicodeDecodeError:
                raise RemoteProtocolError(
                    "invalid UTF-8 in a text message", close_code=1007
                ) from None
            if final:
                self._opcode = None
            elif not text:
                return None
            return TextMessage(data=text, message_finished=final)
        if final:
            self._opcode = None
        elif not data:
            return None
        return BytesMessage(data=data, message_finished=final)
