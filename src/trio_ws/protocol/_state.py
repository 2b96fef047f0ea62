"""Connection states and the one table of transitions.

Theory of operation. A connection is in one of four states (RFC 6455 §4, §7):

* ``CONNECTING``: the opening handshake is under way.
* ``OPEN``: messages flow both ways.
* ``CLOSING``: we sent a close frame and wait for the peer's. Messages still arrive; we send
  nothing more.
* ``CLOSED``: the closing handshake is complete, the handshake was refused, or the connection
  failed. Nothing more is sent or received on the WebSocket level; what remains is closing the
  transport.

:data:`TRANSITIONS` says, for each state, which events may be sent or received and the state
that follows. :class:`~trio_ws.protocol.Connection` consults it for every state change and
never decides one on its own; the diagram in the docs is generated from it. The table does
not know about roles: which role may send a handshake event is checked by the connection.

A received close frame goes straight from ``OPEN`` to ``CLOSED`` because the core queues the
echo at once (RFC 6455 §5.5.1). ``ConnectionFailed`` is the terminal event of every unclean
end (peer error, EOF without a close frame) and leads to ``CLOSED`` from any live state.
"""

from __future__ import annotations

from enum import Enum

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
)

__all__ = ["TRANSITIONS", "ConnectionState", "Direction", "Role", "next_state"]


class Role(Enum):
    """Which end of the connection we are."""

    #: The end that sent the opening handshake.
    CLIENT = "client"
    #: The end that answered it.
    SERVER = "server"


class ConnectionState(Enum):
    """The state of a WebSocket connection (see the module documentation)."""

    #: The opening handshake is under way.
    CONNECTING = "CONNECTING"
    #: Messages flow both ways.
    OPEN = "OPEN"
    #: We sent a close frame and wait for the peer's.
    CLOSING = "CLOSING"
    #: Nothing more goes over the WebSocket.
    CLOSED = "CLOSED"


class Direction(Enum):
    """Whether an event is being sent or was received."""

    #: Sent by us.
    SEND = "send"
    #: Received from the peer.
    RECEIVE = "receive"


CONNECTING = ConnectionState.CONNECTING
OPEN = ConnectionState.OPEN
CLOSING = ConnectionState.CLOSING
CLOSED = ConnectionState.CLOSED
SEND = Direction.SEND
RECEIVE = Direction.RECEIVE

_DATA = (TextMessage, BytesMessage, Ping, Pong)

#: ``(state, direction, event type) -> next state``. A missing key means "not allowed".
TRANSITIONS: dict[tuple[ConnectionState, Direction, type[Event]], ConnectionState] = {
    # Opening handshake (RFC 6455 §4).
    (CONNECTING, SEND, Request): CONNECTING,
    (CONNECTING, RECEIVE, Request): CONNECTING,
    (CONNECTING, SEND, AcceptConnection): OPEN,
    (CONNECTING, RECEIVE, AcceptConnection): OPEN,
    (CONNECTING, SEND, RejectConnection): CLOSED,
    (CONNECTING, RECEIVE, RejectConnection): CLOSED,
    (CONNECTING, RECEIVE, ConnectionFailed): CLOSED,
    # Data transfer (RFC 6455 §6).
    **{(OPEN, direction, kind): OPEN for direction in (SEND, RECEIVE) for kind in _DATA},
    # Closing handshake (RFC 6455 §7): we start it, or the peer does and we echo at once.
    (OPEN, SEND, CloseConnection): CLOSING,
    (OPEN, RECEIVE, CloseConnection): CLOSED,
    (OPEN, RECEIVE, ConnectionFailed): CLOSED,
    # After our close we keep receiving until the peer's close arrives.
    **{(CLOSING, RECEIVE, kind): CLOSING for kind in _DATA},
    (CLOSING, RECEIVE, CloseConnection): CLOSED,
    (CLOSING, RECEIVE, ConnectionFailed): CLOSED,
}


def next_state(
    state: ConnectionState, direction: Direction, kind: type[Event]
) -> ConnectionState | None:
    """Return the state after ``kind`` is sent or received in ``state``.

    ``None`` means the event is not allowed in that state.
    """
    return TRANSITIONS.get((state, direction, kind))
