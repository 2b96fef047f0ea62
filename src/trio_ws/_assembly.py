"""Message assembly: one incoming message put together, or handed out piece by piece."""

from __future__ import annotations

from typing import Any, Protocol, cast, final

__all__ = ["Assembler", "Fragments", "PieceSource"]

#: Pieces a message is kept as before they are gathered (see Assembler).
_GATHER_AFTER = 16
#: Text pieces gathered into one string at a time, once a message has more than
#: _GATHER_AFTER pieces.
_TEXT_BATCH = 256


class Assembler:
    """One incoming message being put together: a few pieces, then gathered.

    Memory and CPU: a message sent as many tiny fragments must not cost a Python object and a
    list slot per fragment, nor a join that copies it all again at the end. Up to
    ``_GATHER_AFTER`` pieces are kept as they are (a large message in a few big pieces is then
    joined once, as cheaply as possible). After that, bytes go into one growing buffer, and
    text is joined ``_TEXT_BATCH`` pieces at a time into a list of strings (an
    ``io.StringIO`` would store 4 bytes per character, and keep a list slot per write).
    """

    __slots__ = ("_buffer", "_parts", "_strings", "size")

    def __init__(self) -> None:
        # Pieces not gathered yet, all str or all bytes (one message has one type).
        self._parts: list[Any] = []
        self._buffer: bytearray | None = None  # bytes, once gathered
        self._strings: list[str] | None = None  # text, once gathered
        self.size = 0

    def __bool__(self) -> bool:
        return bool(self._parts) or self._buffer is not None or self._strings is not None

    def add(self, data: str | bytes) -> None:
        self.size += len(data)
        if self._buffer is not None:
            self._buffer += cast(bytes, data)
            return
        parts = self._parts
        parts.append(data)
        strings = self._strings
        if len(parts) < (_GATHER_AFTER if strings is None else _TEXT_BATCH):
            return
        if isinstance(data, str):
            joined = "".join(parts)
            if strings is None:
                self._strings = [joined]
            else:
                strings.append(joined)
        else:
            self._buffer = bytearray(b"".join(parts))
        parts.clear()

    def take(self) -> str | bytes:
        """The message so far; the assembler is empty afterwards."""
        parts = self._parts
        data: str | bytes
        if self._buffer is not None:
            data = bytes(self._buffer)
        elif self._strings is not None:
            data = "".join(self._strings + parts)
        else:
            data = parts[0][:0].join(parts)
        self._parts = []
        self._buffer = None
        self._strings = None
        self.size = 0
        return data


class PieceSource(Protocol):
    """Where :class:`Fragments` takes message pieces from (the inbox)."""

    async def receive_piece(self, first: bool) -> tuple[str | bytes, bool]:
        """The next piece of the message, and whether it ends the message."""

    def message_received(self, size: int) -> None:
        """Count a whole message handed to the application."""


@final
class Fragments:
    """The iterator of :meth:`~trio_ws.WebSocketConnection.receive_fragments`.

    A class rather than an async generator: leaving the loop early must release the
    connection at once, not when the generator happens to be finalized.
    """

    __slots__ = ("_finished", "_size", "_source", "_started")

    def __init__(self, source: PieceSource) -> None:
        self._source = source
        self._started = False
        self._finished = False
        self._size = 0

    def __aiter__(self) -> Fragments:
        return self

    async def __anext__(self) -> str | bytes:
        if self._finished:
            raise StopAsyncIteration
        first = not self._started
        self._started = True
        data, finished = await self._source.receive_piece(first)
        self._size += len(data)
        if finished:
            self._finished = True
            self._source.message_received(self._size)
        return data
