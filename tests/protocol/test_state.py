"""The transition table: complete for what the RFC allows, and nothing leaves CLOSED."""

from __future__ import annotations

from trio_ws.protocol import ConnectionState
from trio_ws.protocol._events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    ConnectionFailed,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from trio_ws.protocol._state import TRANSITIONS, Direction, next_state

S = ConnectionState


def test_every_state_is_reachable_from_connecting() -> None:
    seen = {S.CONNECTING}
    frontier = [S.CONNECTING]
    while frontier:
        state = frontier.pop()
        for (src, _, _), dst in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(S)


def test_nothing_leaves_closed() -> None:
    assert not [key for key in TRANSITIONS if key[0] is S.CLOSED]


def test_data_only_when_open() -> None:
    for kind in (TextMessage, BytesMessage, Ping, Pong):
        assert next_state(S.OPEN, Direction.SEND, kind) is S.OPEN
        assert next_state(S.CONNECTING, Direction.SEND, kind) is None
        assert next_state(S.CLOSING, Direction.SEND, kind) is None
        assert next_state(S.CLOSING, Direction.RECEIVE, kind) is S.CLOSING


def test_handshake_and_close_transitions() -> None:
    assert next_state(S.CONNECTING, Direction.SEND, AcceptConnection) is S.OPEN
    assert next_state(S.CONNECTING, Direction.RECEIVE, RejectConnection) is S.CLOSED
    assert next_state(S.OPEN, Direction.SEND, CloseConnection) is S.CLOSING
    assert next_state(S.OPEN, Direction.RECEIVE, CloseConnection) is S.CLOSED
    assert next_state(S.CLOSING, Direction.RECEIVE, CloseConnection) is S.CLOSED
    assert next_state(S.OPEN, Direction.SEND, Request) is None
    for state in (S.CONNECTING, S.OPEN, S.CLOSING):
        assert next_state(state, Direction.RECEIVE, ConnectionFailed) is S.CLOSED
        assert next_state(state, Direction.SEND, ConnectionFailed) is None
