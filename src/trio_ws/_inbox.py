"""The inbox: who reads the transport, the receive queue, and message assembly.

Theory of operation. Exactly one task at a time reads the stream and feeds what it read to
the sans-IO core: either the application's own task inside ``receive()`` (a message read
there reaches the application without a hand-over between tasks, which would cost a pass
through Trio's run loop per message), or a *reader task* that puts message pieces in a
bounded queue while the application is away. One state, :class:`Reading`, says who:

    ===================  ==================================================================
    NOBODY               nobody reads, and there is no reader task
    PAUSED               nobody reads: more than ``max_queue`` pieces wait (backpressure:
                         TCP pushes back on the peer); no reader task
    APPLICATION          a task in ``receive()`` reads for itself; no reader task
    APPLICATION_STANDBY  the same, while a reader task stands by (see below)
    STANDBY              a reader task stands by: it starts reading at its start time
                         unless the application comes back to ``receive()`` first
    READER               the reader task reads into the queue
    HANDING_OVER         the reader task reads, and a task in ``receive()`` waits for it to
                         hand over when this read is done
    FINISHED             the stream is over (end of stream, broken, or closed): nobody
                         reads it again
    ===================  ==================================================================

Transitions, all methods of :class:`Inbox`:

* ``_enter_receive``: NOBODY/PAUSED → APPLICATION, STANDBY → APPLICATION_STANDBY,
  READER → HANDING_OVER (a second receiving task raises ``BusyResourceError``).
* ``_leave_receive``: APPLICATION → STANDBY (a reader task is started; it starts reading
  after ``_STANDBY_DELAY`` seconds, or at once when a pong or the peer's close is awaited), or →
  PAUSED while the queue is full; APPLICATION_STANDBY → STANDBY; HANDING_OVER → READER.
* ``_start_reader`` / the reader's start: NOBODY/PAUSED → STANDBY → READER.
* the reader's hand-over: HANDING_OVER or APPLICATION_STANDBY → APPLICATION (the reader task
  ends); its pause: READER → PAUSED (the reader task ends).
* ``_finished`` (the connection's end, from any state, once): → FINISHED.

Why a reader at all, and why standing by: someone must read while the application is away
(to answer pings and see the peer's close), but a task that reads while the application
comes back to ``receive()`` again and again would take every message from it. So the reader
stands by for as long as ``receive()`` keeps reading for itself, and a connection whose
application waits in ``receive()`` ends up with no reader task at all (memory).

Messages. The core streams message pieces as they arrive. ``receive()`` assembles them into
one growing buffer (memory and CPU per message stay a small multiple of its size, whatever
the fragmentation); a cancelled ``receive()`` leaves what it assembled in the inbox, so no
data is lost. ``receive_fragments()`` hands pieces out as they come; a message it leaves
before the end is skipped (state :class:`Assembly`).
"""

from __future__ import annotations

import enum
import logging

import trio

from ._assembly import Assembler
from ._exceptions import ConnectionClosed
from ._lifecycle import Lifecycle, Transport
from ._options import RECEIVE_SIZE, Options
from ._outbox import Outbox, Writing
from ._pings import Pings
from ._sync import Wakeup
from .protocol import (
    BytesMessage,
    CloseConnection,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    Pong,
    TextMessage,
)

__all__ = ["Assembly", "Inbox", "Reading"]

logger = logging.getLogger("trio_ws")

_OPEN = ConnectionState.OPEN
_CLOSED = ConnectionState.CLOSED
_INF = float("inf")
_NOW = -_INF  # a reader start time: at once
#: How long a standing-by reader lets the application come back to receive() (seconds).
_STANDBY_DELAY = 0.1
#: The largest read while reads keep filling their buffer (see _feed). With the queue's 16
#: pieces, at most 4 MiB wait in the queue of a reader that is reading ahead.
_MAX_RECEIVE_SIZE = 4 * RECEIVE_SIZE
#: receive() yields to other tasks at least once per this many messages that were already
#: waiting (see next_piece).
_SCHEDULE_EVERY = 16


class Reading(enum.Enum):
    """Who reads the transport (see the module's theory of operation)."""

    #: Nobody reads, and there is no reader task.
    NOBODY = "nobody"
    #: Nobody reads: the queue is full (backpressure).
    PAUSED = "paused"
    #: A task in receive() reads for itself.
    APPLICATION = "application"
    #: A task in receive() reads for itself; a reader task stands by.
    APPLICATION_STANDBY = "application, reader standing by"
    #: A reader task stands by, to read from its start time on.
    STANDBY = "standby"
    #: The reader task reads.
    READER = "reader"
    #: The reader task reads; a task in receive() waits for its hand-over.
    HANDING_OVER = "handing over"
    #: The stream is over: nobody reads it again.
    FINISHED = "finished"


class Assembly(enum.Enum):
    """Where the application stands in the current incoming message."""

    #: At a message boundary (or inside a message that receive() is assembling).
    WHOLE = "whole"
    #: receive_fragments() handed out part of the message.
    STREAMING = "streaming"
    #: Dropping the rest of a message that receive_fragments() abandoned.
    SKIPPING = "skipping"


_NOBODY = Reading.NOBODY
_PAUSED = Reading.PAUSED
_APPLICATION = Reading.APPLICATION
_APPLICATION_STANDBY = Reading.APPLICATION_STANDBY
_STANDBY = Reading.STANDBY
_READER = Reading.READER
_HANDING_OVER = Reading.HANDING_OVER
_FINISHED = Reading.FINISHED
_HELD = Writing.HELD
_RECEIVING = frozenset({_APPLICATION, _APPLICATION_STANDBY, _HANDING_OVER})

Piece = TextMessage | BytesMessage


class Inbox:
    """The reading side of one connection."""

    __slots__ = (
        "_assembler",
        "_dropping",
        "_handed_over",
        "_head",
        "_lifecycle",
        "_nursery",
        "_options",
        "_outbox",
        "_pings",
        "_protocol",
        "_queue",
        "_reader_scope",
        "_reader_start",
        "_reader_wakeup",
        "_receive_reads",
        "_receive_size",
        "_since_schedule",
        "_stream",
        "assembly",
        "bytes_received",
        "messages_received",
        "reading",
        "wire_received",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: Connection,
        options: Options,
        lifecycle: Lifecycle,
        outbox: Outbox,
        pings: Pings,
        nursery: trio.Nursery,
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._options = options
        self._lifecycle = lifecycle
        self._outbox = outbox
        self._pings = pings
        self._nursery = nursery
        #: Who reads the transport. Changed only by this class's transition methods.
        self.reading = _NOBODY
        #: Where the application stands in the current message.
        self.assembly = Assembly.WHOLE
        # Incoming pieces: ``_queue[_head:]``. A list and a read index rather than a deque:
        # an empty list costs 56 bytes where a deque reserves a 64-slot block, and the index
        # keeps taking a piece O(1).
        self._queue: list[Piece] = []
        self._head = 0
        self._since_schedule = 0
        self._handed_over = Wakeup()  # a receiver waits here for the reader's hand-over
        self._reader_wakeup = Wakeup()  # a standing-by reader waits here
        self._reader_start = _NOW
        self._reader_scope: trio.CancelScope | None = None  # the reader task's, if any
        self._receive_reads = 0  # reads made by receive() itself (extends a standby)
        self._receive_size = RECEIVE_SIZE
        self._assembler: Assembler | None = None  # made for a message in several pieces
        # Closing with a full queue: every later message is dropped (see _handle_events).
        self._dropping = False
        self.messages_received = 0
        self.bytes_received = 0
        self.wire_received = 0

    # --- Facts ------------------------------------------------------------------------------

    def message_received(self, size: int) -> None:
        """Count a whole message handed to the application."""
        self.messages_received += 1
        self.bytes_received += size

    def queue_depth(self) -> int:
        """Message pieces waiting in the queue."""
        return len(self._queue) - self._head

    # --- Starting and ending ----------------------------------------------------------------

    def start(self, events: list[Event]) -> None:
        """Take the events that came with the handshake and start reading in the background."""
        self._handle_events(events)
        self._outbox.owe()
        if self._protocol.state is _OPEN and not self._protocol.has_data_to_send():
            # Performance: the application usually calls receive() right away and reads for
            # itself; a reader reading first would hand its first message over between tasks.
            self._start_reader(trio.current_time() + _STANDBY_DELAY)
        else:
            self._start_reader(_NOW)

    def finished(self) -> None:
        """The connection is over (Lifecycle's watcher): → FINISHED, wake every waiter."""
        self._pings.connection_finished()
        had_reader = self.reading in (_STANDBY, _READER, _HANDING_OVER, _APPLICATION_STANDBY)
        self.reading = _FINISHED
        if self._reader_scope is not None:
            self._reader_scope.cancel()
        self._handed_over.wake()
        if not had_reader:
            # A reader closes the stream on its way out; without one, close it now, so that
            # a receive() blocked reading it wakes up (and the peer sees the end).
            self._lifecycle.close_stream_soon()

    def want_reading(self) -> None:
        """Read now: a pong or the peer's close is awaited (unless receive() reads anyway)."""
        state = self.reading
        if state is _STANDBY:
            self._reader_start = _NOW
            self._reader_wakeup.wake()
        elif state is _NOBODY or state is _PAUSED:
            self._start_reader(_NOW)

    # --- The application's side -------------------------------------------------------------

    def _enter_receive(self) -> None:
        state = self.reading
        if state in _RECEIVING:
            raise trio.BusyResourceError("another task is already receiving on this connection")
        if state is _NOBODY or state is _PAUSED:
            self.reading = _APPLICATION
        elif state is _STANDBY:
            self.reading = _APPLICATION_STANDBY
        elif state is _READER:
            self.reading = _HANDING_OVER

    def _skip_abandoned(self) -> None:
        """A new receive: the rest of a message receive_fragments() left is dropped."""
        if self.assembly is Assembly.STREAMING:
            self.assembly = Assembly.SKIPPING

    def _leave_receive(self) -> None:
        state = self.reading
        if state is _HANDING_OVER:
            self.reading = _READER  # cancelled while waiting: the reader reads on
        elif state is _APPLICATION_STANDBY:
            self.reading = _STANDBY
            if self._pings or self._protocol.state is not _OPEN:
                self.want_reading()
        elif state is _APPLICATION:
            if self._protocol.state is _OPEN and self.queue_depth() > self._options.max_queue:
                self.reading = _PAUSED
            elif self._pings or self._protocol.state is not _OPEN:
                self.reading = _NOBODY
                self._start_reader(_NOW)  # a pong or the peer's close is awaited
            else:
                self.reading = _NOBODY
                self._start_reader(trio.current_time() + _STANDBY_DELAY)

    async def receive(self, iterating: bool = False) -> str | bytes:
        """The next whole message (see WebSocketConnection.receive).

        ``iterating``: ``async for`` stops at a clean close (here, not in the facade: one
        coroutine frame fewer per waiting receiver).
        """
        self._enter_receive()
        self._skip_abandoned()
        try:
            assembler = self._assembler
            while True:
                piece = await self.next_piece()
                if piece.message_finished and not assembler:
                    data: str | bytes = piece.data
                    self.messages_received += 1
                    self.bytes_received += len(data)
                    return data
                # Kept in the inbox, so that a cancelled receive() loses nothing.
                if assembler is None:
                    assembler = self._assembler = Assembler()
                assembler.add(piece.data)
                if piece.message_finished:
                    self.messages_received += 1
                    self.bytes_received += assembler.size
                    return assembler.take()
        except ConnectionClosed as exc:
            if iterating and exc.code in (1000, 1001, 1005) and exc.received is not None:
                raise StopAsyncIteration from None
            raise
        finally:
            self._leave_receive()

    async def receive_piece(self, first: bool) -> tuple[str | bytes, bool]:
        """The next piece of a message for receive_fragments(), and whether it ends it."""
        self._enter_receive()
        try:
            await trio.lowlevel.checkpoint()
            if first:
                self._skip_abandoned()
            if first and self._assembler:
                # Pieces that a cancelled receive() had already taken come first.
                self.assembly = Assembly.STREAMING
                return self._assembler.take(), False
            piece = await self.next_piece()
            finished = piece.message_finished
            self.assembly = Assembly.WHOLE if finished else Assembly.STREAMING
            return piece.data, finished
        finally:
            self._leave_receive()

    async def next_piece(self) -> Piece:
        """Take the next message piece: queued already, read here, or read by the reader.

        Memory and performance: one method rather than three, because every level of an
        await chain is a coroutine that a connection waiting here keeps, and that every
        resumption steps through.
        """
        queue = self._queue
        if self._head < len(queue):
            # Performance: a piece is already here. A schedule point costs a pass through
            # Trio's run loop, so only one in _SCHEDULE_EVERY immediate returns takes one;
            # every call stays a cancellation point.
            await trio.lowlevel.checkpoint_if_cancelled()
            self._since_schedule += 1
            if self._since_schedule >= _SCHEDULE_EVERY:
                self._since_schedule = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            self._since_schedule = 0
        lifecycle = self._lifecycle
        protocol = self._protocol
        while True:
            while self._head >= len(queue):
                if protocol.state is _CLOSED or not lifecycle.in_use:
                    await trio.lowlevel.checkpoint()  # a checkpoint, even when closed
                    raise lifecycle.closed_exception()  # nothing more can arrive
                if self.reading is _HANDING_OVER:
                    await self._handed_over.wait()  # the reader hands over after its read
                    continue
                if protocol.failure_deferred:
                    # The application is back with everything before the violation taken
                    # (and answered): the connection fails now.
                    self._fail_deferred()
                else:
                    # Read in this task (APPLICATION or APPLICATION_STANDBY). Cancelling this
                    # read loses nothing (Trio's streams guarantee it for receive_some).
                    try:
                        data = await self._stream.receive_some(self._receive_size)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        if lifecycle.state is not Transport.IN_USE:
                            continue  # closed under us by aclose() or the reader: they say why
                        data = b""
                    self._receive_reads += 1
                    self._feed(data)
                if protocol.should_close_transport() and self._outbox.state is not _HELD:
                    await self._close_inline()
            head = self._head
            piece = queue[head]
            head += 1
            if head == len(queue):
                queue.clear()
                head = 0
            elif head >= 64 and head * 2 >= len(queue):
                # A consumer that never quite catches up never empties the queue: drop the
                # pieces taken once they are the larger part, so memory stays bounded.
                del queue[:head]
                head = 0
            self._head = head
            if self.assembly is not Assembly.SKIPPING:
                return piece
            if piece.message_finished:  # the end of an abandoned message: skip it too
                self.assembly = Assembly.WHOLE

    async def _close_inline(self) -> None:
        """The closing handshake is over: write the echo and close the transport, here.

        Performance: two passes through the run loop fewer for every connection that ends
        than waking the reader for it. Within close_timeout (a peer that stops reading
        cannot hold us), and the transport is closed even if this receive() is cancelled.
        """
        try:
            with trio.move_on_after(self._options.close_wait()):
                await self._outbox.write_owed()
        finally:
            self._lifecycle.finish()
            with trio.CancelScope(shield=True):
                await self._lifecycle.close_stream()

    # --- The reader task --------------------------------------------------------------------

    def _start_reader(self, start_at: float) -> None:
        """NOBODY/PAUSED → STANDBY: start a reader task that reads from ``start_at`` on."""
        if self.reading is not _NOBODY and self.reading is not _PAUSED:
            return
        if (
            self.reading is _PAUSED
            and self._protocol.state is _OPEN
            and self.queue_depth() > self._options.max_queue
        ):
            return  # still full: reading resumes when the application takes pieces
        self.reading = _STANDBY
        self._reader_start = start_at
        self._reader_scope = scope = trio.CancelScope()
        try:
            self._nursery.start_soon(self._reader, scope)
        except RuntimeError:
            # The connection's nursery is over (a nursery given to connect_stream() that
            # ended first): nothing can read for the connection any more, so end it.
            self.reading = _NOBODY
            self._lifecycle.finish("the connection's nursery has ended")

    async def _reader(self, scope: trio.CancelScope) -> None:
        protocol = self._protocol
        lifecycle = self._lifecycle
        max_queue = self._options.max_queue
        ends_connection = True
        try:
            with scope:
                if self._reader_start > trio.current_time():
                    await self._stand_by()
                while not protocol.should_close_transport():
                    if protocol.close_expected() and scope.deadline == _INF:
                        scope.deadline = trio.current_time() + self._options.close_wait()
                    state = self.reading
                    if state is _FINISHED:
                        return  # ended before this task ran: never read (receive() may be)
                    if state is _APPLICATION_STANDBY or state is _HANDING_OVER:
                        if protocol.state is not _CLOSED or state is _APPLICATION_STANDBY:
                            # A task in receive() reads (or will) for itself: hand over, go.
                            self.reading = _APPLICATION
                            self._handed_over.wake()
                            ends_connection = False
                            return
                    elif self.queue_depth() > max_queue and protocol.state is _OPEN:
                        # Backpressure: stop reading and let TCP push back on the peer. (With
                        # a full queue one more read is made, so control frames right behind
                        # the last message are still seen. Once closing, the peer's close
                        # must be read: see _handle_events.)
                        self.reading = _PAUSED
                        ends_connection = False
                        return
                    else:
                        self.reading = _READER
                    if protocol.failure_deferred:
                        await self._let_application_answer()
                        self._fail_deferred()
                        continue
                    try:
                        data = await self._stream.receive_some(self._receive_size)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        data = b""
                    self._feed(data)
                    if not data:
                        break
                # Closing: write the close echo before the transport closes, within
                # close_timeout (a task may hold the lock, blocked on a peer that does not
                # read).
                if scope.deadline == _INF:
                    scope.deadline = trio.current_time() + self._options.close_wait()
                await self._outbox.write_owed()
            if scope.cancelled_caught and lifecycle.in_use:
                lifecycle.cause("timed out waiting for the peer")
        except Exception:  # never raise into the nursery: log and end the connection
            logger.exception("internal error in the reader task")
            lifecycle.cause("internal error in the reader task")
        finally:
            if self._reader_scope is scope:
                self._reader_scope = None  # memory: an idle connection keeps no reader scope
            if ends_connection:
                lifecycle.finish()
                self.reading = _FINISHED
                with trio.CancelScope(shield=True):
                    await lifecycle.close_stream()

    async def _stand_by(self) -> None:
        """Wait until the reader's start time, for as long as receive() reads for itself.

        A whole ``_STANDBY_DELAY`` without a read by receive() (the application stopped receiving,
        or polls with timeouts too short to read) starts the reader, and so does a wake-up
        because a pong or a close is awaited.
        """
        while True:
            seen = self._receive_reads
            with trio.CancelScope(deadline=self._reader_start):
                await self._reader_wakeup.wait()
            if self._reader_start == _NOW or self._receive_reads == seen:
                return
            self._reader_start = trio.current_time() + _STANDBY_DELAY

    async def _let_application_answer(self) -> None:
        """Let the application answer what came before a held-back violation.

        Until the queue stays empty for ``_STANDBY_DELAY`` or a receive() waits, at most
        ``close_timeout`` (see Connection.failure_deferred).
        """
        quiet = False
        with trio.move_on_after(self._options.close_wait()):
            while self.reading is not _HANDING_OVER:
                if self.queue_depth():
                    quiet = False
                elif quiet:
                    return
                else:
                    quiet = True
                await trio.sleep(_STANDBY_DELAY)

    # --- Feeding the core -------------------------------------------------------------------

    def _fail_deferred(self) -> None:
        """Fail the connection for the violation held back (the close frame is owed)."""
        protocol = self._protocol
        protocol.fail_deferred()
        self._handle_events(protocol.events())
        self._outbox.owe()
        self._handed_over.wake()

    def _feed(self, data: bytes | bytearray) -> None:
        """Give what was read (``b""`` at the end of the stream) to the core; take its events."""
        protocol = self._protocol
        if data:
            self.wire_received += len(data)
            # Performance: a read that filled its buffer means a large message is streaming
            # in; read 4 times more next time (up to _MAX_RECEIVE_SIZE). Any shorter read goes
            # back to RECEIVE_SIZE, so small messages never pay for a large allocation.
            size = self._receive_size
            self._receive_size = (
                min(size * 4, _MAX_RECEIVE_SIZE) if len(data) == size else RECEIVE_SIZE
            )
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        self._handle_events(protocol.events())
        self._outbox.owe()  # a pong, or the close echo, queued by the core
        if protocol.state is not _OPEN:
            self._handed_over.wake()  # a receiver waiting for the reader: it may be over

    def _handle_events(self, events: list[Event]) -> None:
        """Queue the message pieces for receive(); note pongs and closes."""
        queue = self._queue
        lifecycle = self._lifecycle
        queued = False
        for event in events:
            if isinstance(event, TextMessage | BytesMessage):
                if self._dropping or (
                    lifecycle.close_sent is not None  # as of this event: ours, not an echo
                    and self.queue_depth() > self._options.max_queue
                    and (len(queue) == self._head or queue[-1].message_finished)
                ):
                    # We sent a close and more than max_queue pieces wait: the reader reads
                    # on to see the peer's close (so that aclose() does not wait for
                    # close_timeout behind unread messages), and the messages that come from
                    # here on are dropped, so memory stays bounded. All of them, also once
                    # the queue drains: the application sees a prefix of what was sent,
                    # never a message with an earlier one missing.
                    self._dropping = True
                    continue
                queue.append(event)
                queued = True
            elif isinstance(event, Pong):
                self._pings.pong_received(event.payload)
            elif isinstance(event, CloseConnection):
                lifecycle.close_received = event
                if lifecycle.close_sent is None:
                    lifecycle.close_sent = event.response()  # the core echoed it
            elif isinstance(event, ConnectionFailed):
                error = event.error
                lifecycle.cause(str(error))
                code = error.close_code
                if code is not None and code != 1006 and lifecycle.close_sent is None:
                    lifecycle.close_sent = CloseConnection(code=code)
        if queued:
            self._handed_over.wake()
