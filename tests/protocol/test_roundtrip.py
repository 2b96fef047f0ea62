"""Property: any messages, any fragmentation, any chunking, either direction, arrive intact."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trio_ws.protocol import (
    BytesMessage,
    CloseConnection,
    ConnectionState,
    Ping,
    Pong,
    TextMessage,
)
from trio_ws.protocol._connection import _MAX_PENDING_PONGS
from trio_ws.protocol.extensions import PerMessageDeflate

from ..strategies import chunkings, messages
from .pair import ConnectionPair, assemble


def send_all(pair: ConnectionPair, sender_is_client: bool, msgs: list) -> list:
    sender = pair.client if sender_is_client else pair.server
    expected = []
    for is_text, pieces in msgs:
        for i, piece in enumerate(pieces):
            finished = i == len(pieces) - 1
            if is_text:
                sender.send(TextMessage(data=piece, message_finished=finished))
            else:
                sender.send(BytesMessage(data=piece, message_finished=finished))
        joined = "".join(pieces) if is_text else b"".join(pieces)
        expected.append(TextMessage(data=joined) if is_text else BytesMessage(data=joined))
    return expected


@given(msgs=messages(), sizes=chunkings(), sender_is_client=st.booleans())
def test_messages_arrive_intact_in_order(msgs, sizes, sender_is_client) -> None:
    pair = ConnectionPair()
    pair.handshake()
    expected = send_all(pair, sender_is_client, msgs)
    sender = pair.client if sender_is_client else pair.server
    received = assemble(pair.pump(sender, sizes))
    assert received == expected


@given(
    msgs=messages(),
    sizes=chunkings(),
    sender_is_client=st.booleans(),
    ping=st.binary(max_size=125),
)
def test_control_frames_between_fragments(msgs, sizes, sender_is_client, ping) -> None:
    """RFC 6455 §5.4: control frames may be injected in the middle of a fragmented message."""
    pair = ConnectionPair()
    pair.handshake()
    sender = pair.client if sender_is_client else pair.server
    for is_text, pieces in msgs:
        for i, piece in enumerate(pieces):
            kind = TextMessage if is_text else BytesMessage
            sender.send(kind(data=piece, message_finished=i == len(pieces) - 1))
            sender.send(Ping(payload=ping))
    events = pair.pump(sender, sizes)
    pings = [e for e in events if isinstance(e, Ping)]
    assert pings == [Ping(payload=ping)] * sum(len(p) for _, p in msgs)
    # Each ping was answered with a pong carrying the same payload, up to the pongs that
    # may wait undrained (RFC 6455 §5.5.3: answering the most recent ping suffices).
    pongs = [e for e in pair.pump(pair.other(sender)) if isinstance(e, Pong)]
    assert pongs == [Pong(payload=ping)] * min(len(pings), _MAX_PENDING_PONGS)


@given(
    sizes=chunkings(),
    code=st.sampled_from([1000, 1001, 1011, 3000, 4999]),
    reason=st.text(max_size=30),
)
def test_close_handshake_completes(sizes, code, reason) -> None:
    reason = reason.encode()[:123].decode("utf-8", "ignore")
    pair = ConnectionPair()
    pair.handshake()
    pair.client.send(CloseConnection(code=code, reason=reason))
    assert pair.client.state is ConnectionState.CLOSING
    assert pair.pump(pair.client, sizes) == [CloseConnection(code=code, reason=reason)]
    assert pair.server.state is ConnectionState.CLOSED
    assert pair.server.should_close_transport()
    assert pair.pump(pair.server, sizes) == [CloseConnection(code=code, reason=reason)]
    assert pair.client.state is ConnectionState.CLOSED
    assert not pair.client.should_close_transport()  # waits for the server's TCP close
    pair.client.receive_eof()
    assert pair.client.should_close_transport()
    assert pair.client.events() == []


deflate_settings = st.fixed_dictionaries(
    {},
    optional={
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": st.integers(9, 15),
        "client_max_window_bits": st.integers(9, 15),
        "threshold": st.integers(0, 64),
    },
)


@given(
    msgs=messages(),
    sizes=chunkings(),
    sender_is_client=st.booleans(),
    client_settings=deflate_settings,
    server_settings=deflate_settings,
)
def test_compressed_messages_arrive_intact(
    msgs, sizes, sender_is_client, client_settings, server_settings
) -> None:
    """The same property with permessage-deflate negotiated from any pair of settings."""
    pair = ConnectionPair(
        client_extensions=[PerMessageDeflate(**client_settings)],
        server_extensions=[PerMessageDeflate(**server_settings)],
    )
    pair.handshake()
    expected = send_all(pair, sender_is_client, msgs)
    sender = pair.client if sender_is_client else pair.server
    assert assemble(pair.pump(sender, sizes)) == expected
    # Whatever was negotiated, both sides agree on it.
    assert [e.name for e in pair.client.extensions] == [e.name for e in pair.server.extensions]
