"""One HTTP/2 stream as a Trio byte stream, for a WebSocket over HTTP/2 (RFC 8441).

Theory of operation. After an extended CONNECT, an HTTP/2 stream carries WebSocket frames
exactly as a TCP connection would, so the connection runs over a :class:`Channel`: a
:class:`trio.abc.HalfCloseableStream` whose bytes are the stream's DATA frames. The channel
owns what belongs to one stream; everything that touches the HTTP/2 connection (framing,
flow-control windows, the one writer of the socket) belongs to the session behind the
:class:`Host` seam (:mod:`trio_ws._h2_session`). This module does not import ``h2``.

Each direction has its own state, changed by named transitions only::

    receiving:  OPEN ──feed_eof()──▶ ENDED            (the peer's END_STREAM)
                OPEN ──fail(why)───▶ BROKEN           (RST_STREAM, the connection lost)
    sending:    OPEN ──send_eof()──▶ ENDED            (our END_STREAM)
                any  ──fail(why)───▶ BROKEN
                any  ──aclose()────▶ CLOSED           (END_STREAM or RST_STREAM first)

Backpressure. Received DATA waits in the channel until the application reads it; only then
is it acknowledged to the session, which reopens the stream's flow-control window. So at most
one window of data (the session's ``INITIAL_WINDOW_SIZE``) waits here, and a peer that sends
faster than the application reads is stopped by HTTP/2 itself, as TCP would stop it.

Closing (RFC 8441 §5.1: "orderly TCP-level closures are represented as END_STREAM flags; RST
exceptions are represented with the RST_STREAM frame with the CANCEL error code"). ``aclose()``
ends the stream with END_STREAM, the analogue of a TCP FIN, unless received data was left
unread: then, as a kernel answers unread data with a TCP RST, it resets the stream with
CANCEL. The WebSocket connection above closes the transport after the closing handshake, so a
clean close is END_STREAM both ways.
"""

from __future__ import annotations

import enum
import operator
from collections import deque
from typing import Protocol

import trio

__all__ = ["Channel", "Direction", "Host"]


class Host(Protocol):
    """What a channel asks of the HTTP/2 session that carries it."""

    @property
    def transport(self) -> trio.abc.Stream:
        """The HTTP/2 connection's stream."""

    async def send_data(self, stream_id: int, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` on the stream as DATA frames, within flow control; wait until written."""

    async def end_stream(self, stream_id: int) -> None:
        """Send END_STREAM on the stream; wait until written."""

    def consumed(self, stream_id: int, size: int) -> None:
        """The application has read ``size`` bytes of the stream: reopen its window."""

    def closed(self, stream_id: int, *, reset: bool, ended: bool) -> None:
        """The channel is closed: END_STREAM unless ``ended``; RST_STREAM CANCEL if ``reset``."""


class Direction(enum.Enum):
    """Where one direction of a channel stands."""

    #: Bytes may flow.
    OPEN = "open"
    #: Ended in order: END_STREAM sent (sending) or received (receiving).
    ENDED = "ended"
    #: Ended abnormally: the stream was reset or the HTTP/2 connection lost.
    BROKEN = "broken"
    #: Closed by us (sending side only): nothing more may be sent.
    CLOSED = "closed"


_OPEN = Direction.OPEN
_ENDED = Direction.ENDED
_BROKEN = Direction.BROKEN
_CLOSED = Direction.CLOSED


class Channel(trio.abc.HalfCloseableStream):
    """One HTTP/2 stream as a byte stream (see the module's theory of operation)."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_host",
        "_readers",
        "_reading",
        "_writing",
        "receiving",
        "sending",
        "stream_id",
        "why",
    )

    def __init__(self, host: Host, stream_id: int) -> None:
        self._host = host
        #: The HTTP/2 stream's identifier.
        self.stream_id = stream_id
        #: Where the receiving direction stands.
        self.receiving = _OPEN
        #: Where the sending direction stands.
        self.sending = _OPEN
        #: Why the channel broke, for the exceptions it raises.
        self.why = ""
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._readers = trio.lowlevel.ParkingLot()
        self._reading = False
        self._writing = False

    def __repr__(self) -> str:
        receiving, sending = self.receiving.name, self.sending.name
        return f"<Channel {self.stream_id} receiving={receiving} sending={sending}>"

    @property
    def transport_stream(self) -> trio.abc.Stream:
        """The HTTP/2 connection's stream (so that addresses can be found under it)."""
        return self._host.transport

    @property
    def buffered(self) -> int:
        """Received bytes waiting for the application."""
        return self._buffered

    # --- Transitions made by the session -----------------------------------------------------

    def feed(self, data: bytes) -> None:
        """DATA arrived for this stream."""
        if self.receiving is _OPEN and data:
            self._chunks.append(data)
            self._buffered += len(data)
            self._readers.unpark_all()

    def feed_eof(self) -> None:
        """receiving: OPEN → ENDED (the peer's END_STREAM)."""
        if self.receiving is _OPEN:
            self.receiving = _ENDED
            self._readers.unpark_all()

    def fail(self, why: str) -> None:
        """Both directions → BROKEN (unless closed): a reset, or the connection lost."""
        if not self.why:
            self.why = why
        if self.receiving is _OPEN:
            self.receiving = _BROKEN
        if self.sending is not _CLOSED:
            self.sending = _BROKEN
        self._readers.unpark_all()

    # --- trio.abc.ReceiveStream --------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return what the peer sent next (``b""`` after its END_STREAM)."""
        if self._reading:
            raise trio.BusyResourceError("another task is already receiving on this channel")
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)  # TypeError for anything but an integer
            if max_bytes < 1:
                raise ValueError("max_bytes must be at least 1")
        self._reading = True
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            while not self._chunks:
                if self.sending is _CLOSED:
                    raise trio.ClosedResourceError("the channel is closed")
                if self.receiving is _ENDED:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    return b""
                if self.receiving is _BROKEN:
                    raise trio.BrokenResourceError(self.why)
                await self._readers.park()
            else:
                await trio.lowlevel.cancel_shielded_checkpoint()
            if self.sending is _CLOSED:
                raise trio.ClosedResourceError("the channel is closed")
            data = self._take(max_bytes)
            self._host.consumed(self.stream_id, len(data))
            return data
        finally:
            self._reading = False

    def _take(self, max_bytes: int | None) -> bytes:
        chunks = self._chunks
        first = chunks.popleft()
        if max_bytes is not None and len(first) > max_bytes:
            chunks.appendleft(first[max_bytes:])
            first = first[:max_bytes]
        elif len(chunks) and (max_bytes is None or len(first) < max_bytes):
            # Join what fits in max_bytes (at most 64 KiB when unbounded: a window's worth).
            limit = 65536 if max_bytes is None else max_bytes
            pieces = [first]
            size = len(first)
            while chunks and size + len(chunks[0]) <= limit:
                piece = chunks.popleft()
                pieces.append(piece)
                size += len(piece)
            first = b"".join(pieces)
        self._buffered -= len(first)
        return first

    # --- trio.abc.SendStream -----------------------------------------------------------------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as DATA frames, waiting for flow control and the socket."""
        if self._writing:
            raise trio.BusyResourceError("another task is already sending on this channel")
        self._writing = True
        try:
            self._check_can_send()
            if not data:
                await trio.lowlevel.checkpoint()
                return
            await self._host.send_data(self.stream_id, data)
        finally:
            self._writing = False

    async def wait_send_all_might_not_block(self) -> None:
        """Return when a send might not block (at once: windows are checked by send_all)."""
        if self._writing:
            raise trio.BusyResourceError("another task is already sending on this channel")
        self._check_can_send()
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        """End our direction with END_STREAM; reading goes on."""
        if self._writing:
            raise trio.BusyResourceError("another task is already sending on this channel")
        if self.sending is _ENDED:
            await trio.lowlevel.checkpoint()
            return
        self._writing = True
        try:
            self._check_can_send()
            self.sending = _ENDED
            await self._host.end_stream(self.stream_id)
        finally:
            self._writing = False

    def _check_can_send(self) -> None:
        if self.sending is _CLOSED:
            raise trio.ClosedResourceError("the channel is closed")
        if self.sending is _ENDED:
            raise trio.ClosedResourceError("the channel's sending side was ended (send_eof)")
        if self.sending is _BROKEN:
            raise trio.BrokenResourceError(self.why)

    # --- trio.abc.AsyncResource --------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the channel: END_STREAM, or RST_STREAM CANCEL if data was left unread."""
        if self.sending is not _CLOSED:
            was = self.sending
            self.sending = _CLOSED
            unread = self._buffered > 0
            self._chunks.clear()
            self._buffered = 0
            self._readers.unpark_all()
            if was is not _BROKEN:
                self._host.closed(self.stream_id, reset=unread, ended=was is _ENDED)
        await trio.lowlevel.checkpoint()
