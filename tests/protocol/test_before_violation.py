"""A message complete before a protocol violation comes out of events() first (issue 15 item 2).

The bytes of Autobahn's cases 3.2, 3.3, 4.1.3-4.1.5, 4.2.3-4.2.5 and 5.15, fed in one piece and
byte by byte, in both roles: the whole valid message, then one ConnectionFailed (1002), and
nothing after it.
"""

from __future__ import annotations

import pytest

from trio_ws.protocol import (
    CloseConnection,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Event,
    LocalProtocolError,
    Role,
    TextMessage,
)
from trio_ws.protocol._frames import serialize_frame

from .pair import ConnectionPair, assemble

HELLO = [(0x1, b"Hello, world!", True, 0)]
FRAGMENTED = [(0x1, b"fragment1", False, 0), (0x0, b"fragment2", True, 0)]
CASES = {
    "3.2": (HELLO, [(0x1, b"x", True, 0x20)]),
    "3.3": (HELLO, [(0x1, b"x", True, 0x60)]),
    "rsv3": (HELLO, [(0x1, b"x", True, 0x10)]),
    "4.1.3": (HELLO, [(0x5, b"", True, 0)]),
    "4.1.4": (HELLO, [(0x6, b"payload", True, 0)]),
    "4.1.5": (HELLO, [(0x7, b"payload", True, 0)]),
    "4.2.3": (HELLO, [(0xC, b"", True, 0)]),
    "4.2.4": (HELLO, [(0xD, b"payload", True, 0)]),
    "4.2.5": (HELLO, [(0xE, b"payload", True, 0)]),
    "5.15": (FRAGMENTED, [(0x0, b"fragment3", False, 0), (0x0, b"fragment4", True, 0)]),
}
TRAILER = [(0x9, b"never answered", True, 0), (0x1, b"never seen", True, 0)]


def feed_case(conn: Connection, side: str, case: str, bytewise: bool) -> list[Event]:
    """Feed ``conn`` the case's valid message, violation and trailer; return its events."""
    key = b"\x0f\x1e\x2d\x3c" if side == "server" else None
    valid, bad = CASES[case]
    data = b"".join(
        serialize_frame(opcode, payload, fin=fin, rsv=rsv, mask_key=key)
        for opcode, payload, fin, rsv in valid + bad + TRAILER
    )
    events = []
    for piece in [data[i : i + 1] for i in range(len(data))] if bytewise else [data]:
        conn.receive_data(piece)
        events += conn.events()
    return events


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("bytewise", [False, True], ids=["one-piece", "byte-by-byte"])
@pytest.mark.parametrize("case", CASES)
def test_message_before_violation_comes_out_first(side: str, bytewise: bool, case: str) -> None:
    pair = ConnectionPair()
    pair.handshake()
    conn = pair.server if side == "server" else pair.client
    events = feed_case(conn, side, case, bytewise)
    expected = b"".join(payload for _, payload, _, _ in CASES[case][0]).decode()
    *messages, failed = assemble(events)
    assert messages == [TextMessage(data=expected)]
    assert isinstance(failed, ConnectionFailed)
    assert failed.error.close_code == 1002
    # One close frame goes out, and no pong for the ping after the violation.
    peer = pair.other(conn)
    peer.receive_data(conn.data_to_send())
    (close,) = peer.events()
    assert isinstance(close, CloseConnection)
    assert close.code == 1002


def deferring_pair() -> ConnectionPair:
    pair = ConnectionPair()
    pair.client = Connection(Role.CLIENT, defer_failure=True)
    pair.server = Connection(Role.SERVER, defer_failure=True)
    pair.handshake()
    return pair


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("bytewise", [False, True], ids=["one-piece", "byte-by-byte"])
@pytest.mark.parametrize("case", CASES)
def test_deferred_failure_lets_the_messages_before_it_be_answered(
    side: str, bytewise: bool, case: str
) -> None:
    """defer_failure=True: the violation is held back, the connection stays OPEN and reads
    nothing more; the echo of the message before it goes out; fail_deferred() then fails
    the connection, and its close frame follows the echo on the wire."""
    pair = deferring_pair()
    conn = pair.server if side == "server" else pair.client
    events = feed_case(conn, side, case, bytewise)
    (message,) = assemble(events)
    assert isinstance(message, TextMessage)
    assert conn.failure_deferred
    assert conn.state is ConnectionState.OPEN
    assert not conn.has_data_to_send()  # no pong for the ping after the violation
    conn.send(message)  # the echo
    conn.fail_deferred()
    assert not conn.failure_deferred
    (failed,) = conn.events()
    assert isinstance(failed, ConnectionFailed)
    assert failed.error.close_code == 1002
    assert conn.should_close_transport()
    peer = pair.other(conn)
    peer.receive_data(conn.data_to_send())
    echo, close = assemble(peer.events())
    assert echo == message
    assert isinstance(close, CloseConnection)
    assert close.code == 1002


def test_fail_deferred_without_a_deferred_failure_is_misuse() -> None:
    pair = deferring_pair()
    assert not pair.server.failure_deferred
    with pytest.raises(LocalProtocolError, match="no failure is deferred"):
        pair.server.fail_deferred()


def test_without_defer_failure_nothing_is_held_back() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.server.receive_data(serialize_frame(0x5, b"", mask_key=b"abcd"))
    (failed,) = pair.server.events()
    assert isinstance(failed, ConnectionFailed)
    assert not pair.server.failure_deferred
