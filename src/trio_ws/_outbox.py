"""The outbox: who writes to the transport, and the rule that owed bytes always go out.

Theory of operation. Every byte the connection writes comes from the sans-IO core's output
(:meth:`~trio_ws.protocol.Connection.data_to_send_chunks`), and only the task that holds the
send lock writes. Some bytes are queued by a task for itself (a message, a ping, our close);
others the core queues on its own while it reads (a pong, the echo of the peer's close): those
are *owed*, and no task in particular asked for them. The outbox's one state says who will
write what the core holds:

    ========  ===========================================================================
    IDLE      nobody holds the send lock, and the core owes nothing
    HELD      a task holds the send lock; it writes everything the core holds before it
              lets go (or hands the lock to the next waiting task, who will)
    OWED      nobody holds the send lock, the core owes bytes, and a courier task is on its
              way to write them
    ========  ===========================================================================

Transitions, all in this module:

* :meth:`Outbox.acquire`: IDLE or OWED → HELD (at once if free, else in first-come order).
* :meth:`Outbox.release`: HELD → HELD (handed to the next waiter), → OWED (bytes are owed
  and nobody waits: a courier is started), or → IDLE.
* :meth:`Outbox.owe`: called whenever the core may have queued bytes by itself; IDLE → OWED
  (a courier is started) when it did. In HELD or OWED nothing is needed: someone will write.

**The owed-bytes rule** follows: bytes the core owes are always written by someone, without
waiting for new input, also when the task holding the lock is cancelled before it writes (its
``release()`` starts a courier, or hands the lock to a task that writes). Writing owed bytes
never happens in a task that reads: a reader blocked on a peer that does not read could not
see that peer's close, and two peers writing to each other could deadlock.

A write cancelled or failed halfway through a frame leaves the stream in an unknown state
(Trio's rule for ``send_all``): the connection is finished (see :mod:`trio_ws._lifecycle`).
"""

from __future__ import annotations

import enum
import os
import sys

import trio

from ._exceptions import ConnectionClosed
from ._lifecycle import Lifecycle
from ._sync import Waiters
from .protocol import Connection

__all__ = ["Outbox", "WriteNow", "Writing"]

#: A chunk this large is written on its own rather than copied behind the chunks before it:
#: from about here on, one more ``send_all`` costs less than the copy (bench/run.py).
_SEPARATE_WRITE = 262144
#: Whether sockets can be written with os.write() (not on Windows, where a socket's fileno()
#: is not a file descriptor).
_DIRECT_WRITES = sys.platform != "win32"


class Writing(enum.Enum):
    """Who will write what the core holds (see the module's theory of operation)."""

    #: Nobody holds the send lock, and nothing is owed.
    IDLE = "idle"
    #: A task holds the send lock and writes everything owed before it lets go.
    HELD = "held"
    #: Nobody holds the lock; owed bytes wait for a courier task that is on its way.
    OWED = "owed"


class WriteNow(enum.Enum):
    """What :meth:`Outbox.write_now` did with a frame."""

    #: Nothing: the caller sends it the usual way.
    NOT_NOW = "not now"
    #: All of it.
    WRITTEN = "written"
    #: Part of it; the rest is queued first in the core, for :meth:`Outbox.write_rest`.
    PARTIAL = "partial"


_IDLE = Writing.IDLE
_HELD = Writing.HELD
_OWED = Writing.OWED


class Outbox:
    """The send lock and the writes of one connection."""

    __slots__ = (
        "_lifecycle",
        "_nursery",
        "_protocol",
        "_stream",
        "_waiters",
        "state",
        "wire_sent",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: Connection,
        lifecycle: Lifecycle,
        nursery: trio.Nursery,
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        self._lifecycle = lifecycle
        self._nursery = nursery
        #: Who will write what the core holds. Changed only by acquire(), release(), owe().
        self.state = _IDLE
        # Tasks waiting for the lock; made only once a task has had to wait.
        self._waiters: Waiters | None = None
        #: Bytes written to the transport.
        self.wire_sent = 0

    # --- The lock ---------------------------------------------------------------------------

    async def acquire(self) -> None:
        """IDLE/OWED → HELD: take the send lock, waiting for it in first-come order.

        Performance: not a checkpoint when the lock is free (``await lock.acquire()`` costs a
        pass through the run loop per message); the write that follows is one.
        """
        if self.state is not _HELD:
            self.state = _HELD
            return
        if self._waiters is None:
            self._waiters = Waiters()
        await self._waiters.wait()  # release() handed it to us

    def release(self) -> None:
        """HELD → HELD (handed over), OWED (a courier is started) or IDLE."""
        if self._waiters is not None and self._waiters.wake_first():
            return  # it stays HELD, by that task now
        self.state = _IDLE
        self.owe()

    def owe(self) -> None:
        """Make sure what the core holds gets written: IDLE → OWED when it holds bytes."""
        if self.state is _IDLE and self._protocol.has_data_to_send() and self._lifecycle.in_use:
            self.state = _OWED
            try:
                self._nursery.start_soon(self._courier)
            except RuntimeError:  # the connection's nursery is over: nobody can write
                self.state = _IDLE
                self._lifecycle.close_stream_soon()

    async def _courier(self) -> None:
        """Write what is owed, then go (the lock may go to an earlier waiter first)."""
        scope = trio.CancelScope()
        self._lifecycle.own(scope)
        with scope:
            await self.write_owed()
        self._lifecycle.disown(scope)

    async def write_owed(self) -> None:
        """Take the lock and write whatever the core holds (nothing raised if closed)."""
        await self.acquire()
        try:
            if self._lifecycle.in_use:
                await self.flush()
        except ConnectionClosed:
            pass  # the transport broke: the connection has finished, and says why
        finally:
            self.release()

    # --- Writing ----------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything the core holds. Call it holding the lock.

        Raises:
            ConnectionClosed: the transport is finished or broke while writing.
        """
        lifecycle = self._lifecycle
        if not lifecycle.in_use:
            raise lifecycle.closed_exception()  # the stream may hold half a frame, or be gone
        protocol = self._protocol
        stream = self._stream
        while chunks := protocol.data_to_send_chunks():
            # Performance: a large payload is written on its own rather than copied behind
            # its header; small chunks (a message and the pongs queued meanwhile) go as one.
            if len(chunks) > 1 and not (len(chunks) == 2 and len(chunks[1]) >= _SEPARATE_WRITE):
                chunks = [b"".join(chunks)]
            for data in chunks:
                try:
                    await stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    lifecycle.finish("the transport broke while sending")
                    raise lifecycle.closed_exception() from None
                except BaseException:
                    # Cancelled (or failed) inside send_all: part of a frame may be on the
                    # wire, and whatever follows would be read as its payload.
                    lifecycle.finish("a send was interrupted in the middle of a frame")
                    raise
                self.wire_sent += len(data)

    def write_now(self, frame: bytes) -> WriteNow:
        """Write a shared frame from the calling task, without blocking, if it can be done.

        Performance: a broadcast to many plain TCP connections then costs one ``write(2)``
        each and no pass through Trio's run loop. Only when the lock is free, nothing is
        owed, and the stream is a plain SocketStream (whose ``send_all`` is a loop of such
        writes, plus a checkpoint).
        """
        protocol = self._protocol
        stream = self._stream
        if (
            _DIRECT_WRITES
            and self.state is _IDLE
            and type(stream) is trio.SocketStream
            and self._lifecycle.in_use
            and protocol.can_share_frames()
            and not protocol.has_data_to_send()
        ):
            try:
                written = os.write(stream.socket.fileno(), frame)
            except OSError:  # full (BlockingIOError) or broken: the usual path handles it
                return WriteNow.NOT_NOW
            self.wire_sent += written
            if written == len(frame):
                return WriteNow.WRITTEN
            # Half a frame is on the wire: the rest must come before anything else.
            protocol.send_serialized(frame[written:])
            return WriteNow.PARTIAL
        return WriteNow.NOT_NOW
