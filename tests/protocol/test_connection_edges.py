"""Edges of the core that the scenario tests do not reach on their way."""

from __future__ import annotations

import pytest

from trio_ws.protocol import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Connection,
    ConnectionFailed,
    ConnectionState,
    Limits,
    LocalProtocolError,
    Ping,
    Pong,
    RejectConnection,
    Request,
    Role,
    TextMessage,
)
from trio_ws.protocol._frames import serialize_frame

from .pair import ConnectionPair

KEY = b"\x01\x02\x03\x04"


def test_facts_and_repr() -> None:
    limits = Limits(max_message_size=10)
    conn = Connection(Role.SERVER, limits=limits)
    assert repr(conn) == "<Connection server CONNECTING>"
    assert conn.limits is limits
    assert conn.role is Role.SERVER
    assert conn.subprotocol is None
    assert conn.request is None
    assert conn.response is None
    assert conn.extensions == []
    assert not conn.close_expected()


def test_frames_pipelined_with_the_request_are_parsed_after_accept() -> None:
    pair = ConnectionPair()
    pair.client.send(Request(host="example.com", target="/"))
    head = pair.client.data_to_send()
    frames = serialize_frame(0x1, b"early", mask_key=KEY)
    pair.server.receive_data(head + frames[:3])
    pair.server.receive_data(frames[3:])  # more bytes before the answer: kept too
    (request,) = pair.server.events()
    assert isinstance(request, Request)
    pair.server.send(AcceptConnection())
    assert pair.server.events() == [TextMessage(data="early")]
    assert pair.server.state is ConnectionState.OPEN


def test_frames_in_the_same_chunk_as_the_101() -> None:
    pair = ConnectionPair()
    pair.client.send(Request(host="example.com", target="/"))
    pair.pump(pair.client)
    pair.server.send(AcceptConnection())
    pair.server.send(TextMessage(data="hi"))
    events = pair.pump(pair.server)
    assert [type(e) for e in events] == [AcceptConnection, TextMessage]


def test_client_leaving_before_the_answer() -> None:
    pair = ConnectionPair()
    pair.client.send(Request(host="example.com", target="/"))
    pair.pump(pair.client)
    pair.server.receive_eof()
    (event,) = pair.server.events()
    assert isinstance(event, ConnectionFailed)
    assert str(event.error) == "the client left before the handshake was answered"
    with pytest.raises(
        LocalProtocolError, match=r"^cannot send AcceptConnection in state CLOSED$"
    ):
        pair.server.send(AcceptConnection())


def test_rejection_reaches_the_client() -> None:
    pair = ConnectionPair()
    pair.client.send(Request(host="example.com", target="/"))
    pair.pump(pair.client)
    pair.server.send(RejectConnection(status_code=403, body=b"no"))
    assert pair.server.should_close_transport()
    (event,) = pair.pump(pair.server)
    assert isinstance(event, RejectConnection)
    assert (event.status_code, event.body) == (403, b"no")
    assert pair.client.state is ConnectionState.CLOSED
    assert pair.client.should_close_transport()
    assert isinstance(pair.client.response, RejectConnection)


def test_eof_during_the_handshake_with_an_eof_delimited_rejection() -> None:
    pair = ConnectionPair()
    pair.client.send(Request(host="example.com", target="/"))
    pair.client.data_to_send()
    pair.client.receive_data(b"HTTP/1.1 503 Service Unavailable\r\n\r\nbusy")
    pair.client.receive_eof()
    (event,) = pair.client.events()
    assert isinstance(event, RejectConnection)
    assert event.body == b"busy"


def test_101_then_eof() -> None:
    pair = ConnectionPair()
    pair.client.send(Request(host="example.com", target="/"))
    pair.pump(pair.client)
    pair.server.send(AcceptConnection())
    wire = pair.server.data_to_send()
    pair.client.receive_data(wire)
    pair.client.receive_eof()
    events = pair.client.events()
    assert isinstance(events[0], AcceptConnection)
    assert isinstance(events[1], ConnectionFailed)
    assert events[1].code == 1006


def test_internal_errors_become_1011_without_detail_on_the_wire(monkeypatch) -> None:
    pair = ConnectionPair()
    pair.handshake()

    def broken(*args, **kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(type(pair.server._messages), "frame_data", broken)
    pair.server.receive_data(serialize_frame(0x1, b"x", mask_key=KEY))
    (event,) = pair.server.events()
    assert isinstance(event, ConnectionFailed)
    assert event.code == 1011
    assert isinstance(event.error.__cause__, ZeroDivisionError)
    assert pair.pump(pair.server) == [CloseConnection(code=1011, reason="internal error")]


def test_empty_data_and_eof_twice_are_harmless() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.client.receive_data(b"")
    assert pair.client.events() == []
    pair.client.receive_eof()
    pair.client.receive_eof()
    assert len(pair.client.events()) == 1


def test_only_a_server_answers() -> None:
    conn = Connection(Role.CLIENT)
    with pytest.raises(LocalProtocolError, match=r"^only a server that received a Request sends"):
        conn.send(AcceptConnection())
    server = Connection(Role.SERVER)
    with pytest.raises(LocalProtocolError, match=r"^only a server that received a Request sends"):
        server.send(RejectConnection())


def test_ping_pong_response_helpers() -> None:
    assert Ping(payload=b"x").response() == Pong(payload=b"x")
    assert CloseConnection(code=4000, reason="r").response() == CloseConnection(
        code=4000, reason="r"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Request(host="x", headers=[("bad name", "v")]),
            r"^invalid header name 'bad name'$",
        ),
        (lambda: Request(host="x", headers=[("X", "a\r\nb")]), r"^invalid value for header 'X'"),
        (
            lambda: Request(host="x", headers=[1]),
            r"^headers must be a sequence of \(name, value\)",
        ),
        (lambda: Request(host="x", subprotocols=["a b"]), r"^invalid subprotocol 'a b'"),
        (lambda: Request(host="x", target="nope"), r"^invalid request target 'nope'$"),
        (lambda: Request(host=""), r"^invalid host ''$"),
        (lambda: AcceptConnection(subprotocol="a,b"), r"^invalid subprotocol 'a,b'"),
        (lambda: RejectConnection(status_code=101), r"^invalid status code 101: must be 200-599$"),
        (lambda: CloseConnection(code=1000, reason="\ud800"), r"^close reason is not valid UTF-8"),
    ],
)
def test_events_validate_themselves(build, message) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        build()


def test_streamed_message_over_several_sends() -> None:
    pair = ConnectionPair()
    pair.handshake()
    pair.client.send(BytesMessage(data=b"a", message_finished=False))
    pair.client.send(Ping(payload=b"p"))
    pair.client.send(BytesMessage(data=b"b"))
    events = pair.pump(pair.client)
    assert events == [
        BytesMessage(data=b"a", message_finished=False),
        Ping(payload=b"p"),
        BytesMessage(data=b"b"),
    ]


def test_bytes_before_the_answer_are_bounded() -> None:
    pair = ConnectionPair(server_limits=Limits(max_handshake_size=1000))
    pair.client.send(Request(host="example.com", target="/"))
    pair.server.receive_data(pair.client.data_to_send())
    assert isinstance(pair.server.events()[0], Request)
    pair.server.receive_data(b"x" * 2000)
    (event,) = pair.server.events()
    assert isinstance(event, ConnectionFailed)
    assert event.error.http_status == 400
    assert pair.server.data_to_send().startswith(b"HTTP/1.1 400 ")


def test_wide_item_buffers_are_sent_as_their_bytes() -> None:
    import array

    pair = ConnectionPair()
    pair.handshake()
    data = array.array("i", [1, 2, 3])
    pair.server.send(BytesMessage(data=data))  # type: ignore[arg-type]
    assert pair.pump(pair.server) == [BytesMessage(data=data.tobytes())]
    pair.client.send(Ping(payload=memoryview(b"abc")))
    assert pair.pump(pair.client)[0] == Ping(payload=b"abc")


def test_ping_while_closing_is_answered() -> None:
    """RFC 6455 §5.5.2: answer unless a close frame was received; only data is forbidden."""
    pair = ConnectionPair()
    pair.handshake()
    pair.server.send(CloseConnection(code=1001))
    pair.server.data_to_send()
    pair.server.receive_data(serialize_frame(0x9, b"hi", mask_key=KEY))
    assert pair.server.events() == [Ping(payload=b"hi")]
    assert pair.pump(pair.server) == [Pong(payload=b"hi")]


def test_control_frame_with_a_non_minimal_length() -> None:
    pair = ConnectionPair()
    pair.handshake()
    # A 4-byte ping announced with the 16-bit length form: allowed on receive (§5.2).
    pair.client.receive_data(bytes.fromhex("897e0004") + b"ping")
    assert pair.client.events() == [Ping(payload=b"ping")]


def test_shared_frames() -> None:
    from trio_ws.protocol import serialize_message

    frame = serialize_message(TextMessage(data="hi"))
    assert frame == bytes.fromhex("81026869")
    pair = ConnectionPair()
    with pytest.raises(LocalProtocolError, match=r"^a shared frame can only go to an open"):
        pair.server.send_serialized(frame)  # not open yet
    pair.handshake()
    assert pair.server.can_share_frames()
    assert not pair.client.can_share_frames()  # clients mask every frame
    pair.server.send_serialized(frame)
    assert pair.pump(pair.server) == [TextMessage(data="hi")]
    pair.server.send(TextMessage(data="a", message_finished=False))
    assert not pair.server.can_share_frames()  # a message of its own in progress
    with pytest.raises(LocalProtocolError, match=r"^only a whole message can be shared$"):
        serialize_message(TextMessage(data="x", message_finished=False))
