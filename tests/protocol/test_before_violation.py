"""A message complete before a protocol violation comes out of events() first (issue 15 item 2).

The bytes of Autobahn's cases 3.2, 3.3, 4.1.3-4.1.5, 4.2.3-4.2.5 and 5.15, fed in one piece and
byte by byte, in both roles: the whole valid message, then one ConnectionFailed (1002), and
nothing after it.
"""

from __future__ import annotations

import pytest

from trio_ws.protocol import CloseConnection, ConnectionFailed, TextMessage
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


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("bytewise", [False, True], ids=["one-piece", "byte-by-byte"])
@pytest.mark.parametrize("case", CASES)
def test_message_before_violation_comes_out_first(side: str, bytewise: bool, case: str) -> None:
    pair = ConnectionPair()
    pair.handshake()
    conn = pair.server if side == "server" else pair.client
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
    expected = b"".join(payload for _, payload, _, _ in valid).decode()
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
