"""Connection.opened(): the core without the opening handshake (issue 19 item 1).

A stream whose handshake happened elsewhere (an HTTP/2 extended CONNECT, an ASGI upgrade)
starts OPEN; extensions are negotiated by the caller from header values; every rule and limit
after the handshake holds as it does after an HTTP/1.1 upgrade.
"""

from __future__ import annotations

import random
import zlib

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
    RemoteProtocolError,
    Request,
    Role,
    TextMessage,
    accept_extension_answer,
    answer_extension_offers,
    offer_extensions,
)
from trio_ws.protocol._frames import serialize_frame
from trio_ws.protocol.extensions import Extension, PerMessageDeflate

from .pair import assemble


def opened_pair(
    *, deflate: bool = False, limits: Limits | None = None, offer: PerMessageDeflate | None = None
) -> tuple[Connection, Connection]:
    client_extensions: list[Extension] = []
    server_extensions: list[Extension] = []
    if deflate:
        offered = [offer or PerMessageDeflate()]
        header = offer_extensions(offered)
        assert header is not None
        server_extensions, answer = answer_extension_offers([header], [PerMessageDeflate()])
        client_extensions = accept_extension_answer([answer] if answer else [], offered)
    client = Connection.opened(Role.CLIENT, extensions=client_extensions, limits=limits)
    server = Connection.opened(Role.SERVER, extensions=server_extensions, limits=limits)
    return client, server


def move(sender: Connection, receiver: Connection) -> list[object]:
    receiver.receive_data(sender.data_to_send())
    return assemble(receiver.events())


def test_starts_open_without_a_handshake() -> None:
    client, server = opened_pair()
    for conn in (client, server):
        assert conn.state is ConnectionState.OPEN
        assert conn.request is None
        assert conn.response is None
        assert conn.extensions == []
        assert not conn.has_data_to_send()


@pytest.mark.parametrize("deflate", [False, True])
def test_messages_pings_and_close_both_ways(deflate: bool) -> None:
    client, server = opened_pair(deflate=deflate)
    client.send(TextMessage(data="hello " * 100))
    assert move(client, server) == [TextMessage(data="hello " * 100)]
    server.send(BytesMessage(data=b"\x00" * 1000))
    assert move(server, client) == [BytesMessage(data=b"\x00" * 1000)]
    server.send(Ping(payload=b"p"))
    assert move(server, client) == [Ping(payload=b"p")]
    assert move(client, server) == [Pong(payload=b"p")]
    client.send(CloseConnection(code=1000))
    assert move(client, server) == [CloseConnection(code=1000)]
    assert move(server, client) == [CloseConnection(code=1000)]
    assert server.should_close_transport()
    client.receive_eof()
    assert client.should_close_transport()


def test_masking_rules_hold() -> None:
    client, server = opened_pair()
    server.receive_data(serialize_frame(0x1, b"unmasked"))  # a client must mask
    (failed,) = server.events()
    assert isinstance(failed, ConnectionFailed)
    assert failed.error.close_code == 1002
    client.receive_data(serialize_frame(0x1, b"masked", mask_key=b"abcd"))
    (failed,) = client.events()
    assert isinstance(failed, ConnectionFailed)


def test_deflate_negotiated_by_the_caller_compresses_with_the_answered_windows() -> None:
    client, server = opened_pair(deflate=True, offer=PerMessageDeflate(client_max_window_bits=9))
    assert [e.name for e in client.extensions] == ["permessage-deflate"]
    data = random.Random(1).randbytes(3000) * 2  # repeats 3000 bytes back
    client.send(BytesMessage(data=data))
    wire = client.data_to_send()
    assert wire[0] & 0x40  # RSV1: compressed
    server.receive_data(wire)
    assert assemble(server.events()) == [BytesMessage(data=data)]


def test_limits_fail_before_allocation() -> None:
    limits = Limits(max_message_size=1000, max_frame_size=500, max_fragments=3)
    _, server = opened_pair(limits=limits)
    # A header that announces 2 GiB fails at once with 1009, with no payload sent.
    server.receive_data(serialize_frame(0x2, b"", mask_key=b"abcd", length=2**31))
    (failed,) = server.events()
    assert isinstance(failed, ConnectionFailed)
    assert failed.error.close_code == 1009
    for frames, why in [
        ([serialize_frame(0x2, b"x" * 501, mask_key=b"abcd")], "frame"),
        (
            [serialize_frame(0x2, b"x", fin=False, mask_key=b"abcd")]
            + [serialize_frame(0x0, b"x", fin=False, mask_key=b"abcd")] * 3,
            "fragments",
        ),
    ]:
        _, server = opened_pair(limits=limits)
        server.receive_data(b"".join(frames))
        failed = server.events()[-1]
        assert isinstance(failed, ConnectionFailed), why
        assert failed.error.close_code == 1009, why


def test_decompression_bomb_fails_with_1009() -> None:
    client, server = opened_pair(deflate=True, limits=Limits(max_message_size=10000))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(b"\x00" * 10_000_000) + compressor.flush(zlib.Z_SYNC_FLUSH)
    server.receive_data(serialize_frame(0x2, bomb[:-4], rsv=0x40, mask_key=b"abcd"))
    events = server.events()
    assert isinstance(events[-1], ConnectionFailed)
    assert events[-1].error.close_code == 1009
    assert sum(len(e.data) for e in events if isinstance(e, BytesMessage)) <= 10000
    del client


def test_handshake_events_are_refused() -> None:
    client, server = opened_pair()
    with pytest.raises(LocalProtocolError):
        client.send(Request(host="example.com", target="/"))
    with pytest.raises(LocalProtocolError):
        server.send(AcceptConnection())


def test_unnegotiated_or_duplicate_extensions_are_refused() -> None:
    with pytest.raises(LocalProtocolError, match="not negotiated"):
        Connection.opened(Role.SERVER, extensions=[PerMessageDeflate()])
    _, answer = answer_extension_offers(["permessage-deflate"], [first := PerMessageDeflate()])
    assert answer == "permessage-deflate"
    with pytest.raises(LocalProtocolError, match="share a name"):
        Connection.opened(Role.SERVER, extensions=[first, first])


def test_header_level_negotiation() -> None:
    offered = [PerMessageDeflate(server_no_context_takeover=True)]
    assert offer_extensions(offered) == (
        "permessage-deflate; server_no_context_takeover; client_max_window_bits"
    )
    assert offer_extensions([]) is None
    accepted, answer = answer_extension_offers(
        ["x-unknown, permessage-deflate; server_no_context_takeover; client_max_window_bits"],
        [PerMessageDeflate()],
    )
    assert answer == "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
    assert len(accepted) == 1
    assert answer_extension_offers([], [PerMessageDeflate()]) == ([], None)
    with pytest.raises(RemoteProtocolError, match="invalid Sec-WebSocket-Extensions offer"):
        answer_extension_offers(["permessage-deflate; ="], [PerMessageDeflate()])
    with pytest.raises(RemoteProtocolError, match="not offered"):
        accept_extension_answer(["x-other"], offered)
    with pytest.raises(RemoteProtocolError):
        accept_extension_answer(["permessage-deflate"], offered)  # the request was not met


def test_the_handshake_that_happened_elsewhere_can_be_recorded() -> None:
    request = Request(host="example.com", target="/chat", subprotocols=("chat", "v2"))
    response = AcceptConnection(subprotocol="v2")
    conn = Connection.opened(Role.SERVER, request=request, response=response)
    assert conn.request is request
    assert conn.response is response
    assert conn.subprotocol == "v2"
    bare = Connection.opened(Role.SERVER)
    assert (bare.request, bare.response, bare.subprotocol) == (None, None, None)
