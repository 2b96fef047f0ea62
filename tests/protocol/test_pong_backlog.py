"""A peer that pings and never reads costs at most one pending pong (issue 15 item 4).

RFC 6455 §5.5.3 lets an endpoint answer only the most recent ping: the core keeps at most
``_MAX_PENDING_PONGS`` automatic pongs waiting in its output; beyond that a newer ping's pong
replaces the last of them, until they are handed out.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws.protocol import Connection, Ping, TextMessage
from trio_ws.protocol._connection import _MAX_PENDING_PONGS as PENDING
from trio_ws.protocol._frames import serialize_frame

from .pair import ConnectionPair

#: The largest control frame: 2 header bytes, a 4-byte mask key, 125 bytes of payload.
MAX_CONTROL_FRAME = 2 + 4 + 125


def ping(receiver: Connection, payload: bytes) -> bytes:
    """A ping as the receiver's peer sends it (masked towards a server)."""
    key = b"\x01\x02\x03\x04" if receiver.role.value == "server" else None
    return serialize_frame(0x9, payload, mask_key=key)


def open_pair() -> ConnectionPair:
    pair = ConnectionPair()
    pair.handshake()
    return pair


def pong_payloads(receiver: Connection, output: bytes) -> list[bytes]:
    """The pongs in ``output``, read by the receiver's peer."""
    payloads = []
    pos = 0
    while pos < len(output):
        b0, b1 = output[pos], output[pos + 1]
        length = b1 & 0x7F
        assert length < 126
        masked = bool(b1 & 0x80)
        start = pos + 2 + (4 if masked else 0)
        data = output[start : start + length]
        if masked:
            key = output[pos + 2 : pos + 6]
            data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        if b0 & 0x0F == 0xA:
            payloads.append(data)
        pos = start + length
    return payloads


@pytest.mark.parametrize("side", ["server", "client"])
def test_only_the_latest_pong_waits(side: str) -> None:
    pair = open_pair()
    conn = getattr(pair, side)
    conn.receive_data(b"".join(ping(conn, b"%d" % i) for i in range(1000)))
    assert len([e for e in conn.events() if isinstance(e, Ping)]) == 1000
    expected = [b"%d" % i for i in range(PENDING - 1)] + [b"999"]
    assert pong_payloads(conn, conn.data_to_send()) == expected


@pytest.mark.parametrize("side", ["server", "client"])
def test_a_pong_handed_out_is_not_taken_back(side: str) -> None:
    pair = open_pair()
    conn = getattr(pair, side)
    conn.receive_data(ping(conn, b"one"))
    assert pong_payloads(conn, conn.data_to_send()) == [b"one"]
    conn.receive_data(b"".join(ping(conn, b"%d" % i) for i in range(PENDING + 5)))
    expected = [b"%d" % i for i in range(PENDING - 1)] + [b"%d" % (PENDING + 4)]
    assert pong_payloads(conn, b"".join(conn.data_to_send_chunks())) == expected
    conn.receive_data(ping(conn, b"again"))
    assert pong_payloads(conn, conn.data_to_send()) == [b"again"]


@pytest.mark.parametrize("side", ["server", "client"])
def test_other_output_keeps_its_order(side: str) -> None:
    pair = open_pair()
    conn = getattr(pair, side)
    conn.receive_data(b"".join(ping(conn, b"a") for _ in range(PENDING)))
    conn.send(TextMessage(data="between"))
    conn.receive_data(ping(conn, b"b"))
    output = conn.data_to_send()
    assert pong_payloads(conn, output) == [b"a"] * (PENDING - 1) + [b"b"]
    other = pair.other(conn)
    other.receive_data(output)
    kinds = [type(e).__name__ for e in other.events()]
    assert kinds == ["Pong"] * PENDING + ["TextMessage"]


@pytest.mark.parametrize("side", ["server", "client"])
@given(
    pings=st.lists(st.binary(max_size=125), min_size=1, max_size=100),
    messages=st.lists(st.text(max_size=20), max_size=5),
)
def test_any_number_of_pings_keeps_the_outbox_bounded(
    side: str, pings: list[bytes], messages: list[str]
) -> None:
    pair = open_pair()
    conn = getattr(pair, side)
    own = 0
    for message in messages:  # our own output, which is not the peer's to bound
        conn.send(TextMessage(data=message))
    own = len(b"".join(bytes(c) for c in conn.data_to_send_chunks()))
    for message in messages:
        conn.send(TextMessage(data=message))
    for payload in pings:
        conn.receive_data(ping(conn, payload))
        conn.events()
        assert conn.has_data_to_send()
    output = conn.data_to_send()  # drained only at the end
    assert len(output) <= own + PENDING * MAX_CONTROL_FRAME
    pongs = pong_payloads(conn, output)
    assert len(pongs) == min(len(pings), PENDING)
    assert pongs[-1] == pings[-1]  # the most recent ping is always answered
    assert pongs[:-1] == pings[: len(pongs) - 1]
