"""A hypothesis state machine drives a client/server pair through sends, pings, closes and EOFs."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from trio_ws.protocol import (
    BytesMessage,
    CloseConnection,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Ping,
    Pong,
    TextMessage,
)

from .pair import ConnectionPair

OPEN = ConnectionState.OPEN
CLOSED = ConnectionState.CLOSED


class PairMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pair = ConnectionPair()
        self.pair.handshake()
        self.sent: dict[str, list] = {"client": [], "server": []}
        self.received: dict[str, list] = {"client": [], "server": []}
        self.eof = {"client": False, "server": False}

    def side(self, is_client: bool) -> tuple[str, Connection]:
        return ("client", self.pair.client) if is_client else ("server", self.pair.server)

    @rule(is_client=st.booleans(), text=st.text(max_size=20), binary=st.booleans())
    def send_message(self, is_client: bool, text: str, binary: bool) -> None:
        name, conn = self.side(is_client)
        if conn.state is not OPEN:
            return
        event = BytesMessage(data=text.encode()) if binary else TextMessage(data=text)
        conn.send(event)
        self.sent[name].append(event)

    @rule(is_client=st.booleans(), payload=st.binary(max_size=125))
    def ping(self, is_client: bool, payload: bytes) -> None:
        _, conn = self.side(is_client)
        if conn.state is OPEN:
            conn.send(Ping(payload=payload))

    @rule(is_client=st.booleans(), code=st.sampled_from([1000, 1001, 4000, None]))
    def close(self, is_client: bool, code: int | None) -> None:
        _, conn = self.side(is_client)
        if conn.state is OPEN:
            conn.send(CloseConnection(code=code))

    @rule(is_client=st.booleans())
    def deliver(self, is_client: bool) -> None:
        _, conn = self.side(is_client)
        peer_name = "server" if is_client else "client"
        peer = self.pair.other(conn)
        data = conn.data_to_send()
        if self.eof[peer_name]:
            return  # the transport is gone; bytes are lost
        if data:
            peer.receive_data(data)
        self.received[peer_name] += peer.events()

    @precondition(lambda self: not all(self.eof.values()))
    @rule(is_client=st.booleans())
    def transport_closes(self, is_client: bool) -> None:
        """One side's transport ends (the other side sees EOF)."""
        name, conn = self.side(is_client)
        if self.eof[name]:
            return
        self.eof[name] = True
        conn.receive_eof()
        self.received[name] += conn.events()

    @invariant()
    def messages_are_a_prefix_in_order(self) -> None:
        for receiver, sender in (("server", "client"), ("client", "server")):
            got = [e for e in self.received[receiver] if isinstance(e, TextMessage | BytesMessage)]
            assert got == self.sent[sender][: len(got)]

    @invariant()
    def terminal_events(self) -> None:
        for name, conn in (("client", self.pair.client), ("server", self.pair.server)):
            events = self.received[name]
            terminal = [e for e in events if isinstance(e, CloseConnection | ConnectionFailed)]
            assert len(terminal) <= 1
            if terminal:
                assert conn.state is CLOSED
                assert not [
                    e for e in events[events.index(terminal[0]) + 1 :] if not isinstance(e, Pong)
                ]
            if isinstance(conn.failure, Exception):
                assert conn.failure.close_code == 1006  # only EOF can fail a well-behaved pair


TestPairMachine = PairMachine.TestCase
