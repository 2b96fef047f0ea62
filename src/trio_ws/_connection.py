"""WebSocketConnection: the public face of a connection, one type for both roles.

Theory of operation. A connection owns a transport stream and a sans-IO
:class:`~trio_ws.protocol.Connection` (the core, which owns the WebSocket state: OPEN,
CLOSING, CLOSED). Around the core, each concern is a room that owns its own state:

* :mod:`trio_ws._inbox` — who reads the stream (:class:`~trio_ws._inbox.Reading`): the
  application inside ``receive()``, a reader task, or nobody while backpressure holds; the
  receive queue; message assembly.
* :mod:`trio_ws._outbox` — who writes (:class:`~trio_ws._outbox.Writing`): the send lock and
  the rule that bytes the core owes (pongs, the close echo) are always written by someone.
* :mod:`trio_ws._lifecycle` — whether the transport is in use, finished or closed
  (:class:`~trio_ws._lifecycle.Transport`), the close details, and what ends with it.
* :mod:`trio_ws._pings` — pings waiting for their pong.
* :mod:`trio_ws._keepalive` — keepalive pings, through this class's public API only.

This module composes them and adds nothing of its own but the public API, and the three
internal seams the rest of the package uses: :func:`start_connection` (the one way a
connection is built, after a handshake), :func:`write_shared_now` and :func:`send_shared`
(a broadcast's frame shared between connections).

Background tasks run in a nursery that belongs to the connection (opened by
:func:`~trio_ws.open_websocket` or by the server for each handler). They never raise into it:
what goes wrong becomes the connection's closed state, which the application sees as
:class:`~trio_ws.ConnectionClosed` on its next call.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Coroutine, Iterable
from contextlib import aclosing
from typing import Any, TypeAlias, final

import trio

from ._assembly import Fragments
from ._exceptions import ConnectionClosed
from ._h2_channel import Channel
from ._inbox import Inbox, Reading
from ._keepalive import Keepalive
from ._lifecycle import Lifecycle
from ._options import Options
from ._outbox import Outbox, WriteNow
from ._pings import Pings
from ._statistics import ConnectionStatistics
from ._streams import peer_address, socket_of
from ._sync import SendLock
from .protocol import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Connection,
    ConnectionState,
    Event,
    Ping,
    Pong,
    Request,
    Role,
    TextMessage,
)
from .protocol.extensions import Extension

__all__ = [
    "ConnectionStatistics",
    "Data",
    "WebSocketConnection",
    "send_shared",
    "start_connection",
    "write_shared_now",
]

#: What :meth:`WebSocketConnection.send` accepts: text, or any bytes-like object.
Data: TypeAlias = str | bytes | bytearray | memoryview

_OPEN = ConnectionState.OPEN
_CLOSED = ConnectionState.CLOSED


@final
class WebSocketConnection(trio.abc.AsyncResource):
    """An open WebSocket connection, client or server.

    You get one from :func:`~trio_ws.open_websocket` or from
    :meth:`~trio_ws.WebSocketRequest.accept`; it is not built directly. It is valid inside the
    ``async with`` block or the handler that produced it, and closes when that ends.

    Iterating over it yields messages until the peer closes normally (1000 or 1001); any
    other end raises :class:`~trio_ws.ConnectionClosedError`.
    """

    __slots__ = (
        "__weakref__",  # the keepalive scheduler holds connections weakly
        "_bytes_sent",
        "_inbox",
        "_lifecycle",
        "_message_lock",
        "_messages_sent",
        "_options",
        "_outbox",
        "_pings",
        "_protocol",
        "_stream",
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
        self._lifecycle = lifecycle = Lifecycle(stream, nursery)
        self._outbox = outbox = Outbox(stream, protocol, lifecycle, nursery)
        self._pings = pings = Pings()
        self._inbox = inbox = Inbox(stream, protocol, options, lifecycle, outbox, pings, nursery)
        lifecycle.watch(inbox)
        # Held by send_fragments() for a whole message, so that no other message goes in
        # between its fragments while the send lock is free for pings and pongs.
        self._message_lock: SendLock | None = None
        self._messages_sent = 0
        self._bytes_sent = 0

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
        return self._protocol.state is not _OPEN or not self._lifecycle.in_use

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
        return self._lifecycle.closed_exception().code if self._ended() else None

    @property
    def close_reason(self) -> str | None:
        """The reason that goes with :attr:`close_code`, or ``None`` while open."""
        return self._lifecycle.closed_exception().reason if self._ended() else None

    @property
    def close_sent(self) -> CloseConnection | None:
        """The close frame we sent, if any."""
        return self._lifecycle.close_sent

    @property
    def close_received(self) -> CloseConnection | None:
        """The close frame the peer sent, if any."""
        return self._lifecycle.close_received

    @property
    def local_address(self) -> Any:
        """The local socket address (as ``socket.getsockname()`` gives it), or ``None``."""
        sock = socket_of(self._stream)
        return sock.getsockname() if sock is not None else None

    @property
    def remote_address(self) -> Any:
        """The peer's socket address (as ``socket.getpeername()`` gives it), or ``None``."""
        return peer_address(self._stream)

    @property
    def stream(self) -> trio.abc.Stream:
        """The transport stream under the connection."""
        return self._stream

    @property
    def http_version(self) -> str:
        """``"1.1"``, or ``"2"`` for a stream of an HTTP/2 connection (extended CONNECT)."""
        return "2" if isinstance(self._stream, Channel) else "1.1"

    def statistics(self) -> ConnectionStatistics:
        """Return a snapshot of the connection's counters."""
        inbox = self._inbox
        return ConnectionStatistics(
            messages_sent=self._messages_sent,
            bytes_sent=self._bytes_sent,
            messages_received=inbox.messages_received,
            bytes_received=inbox.bytes_received,
            wire_bytes_sent=self._outbox.wire_sent,
            wire_bytes_received=inbox.wire_received,
            queue_depth=inbox.queue_depth(),
            pings_in_flight=len(self._pings),
            last_rtt=self._pings.last_rtt,
            reading_paused=inbox.reading is Reading.PAUSED,
            http_version=self.http_version,
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
        outbox = self._outbox
        messages = self._message_lock
        if messages is None:
            await outbox.acquire()
        else:
            # send_fragments() has been used: a message goes after a fragmented one that
            # began first, so take the message lock (always before the send lock, as
            # send_fragments does) until the send lock is ours.
            try:
                messages.acquire_nowait()
            except trio.WouldBlock:
                await messages.acquire()
            try:
                await outbox.acquire()
            finally:
                messages.release()
        try:
            self._check_can_send()
            # A cancelled send fails here, before the frame is queued, and not inside
            # send_all, where a cancellation ends the connection. ``send`` is a checkpoint:
            # this, and the send_all in flush(), which yields after writing.
            await trio.lowlevel.checkpoint_if_cancelled()
            self._protocol.send(event, compress=compress)
            self._messages_sent += 1
            self._bytes_sent += len(message)
            await outbox.flush()
        finally:
            outbox.release()

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
        outbox = self._outbox
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
                    await outbox.acquire()
                    try:
                        self._check_can_send()
                        await trio.lowlevel.checkpoint_if_cancelled()
                        self._protocol.send(_message_event(fragment, False), compress=compress)
                        begun = True
                        await outbox.flush()
                    finally:
                        outbox.release()
                    size += len(fragment)
                await outbox.acquire()
                try:
                    self._check_can_send()
                    self._protocol.send(
                        TextMessage(data="") if kind is str else BytesMessage(data=b"")
                    )
                    begun = False  # complete, once written
                    await outbox.flush()
                finally:
                    outbox.release()
            except BaseException:
                if begun:
                    # Half a message went out and nothing else may follow it on the wire.
                    self._lifecycle.finish("a fragmented message was interrupted")
                raise
            self._messages_sent += 1
            self._bytes_sent += size

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
        pings = self._pings
        outbox = self._outbox
        await outbox.acquire()
        try:
            self._check_can_send()
            # Checked under the lock, so two concurrent pings cannot share a payload.
            if payload is None:
                payload = pings.new_payload()
            elif pings.in_flight(payload):
                raise ValueError("a ping with this payload is already waiting for its pong")
            # Cancelled here, before anything is queued, rather than inside send_all.
            await trio.lowlevel.checkpoint_if_cancelled()
            answered = pings.sent(payload)
            try:
                self._protocol.send(Ping(payload=payload))
                await outbox.flush()
            except BaseException:
                pings.forget(payload)
                raise
        finally:
            outbox.release()
        self._inbox.want_reading()
        try:
            await answered.wait()
        finally:
            pings.forget(payload)
        if self._ended():
            raise self._lifecycle.closed_exception()
        assert pings.last_rtt is not None
        return pings.last_rtt

    async def pong(self, payload: bytes = b"") -> None:
        """Send an unsolicited pong (a one-way heartbeat)."""
        outbox = self._outbox
        await outbox.acquire()
        try:
            self._check_can_send()
            await trio.lowlevel.checkpoint_if_cancelled()  # as in ping()
            self._protocol.send(Pong(payload=payload))
            await outbox.flush()
        finally:
            outbox.release()

    # --- Receiving ----------------------------------------------------------------------------

    def receive(self) -> Coroutine[Any, Any, str | bytes]:
        """Receive the next message: ``str`` for text, ``bytes`` for binary (``await`` it).

        Messages already received are delivered even after the connection closed; then this
        raises. It is always a cancellation point; cancelling it loses no data. When messages
        are already waiting, it returns without yielding to other tasks, but yields at least
        once every 16 messages (see :doc:`/explanation/performance`).

        Raises:
            ConnectionClosed: the connection closed and no message is left.
            trio.BusyResourceError: another task is already receiving.
        """
        # Memory: the inbox's coroutine itself, not one that awaits it (a waiting receiver
        # keeps every frame of its await chain).
        return self._inbox.receive()

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
        return Fragments(self._inbox)

    def __aiter__(self) -> WebSocketConnection:
        return self

    def __anext__(self) -> Coroutine[Any, Any, str | bytes]:
        """Return the next message; stop quietly when the peer closed with 1000 or 1001."""
        return self._inbox.receive(iterating=True)  # (a coroutine: see receive())

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
        lifecycle = self._lifecycle
        try:
            # One deadline for everything, including getting the send lock from a task that
            # is blocked writing to a peer that does not read.
            with trio.move_on_after(self._options.close_wait()):
                await self._start_close(close)
                await lifecycle.wait_finished()
        finally:
            if lifecycle.close_sent is None:
                # Say why we closed, since the peer could not be told.
                cause = f"{reason or 'closed'} (code {code}): the close frame could not be sent"
            else:
                cause = "closed without a closing handshake"
            lifecycle.finish(cause)
            await lifecycle.close_stream()

    async def wait_closed(self) -> None:
        """Wait until the connection is over and its transport closed."""
        self._inbox.want_reading()
        await self._lifecycle.wait_finished()

    async def _start_close(self, close: CloseConnection) -> None:
        outbox = self._outbox
        lifecycle = self._lifecycle
        await outbox.acquire()
        try:
            if self._protocol.state is _OPEN and lifecycle.in_use:
                self._protocol.send(close)
                lifecycle.close_sent = close
                self._inbox.want_reading()  # for the peer's close
                try:
                    await outbox.flush()
                except ConnectionClosed:
                    pass
        finally:
            outbox.release()

    # --- Internals ---------------------------------------------------------------------------

    def _check_can_send(self) -> None:
        if self._protocol.state is not _OPEN or not self._lifecycle.in_use:
            raise self._lifecycle.closed_exception()

    def _ended(self) -> bool:
        return self._protocol.state is _CLOSED or not self._lifecycle.in_use


# --- The package's internal seams -----------------------------------------------------------


async def start_connection(
    stream: trio.abc.Stream,
    protocol: Connection,
    options: Options,
    nursery: trio.Nursery,
    *,
    events: list[Event],
    keepalive: Keepalive | None = None,
) -> WebSocketConnection:
    """Build the connection for a completed opening handshake and start its background work.

    Writes what the core still holds (a server's ``101`` answer), takes ``events`` (frames
    that came with the handshake), and schedules keepalive pings with ``keepalive`` (a
    server's shared scheduler) or with a scheduler of the connection's own.

    Raises:
        ConnectionClosed: the peer left before the answer could be written.
    """
    ws = WebSocketConnection(stream, protocol, options, nursery)
    outbox = ws._outbox
    await outbox.acquire()
    try:
        await outbox.flush()
    finally:
        outbox.release()
    ws._inbox.start(events)
    interval = options.ping_interval
    if interval is not None:
        if keepalive is None:
            keepalive = Keepalive(interval, options.ping_timeout)
            scope = trio.CancelScope()
            ws._lifecycle.own(scope)
            nursery.start_soon(_run_keepalive, keepalive, scope)
        keepalive.add(ws)
    return ws


async def _run_keepalive(keepalive: Keepalive, scope: trio.CancelScope) -> None:
    with scope:
        await keepalive.run()


def write_shared_now(ws: WebSocketConnection, frame: bytes, size: int) -> WriteNow:
    """Write a broadcast's shared frame to ``ws`` at once, without blocking, if it can be done.

    Args:
        ws: The connection.
        frame: A frame from :func:`~trio_ws.protocol.serialize_message`.
        size: The message's payload size (for the statistics).
    """
    written = ws._outbox.write_now(frame)
    if written is not WriteNow.NOT_NOW:
        ws._messages_sent += 1
        ws._bytes_sent += size
    return written


async def send_shared(ws: WebSocketConnection, frame: bytes | None, size: int) -> bool:
    """Send a broadcast's shared frame; ``False`` if this connection cannot take it.

    With ``frame=None``, write the rest of a frame :func:`write_shared_now` began.

    Raises:
        ConnectionClosed: the connection is closed or closing.
    """
    outbox = ws._outbox
    await outbox.acquire()
    try:
        if frame is None:
            await trio.lowlevel.checkpoint_if_cancelled()
            await outbox.flush()
            return True
        ws._check_can_send()
        protocol = ws._protocol
        if not protocol.can_share_frames():
            return False
        await trio.lowlevel.checkpoint_if_cancelled()
        protocol.send_serialized(frame)
        ws._messages_sent += 1
        ws._bytes_sent += size
        await outbox.flush()
    finally:
        outbox.release()
    return True


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
