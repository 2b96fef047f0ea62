"""Message assembly: one incoming message put together, or handed out piece by piece."""

from __future__ import annotations

import io
from typing import Protocol, final

__all__ = ["Assembler", "Fragments", "PieceSource"]

#: Pieces a message is kept as before they are gathered into one buffer (see Assembler).
_GATHER_AFTER = 16


class Assembler:
    """One incoming message being put together: a few pieces, then one growing buffer.

    Memory and CPU: a message sent as many tiny fragments must not cost a Python object and a
    list slot per fragment, nor a join that copies it all again at the end. Up to
    ``_GATHER_AFTER`` pieces are kept as they are (a large message in a few big pieces is then
    joined once, as cheaply as possible); after that they go into one buffer.
    """

    __slots__ = ("_buffer", "_parts", "size")

    def __init__(self) -> None:
        self._parts: list[str | bytes] = []
        self._buffer: io.StringIO | bytearray | None = None
        self.size = 0

    def __bool__(self) -> bool:
        return bool(self._parts) or self._buffer is not None

    def add(self, data: str | bytes) -> None:
        self.size += len(data)
        buffer = self._buffer
        if buffer is None:
            parts = self._parts
            parts.append(data)
            if len(parts) < _GATHER_AFTER:
                return
            buffer = self._buffer = io.StringIO() if isinstance(data, str) else bytearray()
            data = parts[0][:0].join(parts)  # type: ignore[arg-type]
            parts.clear()
        if isinstance(buffer, bytearray):
            buffer += data  # type: ignore[arg-type]
        else:
            buffer.write(data)  # type: ignore[arg-type]

    def take(self) -> str | bytes:
        """The message so far; the assembler is empty afterwards."""
        buffer = self._buffer
        if buffer is None:
            parts = self._parts
            data = parts[0][:0].join(parts)  # type: ignore[arg-type]
        else:
            data = bytes(buffer) if isinstance(buffer, bytearray) else buffer.getvalue()
        self._parts = []
        self._buffer = None
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
