"""The sans-IO WebSocket connection: bytes in, events out; events in, bytes out.

Theory of operation. :class:`Connection` owns one WebSocket connection, in one role, from the
first byte of the opening handshake to the end of the closing handshake. It does no I/O:

* Bytes from the transport go in through :meth:`~Connection.receive_data` and
  :meth:`~Connection.receive_eof`. They are parsed at once, and what they meant comes out of
  :meth:`~Connection.events` as a list of events.
* The application's events go in through :meth:`~Connection.send`. Every byte that must go on
  the wire, whether it comes from ``send()``, an automatic pong, a close echo or the answer to a
  broken handshake, is appended to one outbox, drained by :meth:`~Connection.data_to_send`.
* :meth:`~Connection.should_close_transport` and :meth:`~Connection.close_expected` tell the
  I/O layer when to close the transport and when to start waiting for the peer to do so.

Peer input never raises. When the peer breaks a rule, the connection runs the RFC's "Fail the
WebSocket Connection" (§7.1.7): it queues a close frame with the right code (or an HTTP error
response during the handshake), stops parsing, and emits one terminal
:class:`~trio_ws.protocol.ConnectionFailed` event carrying the
:class:`~trio_ws.protocol.RemoteProtocolError`. Misuse by the caller raises
:class:`~trio_ws.protocol.LocalProtocolError` and changes nothing.

Incoming data frames are delivered as they arrive, piece by piece: the receive buffer never
holds more than an incomplete header or control frame (at most 139 bytes), so memory does not
grow with message size here; the I/O layer decides how to gather pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

from ._client_handshake import ClientHandshake
from ._close import parse_close_payload, serialize_close
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
    as_byte_buffer,
)
from ._frames import Opcode, parse_header, serialize_frame
from ._limits import Limits
from ._mask import mask, new_mask_key
from ._messages import MessageAssembler
from ._opening import OpeningHandshake
from ._server_handshake import ServerHandshake
from ._state import ConnectionState, Direction, Role, next_state
from .extensions import Extension

__all__ = ["Connection"]

_CLOSED = ConnectionState.CLOSED
_CONNECTING = ConnectionState.CONNECTING
_OPEN = ConnectionState.OPEN
_SEND = Direction.SEND
_RECEIVE = Direction.RECEIVE
_PING = Opcode.PING
_PONG = Opcode.PONG
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONTINUATION = Opcode.CONTINUATION
#: From this payload size, a frame's header and payload are queued apart (cheaper than a copy).
_SPLIT_FRAME = 262144
#: Automatic pongs that may wait in the outbox; more pings replace the last (RFC 6455 §5.5.3).
#: Not 1: Autobahn 2.10 and 2.11 expect a pong per ping of a burst of 9. A flood: 16 * 131 B.
_MAX_PENDING_PONGS = 16


@final
class Connection(OpeningHandshake):
    """One WebSocket connection, client or server, without I/O.

    Args:
        role: Which end we are.
        extensions: Extensions to offer (client) or to accept (server), in order of
            preference. Each instance serves this connection only.
        limits: Size limits for incoming data.
        defer_failure: Hold a protocol violation back until :meth:`fail_deferred`
            (:attr:`failure_deferred`).

    Example::

        conn = Connection(Role.CLIENT)
        conn.send(Request(host="example.com", target="/chat"))
        transport.write(conn.data_to_send())
        conn.receive_data(transport.read())
        for event in conn.events():
            ...
    """

    __slots__ = ()  # all in OpeningHandshake

    def __init__(
        self,
        role: Role,
        *,
        extensions: Sequence[Extension] = (),
        limits: Limits | None = None,
        defer_failure: bool = False,
    ) -> None:
        limits = limits if limits is not None else Limits()
        self._role = role
        self._limits = limits
        self._state = _CONNECTING
        self._events: list[Event] = []
        self._outbox: list[bytes] = []
        # Automatic pongs not yet handed out, and where the last of them sits in the outbox.
        self._pongs_pending = 0
        self._pong_at = 0
        # Dropped once the handshake is over (memory: it holds the offered extensions).
        handshake = ClientHandshake if role is Role.CLIENT else ServerHandshake
        self._handshake: ClientHandshake | ServerHandshake | None
        self._handshake = handshake(extensions=extensions, limits=limits)
        self._extensions: list[Extension] = []
        self._messages = MessageAssembler(
            max_size=limits.max_message_size,
            max_frame_size=limits.max_frame_size,
            max_fragments=limits.max_fragments,
        )
        # Receiving side: unparsed bytes, and the data frame whose payload is streaming in.
        self._buffer = b""
        self._frame_left = 0
        self._frame_mask: bytes | None = None
        self._frame_offset = 0
        self._receiving = True
        self._eof = False
        self._answer_pending = False
        # Sending side: the opcode of our unfinished fragmented message, if any.
        self._sending_opcode: int | None = None
        self._request: Request | None = None
        self._response: AcceptConnection | RejectConnection | None = None
        self._failure: RemoteProtocolError | None = None
        self._defer_failure = defer_failure
        self._deferred_failure: RemoteProtocolError | None = None

    @classmethod
    def opened(
        cls,
        role: Role,
        *,
        extensions: Sequence[Extension] = (),
        limits: Limits | None = None,
        defer_failure: bool = False,
        request: Request | None = None,
        response: AcceptConnection | None = None,
    ) -> Connection:
        """Make a connection that starts ``OPEN``: its opening handshake happened elsewhere.

        For a stream set up by something else: an HTTP/2 extended CONNECT (RFC 8441: framing
        and masking unchanged) or an ASGI server's upgrade. Everything after the handshake
        works as usual: frames, ping and pong, closing, permessage-deflate, every limit. Returns
        an ``OPEN`` connection, whose :attr:`request` and :attr:`response` are as given.

        Args:
            role: Which end we are: a client masks its frames, a server requires masking.
            extensions: The extensions negotiated by that handshake, in the order they apply,
                already configured: see :func:`~trio_ws.protocol.answer_extension_offers`
                (server) and :func:`~trio_ws.protocol.accept_extension_answer` (client).
            limits: Size limits for incoming data.
            defer_failure: As for the constructor.
            request: What that handshake asked (say, an extended CONNECT's path and fields).
            response: What it answered (its subprotocol becomes :attr:`subprotocol`).

        Raises:
            LocalProtocolError: an extension has not been negotiated, or two share a name.
        """
        names = [extension.name for extension in extensions]
        if len(set(names)) != len(names):
            raise LocalProtocolError(f"extensions {names} share a name")
        for extension in extensions:
            if not extension.negotiated:
                raise LocalProtocolError(f"extension {extension.name!r} is not negotiated")
        conn = cls(role, limits=limits, defer_failure=defer_failure)
        conn._handshake = None
        conn._state = _OPEN
        conn._extensions = list(extensions)
        conn._messages.use_extensions(conn._extensions)
        conn._request, conn._response = request, response
        return conn

    # --- Facts ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<Connection {self._role.value} {self._state.name}>"

    @property
    def role(self) -> Role:
        """Which end of the connection we are."""
        return self._role

    @property
    def state(self) -> ConnectionState:
        """The current state (see :class:`~trio_ws.protocol.ConnectionState`)."""
        return self._state

    @property
    def limits(self) -> Limits:
        """The size limits in force."""
        return self._limits

    @property
    def request(self) -> Request | None:
        """The opening handshake's request, sent (client) or received (server)."""
        return self._request

    @property
    def response(self) -> AcceptConnection | RejectConnection | None:
        """The opening handshake's answer, received (client) or sent (server)."""
        return self._response

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or ``None``."""
        if isinstance(self._response, AcceptConnection):
            return self._response.subprotocol
        return None

    @property
    def extensions(self) -> list[Extension]:
        """The extensions negotiated in the opening handshake, in the order they apply."""
        return list(self._extensions)

    @property
    def failure(self) -> RemoteProtocolError | None:
        """What the peer did wrong, if the connection failed."""
        return self._failure

    @property
    def failure_deferred(self) -> bool:
        """Whether a protocol violation is held back (only with ``defer_failure=True``).

        The events before it come out of :meth:`events`; the connection stays ``OPEN`` and
        reads nothing more, so the application can still answer the messages that came
        before it (an echo goes out before the close frame, as Autobahn's strict verdict
        wants). The I/O layer gives the application its turn, bounded in time, then calls
        :meth:`fail_deferred`.
        """
        return self._deferred_failure is not None

    def close_expected(self) -> bool:
        """Tell whether the transport is expected to close soon.

        True once the closing handshake has started or the connection is ``CLOSED``: the
        I/O layer should bound the rest of the wait with a timeout (RFC 6455 §7.1.1).
        """
        return self._state is ConnectionState.CLOSING or self._state is _CLOSED

    def should_close_transport(self) -> bool:
        """Tell whether this side should now close the transport.

        Call it after writing :meth:`data_to_send`. True for a server once the connection is
        ``CLOSED`` (RFC 6455 §7.1.1: the server closes the TCP connection first), for either
        side after a failure or a refused handshake, and for a client after a clean close once
        the server's end of stream has arrived (or its close timeout has run out, which the
        I/O layer decides).
        """
        if self._state is not _CLOSED:
            return False
        if self._role is Role.SERVER or self._failure is not None:
            return True
        return self._eof or isinstance(self._response, RejectConnection)

    # --- Bytes in, events out ---------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes received from the transport. Never raises on bad peer input.

        Bytes that arrive after the peer's close frame, or after the connection failed, are
        ignored (RFC 6455 §5.5.1).

        Raises:
            LocalProtocolError: called after :meth:`receive_eof`.
        """
        if self._eof:
            raise LocalProtocolError("receive_data() called after receive_eof()")
        if not self._receiving or not data:
            return
        try:
            if self._state is _CONNECTING:
                self._receive_handshake(bytes(data))
            else:
                self._receive_frames(bytes(data))
        except RemoteProtocolError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug: fail with 1011 and no detail on the wire
            error = RemoteProtocolError(f"internal error: {exc!r}", close_code=1011)
            error.__cause__ = exc
            self._fail(error)

    def receive_eof(self) -> None:
        """Tell the connection that the transport's incoming side has ended."""
        if self._eof:
            return
        self._eof = True
        if not self._receiving:
            return
        try:
            if self._state is _CONNECTING:
                self._receive_handshake_eof()
            else:
                where = "in the middle of a frame" if self._buffer or self._frame_left else ""
                raise RemoteProtocolError(
                    f"connection closed {where or 'without a close frame'}", close_code=1006
                )
        except RemoteProtocolError as exc:
            self._fail(exc)

    def events(self) -> list[Event]:
        """Return the events produced since the last call, oldest first, and forget them."""
        events = self._events
        self._events = []
        return events

    def fail_deferred(self) -> None:
        """Fail the connection for the violation held back (:attr:`failure_deferred`).

        Its close frame is queued, and its ConnectionFailed comes out of :meth:`events`.
        """
        error = self._deferred_failure
        if error is None:
            raise LocalProtocolError("no failure is deferred")
        self._deferred_failure = None
        self._fail(error, now=True)

    # --- Events in, bytes out ---------------------------------------------------------------

    def send(self, event: Event, *, compress: bool | None = None) -> None:
        """Queue the bytes for ``event``; fetch them with :meth:`data_to_send`.

        Args:
            event: What to send. Clients send :class:`Request`; servers answer with
                :class:`AcceptConnection` or :class:`RejectConnection`; then either side sends
                messages, pings, pongs and :class:`CloseConnection`.
            compress: For the first piece of a message: ``False`` sends it uncompressed even
                when compression was negotiated, ``True`` compresses it whatever its size,
                ``None`` lets the extension decide.

        Raises:
            LocalProtocolError: the event may not be sent by this role or in this state.
        """
        kind = type(event)
        new_state = next_state(self._state, _SEND, kind)
        if new_state is None:
            raise LocalProtocolError(f"cannot send {kind.__name__} in state {self._state.name}")
        if kind is TextMessage or kind is BytesMessage:
            self._send_message(event, compress)  # type: ignore[arg-type]
        elif kind is Ping:
            self._queue_frame(_PING, event.payload)  # type: ignore[attr-defined]
        elif kind is Pong:
            self._queue_frame(_PONG, event.payload)  # type: ignore[attr-defined]
        elif isinstance(event, CloseConnection):
            self._queue_frame(Opcode.CLOSE, serialize_close(event.code, event.reason))
        elif isinstance(event, Request):
            if not isinstance(self._handshake, ClientHandshake):
                raise LocalProtocolError("only a client sends a Request")
            self._outbox.append(self._handshake.request(event))
            self._request = event
        else:
            self._send_answer(event)
        self._state = new_state
        if new_state is _OPEN and self._buffer:
            # Frames that arrived with the request are parsed now that the connection is open.
            pending, self._buffer = self._buffer, b""
            self.receive_data(pending)

    def can_share_frames(self) -> bool:
        """Tell whether a frame from :func:`~trio_ws.protocol.serialize_message` fits here as is.

        True for an open server connection with no negotiated extension and no fragmented
        message of its own in progress: its frames are neither masked nor transformed, so
        the same bytes serve every such connection (a broadcast encodes a message once).
        """
        return (
            self._role is Role.SERVER
            and self._state is _OPEN
            and not self._extensions
            and self._sending_opcode is None
        )

    def send_serialized(self, frame: bytes) -> None:
        """Queue a whole-message frame built by :func:`~trio_ws.protocol.serialize_message`.

        Raises:
            LocalProtocolError: :meth:`can_share_frames` is false.
        """
        if not self.can_share_frames():
            raise LocalProtocolError(
                "a shared frame can only go to an open server connection without extensions"
                " and with no message in progress"
            )
        self._outbox.append(frame)

    def has_data_to_send(self) -> bool:
        """Tell whether :meth:`data_to_send` would return bytes, without taking them."""
        return bool(self._outbox)

    def data_to_send(self) -> bytes:
        """Return the bytes to write to the transport, and forget them."""
        outbox = self._outbox
        if not outbox:
            return b""
        self._outbox = []
        self._pongs_pending = 0
        if len(outbox) == 1:
            return outbox[0]
        return b"".join(outbox)

    def data_to_send_chunks(self) -> list[bytes]:
        """Return the bytes to write as a list of buffers, in order, and forget them.

        The same bytes as :meth:`data_to_send`, unjoined: a large frame comes as its header
        and its payload, and writing them one after the other (or with a vectored write)
        saves the copy that joining them would make.
        """
        outbox = self._outbox
        self._outbox = []
        self._pongs_pending = 0
        return outbox

    # --- Internals: frames --------------------------------------------------------------------

    def _receive_frames(self, data: bytes) -> None:
        buf = self._buffer + data if self._buffer else data
        pos = 0
        end = len(buf)
        messages = self._messages
        events = self._events
        expect_mask = self._role is Role.SERVER
        while self._receiving:
            left = self._frame_left
            if left:
                # Stream the payload of the current data frame as it arrives.
                take = min(left, end - pos)
                if not take:
                    break
                key = self._frame_mask
                if key is not None:
                    offset = self._frame_offset & 3
                    if offset:
                        key = key[offset:] + key[:offset]
                    # Performance: unmask straight from a view of the buffer; mask() makes
                    # the one copy needed, instead of a slice and then a masked copy.
                    piece = mask(memoryview(buf)[pos : pos + take], key)
                    self._frame_offset += take
                elif take == end and not pos:
                    piece = buf  # Performance: the whole read is payload; no copy.
                else:
                    piece = buf[pos : pos + take]
                pos += take
                left -= take
                self._frame_left = left
                event = messages.frame_data(piece, not left)
                if event is not None:
                    events.append(event)
                continue
            if pos == end:
                break
            header = parse_header(buf, pos)
            if header is None:
                break
            fin, rsv, opcode, key, length, header_length = header
            # RFC 6455 §5.1: clients mask every frame, servers never do.
            if (key is not None) is not expect_mask:
                who = "client" if expect_mask else "server"
                how = "unmasked" if expect_mask else "masked"
                raise RemoteProtocolError(f"{how} frame from the {who}", close_code=1002)
            if opcode & 0x08:
                if rsv:
                    raise RemoteProtocolError("RSV bits set on a control frame", close_code=1002)
                if end - pos - header_length < length:
                    break  # wait for the whole control frame (at most 125 bytes)
                start = pos + header_length
                pos = start + length
                payload = buf[start:pos]
                if key is not None:
                    payload = mask(payload, key)
                self._receive_control(opcode, payload)
                continue
            messages.frame_start(opcode, rsv, fin, length)
            pos += header_length
            if length:
                self._frame_left = length
                self._frame_mask = key
                self._frame_offset = 0
            else:
                event = messages.frame_data(b"", True)
                if event is not None:
                    events.append(event)
        self._buffer = buf[pos:] if self._receiving else b""

    def _receive_control(self, opcode: int, payload: bytes) -> None:
        event: Event
        if opcode == _PING:
            event = Ping(payload=payload)
            self._state = self._after_receive(Ping)
            # RFC 6455 §5.5.2: answer "unless it already received a Close frame"; after our
            # own close (CLOSING) only data frames are forbidden (§5.5.1).
            if self._state is _OPEN or self._state is ConnectionState.CLOSING:
                self._queue_pong(payload)
        elif opcode == _PONG:
            event = Pong(payload=payload)
            self._state = self._after_receive(Pong)
        else:
            code, reason = parse_close_payload(payload)
            event = CloseConnection(code=code, reason=reason)
            if self._state is _OPEN:
                # RFC 6455 §5.5.1: echo the close; the message in progress, if any, is dropped.
                self._queue_frame(Opcode.CLOSE, payload)
            self._state = self._after_receive(CloseConnection)
            self._receiving = False
        self._events.append(event)

    def _queue_pong(self, payload: bytes) -> None:
        # RFC 6455 §5.5.2: answer with a pong carrying the same payload. §5.5.3 allows
        # answering only the most recent ping: once _MAX_PENDING_PONGS pongs wait in the
        # outbox, a newer ping's pong replaces the last of them in place, so a peer that
        # pings and never reads costs a bounded number of control frames, not one per ping.
        # A pong already handed out by data_to_send()/data_to_send_chunks() stays sent.
        key = new_mask_key() if self._role is Role.CLIENT else None
        frame = serialize_frame(_PONG, payload, mask_key=key)
        if self._pongs_pending < _MAX_PENDING_PONGS:
            self._pongs_pending += 1
            self._pong_at = len(self._outbox)
            self._outbox.append(frame)
        else:
            self._outbox[self._pong_at] = frame

    def _after_receive(self, kind: type[Event]) -> ConnectionState:
        new_state = next_state(self._state, _RECEIVE, kind)
        if new_state is None:  # pragma: no cover - the parser only admits allowed events
            raise RemoteProtocolError(f"unexpected {kind.__name__}", close_code=1002)
        return new_state

    def _send_message(self, event: TextMessage | BytesMessage, compress: bool | None) -> None:
        if isinstance(event, TextMessage):
            opcode = _TEXT
            try:
                payload = event.data.encode("utf-8")
            except UnicodeEncodeError:
                raise LocalProtocolError("text contains a lone surrogate") from None
        else:
            opcode = _BINARY
            payload = as_byte_buffer(event.data)  # lengths in bytes, whatever the item size
        first = self._sending_opcode is None
        if not first and self._sending_opcode != opcode:
            raise LocalProtocolError(
                f"cannot send {type(event).__name__} inside an unfinished message of the other"
                " type"
            )
        fin = event.message_finished
        rsv = 0
        for extension in self._extensions:
            bits, payload = extension.encode(payload, first=first, fin=fin, compress=compress)
            rsv |= bits
        self._queue_frame(opcode if first else _CONTINUATION, payload, fin=fin, rsv=rsv)
        self._sending_opcode = None if fin else opcode

    def _queue_frame(self, opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> None:
        key = new_mask_key() if self._role is Role.CLIENT else None
        if len(payload) < _SPLIT_FRAME:
            self._outbox.append(serialize_frame(opcode, payload, fin=fin, rsv=rsv, mask_key=key))
            return
        # Performance: header and payload go in as two chunks, so that the payload is not
        # copied behind the header; data_to_send() joins them as before, data_to_send_chunks() lets
        # the Trio layer write them separately.
        if type(payload) is not bytes:
            payload = bytes(payload)  # a bytearray could change, a memoryview have a format
        header = serialize_frame(opcode, b"", fin=fin, rsv=rsv, mask_key=key, length=len(payload))
        self._outbox.append(header)
        self._outbox.append(payload if key is None else mask(payload, key))

    def _fail(self, error: RemoteProtocolError, *, now: bool = False) -> None:
        """Fail the WebSocket connection (RFC 6455 §7.1.7) because of ``error``."""
        state = self._state
        code = error.close_code
        self._receiving = False
        self._buffer = b""
        self._frame_left = 0
        if state is _CONNECTING:
            handshake = self._handshake
            if isinstance(handshake, ServerHandshake) and error.http_status is not None:
                self._outbox.append(handshake.error_response(error))
        elif state is _OPEN and code is not None and code != 1006:
            if self._defer_failure and not now:
                self._deferred_failure = error  # see failure_deferred
                return
            reason = "internal error" if code == 1011 else str(error)
            reason = reason.encode("utf-8")[:123].decode("utf-8", "ignore")
            self._queue_frame(Opcode.CLOSE, serialize_close(code, reason))
        self._state = self._after_receive(ConnectionFailed)
        self._failure = error
        self._events.append(ConnectionFailed(error=error))
