"""One HTTP/2 connection that carries WebSockets (RFC 8441), in either role, on ``h2``.

Theory of operation. A :class:`Session` owns an HTTP/2 connection: the transport stream,
``h2``'s state machine, and one :class:`~trio_ws._h2_channel.Channel` per open stream. Two
tasks run it, in the nursery of whoever runs :meth:`Session.run`:

* the **reader** reads the transport, feeds ``h2``, and hands what it meant to the channels
  (DATA, END_STREAM, RST_STREAM) or to the role (a request reached a server, a response a
  client). It never waits for a channel, so one slow WebSocket never stops the others.
* the **writer** is the only task that writes the transport. Everyone else asks ``h2`` for
  frames and queues the bytes; a sender then waits until the writer has written past them
  (:meth:`Session.send_data`), which is how a socket that does not drain slows the senders.
  Because only the writer writes, cancelling a sender never cuts a frame in half.

Flow control. Each stream's window bounds what may wait in its channel (the channel reopens
it as the application reads, see :mod:`trio_ws._h2_channel`); the connection's window is
reopened as soon as DATA arrives, so a stream nobody reads never blocks the others.

Where the session stands is one :class:`Phase`::

    RUNNING ──going_away()──▶ GOING_AWAY ──(last stream done, GOAWAY sent)──▶ ENDED
       └──────────(the transport lost, a protocol error)──────────▶ ENDED
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Sequence

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import trio

from ._h2_channel import Channel
from ._h2_fields import Header
from ._options import RECEIVE_SIZE

__all__ = ["Header", "Phase", "Session"]


#: The stream flow-control window we advertise: what may wait unread in each channel. Larger
#: than HTTP/2's default (65,535), so that a 64 KiB message does not wait for a window update.
STREAM_WINDOW = 262144
#: The largest DATA frame we accept (``SETTINGS_MAX_FRAME_SIZE``): a window's worth, so that
#: a message needs few frames (each costs a pass through h2).
MAX_FRAME_SIZE = STREAM_WINDOW
#: What the connection window is raised to at once (it starts at 65,535 by the spec).
CONNECTION_WINDOW = 16 * STREAM_WINDOW
#: Queued output past which the reader waits for the writer (a peer that does not read).
MAX_QUEUED = 1 << 20
_SETTING = h2.settings.SettingCodes


class Phase(enum.Enum):
    """Where a session stands (see the module's theory of operation)."""

    #: Streams may be opened and used.
    RUNNING = "running"
    #: GOAWAY sent or received: no new streams; the open ones finish.
    GOING_AWAY = "going away"
    #: Over: every channel is broken, the tasks stop.
    ENDED = "ended"


_RUNNING = Phase.RUNNING
_GOING_AWAY = Phase.GOING_AWAY
_ENDED = Phase.ENDED


class Session:
    """An HTTP/2 connection carrying WebSocket streams (see the module's theory).

    Args:
        transport: The connection's stream (after TLS, ALPN ``h2``; or cleartext h2c).
        client: Which end we are.
        max_streams: ``SETTINGS_MAX_CONCURRENT_STREAMS`` we advertise.
        max_header_list_size: ``SETTINGS_MAX_HEADER_LIST_SIZE`` we advertise and enforce.
        on_request: Server side: called (by the reader, must not block) with each new
            stream's channel, its header fields, and whether the request ended already.
        websockets: Server side: advertise ``SETTINGS_ENABLE_CONNECT_PROTOCOL = 1``.
    """

    def __init__(
        self,
        transport: trio.abc.Stream,
        *,
        client: bool,
        max_streams: int = 100,
        max_header_list_size: int = 16384,
        on_request: Callable[[Channel, list[Header], bool], None] | None = None,
        websockets: bool = True,
    ) -> None:
        self._transport = transport
        config = h2.config.H2Configuration(client_side=client, header_encoding=None)
        self._conn = conn = h2.connection.H2Connection(config)
        settings = {
            _SETTING.MAX_CONCURRENT_STREAMS: max_streams,
            _SETTING.MAX_HEADER_LIST_SIZE: max_header_list_size,
            _SETTING.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            _SETTING.MAX_FRAME_SIZE: MAX_FRAME_SIZE,
        }
        if not client and websockets:
            settings[_SETTING.ENABLE_CONNECT_PROTOCOL] = 1
        conn.local_settings = h2.settings.Settings(client=client, initial_values=settings)
        # h2 reads these two from its settings when it is built: set them as advertised.
        conn.decoder.max_header_list_size = max_header_list_size
        conn.max_inbound_frame_size = MAX_FRAME_SIZE
        self._on_request = on_request
        #: Where the session stands.
        self.phase = _RUNNING
        #: Why it ended (for the channels' exceptions), once it has.
        self.why = ""
        self._channels: dict[int, Channel] = {}
        self._responses: dict[int, list[Header]] = {}
        self._unacked: dict[int, int] = {}
        self._connection_unacked = 0
        self._settings_received = trio.Event()
        self._drained = trio.Event()
        # Output: queued chunks, bytes queued and written so far, who waits for what.
        self._pending: list[bytes] = []
        self._queued = 0
        self._written = 0
        self._writing = False  # the writer is inside send_all
        self._writer = trio.lowlevel.ParkingLot()
        self._flushed = trio.lowlevel.ParkingLot()
        self._windows = trio.lowlevel.ParkingLot()
        self._answers = trio.lowlevel.ParkingLot()

    def __repr__(self) -> str:
        return f"<Session {self.phase.name} streams={len(self._channels)}>"

    # --- Facts ------------------------------------------------------------------------------

    @property
    def transport(self) -> trio.abc.Stream:
        """The connection's stream."""
        return self._transport

    @property
    def streams(self) -> int:
        """Streams open on this connection."""
        return len(self._channels)

    @property
    def accepts_websockets(self) -> bool:
        """Whether the peer sent ``SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`` (RFC 8441 §3)."""
        return bool(self._conn.remote_settings.enable_connect_protocol)

    async def wait_settings(self) -> None:
        """Wait for the peer's first SETTINGS (or for the session to end)."""
        await self._settings_received.wait()

    # --- Running ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the reader and the writer until the connection ends; then close the transport."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_loop)
                self._conn.initiate_connection()
                self._conn.increment_flow_control_window(CONNECTION_WINDOW - 65535)
                self._flush_now()
                task_status.started()
                await self._read_loop()
                nursery.cancel_scope.cancel()
        finally:
            self._end(self.why or "the HTTP/2 connection was closed")
            await trio.aclose_forcefully(self._transport)

    def going_away(self) -> None:
        """RUNNING → GOING_AWAY: take no new stream; end once the last one has.

        The GOAWAY frame itself goes out then (:meth:`goodbye`): h2 allows no frame on any
        stream after it, and the open streams must still close cleanly.
        """
        if self.phase is _RUNNING:
            self.phase = _GOING_AWAY
            self._check_drained()

    async def goodbye(self) -> None:
        """Send GOAWAY, and wait (a second at most) until it is written."""
        if self.phase is _ENDED:
            return
        try:
            self._conn.close_connection()
        except h2.exceptions.ProtocolError:  # closed already
            pass
        await self._wait_written(self._flush_now(), give_up=1.0)

    def _check_drained(self) -> None:
        if self.phase is _GOING_AWAY and not self._channels:
            self._drained.set()

    async def wait_drained(self) -> None:
        """Wait until the session may end: over, or going away with no stream left."""
        await self._drained.wait()

    def _end(self, why: str) -> None:
        """Any → ENDED: break every channel, wake every waiter."""
        if self.phase is _ENDED:
            return
        self.phase = _ENDED
        self.why = self.why or why
        channels = list(self._channels.values())
        self._channels.clear()
        for channel in channels:
            channel.fail(self.why)
        self._settings_received.set()
        self._drained.set()
        for lot in (self._writer, self._flushed, self._windows, self._answers):
            lot.unpark_all()

    # --- The reader -------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        conn = self._conn
        while self.phase is not _ENDED:
            try:
                data = await self._transport.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._end(f"the HTTP/2 connection was lost ({exc or type(exc).__name__})")
                return
            if not data:
                self._end("the HTTP/2 connection was closed by the peer")
                return
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                code = getattr(exc, "error_code", h2.errors.ErrorCodes.PROTOCOL_ERROR)
                try:
                    conn.close_connection(error_code=code)
                except h2.exceptions.ProtocolError:  # pragma: no cover
                    pass
                self._flush_now()
                self.why = f"HTTP/2 protocol error from the peer: {exc}"
                await self._wait_written(self._queued, give_up=1.0)
                self._end(self.why)
                return
            for event in events:
                self._connection_unacked += self._handle(event)
            # The connection's window, reopened by half-windows (one WINDOW_UPDATE per
            # message would wake the peer's reader once more per message).
            if self._connection_unacked >= CONNECTION_WINDOW // 2:
                conn.increment_flow_control_window(self._connection_unacked)
                self._connection_unacked = 0
            if self._flush_now() - self._written > MAX_QUEUED:
                await self._wait_written(self._queued)

    def _handle(self, event: h2.events.Event) -> int:
        """Act on one event; return the connection-window bytes it consumed."""
        if isinstance(event, h2.events.DataReceived):
            size = event.flow_controlled_length
            channel = self._channels.get(event.stream_id)
            if channel is not None:
                channel.feed(event.data)
                padding = size - len(event.data)
                if padding:
                    self.consumed(event.stream_id, padding)
            elif event.data:
                # Data for a stream we closed: reset it, as TCP answers data for a closed
                # socket with RST, so that the sender learns nobody reads.
                self._reset(event.stream_id)
            return size
        if isinstance(event, h2.events.StreamEnded):
            channel = self._channels.get(event.stream_id)
            if channel is not None:
                channel.feed_eof()
        elif isinstance(event, h2.events.RequestReceived):
            self._request(event)
        elif isinstance(event, h2.events.ResponseReceived):
            self._responses[event.stream_id] = list(event.headers)
            self._answers.unpark_all()
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self._settings_received.set()
            self._windows.unpark_all()
        elif isinstance(event, h2.events.StreamReset):
            self._forget(event.stream_id, f"the peer reset the stream ({event.error_code!r})")
            self._answers.unpark_all()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.phase = _GOING_AWAY if self.phase is _RUNNING else self.phase
            last = event.last_stream_id or 0
            for stream_id in [i for i in self._channels if i > last]:
                self._forget(stream_id, "the peer went away (GOAWAY) before this stream")
            self._answers.unpark_all()
            self._check_drained()
        return 0

    def _request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        if self._on_request is None or self.phase is not _RUNNING:
            self._conn.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        channel = Channel(self, stream_id)
        self._channels[stream_id] = channel
        ended = event.stream_ended is not None
        if ended:
            channel.feed_eof()
        self._on_request(channel, list(event.headers), ended)

    def _reset(self, stream_id: int) -> None:
        try:
            self._conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        except h2.exceptions.ProtocolError:  # closed already
            pass

    def _forget(self, stream_id: int, why: str) -> None:
        channel = self._channels.pop(stream_id, None)
        self._unacked.pop(stream_id, None)
        if channel is not None:
            channel.fail(why)
        self._check_drained()

    # --- The writer -------------------------------------------------------------------------

    def _flush_now(self) -> int:
        """Queue what h2 wants to send (return the bytes queued so far); write it now if it can be.

        Performance: for a plain TCP socket with the writer idle, one ``send(2)`` here saves
        two passes through Trio's run loop (waking the writer, and it waking us). Whatever
        the socket does not take at once is left to the writer, as always, so a cancelled
        caller still never cuts a frame.
        """
        data = self._conn.data_to_send()
        if not data:
            return self._queued
        self._queued += len(data)
        transport = self._transport
        if not self._pending and not self._writing and type(transport) is trio.SocketStream:
            try:
                written = os.write(transport.socket.fileno(), data)
            except BlockingIOError:
                written = 0
            except OSError:  # broken: the writer finds out and ends the session
                written = 0
            self._written += written
            if written == len(data):
                return self._queued
            data = data[written:]
        self._pending.append(data)
        self._writer.unpark_all()
        return self._queued

    async def _write_loop(self) -> None:
        while self.phase is not _ENDED:
            if not self._pending:
                await self._writer.park()
                continue
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            self._writing = True
            try:
                await self._transport.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._end(f"the HTTP/2 connection was lost ({exc or type(exc).__name__})")
                return
            finally:
                self._writing = False
            self._written += len(data)
            self._flushed.unpark_all()

    async def _wait_written(self, mark: int, give_up: float | None = None) -> None:
        """Wait until the writer has written ``mark`` bytes (a checkpoint)."""
        if self._written >= mark or self.phase is _ENDED:
            await trio.lowlevel.checkpoint()
            return
        with trio.move_on_after(float("inf") if give_up is None else give_up):
            while self._written < mark and self.phase is not _ENDED:
                await self._flushed.park()

    def _check(self, stream_id: int) -> None:
        if self.phase is _ENDED or stream_id not in self._channels:
            raise trio.BrokenResourceError(self.why or "the stream is over")

    # --- The channels' host (see _h2_channel.Host) ------------------------------------------

    async def send_data(self, stream_id: int, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` on a stream within flow control; return once it is written."""
        conn = self._conn
        view = memoryview(data).cast("B")
        while True:
            self._check(stream_id)
            try:
                window = conn.local_flow_control_window(stream_id)
            except h2.exceptions.ProtocolError as exc:
                raise trio.BrokenResourceError(f"the stream is closed ({exc})") from None
            # As much as the window takes, in frames of the largest size the peer accepts.
            frame = conn.max_outbound_frame_size
            while window > 0 and view:
                size = min(window, frame, len(view))
                try:
                    conn.send_data(stream_id, view[:size])  # h2 copies it into the frame
                except h2.exceptions.ProtocolError as exc:
                    raise trio.BrokenResourceError(f"the stream is closed ({exc})") from None
                view = view[size:]
                window -= size
            if not view:
                break
            self._flush_now()
            await self._windows.park()
        await self._wait_written(self._flush_now())
        if self.phase is _ENDED:
            raise trio.BrokenResourceError(self.why)

    async def end_stream(self, stream_id: int) -> None:
        """Send END_STREAM on a stream; return once it is written."""
        self._check(stream_id)
        try:
            self._conn.end_stream(stream_id)
        except h2.exceptions.ProtocolError as exc:
            raise trio.BrokenResourceError(f"the stream is closed ({exc})") from None
        await self._wait_written(self._flush_now())

    def consumed(self, stream_id: int, size: int) -> None:
        """The application read ``size`` bytes of a stream: reopen its window by half-windows."""
        unacked = self._unacked.get(stream_id, 0) + size
        if unacked < STREAM_WINDOW // 2:
            self._unacked[stream_id] = unacked
            return
        self._unacked[stream_id] = 0
        try:
            self._conn.increment_flow_control_window(unacked, stream_id)
        except h2.exceptions.ProtocolError:  # the stream ended meanwhile: nothing to reopen
            return
        self._flush_now()

    def closed(self, stream_id: int, *, reset: bool, ended: bool) -> None:
        """A channel was closed: END_STREAM unless ``ended`` (RST_STREAM CANCEL if ``reset``)."""
        self._channels.pop(stream_id, None)
        self._unacked.pop(stream_id, None)
        self._responses.pop(stream_id, None)
        if self.phase is _ENDED:
            return
        try:
            if reset:
                self._reset(stream_id)
            elif not ended:
                self._conn.end_stream(stream_id)
        except h2.exceptions.ProtocolError:  # already closed by the peer (reset, or both ended)
            pass
        self._flush_now()
        self._check_drained()

    # --- Opening streams and answering them ---------------------------------------------------

    async def send_headers(
        self, stream_id: int, headers: Sequence[tuple[str, str]], *, end_stream: bool = False
    ) -> None:
        """Send a header block on a stream (a server's answer); return once it is written."""
        self._check(stream_id)
        try:
            self._conn.send_headers(stream_id, list(headers), end_stream=end_stream)
        except h2.exceptions.ProtocolError as exc:
            raise trio.BrokenResourceError(f"the stream is closed ({exc})") from None
        await self._wait_written(self._flush_now())

    async def open_stream(self, headers: Sequence[tuple[str, str]]) -> Channel:
        """Client side: open a stream with a request's header block."""
        if self.phase is not _RUNNING:
            raise trio.BrokenResourceError(self.why or "the HTTP/2 connection is going away")
        stream_id = self._conn.get_next_available_stream_id()
        try:
            self._conn.send_headers(stream_id, list(headers))
        except h2.exceptions.TooManyStreamsError:
            raise trio.BusyResourceError(
                "the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached on this connection"
            ) from None
        channel = Channel(self, stream_id)
        self._channels[stream_id] = channel
        await self._wait_written(self._flush_now())
        return channel

    async def response(self, channel: Channel) -> list[Header]:
        """Client side: wait for the response header block of ``channel``'s stream."""
        stream_id = channel.stream_id
        while stream_id not in self._responses:
            if channel.why:
                raise trio.BrokenResourceError(channel.why)
            await self._answers.park()
        return self._responses.pop(stream_id)
