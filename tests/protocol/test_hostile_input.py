"""Property: any bytes, in any chunking, give events or one failing close, never an exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trio_ws.protocol import (
    BytesMessage,
    CloseConnection,
    ConnectionFailed,
    ConnectionState,
    Limits,
    Ping,
    Pong,
    TextMessage,
)
from trio_ws.protocol._frames import serialize_frame

from ..strategies import chunkings
from .pair import ConnectionPair, chunked

LIMIT = 4096

frames = st.builds(
    lambda op, payload, fin, rsv, key: serialize_frame(
        op, payload, fin=fin, rsv=rsv, mask_key=key
    ),
    st.sampled_from([0, 1, 2, 3, 8, 9, 10, 11]),
    st.binary(max_size=200),
    st.booleans(),
    st.sampled_from([0, 0, 0, 0x40, 0x10]),
    st.one_of(st.none(), st.binary(min_size=4, max_size=4)),
)
streams = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.one_of(frames, st.binary(max_size=12)), max_size=20).map(b"".join),
)


@given(data=streams, sizes=chunkings(), to_server=st.booleans(), eof=st.booleans())
def test_never_raises(data: bytes, sizes: list[int], to_server: bool, eof: bool) -> None:
    pair = ConnectionPair(
        client_limits=Limits(max_message_size=LIMIT), server_limits=Limits(max_message_size=LIMIT)
    )
    pair.handshake()
    conn = pair.server if to_server else pair.client
    events = []
    for chunk in chunked(data, sizes):
        conn.receive_data(chunk)
        events += conn.events()
        assert len(conn._buffer) <= 139  # never more than one incomplete header or control frame
    if eof:
        conn.receive_eof()
        events += conn.events()
    kinds = (TextMessage, BytesMessage, Ping, Pong, CloseConnection, ConnectionFailed)
    assert all(isinstance(e, kinds) for e in events)
    terminal = [e for e in events if isinstance(e, CloseConnection | ConnectionFailed)]
    assert len(terminal) <= 1
    if terminal:
        assert events[-1] is terminal[0]
        assert conn.state is ConnectionState.CLOSED
    failures = [e for e in events if isinstance(e, ConnectionFailed)]
    if failures:
        assert failures[0].code in {1002, 1006, 1007, 1009}, failures[0].error
    size = 0
    for event in events:
        if isinstance(event, TextMessage | BytesMessage):
            size += len(event.data.encode() if isinstance(event.data, str) else event.data)
            assert size <= LIMIT
            if event.message_finished:
                size = 0
