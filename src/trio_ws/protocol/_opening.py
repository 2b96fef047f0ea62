"""The opening handshake's side of :class:`~trio_ws.protocol.Connection` (RFC 6455 §4).

:class:`OpeningHandshake` holds the methods that move a connection through ``CONNECTING``: the
server reading the request and sending its answer, the client reading the answer. It is a
base class of ``Connection`` only so that the frame-level module stays readable; the slots of
``Connection``'s state are declared here, so that type checkers see them.
"""

from __future__ import annotations

from ._client_handshake import ClientAccepted, ClientHandshake
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import AcceptConnection, Event, RejectConnection, Request
from ._limits import Limits
from ._messages import MessageAssembler
from ._server_handshake import ServerHandshake
from ._state import ConnectionState
from .extensions import Extension

__all__ = ["OpeningHandshake"]

_OPEN = ConnectionState.OPEN


class OpeningHandshake:
    """The opening handshake's methods of :class:`~trio_ws.protocol.Connection`."""

    # Performance: one of these lives as long as each connection; slots save its __dict__.
    # They are all here, in the base class, so that type checkers see the ones used here.
    __slots__ = (
        "_answer_pending",
        "_buffer",
        "_defer_failure",
        "_deferred_failure",
        "_eof",
        "_events",
        "_extensions",
        "_failure",
        "_frame_left",
        "_frame_mask",
        "_frame_offset",
        "_handshake",
        "_limits",
        "_messages",
        "_outbox",
        "_pong_at",
        "_pongs_pending",
        "_receiving",
        "_request",
        "_response",
        "_role",
        "_sending_opcode",
        "_state",
    )

    # Connection's state, used here.
    _answer_pending: bool
    _buffer: bytes
    _events: list[Event]
    _extensions: list[Extension]
    _handshake: ClientHandshake | ServerHandshake | None
    _limits: Limits
    _messages: MessageAssembler
    _outbox: list[bytes]
    _receiving: bool
    _request: Request | None
    _response: AcceptConnection | RejectConnection | None
    _state: ConnectionState

    def _after_receive(self, kind: type[Event]) -> ConnectionState:
        raise NotImplementedError  # pragma: no cover - Connection's

    def _receive_frames(self, data: bytes) -> None:
        raise NotImplementedError  # pragma: no cover - Connection's

    def _receive_handshake(self, data: bytes) -> None:
        handshake = self._handshake
        assert handshake is not None  # only while CONNECTING
        if isinstance(handshake, ServerHandshake):
            if self._answer_pending:
                # The client pipelined frames after its request; keep them for after accept,
                # within a bound: a client should wait for the answer (RFC 6455 §4.1).
                self._buffer += data
                if len(self._buffer) > self._limits.max_handshake_size:
                    raise RemoteProtocolError(
                        "the client sent more than"
                        f" {self._limits.max_handshake_size} bytes before the handshake was"
                        " answered",
                        http_status=400,
                    )
                return
            request = handshake.receive_data(data)
            if request is not None:
                self._state = self._after_receive(Request)
                self._request = request
                self._answer_pending = True
                self._buffer = handshake.trailing
                self._events.append(request)
            return
        result = handshake.receive_data(data)
        if result is not None:
            self._client_handshake_done(result)

    def _receive_handshake_eof(self) -> None:
        handshake = self._handshake
        assert handshake is not None  # only while CONNECTING
        if isinstance(handshake, ServerHandshake):
            if self._answer_pending:
                raise RemoteProtocolError("the client left before the handshake was answered")
            handshake.receive_eof()
            return
        self._client_handshake_done(handshake.receive_eof())
        if self._state is _OPEN:
            raise RemoteProtocolError("connection closed without a close frame", close_code=1006)

    def _client_handshake_done(self, result: object) -> None:
        self._handshake = None
        if isinstance(result, ClientAccepted):
            self._extensions = result.extensions
            self._messages.use_extensions(result.extensions)
            self._response = result.event
            self._state = self._after_receive(AcceptConnection)
            self._events.append(result.event)
            if result.trailing:
                self._receive_frames(result.trailing)
        else:
            event = result.event  # type: ignore[attr-defined]
            self._response = event
            self._state = self._after_receive(RejectConnection)
            self._receiving = False
            self._events.append(event)

    def _send_answer(self, event: Event) -> None:
        handshake = self._handshake
        if not isinstance(handshake, ServerHandshake) or not self._answer_pending:
            raise LocalProtocolError(
                f"only a server that received a Request sends {type(event).__name__}"
            )
        if isinstance(event, AcceptConnection):
            data, extensions = handshake.accept(event)
            self._extensions = extensions
            self._messages.use_extensions(extensions)
            self._response = AcceptConnection(
                subprotocol=event.subprotocol,
                extensions=handshake.accepted_values,
                headers=event.headers,
            )
        else:
            assert isinstance(event, RejectConnection)
            data = handshake.reject(event)
            self._response = event
            self._receiving = False
            self._buffer = b""
        self._answer_pending = False
        self._handshake = None
        self._outbox.append(data)
