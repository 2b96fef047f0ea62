"""WebSocketConnection: one type for both roles; its background tasks run in a nursery.

Theory of operation. A connection owns a transport stream and a sans-IO
:class:`~trio_ws.protocol.Connection`. It runs its background tasks in a nursery that
belongs to it (opened by :func:`~trio_ws.open_websocket` or by the server for each handler):

* Reading: a task in :meth:`~WebSocketConnection.receive` reads the stream itself, feeds the
  core and takes its message, with no hand-over between tasks. While no task receives, a
  reader task reads instead and puts message pieces in a bounded queue; it stops reading when
  more than ``max_queue`` pieces wait (backpressure reaches the peer through TCP). The reader
  runs only while needed: leaving ``receive()`` starts one, which reads once the application
  has not come back to ``receive()`` within a short delay (at once when a pong or the peer's
  close is awaited), and which ends when a task receives again (see _start_reader). Either
  way, transport errors become the connection's closed state.
* Keepalive pings go out every ``ping_interval`` and close with 1011 when a pong does not
  come back within ``ping_timeout``. Each ping is a short task in the same nursery; what
  schedules them is one :class:`~trio_ws._keepalive.Keepalive` task per server (or per client
  connection), so an idle server connection costs no sleeping task of its own.

Neither kind of task ever raises into the nursery: what goes wrong becomes the connection's closed
state, which the application sees as :class:`~trio_ws.ConnectionClosed` on its next call.

Writes are serialized by one lock. Pongs the core queues by itself are written by the
reader (or a receiving task) only when the lock is free; otherwise the task holding it writes
them after its own, so reading never waits on a writer (two peers blocked writing to each
other still read, and so cannot deadlock). The close echo is the exception: once closing, the
reader waits for the lock (at most ``close_timeout``) so that the echo goes out.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeAlias, final

import trio

from ._exceptions import ConnectionClosed, connection_closed
from ._keepalive import Keepalive
from ._options import RECEIVE_SIZE, Options
from ._streams import close_forcefully, close_now
from ._sync import SendLock, Wakeup
from .protocol import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    Ping,
    Pong,
    Request,
    Role,
    TextMessage,
)
from .protocol._connection import _SPLIT_FRAME
from .protocol.extensions import Extension

__all__ = ["ConnectionStatistics", "Data", "WebSocketConnection"]

logger = logging.getLogger("trio_ws")

#: What :meth:`WebSocketConnection.send` accepts: text, or any bytes-like object.
Data: TypeAlias = str | bytes | bytearray | memoryview

_OPEN = ConnectionState.OPEN
_CLOSED = ConnectionState.CLOSED
#: A payload chunk this large is written on its own rather than joined to its frame header
#: (see _flush): the core's own threshold for queueing the two apart.
_SEPARATE_WRITE = _SPLIT_FRAME
#: The largest read, while reads keep filling their buffer (see _process). With the receive
#: queue's 16 pieces, at most 4 MiB wait in the queue of a reader that is reading ahead.
_MAX_RECEIVE_SIZE = 4 * RECEIVE_SIZE
#: How long a reader lets the application come back to receive() before it reads itself
#: (see _start_reader), in seconds.
_READER_DELAY = 0.1
#: receive() yields to other tasks at least once per this many messages that were already
#: waiting (see _next_piece).
_SCHEDULE_EVERY = 16
_INF = float("inf")
_NOW = -_INF  # a reader start time: at once
#: Outcomes of WebSocketConnection._write_serialized_now.
_NOT_NOW, _WRITTEN, _PARTIAL = 0, 1, 2
#: Whether sockets can be written with os.write() (not on Windows, where a socket's fileno()
#: is not a file descriptor).
_DIRECT_WRITES = sys.platform != "win32"


@final
@dataclass(frozen=True, slots=True)
class ConnectionStatistics:
    """A snapshot of a connection's counters, from :meth:`WebSocketConnection.statistics`."""

    #: Messages sent.
    messages_sent: int
    #: Messages received (whole messages).
    messages_received: int
    #: Payload sent before compression, in bytes for binary messages and characters for text.
    bytes_sent: int
    #: Payload received after decompression, in bytes for binary and characters for text.
    bytes_received: int
    #: Bytes written to the transport (frames, compressed).
    wire_bytes_sent: int
    #: Bytes read from the transport.
    wire_bytes_received: int
    #: Message pieces waiting in the receive queue.
    queue_depth: int
    #: Pings sent and not yet answered.
    pings_in_flight: int
    #: Round-trip time of the last answered ping, in seconds, or ``None``.
    last_rtt: float | None

    @property
    def compression_ratio(self) -> float | None:
        """Wire bytes sent per payload byte sent (below 1.0 when compression helps)."""
        return self.wire_bytes_sent / self.bytes_sent if self.bytes_sent else None


@final
class WebSocketConnection(trio.abc.AsyncResource):
    """An open WebSocket connection, client or server.

    You get one from :func:`~trio_ws.open_websocket` or from
    :meth:`~trio_ws.WebSocketRequest.accept`; it is not built directly. It is valid inside the
    ``async with`` block or the handler that produced it, and closes when that ends.

    Iterating over it yields messages until the peer closes normally (1000 or 1001); any
    other end raises :class:`~trio_ws.ConnectionClosedError`.
    """

    # Slots (memory: an idle connection's attributes in a dict cost twice as much).
    __slots__ = (
        "__weakref__",  # the keepalive scheduler holds connections weakly
        "_abandoned",
        "_close_received",
        "_close_sent",
        "_closed_detail",
        "_counters",
        "_discarding",
        "_done",
        "_head",
        "_last_rtt",
        "_message_lock",
        "_nursery",
        "_options",
        "_own_keepalive_scope",
        "_partial",
        "_ping_scope",
        "_pings",
        "_protocol",
        "_queue",
        "_queue_not_empty",
        "_reader_reading",
        "_reader_running",
        "_reader_scope",
        "_reader_start",
        "_reader_wakeup",
        "_receive_reads",
        "_receive_size",
        "_receiving",
        "_send_lock",
        "_since_schedule",
        "_skipping",
        "_stream",
        "_stream_closed",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: Connection,
        options: Options,
        nursery: trio.Nursery,
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._options = options
        self._nursery = nursery
        self._send_lock = SendLock()
        # Held by send_fragments() for a whole message, so that no other message goes in
        # between its fragments while the send lock is free for pings and pongs.
        self._message_lock: SendLock | None = None
        # Incoming message pieces: ``_queue[_head:]``. A list and a read index rather than a
        # deque: an empty list costs 56 bytes where a deque reserves a 64-slot block (idle
        # connections add up), and the index keeps taking a piece O(1).
        self._queue: list[TextMessage | BytesMessage] = []
        self._head = 0
        self._queue_not_empty = Wakeup()  # a receiver waits here while the reader reads
        self._reader_wakeup = Wakeup()  # a reader waits here until it is to start reading
        self._reader_running = False  # a reader task exists (see _start_reader)
        self._reader_start = _NOW  # when it is to start reading, unless woken sooner
        self._reader_reading = False  # the reader is inside the stream's receive_some()
        self._receiving = False  # a task is in receive() (and reads for itself)
        self._receive_reads = 0  # reads made by receive() itself: the application receives
        self._receive_size = RECEIVE_SIZE
        self._since_schedule = 0  # messages receive() returned without a schedule point
        self._abandoned = False  # receive_fragments() left a message before its end
        self._skipping = False  # dropping the rest of such a message
        self._discarding = False  # closing with a full queue: dropping a message (see below)
        self._partial: list[Any] = []
        self._pings: dict[bytes, tuple[trio.Event, float]] = {}
        self._last_rtt: float | None = None
        self._close_received: CloseConnection | None = None
        self._close_sent: CloseConnection | None = None
        self._closed_detail = ""
        self._done = trio.Event()  # set once the transport is closed
        self._stream_closed = False
        self._reader_scope = trio.CancelScope()  # the current reader task's
        self._ping_scope: trio.CancelScope | None = None  # the keepalive ping in flight
        # A client's own Keepalive task, if it has one (a server's connections share one).
        self._own_keepalive_scope: trio.CancelScope | None = None
        self._counters = [0, 0, 0, 0, 0, 0]  # msgs/bytes out, msgs/bytes in, wire out/in

    # --- Facts ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<WebSocketConnection {self._protocol.role.value} {self.state.name}>"

    @property
    def is_client(self) -> bool:
        """``True`` on the client side."""
        return self._protocol.role is Role.CLIENT

    @property
    def state(self) -> ConnectionState:
        """The protocol state (OPEN, CLOSING or CLOSED)."""
        return self._protocol.state

    @property
    def closed(self) -> bool:
        """``True`` once no more messages can be sent."""
        return self._protocol.state is not _OPEN or self._done.is_set()

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or ``None``."""
        return self._protocol.subprotocol

    @property
    def extensions(self) -> list[Extension]:
        """The negotiated extensions."""
        return self._protocol.extensions

    @property
    def request(self) -> Request | None:
        """The opening handshake's request."""
        return self._protocol.request

    @property
    def response(self) -> AcceptConnection | None:
        """The opening handshake's ``101`` response."""
        response = self._protocol.response
        return response if isinstance(response, AcceptConnection) else None

    @property
    def close_code(self) -> int | None:
        """How the connection ended (see :attr:`ConnectionClosed.code`), or ``None`` while open."""
        return self._closed_exception().code if self._ended() else None

    @property
    def close_reason(self) -> str | None:
        """The reason that goes with :attr:`close_code`, or ``None`` while open."""
        return self._closed_exception().reason if self._ended() else None

    @property
    def close_sent(self) -> CloseConnection | None:
        """The close frame we sent, if any."""
        return self._close_sent

    @property
    def close_received(self) -> CloseConnection | None:
        """The close frame the peer sent, if any."""
        return self._close_received

    @property
    def local_address(self) -> Any:
        """The local socket address (as ``socket.getsockname()`` gives it), or ``None``."""
        sock = _socket_of(self._stream)
        return sock.getsockname() if sock is not None else None

    @property
    def remote_address(self) -> Any:
        """The peer's socket address (as ``socket.getpeername()`` gives it), or ``None``."""
        return _peer_address(self._stream)

    @property
    def stream(self) -> trio.abc.Stream:
        """The transport stream under the connection."""
        return self._stream

    def statistics(self) -> ConnectionStatistics:
        """Return a snapshot of the connection's counters."""
        c = self._counters
        return ConnectionStatistics(
            messages_sent=c[0],
            bytes_sent=c[1],
            messages_received=c[2],
            bytes_received=c[3],
            wire_bytes_sent=c[4],
            wire_bytes_received=c[5],
            queue_depth=self._queue_depth(),
            pings_in_flight=len(self._pings),
            last_rtt=self._last_rtt,
        )

    # --- Sending ------------------------------------------------------------------------------

    async def send(self, message: Data, *, compress: bool | None = None) -> None:
        """Send one message: text for ``str``, binary for bytes-like objects.

        Returns once the frame is handed to the transport. Concurrent sends are serialized.
        Cancelling a send that is already writing ends the connection: part of the frame may
        be on the wire, and nothing can follow it (as with :meth:`trio.abc.SendStream.send_all`).

        Args:
            message: The message.
            compress: ``False`` sends this message uncompressed even when compression was
                negotiated (useful for already-compressed payloads); ``True`` compresses it
                whatever its size; ``None`` lets the extension decide.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            TypeError: ``message`` is neither text nor bytes-like.
        """
        event = _message_event(message, True)
        # Fast path (performance): take a free lock without ``await lock.acquire()``, whose
        # extra schedule point costs a pass through Trio's run loop per message. ``send`` stays
        # a checkpoint: the ``send_all`` in _flush() is one (it checks for cancellation before
        # writing and yields after), and a message always has bytes to write.
        lock = self._send_lock
        while True:
            fragmenting = self._message_lock
            if fragmenting is not None and fragmenting.locked():
                # send_fragments() is sending a message: this one goes after it.
                await fragmenting.acquire()
                fragmenting.release()
            try:
                lock.acquire_nowait()
            except trio.WouldBlock:
                await lock.acquire()
            if fragmenting is None or not fragmenting.locked():
                break
            lock.release()  # a fragmented message began while we waited for the lock
        try:
            self._check_can_send()
            # A cancelled send must fail here, before the frame is queued, and not inside
            # send_all, where a cancellation ends the connection (see _flush).
            await trio.lowlevel.checkpoint_if_cancelled()
            self._protocol.send(event, compress=compress)
            counters = self._counters
            counters[0] += 1
            counters[1] += len(message)
            await self._flush()
        finally:
            lock.release()

    def _write_serialized_now(self, frame: bytes, size: int) -> int:
        """Write a shared frame right away, from the calling task, without blocking.

        Performance: a broadcast to many plain TCP connections then costs one ``write(2)``
        per connection and no pass through Trio's run loop each (see broadcast()). Only
        when the send lock is free and nothing else is owed, on a plain SocketStream (whose
        ``send_all`` is a loop of such writes, plus a checkpoint).

        Returns:
            _WRITTEN: all of it; _PARTIAL: part of it, and the rest is queued first in the
            core's output, for ``_send_serialized(None, 0)`` to write; _NOT_NOW: nothing
            (use ``_send_serialized``).
        """
        protocol = self._protocol
        if (
            _DIRECT_WRITES
            and type(self._stream) is trio.SocketStream
            and not self._send_lock.locked()
            and not self._done.is_set()
            and protocol.can_share_frames()
            and not protocol.has_data_to_send()
        ):
            try:
                written = os.write(self._stream.socket.fileno(), frame)
            except OSError:  # full (BlockingIOError) or broken: the slow path handles it
                return _NOT_NOW
            counters = self._counters
            counters[0] += 1
            counters[1] += size
            counters[4] += written
            if written == len(frame):
                return _WRITTEN
            # Half a frame is on the wire: the rest must come before anything else.
            protocol.send_serialized(frame[written:])
            return _PARTIAL
        return _NOT_NOW

    async def _send_serialized(self, frame: bytes | None, size: int) -> bool:
        """Send a frame shared between connections; False if this one cannot take it.

        With ``frame=None``, write the rest of a frame _write_serialized_now() began.
        """
        async with self._send_lock:
            if frame is None:
                await self._flush()
                return True
            self._check_can_send()
            if not self._protocol.can_share_frames():
                return False
            await trio.lowlevel.checkpoint_if_cancelled()
            self._protocol.send_serialized(frame)
            self._counters[0] += 1
            self._counters[1] += size
            await self._flush()
        return True

    async def send_fragments(
        self, fragments: Iterable[Data] | AsyncIterable[Data], *, compress: bool | None = None
    ) -> None:
        """Send one message made of several fragments, as they come.

        The first fragment's type (text or bytes) sets the message type; the others must
        match. Other sends wait until the message is complete; pings and pongs may still go
        between fragments. If the message is interrupted (the iterable raises, a fragment has
        the wrong type, or the task is cancelled) after a fragment went out, the connection
        cannot continue and is closed.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            TypeError: a fragment's type differs from the first one's.
        """
        if self._message_lock is None:
            self._message_lock = SendLock()
        async with self._message_lock, aclosing(_aiter(fragments)) as items:
            self._check_can_send()
            kind: type | None = None
            size = 0
            begun = False  # a fragment was queued: the message must be finished
            try:
                async for fragment in items:
                    this = str if isinstance(fragment, str) else bytes
                    if kind is None:
                        kind = this
                    elif this is not kind:
                        raise TypeError(
                            "all fragments of a message must be str, or all bytes-like"
                        )
                    # The send lock only for the write, not while the iterable makes the next
                    # fragment: pings, pongs and the close may go in between.
                    await self._lock()
                    try:
                        self._check_can_send()
                        await trio.lowlevel.checkpoint_if_cancelled()
                        self._protocol.send(_message_event(fragment, False), compress=compress)
                        begun = True
                        await self._flush()
                    finally:
                        self._send_lock.release()
                    size += len(fragment)
                await self._lock()
                try:
                    self._check_can_send()
                    self._protocol.send(
                        TextMessage(data="") if kind is str else BytesMessage(data=b"")
                    )
                    begun = False  # complete, once written
                    await self._flush()
                finally:
                    self._send_lock.release()
            except BaseException:
                if begun:
                    # Half a message went out and nothing else may follow it on the wire:
                    # the connection cannot go on.
                    self._closed_detail = (
                        self._closed_detail or "a fragmented message was interrupted"
                    )
                    self._finish()
                raise
            self._counters[0] += 1
            self._counters[1] += size

    async def ping(self, payload: bytes | None = None) -> float:
        """Send a ping and wait for its pong.

        Args:
            payload: Up to 125 bytes; 4 random bytes by default.

        Returns:
            The round-trip time in seconds.

        Raises:
            ConnectionClosed: the connection closed before the pong arrived.
            ValueError: a ping with the same payload is already waiting for its pong.
        """
        if payload is not None:
            Ping(payload=payload)  # checks the size before waiting for the lock
        answered = trio.Event()
        async with self._send_lock:
            self._check_can_send()
            # Checked under the lock, so two concurrent pings cannot share a payload.
            if payload is None:
                payload = os.urandom(4)
                while payload in self._pings:
                    payload = os.urandom(4)
            elif payload in self._pings:
                raise ValueError("a ping with this payload is already waiting for its pong")
            # Cancelled here, before anything is queued, rather than inside send_all (where
            # a cancellation ends the connection): the lock may be handed over to a task
            # whose cancellation has already come.
            await trio.lowlevel.checkpoint_if_cancelled()
            event = Ping(payload=payload)
            self._pings[event.payload] = (answered, trio.current_time())
            self._protocol.send(event)
            await self._flush()
        self._want_reading()
        try:
            await answered.wait()
        finally:
            self._pings.pop(event.payload, None)
        if self._ended():
            raise self._closed_exception()
        assert self._last_rtt is not None
        return self._last_rtt

    async def pong(self, payload: bytes = b"") -> None:
        """Send an unsolicited pong (a one-way heartbeat)."""
        async with self._send_lock:
            self._check_can_send()
            await trio.lowlevel.checkpoint_if_cancelled()  # as in ping()
            self._protocol.send(Pong(payload=payload))
            await self._flush()

    # --- Receiving ----------------------------------------------------------------------------

    async def receive(self) -> str | bytes:
        """Receive the next message: ``str`` for text, ``bytes`` for binary.

        Messages already received are delivered even after the connection closed; then this
        raises. It is always a cancellation point; cancelling it loses no data. When messages
        are already waiting, it returns without yielding to other tasks, but yields at least
        once every 16 messages (see :doc:`/explanation/performance`).

        Raises:
            ConnectionClosed: the connection closed and no message is left.
            trio.BusyResourceError: another task is already receiving.
        """
        self._enter_receive()
        self._discard_message_tail()
        try:
            parts = self._partial
            while True:
                piece = await self._next_piece()
                if piece.message_finished and not parts:
                    self._counters[2] += 1
                    self._counters[3] += len(piece.data)
                    return piece.data
                # Pieces are kept on the connection so cancellation loses no data.
                parts.append(piece.data)
                if piece.message_finished:
                    data = "".join(parts) if isinstance(piece, TextMessage) else b"".join(parts)
                    parts.clear()
                    self._counters[2] += 1
                    self._counters[3] += len(data)
                    return data
        finally:
            self._leave_receive()

    def receive_fragments(self) -> AsyncIterator[str | bytes]:
        """Receive the next message as a stream of pieces, as they arrive.

        ::

            async for piece in ws.receive_fragments():
                sink.write(piece)

        Piece boundaries follow the network, not the sender's fragments. The last piece ends
        the message. Leaving the loop before the end abandons the message: the rest of it is
        discarded, and the next receive returns the message after it.

        Raises:
            ConnectionClosed: the connection closed before the message ended.
            trio.BusyResourceError: another task is already receiving.
        """
        return _Fragments(self)

    def __aiter__(self) -> WebSocketConnection:
        return self

    async def __anext__(self) -> str | bytes:
        """Return the next message; stop quietly when the peer closed with 1000 or 1001."""
        try:
            return await self.receive()
        except ConnectionClosed as exc:
            if exc.code in (1000, 1001, 1005) and exc.received is not None:
                raise StopAsyncIteration from None
            raise

    # --- Closing -----------------------------------------------------------------------------

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection: send a close frame, wait for the peer's, close the transport.

        Waits at most ``close_timeout`` for the peer, then closes the transport anyway. Safe
        to call more than once and from several tasks.

        Args:
            code: The close code (1000 by default; 1000-1003, 1007-1014, 3000-4999).
            reason: Up to 123 bytes of UTF-8.
        """
        close = CloseConnection(code=code, reason=reason)  # validates before anything is sent
        try:
            # One deadline for everything, including getting the send lock from a task that
            # is blocked writing to a peer that does not read.
            with trio.move_on_after(_timeout(self._options.close_timeout)):
                await self._start_close(close)
                await self._done.wait()
        finally:
            await self._abort()

    async def wait_closed(self) -> None:
        """Wait until the connection is over and its transport closed."""
        self._want_reading()
        await self._done.wait()

    async def _start_close(self, close: CloseConnection) -> None:
        await self._lock()
        try:
            if self._protocol.state is _OPEN and not self._done.is_set():
                self._protocol.send(close)
                self._close_sent = close
                self._want_reading()  # for the peer's close
                try:
                    await self._flush()
                except ConnectionClosed:
                    pass
        finally:
            self._send_lock.release()

    async def _abort(self) -> None:
        """Close the transport now and stop the background tasks."""
        if not self._done.is_set():
            self._closed_detail = self._closed_detail or "closed without a closing handshake"
            self._finish()
        await self._close_stream()

    async def _close_stream(self) -> None:
        """Close the transport, once: ``_abort()`` and the reader both end with it.

        Not always a checkpoint (see close_forcefully): aclose() has one before it.
        """
        if not self._stream_closed:
            self._stream_closed = True
            await close_forcefully(self._stream)

    # --- Internals ---------------------------------------------------------------------------

    def _check_can_send(self) -> None:
        if self._protocol.state is not _OPEN or self._done.is_set():
            raise self._closed_exception()

    def _enter_receive(self) -> None:
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this connection")
        self._receiving = True

    def _ended(self) -> bool:
        return self._protocol.state is ConnectionState.CLOSED or self._done.is_set()

    def _closed_exception(self) -> ConnectionClosed:
        return connection_closed(self._close_received, self._close_sent, self._closed_detail)

    def _queue_depth(self) -> int:
        """Message pieces waiting in the queue (``_queue[_head:]``)."""
        return len(self._queue) - self._head

    def _discard_message_tail(self) -> None:
        """Mark the rest of a message abandoned by receive_fragments() for discarding."""
        if self._abandoned:
            self._abandoned = False
            self._skipping = True

    def _leave_receive(self) -> None:
        self._receiving = False
        if self._pings or self._protocol.state is not _OPEN:
            self._read_now()  # a pong or the peer's close is awaited
        elif not self._reader_running:
            # Let a reader take over if no receive() comes back within _READER_DELAY (a
            # reader already waiting keeps its own deadline).
            self._start_reader(trio.current_time() + _READER_DELAY)

    def _want_reading(self) -> None:
        """Read now (a pong or a close is awaited), unless a task in receive() reads anyway."""
        if not self._receiving:
            self._read_now()

    def _read_now(self) -> None:
        if self._reader_running:
            self._reader_start = _NOW  # if it has not started yet
            self._reader_wakeup.wake()  # if it is waiting to start; else it reads already
        else:
            self._start_reader(_NOW)

    async def _next_piece(self) -> TextMessage | BytesMessage:
        """Take the next message piece: queued already, read here, or read by the reader.

        Memory and performance: one method rather than three, because every level of an
        await chain is a coroutine that a connection waiting here keeps, and that every
        resumption steps through.
        """
        queue = self._queue
        if self._head < len(queue):
            # Performance: a piece is already here. A schedule point costs a pass through
            # Trio's run loop (about as much as the rest of a small message's handling), so
            # only one in _SCHEDULE_EVERY immediate returns takes one; every call stays a
            # cancellation point. A task looping on receive() can hold the CPU for at most
            # that many messages, and a loop that also sends yields in every send_all().
            await trio.lowlevel.checkpoint_if_cancelled()
            self._since_schedule += 1
            if self._since_schedule >= _SCHEDULE_EVERY:
                self._since_schedule = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            self._since_schedule = 0
        while True:
            while self._head >= len(queue):
                if self._protocol.state is _CLOSED or self._done.is_set():
                    await trio.lowlevel.checkpoint()  # a checkpoint, even when closed
                    raise self._closed_exception()  # nothing more can arrive
                if self._reader_reading:
                    await self._queue_not_empty.wait()  # it hands over when it has read
                    continue
                # Performance: read in this task (no reader task reads meanwhile). A message read
                # here reaches the application without a hand-over from the reader task,
                # which costs one more pass through Trio's run loop per message. Cancelling
                # this read loses nothing (Trio's streams guarantee it for receive_some).
                try:
                    data = await self._stream.receive_some(self._receive_size)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    if self._done.is_set():
                        continue  # closed under us by aclose() or the reader: they say why
                    data = b""
                self._receive_reads += 1
                self._process(data)
                protocol = self._protocol
                if (
                    protocol.should_close_transport()
                    and not self._send_lock.locked()
                    and not self._done.is_set()
                ):
                    # Performance: the closing handshake is over. Write the close echo and
                    # close the transport here rather than wake the reader for it (two
                    # passes through the run loop fewer for every connection that ends).
                    # Within close_timeout: a peer that stops reading cannot hold us; and
                    # the transport is closed even if this receive() is cancelled.
                    try:
                        with trio.move_on_after(_timeout(self._options.close_timeout)):
                            await self._flush_locked()
                    finally:
                        self._finish()
                        with trio.CancelScope(shield=True):
                            await self._close_stream()
                elif protocol.state is not _OPEN or protocol.has_data_to_send():
                    # The reader writes what the core owes (a pong: a write here could be
                    # cancelled halfway with this receive(), which would end the connection)
                    # and sees a close through (the echo, the deadline, the transport). If
                    # this task keeps receiving, the reader stops again.
                    self._read_now()
            head = self._head
            piece = queue[head]
            head += 1
            if head == len(queue):
                queue.clear()
                head = 0
            elif head >= 64 and head * 2 >= len(queue):
                # A consumer that never quite catches up never empties the queue: drop the
                # pieces taken so far once they are the larger part, so memory stays bounded.
                del queue[:head]
                head = 0
            self._head = head
            if not self._skipping:
                return piece
            if piece.message_finished:  # the end of an abandoned message: skip it too
                self._skipping = False

    def _process(self, data: bytes | bytearray) -> None:
        """Feed what was read (``b""`` at the end of the stream) to the core; queue pieces."""
        protocol = self._protocol
        if data:
            self._counters[5] += len(data)
            # Performance: a read that filled its buffer means a large message is streaming
            # in; read 4 times more next time (up to _MAX_RECEIVE_SIZE), so that a 1 MiB
            # message takes 5 reads and run-loop passes rather than 16. Any shorter read goes
            # back to RECEIVE_SIZE, so small messages never pay for a large allocation.
            size = self._receive_size
            self._receive_size = (
                min(size * 4, _MAX_RECEIVE_SIZE) if len(data) == size else RECEIVE_SIZE
            )
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        self._handle_events(protocol.events())
        if protocol.state is not _OPEN:
            self._queue_not_empty.wake()  # a receiver waiting for the reader: it may be over

    async def _flush(self) -> None:
        """Write what the core has queued. Call with the send lock held."""
        if self._done.is_set():
            raise self._closed_exception()  # the transport may hold half a frame, or be gone
        protocol = self._protocol
        while chunks := protocol._take_output():
            # Performance: the core queues a large frame as header and payload; writing them
            # with two send_all() calls saves copying the payload behind its header, which
            # costs more than the second call from 256 KiB on. Smaller chunks are joined into one
            # write (a send lock holder also writes the pongs queued meanwhile).
            if len(chunks) == 1 or (len(chunks) == 2 and len(chunks[1]) >= _SEPARATE_WRITE):
                writes = chunks
            else:
                writes = [b"".join(chunks)]
            for data in writes:
                try:
                    await self._stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._closed_detail = (
                        self._closed_detail or "the transport broke while sending"
                    )
                    self._finish()
                    raise self._closed_exception() from None
                except BaseException:
                    # Cancelled (or failed) inside send_all: part of a frame may be on the
                    # wire, and whatever follows would be read as its payload. Trio leaves a
                    # stream in an unknown state after a cancelled send_all; so do we.
                    self._closed_detail = (
                        self._closed_detail or "a send was interrupted in the middle of a frame"
                    )
                    self._finish()
                    raise
                self._counters[4] += len(data)

    def _finish(self) -> None:
        """Mark the transport finished and wake every waiter."""
        if self._done.is_set():
            return
        self._done.set()
        # Only our own tasks are cancelled, never the nursery: the application's code may
        # run in the same nursery (the body of ``open_websocket``, a server handler).
        self._reader_scope.cancel()
        if self._ping_scope is not None:
            self._ping_scope.cancel()
        if self._own_keepalive_scope is not None:
            self._own_keepalive_scope.cancel()
        self._queue_not_empty.wake()
        for answered, _ in self._pings.values():
            answered.set()
        if not self._reader_running:
            # The reader closes the transport on its way out; without one, close it now, so
            # that a receive() blocked reading it wakes up (and the peer sees the end).
            self._close_stream_soon()

    def _close_stream_soon(self) -> None:
        """Close the transport without waiting: at once if it is a plain socket, else in a task."""
        if self._stream_closed:
            return
        if close_now(self._stream):
            self._stream_closed = True
            return
        try:
            self._nursery.start_soon(self._close_stream)
        except RuntimeError:  # the nursery is over: whoever owns the stream closes it
            pass

    def _handle_events(self, events: list[Event]) -> None:
        """React to the core's events; queue the message pieces for receive()."""
        queued = False
        queue = self._queue
        for event in events:
            if isinstance(event, TextMessage | BytesMessage):
                if self._discarding or (
                    self._close_sent is not None  # as of this event: ours, not an echo
                    and self._queue_depth() > self._options.max_queue
                    and (len(queue) == self._head or queue[-1].message_finished)
                ):
                    # We sent a close and more than max_queue pieces wait: the reader goes
                    # on reading to see the peer's close (so that aclose() does not wait for
                    # close_timeout behind unread messages), and whole messages that come
                    # meanwhile are dropped, so memory stays bounded. (Messages read in the
                    # same read before the peer's own close are not: the echo is only
                    # recorded when its event comes, after theirs.)
                    self._discarding = not event.message_finished
                    continue
                queue.append(event)
                queued = True
            elif isinstance(event, Pong):
                self._pong_received(event.payload)
            elif isinstance(event, CloseConnection):
                self._close_received = event
                if self._close_sent is None:
                    self._close_sent = event.response()  # the core echoed it
            elif isinstance(event, ConnectionFailed):
                error = event.error
                self._closed_detail = self._closed_detail or str(error)  # the first cause
                code = error.close_code
                if code is not None and code != 1006 and self._close_sent is None:
                    self._close_sent = CloseConnection(code=code)
        if queued:
            self._queue_not_empty.wake()

    def _pong_received(self, payload: bytes) -> None:
        # A pong acknowledges its ping and every ping sent before it (RFC 6455 §5.5.3 lets
        # a peer answer only the most recent ping).
        if payload not in self._pings:
            return
        now = trio.current_time()
        for key in list(self._pings):
            answered, sent_at = self._pings[key]
            if not answered.is_set():
                answered.set()
                if key == payload:
                    self._last_rtt = now - sent_at
            if key == payload:
                break

    def _start_background(self, keepalive: Keepalive | None = None) -> None:
        """Start the reader, and keepalive pings (with a server's shared ``keepalive``)."""
        if self._protocol.state is _OPEN and not self._protocol.has_data_to_send():
            # Performance: the application usually calls receive() right away and reads
            # for itself; reading in the reader first would hand its first message over
            # between tasks. Start as if receive() had just been left.
            self._start_reader(trio.current_time() + _READER_DELAY)
        else:
            self._start_reader(_NOW)  # a reply owed, or a close, that came with the handshake
        interval = self._options.ping_interval
        if interval is not None:
            if keepalive is None:
                keepalive = Keepalive(interval)
                self._own_keepalive_scope = trio.CancelScope()
                self._nursery.start_soon(self._run_own_keepalive, keepalive)
            keepalive.add(self)

    async def _run_own_keepalive(self, keepalive: Keepalive) -> None:
        assert self._own_keepalive_scope is not None
        with self._own_keepalive_scope:
            await keepalive.run()

    def _start_reader(self, start_at: float) -> None:
        """Start a reader task that reads from ``start_at`` on (sooner if woken).

        The reader reads whenever no task is in receive(), and stops when one is (that task
        reads for itself) or when more than max_queue pieces wait; _leave_receive() starts a
        new one when the application leaves receive() again. So a connection whose
        application waits in receive() has no reader task at all (memory), and one that
        receives messages back to back keeps one waiting (see _wait_to_start).
        """
        if self._reader_running or self._done.is_set():
            return
        self._reader_running = True
        self._reader_start = start_at
        self._reader_scope = trio.CancelScope()
        try:
            self._nursery.start_soon(self._reader)
        except RuntimeError:
            # The connection's nursery is over (a nursery given to connect_stream() that
            # ended first): nothing can read for the connection any more, so end it.
            self._reader_running = False
            self._closed_detail = self._closed_detail or "the connection's nursery has ended"
            self._finish()

    async def _reader(self) -> None:
        protocol = self._protocol
        stream = self._stream
        max_queue = self._options.max_queue
        scope = self._reader_scope
        ended = True
        try:
            with scope:
                if self._reader_start > trio.current_time():
                    await self._wait_to_start()
                while not protocol.should_close_transport():
                    if protocol.close_expected() and scope.deadline == _INF:
                        scope.deadline = trio.current_time() + _timeout(
                            self._options.close_timeout
                        )
                    # Send what the core queued by itself (for frames that came with the
                    # handshake, or that receive() read): a pong only when the lock is free,
                    # for its holder writes it after its own bytes and we must not wait on a
                    # writer; the close echo (once CLOSED) always, for a holder may have
                    # found the connection closed and written nothing.
                    if protocol.has_data_to_send() and (
                        not self._send_lock.locked() or protocol.state is _CLOSED
                    ):
                        await self._flush_locked()
                    state = protocol.state
                    if (self._receiving and state is not _CLOSED) or (
                        self._queue_depth() > max_queue and state is _OPEN
                    ):
                        # A task in receive() reads for itself; or backpressure: more than
                        # max_queue pieces wait, so stop reading and let TCP push back on the
                        # peer. (With a full queue one more read is made, so control frames
                        # right behind the last message are still seen. Once closing, the
                        # peer's close must be read: see _handle_events.) Either way this
                        # task is not needed until the application leaves receive() again.
                        if self._receiving:
                            self._queue_not_empty.wake()  # it waited for our read: hand over
                        ended = False
                        return
                    self._reader_reading = True
                    try:
                        data = await stream.receive_some(self._receive_size)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        data = b""
                    finally:
                        self._reader_reading = False
                    self._process(data)
                    if not data:
                        break
                # Closing: wait for the lock so the close echo goes out before the transport
                # closes, but never longer than close_timeout (a task may hold the lock,
                # blocked writing to a peer that does not read).
                if scope.deadline == _INF:
                    scope.deadline = trio.current_time() + _timeout(self._options.close_timeout)
                await self._flush_locked()
            if scope.cancelled_caught and not self._done.is_set():
                self._closed_detail = self._closed_detail or "timed out waiting for the peer"
        except Exception:  # never raise into the nursery: log and end the connection
            logger.exception("trio_ws: internal error in the reader task")
            self._closed_detail = "internal error in the reader task"
        finally:
            if ended:
                self._finish()  # (while _reader_running: we close the transport ourselves)
                self._reader_running = False
                with trio.CancelScope(shield=True):
                    await self._close_stream()
            self._reader_running = False

    async def _wait_to_start(self) -> None:
        """Wait until the reader is to start, for as long as receive() reads for itself.

        While receive() keeps reading the stream, this task would only get in the way (a
        read of its own hands a message over); it starts once a whole _READER_DELAY went by
        without such a read (the application stopped receiving, or polls receive() with
        timeouts too short to read), or when woken because a pong or a close is awaited.
        """
        while True:
            seen = self._receive_reads
            with trio.CancelScope(deadline=self._reader_start):
                await self._reader_wakeup.wait()
            if self._reader_start == _NOW or self._receive_reads == seen:
                return
            self._reader_start = trio.current_time() + _READER_DELAY

    async def _flush_locked(self) -> None:
        await self._lock()
        try:
            await self._flush()
        except ConnectionClosed:
            pass
        finally:
            self._send_lock.release()

    async def _lock(self) -> None:
        """Take the send lock, without a pass through the run loop when it is free.

        Performance: ``await lock.acquire()`` always yields. Not a checkpoint when the lock
        is free; the write that follows is one.
        """
        try:
            self._send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._send_lock.acquire()

    async def _keepalive_ping(self) -> bool:
        """Send one keepalive ping; return whether the connection is still worth pinging.

        No pong within ``ping_timeout`` closes the connection with 1011.
        """
        if self.closed:
            return False
        timeout = self._options.ping_timeout
        try:
            # A fresh scope per ping (a CancelScope cannot be entered twice), kept so that the
            # end of the connection cancels the ping in flight.
            with trio.CancelScope() as self._ping_scope, trio.fail_after(_timeout(timeout)):
                await self.ping()
        except trio.TooSlowError:
            self._closed_detail = f"keepalive ping timeout: no pong within {timeout} s"
            logger.info("trio_ws: closing %r: %s", self, self._closed_detail)
            # aclose() bounds everything by close_timeout, including getting the send lock
            # from a task stuck writing to this unresponsive peer.
            await self.aclose(1011, "keepalive ping timeout")
            return False
        except ConnectionClosed:
            return False
        finally:
            self._ping_scope = None
        return not self.closed


@final
class _Fragments:
    """The iterator of :meth:`WebSocketConnection.receive_fragments`.

    A class rather than an async generator: leaving the loop early must release the
    connection at once, not when the generator happens to be finalized.
    """

    __slots__ = ("_conn", "_finished", "_size", "_started")

    def __init__(self, conn: WebSocketConnection) -> None:
        self._conn = conn
        self._started = False
        self._finished = False
        self._size = 0

    def __aiter__(self) -> _Fragments:
        return self

    async def __anext__(self) -> str | bytes:
        if self._finished:
            raise StopAsyncIteration
        conn = self._conn
        conn._enter_receive()
        try:
            await trio.lowlevel.checkpoint()
            if not self._started:
                self._started = True
                conn._discard_message_tail()
                if conn._partial:  # pieces a cancelled receive() had already taken
                    data: str | bytes = conn._partial[0][:0].join(conn._partial)
                    conn._partial.clear()
                    conn._abandoned = True
                    self._size += len(data)
                    return data
            piece = await conn._next_piece()
            self._size += len(piece.data)
            conn._abandoned = not piece.message_finished
            if piece.message_finished:
                self._finished = True
                conn._counters[2] += 1
                conn._counters[3] += self._size
            return piece.data
        finally:
            conn._leave_receive()


def _timeout(value: float | None) -> float:
    return _INF if value is None else value


def _message_event(message: Data, finished: bool) -> TextMessage | BytesMessage:
    if isinstance(message, str):
        return TextMessage(data=message, message_finished=finished)
    if isinstance(message, bytes | bytearray | memoryview):
        return BytesMessage(data=message, message_finished=finished)  # type: ignore[arg-type]
    raise TypeError(f"a message is str or bytes-like, not {type(message).__name__}")


async def _aiter(items: Iterable[Data] | AsyncIterable[Data]) -> AsyncGenerator[Data, None]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def _peer_address(stream: trio.abc.Stream) -> Any:
    """The peer's socket address under ``stream``, or ``None`` (no socket, or gone)."""
    sock = _socket_of(stream)
    try:
        return sock.getpeername() if sock is not None else None
    except OSError:
        return None


def _socket_of(stream: trio.abc.Stream) -> Any:
    while True:
        sock = getattr(stream, "socket", None)
        if sock is not None:
            return sock
        inner = getattr(stream, "transport_stream", None)
        if inner is None:
            return None
        stream = inner
