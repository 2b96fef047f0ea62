"""The opening handshake of RFC 6455 §4, both roles, grouped by RFC section."""

from __future__ import annotations

import base64
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_ws.protocol import _client_handshake
from trio_ws.protocol._client_handshake import ClientAccepted, ClientHandshake, ClientRejected
from trio_ws.protocol._errors import LocalProtocolError, RemoteProtocolError
from trio_ws.protocol._events import AcceptConnection, RejectConnection, Request
from trio_ws.protocol._handshake import GUID, accept_value, generate_key
from trio_ws.protocol._limits import Limits
from trio_ws.protocol._server_handshake import ServerHandshake
from trio_ws.protocol.extensions._base import Extension, ExtensionParams

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
FRAME = b"\x81\x05hello"  # an unmasked text frame, as a server sends right after its 101


class Fake(Extension):
    """An extension that records the negotiation and answers as it is told."""

    name = "x-fake"

    def __init__(
        self, offer: ExtensionParams | None = None, answer: ExtensionParams | None = None
    ) -> None:
        self._offer = offer or []
        self.answer = answer  # None: accept every offer with the same params
        self.decline: list[ExtensionParams] = []  # offers to decline
        self.offers_seen: list[ExtensionParams] = []
        self.response: ExtensionParams | None = None

    def offer(self) -> ExtensionParams:
        return self._offer

    def accept_response(self, params: ExtensionParams) -> None:
        if ("bad", None) in params:
            raise RemoteProtocolError("x-fake does not take 'bad'")
        self.response = params

    def accept_offer(self, params: ExtensionParams) -> ExtensionParams | None:
        self.offers_seen.append(params)
        if params in self.decline:
            return None
        return params if self.answer is None else self.answer

    def decode(self, data: bytes, *, rsv: int, fin: bool, max_size: int | None) -> bytes:
        raise NotImplementedError

    def encode(
        self, data: bytes, *, first: bool, fin: bool, compress: bool | None
    ) -> tuple[int, bytes]:
        raise NotImplementedError


class Other(Fake):
    name = "x-other"


def ws_request(
    *extra: str, key: str = KEY, version: str = "13", first: str = "GET /chat HTTP/1.1"
) -> bytes:
    lines = [
        first,
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        f"Sec-WebSocket-Version: {version}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def server_receive(data: bytes, *, limits: Limits | None = None, extensions=()) -> Request:
    server = ServerHandshake(extensions=list(extensions), limits=limits or Limits())
    request = server.receive_data(data)
    assert request is not None
    return request


def client_with_request(
    *, subprotocols: tuple[str, ...] = (), extensions=(), limits: Limits | None = None
) -> tuple[ClientHandshake, bytes]:
    client = ClientHandshake(extensions=list(extensions), limits=limits or Limits())
    data = client.request(Request(host="example.com", target="/chat", subprotocols=subprotocols))
    return client, data


def key_of(request: bytes) -> str:
    for line in request.split(b"\r\n"):
        if line.startswith(b"Sec-WebSocket-Key: "):
            return line.split(b": ", 1)[1].decode()
    raise AssertionError("no key")


def response_101(key: str, *extra: str, accept: str | None = None) -> bytes:
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept or accept_value(key)}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def feed(receiver: ClientHandshake | ServerHandshake, pieces: list[bytes]) -> tuple[object, bytes]:
    """Feed pieces until an outcome; return it and the bytes not fed."""
    for i, piece in enumerate(pieces):
        result = receiver.receive_data(piece)
        if result is not None:
            return result, b"".join(pieces[i + 1 :])
    raise AssertionError("no outcome")


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def feed_until_error(receiver: ClientHandshake | ServerHandshake, pieces: list[bytes]) -> None:
    """Feed pieces, expecting one of them to raise."""
    for piece in pieces:
        receiver.receive_data(piece)


class TestKeyAndAccept:
    """RFC 6455 §1.3, §4.1 item 7, §4.2.2 item 5.4."""

    def test_guid(self) -> None:
        assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    @pytest.mark.parametrize(
        ("key", "accept"),
        [(KEY, ACCEPT), ("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")],
    )
    def test_rfc_vectors(self, key: str, accept: str) -> None:
        assert accept_value(key) == accept

    def test_key_is_16_fresh_random_bytes(self) -> None:
        keys = {generate_key() for _ in range(100)}
        assert len(keys) == 100
        for key in keys:
            assert len(key) == 24
            assert len(base64.b64decode(key, validate=True)) == 16


class TestClientRequest:
    """RFC 6455 §4.1: the client's opening handshake."""

    def test_exact_bytes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_client_handshake, "generate_key", lambda: KEY)
        client = ClientHandshake(
            extensions=[Fake([("a", "1"), ("b", None)]), Other()], limits=Limits()
        )
        event = Request(
            host="example.com:8080",
            target="/chat?room=1",
            subprotocols=("chat", "superchat"),
            headers=(("Origin", "http://example.com"), ("X-Token", "t")),
        )
        assert client.request(event) == (
            b"GET /chat?room=1 HTTP/1.1\r\n"
            b"Host: example.com:8080\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: chat, superchat\r\n"
            b"Sec-WebSocket-Extensions: x-fake; a=1; b, x-other\r\n"
            b"Origin: http://example.com\r\n"
            b"X-Token: t\r\n"
            b"\r\n"
        )

    def test_minimal_has_no_optional_headers(self) -> None:
        _, data = client_with_request()
        assert b"Sec-WebSocket-Protocol" not in data
        assert b"Sec-WebSocket-Extensions" not in data

    def test_fresh_key_per_handshake(self) -> None:
        assert key_of(client_with_request()[1]) != key_of(client_with_request()[1])

    @pytest.mark.parametrize(
        "name",
        [
            "Host",
            "upgrade",
            "CONNECTION",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Version",
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions",
            "Sec-WebSocket-Accept",
            "Content-Length",
        ],
    )
    def test_owned_header(self, name: str) -> None:
        client = ClientHandshake(extensions=[], limits=Limits())
        message = rf"^header '{name}' is set by the handshake; remove it from Request.headers$"
        with pytest.raises(LocalProtocolError, match=message):
            client.request(Request(host="a", headers=((name, "x"),)))

    def test_extensions_in_event(self) -> None:
        client = ClientHandshake(extensions=[], limits=Limits())
        with pytest.raises(
            LocalProtocolError,
            match=r"^Request.extensions must be empty: the connection offers its own extensions$",
        ):
            client.request(Request(host="a", extensions=("x-fake",)))

    def test_not_websocket(self) -> None:
        client = ClientHandshake(extensions=[], limits=Limits())
        with pytest.raises(LocalProtocolError, match=r"^a client can only send a WebSocket"):
            client.request(Request(host="a", is_websocket=False))

    def test_twice(self) -> None:
        client, _ = client_with_request()
        with pytest.raises(LocalProtocolError, match=r"^the handshake request was already sent$"):
            client.request(Request(host="a"))

    def test_unencodable_header(self) -> None:
        client = ClientHandshake(extensions=[], limits=Limits())
        with pytest.raises(LocalProtocolError, match=r"^header 'X' is not latin-1 text$"):
            client.request(Request(host="a", headers=(("X", "\u2603"),)))
        with pytest.raises(LocalProtocolError, match=r"^cannot send the handshake request: "):
            client.request(Request(host="a", target="/caf\xe9"))
        client.request(Request(host="a"))  # nothing was sent yet

    def test_duplicate_extension_names(self) -> None:
        with pytest.raises(LocalProtocolError, match=r"offer the same name twice$"):
            ClientHandshake(extensions=[Fake(), Fake()], limits=Limits())

    def test_receive_before_request(self) -> None:
        client = ClientHandshake(extensions=[], limits=Limits())
        with pytest.raises(LocalProtocolError, match=r"^send the handshake request first$"):
            client.receive_data(b"HTTP/1.1 101 x\r\n\r\n")


class TestServerReadsRequest:
    """RFC 6455 §4.2.1: reading the client's opening handshake."""

    def test_request_fields(self) -> None:
        request = server_receive(
            ws_request(
                "Sec-WebSocket-Protocol: chat, superChat",
                "Sec-WebSocket-Protocol: v2",
                'Sec-WebSocket-Extensions: x-fake; a="1"; b, x-other',
                "Origin: http://example.com",
                "X-Bytes: caf\xe9",
            )
        )
        assert request == Request(
            host="example.com",
            target="/chat",
            subprotocols=("chat", "superChat", "v2"),
            extensions=("x-fake; a=1; b", "x-other"),
            headers=(
                ("host", "example.com"),
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-key", KEY),
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "chat, superChat"),
                ("sec-websocket-protocol", "v2"),
                ("sec-websocket-extensions", 'x-fake; a="1"; b, x-other'),
                ("origin", "http://example.com"),
                ("x-bytes", "caf\xe9"),
            ),
            is_websocket=True,
        )

    def test_tokens_are_case_insensitive_within_lists(self) -> None:
        data = ws_request().replace(b"Upgrade: websocket", b"Upgrade: h2c, WebSocket")
        data = data.replace(b"Connection: Upgrade", b"Connection: keep-alive, upGrade")
        assert server_receive(data).is_websocket

    def test_trailing_bytes_untouched(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        assert server.trailing == b""
        assert server.receive_data(ws_request() + b"\x81\x85" + bytes(9)) is not None
        assert server.trailing == b"\x81\x85" + bytes(9)

    @given(st.lists(st.integers(min_value=0), max_size=12), st.binary(max_size=40))
    def test_any_chunking(self, cuts: list[int], tail: bytes) -> None:
        data = ws_request("Sec-WebSocket-Protocol: chat")
        server = ServerHandshake(extensions=[], limits=Limits())
        request, rest = feed(server, chunks(data + tail, cuts))
        assert request == server_receive(data)
        assert server.trailing + rest == tail

    @pytest.mark.parametrize(
        "data",
        [
            b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 8\r\n\r\n",
        ],
    )
    def test_plain_http_get(self, data: bytes) -> None:
        request = server_receive(data)
        assert not request.is_websocket
        assert request.subprotocols == ()

    def test_empty_data_is_not_eof(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        assert server.receive_data(b"") is None
        assert server.receive_data(ws_request()) is not None

    def test_receive_after_the_head(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(ws_request())
        with pytest.raises(LocalProtocolError, match=r"^the request head is already complete"):
            server.receive_data(b"x")

    def test_eof(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(b"GET / HTTP/1.1\r\n")
        with pytest.raises(
            RemoteProtocolError, match=r"^connection closed during the opening handshake$"
        ) as info:
            server.receive_eof()
        assert info.value.http_status is None
        done = ServerHandshake(extensions=[], limits=Limits())
        done.receive_data(ws_request())
        done.receive_eof()  # the head was complete: nothing to complain about


def _replace(old: bytes, new: bytes) -> bytes:
    data = ws_request()
    assert old in data
    return data.replace(old, new)


REJECTIONS = [
    # (request bytes, status, exact message)
    (
        b"GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n",
        400,
        r"malformed HTTP request: illegal header line: .*",
    ),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, r"malformed HTTP request: .*"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, r"malformed HTTP request: Missing mandatory Host: header"),
    (_replace(b"HTTP/1.1", b"HTTP/1.0"), 400, r"HTTP/1.0 request: the handshake needs HTTP/1.1"),
    (_replace(b"HTTP/1.1", b"HTTP/2.0"), 400, r"HTTP/2.0 request: the handshake needs HTTP/1.1"),
    (_replace(b"GET", b"POST"), 405, r"method 'POST' is not allowed: the handshake is a GET"),
    (_replace(b"GET", b"HEAD"), 405, r"method 'HEAD' is not allowed: the handshake is a GET"),
    (
        ws_request("Content-Length: 2") + b"hi",
        400,
        r"request has a body: a handshake GET must not",
    ),
    (
        ws_request("Transfer-Encoding: chunked") + b"0\r\n\r\n",
        400,
        r"request has a body: a handshake GET must not",
    ),
    (
        _replace(b"GET /chat", b"GET http://example.com/chat"),
        400,
        r"request target 'http://example.com/chat' is not in origin-form",
    ),
    (
        _replace(b"GET /chat", b"GET /chat#top"),
        400,
        r"request target '/chat#top' is not in origin-form",
    ),
    (_replace(b"GET /chat", b"GET *"), 400, r"request target '\*' is not in origin-form"),
    (_replace(b"Host: example.com", b"Host: "), 400, r"invalid request: invalid host ''"),
    (_replace(b"Host: example.com", b"Host: a b"), 400, r"invalid request: invalid host 'a b'"),
    (
        _replace(b"Connection: Upgrade", b"Connection: keep-alive"),
        400,
        r"request has 'Upgrade: websocket' but lacks 'Connection: upgrade'",
    ),
    (
        _replace(b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\n", b""),
        400,
        r"request has 0 Sec-WebSocket-Key headers instead of 1",
    ),
    (
        ws_request("Sec-WebSocket-Key: " + KEY),
        400,
        r"request has 2 Sec-WebSocket-Key headers instead of 1",
    ),
    (
        ws_request(key="dGhlIHNhbXBsZSBub25jZQ"),
        400,
        r"Sec-WebSocket-Key 'dGhlIHNhbXBsZSBub25jZQ' is not base64 of 16 bytes",
    ),
    (
        ws_request(key=base64.b64encode(bytes(15)).decode()),
        400,
        r"Sec-WebSocket-Key 'AAAAAAAAAAAAAAAAAAAA' is not base64 of 16 bytes",
    ),
    (
        ws_request(key="!" * 100),
        400,
        r"Sec-WebSocket-Key '!{40}\.\.\.' is not base64 of 16 bytes",
    ),
    (
        _replace(b"Sec-WebSocket-Version: 13\r\n", b""),
        426,
        r"request lacks Sec-WebSocket-Version",
    ),
    (
        ws_request(version="8"),
        426,
        r"unsupported Sec-WebSocket-Version '8': this server supports only 13",
    ),
    (
        ws_request("Sec-WebSocket-Version: 13"),
        426,
        r"unsupported Sec-WebSocket-Version '13, 13': this server supports only 13",
    ),
    (
        ws_request("Sec-WebSocket-Protocol: chat, a/b"),
        400,
        r"invalid Sec-WebSocket-Protocol header: subprotocol 'a/b' is not a token",
    ),
    (
        ws_request("Sec-WebSocket-Extensions: x-fake; a="),
        400,
        r"invalid Sec-WebSocket-Extensions header: "
        r"expected a value for parameter 'a' at end of value",
    ),
]


class TestServerRejectsRequest:
    """RFC 6455 §4.2.1 (and §4.4 for the version): each failure and its HTTP status."""

    @pytest.mark.parametrize(("data", "status", "message"), REJECTIONS)
    def test_rejection(self, data: bytes, status: int, message: str) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        with pytest.raises(RemoteProtocolError, match=f"^{message}$") as info:
            server.receive_data(data)
        assert info.value.http_status == status
        assert info.value.close_code is None
        with pytest.raises(LocalProtocolError):
            server.receive_data(b"more")
        response = server.error_response(info.value)
        assert response.startswith(f"HTTP/1.1 {status} ".encode())
        assert b"\r\nConnection: " in response

    @given(st.sampled_from(REJECTIONS), st.lists(st.integers(min_value=0), max_size=8))
    def test_rejection_any_chunking(self, case: tuple[bytes, int, str], cuts: list[int]) -> None:
        data, status, _ = case
        server = ServerHandshake(extensions=[], limits=Limits())
        with pytest.raises(RemoteProtocolError) as info:
            feed_until_error(server, chunks(data, cuts))
        assert info.value.http_status == status

    def test_head_size_in_one_chunk(self) -> None:
        limits = Limits(max_handshake_size=300)
        data = ws_request("X-Pad: " + "a" * 300)
        server = ServerHandshake(extensions=[], limits=limits)
        with pytest.raises(
            RemoteProtocolError,
            match=r"^request head is larger than 300 bytes \(max_handshake_size\)$",
        ) as info:
            server.receive_data(data)
        assert info.value.http_status == 431

    def test_head_size_incomplete(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits(max_handshake_size=300))
        server.receive_data(b"GET / HTTP/1.1\r\nX-Pad: ")
        with pytest.raises(
            RemoteProtocolError,
            match=r"^request head is larger than 300 bytes \(max_handshake_size\)$",
        ) as info:
            feed_until_error(server, [b"a" * 10] * 100)
        assert info.value.http_status == 431

    def test_head_size_boundary(self) -> None:
        data = ws_request()
        assert server_receive(data, limits=Limits(max_handshake_size=len(data))).is_websocket
        with pytest.raises(RemoteProtocolError) as info:
            server_receive(data, limits=Limits(max_handshake_size=len(data) - 1))
        assert info.value.http_status == 431

    def test_header_count(self) -> None:
        data = ws_request(*(f"X-{i}: {i}" for i in range(4)))  # 5 + 4 fields
        assert server_receive(data, limits=Limits(max_handshake_headers=9)).is_websocket
        with pytest.raises(
            RemoteProtocolError,
            match=r"^request has more than 8 header fields \(max_handshake_headers\)$",
        ) as info:
            server_receive(data, limits=Limits(max_handshake_headers=8))
        assert info.value.http_status == 431


class TestServerResponse:
    """RFC 6455 §4.2.2: the server's answer."""

    def test_accept_exact_bytes(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(ws_request("Sec-WebSocket-Protocol: chat, superchat"))
        data, extensions = server.accept(
            AcceptConnection(subprotocol="superchat", headers=(("X-Served-By", "trio-ws"),))
        )
        assert extensions == []
        assert data == (
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            b"Sec-WebSocket-Protocol: superchat\r\n"
            b"X-Served-By: trio-ws\r\n"
            b"\r\n"
        )

    def test_extension_negotiation_walks_offers_in_client_order(self) -> None:
        fake, other = Fake(answer=[("ok", None)]), Other()
        fake.decline = [[("try", "1")]]
        server = ServerHandshake(extensions=[fake, other], limits=Limits())
        server.receive_data(
            ws_request(
                "Sec-WebSocket-Extensions: x-unknown, x-other; q=1",
                "Sec-WebSocket-Extensions: x-fake; try=1, x-fake; try=2, x-fake; try=3",
            )
        )
        data, extensions = server.accept(AcceptConnection())
        assert extensions == [other, fake]
        assert fake.offers_seen == [[("try", "1")], [("try", "2")]]  # accepted: no third call
        assert b"\r\nSec-WebSocket-Extensions: x-other; q=1, x-fake; ok\r\n" in data

    def test_all_offers_declined(self) -> None:
        fake = Fake()
        fake.decline = [[]]
        server = ServerHandshake(extensions=[fake], limits=Limits())
        server.receive_data(ws_request("Sec-WebSocket-Extensions: x-fake"))
        data, extensions = server.accept(AcceptConnection())
        assert extensions == []
        assert b"Sec-WebSocket-Extensions" not in data

    @pytest.mark.parametrize(
        ("event", "message"),
        [
            (AcceptConnection(subprotocol="other"), r"^subprotocol 'other' was not offered$"),
            (
                AcceptConnection(extensions=("x-fake",)),
                r"^AcceptConnection.extensions must be empty: they are negotiated$",
            ),
            (
                AcceptConnection(headers=(("Sec-WebSocket-Accept", "x"),)),
                r"^header 'Sec-WebSocket-Accept' is set by the handshake; remove it from "
                r"AcceptConnection.headers$",
            ),
        ],
    )
    def test_accept_misuse(self, event: AcceptConnection, message: str) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(ws_request("Sec-WebSocket-Protocol: chat"))
        with pytest.raises(LocalProtocolError, match=message):
            server.accept(event)

    def test_accept_unencodable_header(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(ws_request())
        with pytest.raises(LocalProtocolError, match=r"^header 'X-Snow' is not latin-1 text$"):
            server.accept(AcceptConnection(headers=(("X-Snow", "\u2603"),)))
        with pytest.raises(LocalProtocolError, match=r"^header 'X-Snow' is not latin-1 text$"):
            server.reject(RejectConnection(headers=(("X-Snow", "\u2603"),)))
        server.accept(AcceptConnection())  # nothing was answered yet

    def test_accept_before_request_twice_or_after_reject(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        with pytest.raises(LocalProtocolError, match=r"^no complete request to answer yet$"):
            server.accept(AcceptConnection())
        server.receive_data(ws_request())
        server.accept(AcceptConnection())
        with pytest.raises(LocalProtocolError, match=r"^the request was already answered$"):
            server.accept(AcceptConnection())
        rejected = ServerHandshake(extensions=[], limits=Limits())
        rejected.receive_data(ws_request())
        rejected.reject(RejectConnection(status_code=403))
        with pytest.raises(LocalProtocolError, match=r"^the request was already answered$"):
            rejected.accept(AcceptConnection())
        with pytest.raises(LocalProtocolError, match=r"^the request was already answered$"):
            rejected.reject(RejectConnection(status_code=403))

    def test_accept_plain_request(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        with pytest.raises(LocalProtocolError, match=r"^a plain HTTP request cannot be accepted"):
            server.accept(AcceptConnection())

    def test_reject_exact_bytes(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        event = RejectConnection(
            status_code=200, headers=(("Content-Type", "text/plain"),), body=b"ok"
        )
        assert server.reject(event) == (
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: text/plain\r\n"
            b"Content-Length: 2\r\n"
            b"Connection: close\r\n"
            b"\r\n"
            b"ok"
        )

    def test_reject_without_body(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(ws_request())
        assert server.reject(RejectConnection(status_code=204)) == (
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        )
        other = ServerHandshake(extensions=[], limits=Limits())
        other.receive_data(ws_request())
        with pytest.raises(LocalProtocolError, match=r"^a 204 response has no body$"):
            other.reject(RejectConnection(status_code=204, body=b"x"))

    def test_reject_owned_header_and_unknown_status(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        server.receive_data(ws_request())
        with pytest.raises(LocalProtocolError, match=r"^header 'Content-Length' is set by"):
            server.reject(RejectConnection(headers=(("Content-Length", "1"),)))
        assert server.reject(RejectConnection(status_code=599)).startswith(
            b"HTTP/1.1 599 Unknown\r\n"
        )

    def test_error_response_426(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        error = RemoteProtocolError("request lacks Sec-WebSocket-Version", http_status=426)
        body = b"Upgrade Required: request lacks Sec-WebSocket-Version\n"
        assert (
            server.error_response(error)
            == (
                b"HTTP/1.1 426 Upgrade Required\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Sec-WebSocket-Version: 13\r\n"
                b"Upgrade: websocket\r\n"
                b"Content-Length: %d\r\n"
                b"Connection: Upgrade, close\r\n"
                b"\r\n" % len(body)
            )
            + body
        )

    def test_error_response_405_431_and_escaping(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        data = server.error_response(RemoteProtocolError("m\u00e9thode", http_status=405))
        assert b"\r\nAllow: GET\r\n" in data
        assert data.endswith(b"\r\n\r\nMethod Not Allowed: m\\xe9thode\n")
        assert data.isascii()
        data = server.error_response(RemoteProtocolError("too big", http_status=431))
        assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        assert b"Sec-WebSocket-Version" not in data
        assert server.error_response(RemoteProtocolError("x")).startswith(b"HTTP/1.1 400 ")

    def test_error_response_never_echoes_raw_bytes(self) -> None:
        server = ServerHandshake(extensions=[], limits=Limits())
        with pytest.raises(RemoteProtocolError) as info:
            server.receive_data(ws_request(version="\xff\x7f<script>"))
        data = server.error_response(info.value)
        assert data.isascii()
        assert b"\\xff\\x7f<script>" in data


class TestClientReadsResponse:
    """RFC 6455 §4.1: the client's checks of the server's handshake."""

    def accepted(self, result: object) -> ClientAccepted:
        assert isinstance(result, ClientAccepted)
        return result

    def test_accepted(self) -> None:
        fake = Fake()
        client, request = client_with_request(subprotocols=("chat", "v2"), extensions=[fake])
        key = key_of(request)
        response = response_101(
            key, "Sec-WebSocket-Protocol: v2", 'Sec-WebSocket-Extensions: x-fake;a="1"'
        )
        result = self.accepted(client.receive_data(response + FRAME))
        assert result.trailing == FRAME
        assert result.extensions == [fake]
        assert fake.response == [("a", "1")]
        assert result.event == AcceptConnection(
            subprotocol="v2",
            extensions=("x-fake; a=1",),
            headers=(
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-accept", accept_value(key)),
                ("sec-websocket-protocol", "v2"),
                ("sec-websocket-extensions", 'x-fake;a="1"'),
            ),
        )

    def test_extensions_in_the_servers_order(self) -> None:
        fake, other = Fake(), Other()
        client, request = client_with_request(extensions=[fake, other])
        response = response_101(key_of(request), "Sec-WebSocket-Extensions: x-other, x-fake")
        assert self.accepted(client.receive_data(response)).extensions == [other, fake]

    def test_tokens_case_insensitive_within_lists(self) -> None:
        client, request = client_with_request()
        response = response_101(key_of(request))
        response = response.replace(b"Upgrade: websocket", b"Upgrade: WebSocket")
        response = response.replace(b"Connection: Upgrade", b"Connection: keep-alive, UPGRADE")
        assert self.accepted(client.receive_data(response)).trailing == b""

    @given(st.lists(st.integers(min_value=0), max_size=12), st.binary(max_size=40))
    def test_any_chunking(self, cuts: list[int], tail: bytes) -> None:
        client, request = client_with_request(subprotocols=("chat",))
        data = b"HTTP/1.1 100 Continue\r\n\r\n" + response_101(
            key_of(request), "Sec-WebSocket-Protocol: chat"
        )
        result, rest = feed(client, chunks(data + tail, cuts))
        result = self.accepted(result)
        assert result.event.subprotocol == "chat"
        assert result.trailing + rest == tail

    @pytest.mark.parametrize(
        ("replace", "extra", "message"),
        [
            (
                (b"Upgrade: websocket", b"Upgrade: h2c"),
                (),
                r"101 response lacks 'Upgrade: websocket'",
            ),
            ((b"Upgrade: websocket\r\n", b""), (), r"101 response lacks 'Upgrade: websocket'"),
            (
                (b"Connection: Upgrade", b"Connection: close"),
                (),
                r"101 response lacks 'Connection: upgrade'",
            ),
            (
                (b"Sec-WebSocket-Accept", b"X-Accept"),
                (),
                r"101 response has 0 Sec-WebSocket-Accept headers instead of 1",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Accept: x",),
                r"101 response has 2 Sec-WebSocket-Accept headers instead of 1",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Protocol: mqtt",),
                r"server chose subprotocol 'mqtt', which was not offered",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Protocol: chat, v2",),
                r"server chose 2 subprotocols: chat, v2",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"),
                r"server chose 2 subprotocols: chat, chat",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Protocol: a/b",),
                r"101 response has an invalid header: subprotocol 'a/b' is not a token",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Extensions: x-unknown",),
                r"server accepted extension 'x-unknown', which was not offered",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Extensions: x-fake, x-fake",),
                r"server accepted extension 'x-fake' twice",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Extensions: x-fake; bad",),
                r"x-fake does not take 'bad'",
            ),
            (
                (b"", b""),
                ("Sec-WebSocket-Extensions: x-fake;",),
                r"101 response has an invalid header: expected a parameter name at end of value",
            ),
        ],
    )
    def test_bad_101(
        self, replace: tuple[bytes, bytes], extra: tuple[str, ...], message: str
    ) -> None:
        client, request = client_with_request(subprotocols=("chat", "v2"), extensions=[Fake()])
        response = response_101(key_of(request), *extra).replace(*replace)
        with pytest.raises(RemoteProtocolError, match=f"^{message}$") as info:
            client.receive_data(response)
        assert info.value.close_code is None
        assert info.value.http_status is None
        with pytest.raises(LocalProtocolError, match=r"^the opening handshake is over$"):
            client.receive_data(b"x")

    def test_wrong_accept(self) -> None:
        client, _ = client_with_request()
        with pytest.raises(
            RemoteProtocolError,
            match=r"^101 response has a wrong Sec-WebSocket-Accept "
            r"'s3pPLMBiTxaQ9kYGzzhZRbK\+xOo='$",
        ):
            client.receive_data(response_101(KEY))  # the accept value of another key

    def test_informational_responses_skipped(self) -> None:
        client, request = client_with_request()
        data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        assert client.receive_data(data) is None
        assert self.accepted(client.receive_data(response_101(key_of(request)))).trailing == b""

    def test_malformed(self) -> None:
        client, _ = client_with_request()
        with pytest.raises(RemoteProtocolError, match=r"^malformed HTTP response: ") as info:
            client.receive_data(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        assert info.value.http_status is None

    def test_head_too_large(self) -> None:
        client, request = client_with_request(limits=Limits(max_handshake_size=200))
        with pytest.raises(
            RemoteProtocolError,
            match=r"^response head is larger than 200 bytes \(max_handshake_size\)$",
        ) as info:
            client.receive_data(response_101(key_of(request), "X-Pad: " + "a" * 100))
        assert info.value.http_status is None
        client, _ = client_with_request(limits=Limits(max_handshake_size=200))
        with pytest.raises(RemoteProtocolError, match=r"^response head is larger than 200"):
            client.receive_data(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 300)

    def test_informational_heads_count_toward_the_size(self) -> None:
        client, _ = client_with_request(limits=Limits(max_handshake_size=200))
        with pytest.raises(RemoteProtocolError, match=r"^response head is larger than 200"):
            feed_until_error(client, [b"HTTP/1.1 100 Continue\r\n\r\n"] * 10)

    def test_too_many_headers(self) -> None:
        client, request = client_with_request(limits=Limits(max_handshake_headers=3))
        with pytest.raises(
            RemoteProtocolError,
            match=r"^response has more than 3 header fields \(max_handshake_headers\)$",
        ):
            client.receive_data(response_101(key_of(request), "X-A: 1"))


class TestClientRejected:
    """RFC 6455 §4.1: "if the status code received from the server is not 101, the client
    handles the response per HTTP procedures"."""

    def rejected(self, result: object) -> RejectConnection:
        assert isinstance(result, ClientRejected)
        return result.event

    def test_content_length_body(self) -> None:
        client, _ = client_with_request()
        data = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nX-Why: Nope\r\n\r\nnope"
        assert client.receive_data(data[:-2]) is None
        assert self.rejected(client.receive_data(data[-2:])) == RejectConnection(
            status_code=403, headers=(("content-length", "4"), ("x-why", "Nope")), body=b"nope"
        )

    def test_chunked_body(self) -> None:
        client, _ = client_with_request()
        data = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        assert self.rejected(client.receive_data(data)).body == b"abc"

    def test_body_delimited_by_eof(self) -> None:
        client, _ = client_with_request()
        assert client.receive_data(b"HTTP/1.1 404 Not Found\r\n\r\nno such") is None
        assert client.receive_data(b" path") is None
        event = self.rejected(client.receive_eof())
        assert (event.status_code, event.body) == (404, b"no such path")
        with pytest.raises(LocalProtocolError, match=r"^the opening handshake is over$"):
            client.receive_eof()

    @pytest.mark.parametrize(
        "data",
        [
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\n" + b"x" * 100,
            b"HTTP/1.1 401 Unauthorized\r\n\r\n" + b"x" * 100,
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + b"x" * 100,
        ],
    )
    def test_body_cut_at_the_limit(self, data: bytes) -> None:
        client, _ = client_with_request(limits=Limits(max_reject_body_size=10))
        assert self.rejected(client.receive_data(data)).body == b"x" * 10

    def test_no_body(self) -> None:
        client, _ = client_with_request()
        data = b"HTTP/1.1 204 No Content\r\n\r\n"
        assert self.rejected(client.receive_data(data)).body == b""

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"HTTP/1.1 101 Switching",
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nabc",
        ],
    )
    def test_eof_during_the_handshake(self, data: bytes) -> None:
        client, _ = client_with_request()
        assert client.receive_data(data) is None
        with pytest.raises(
            RemoteProtocolError, match=r"^connection closed during the opening handshake$"
        ) as info:
            client.receive_eof()
        assert info.value.http_status is None

    def test_invalid_status(self) -> None:
        client, _ = client_with_request()
        with pytest.raises(
            RemoteProtocolError, match=r"^invalid response: invalid status code 600"
        ):
            client.receive_data(b"HTTP/1.1 600 What\r\nContent-Length: 0\r\n\r\n")


class TestRoundTrip:
    """A client and a server talking to each other through the whole handshake."""

    @given(
        st.lists(st.integers(min_value=0), max_size=6),
        st.lists(st.integers(min_value=0), max_size=6),
    )
    def test_accept(self, request_cuts: list[int], response_cuts: list[int]) -> None:
        client_ext, server_ext = Fake([("a", "1")]), Fake(answer=[("b", None)])
        client = ClientHandshake(extensions=[client_ext], limits=Limits())
        server = ServerHandshake(extensions=[server_ext], limits=Limits())
        request_bytes = client.request(Request(host="h", target="/t?q=1", subprotocols=("x", "y")))
        request, _ = feed(server, chunks(request_bytes, request_cuts))
        assert isinstance(request, Request)
        assert request.extensions == ("x-fake; a=1",)
        data, negotiated = server.accept(AcceptConnection(subprotocol=request.subprotocols[1]))
        assert negotiated == [server_ext]
        assert server_ext.offers_seen == [[("a", "1")]]
        result, rest = feed(client, chunks(data + FRAME, response_cuts))
        assert isinstance(result, ClientAccepted)
        assert result.trailing + rest == FRAME
        assert result.event.subprotocol == "y"
        assert result.extensions == [client_ext]
        assert client_ext.response == [("b", None)]


def drive(receiver: ClientHandshake | ServerHandshake, pieces: list[bytes]) -> Exception | None:
    """Feed pieces then EOF until an outcome; return the error raised, if any."""
    try:
        for piece in pieces:
            if receiver.receive_data(piece) is not None:
                return None
        receiver.receive_eof()
    except Exception as exc:
        return exc
    return None


class TestTotality:
    """Any bytes, in any chunking, give a result or a RemoteProtocolError: nothing else."""

    @given(st.lists(st.binary(max_size=64) | st.sampled_from(REJECTIONS).map(lambda c: c[0])))
    def test_server(self, pieces: list[bytes]) -> None:
        server = ServerHandshake(extensions=[Fake()], limits=Limits(max_handshake_size=512))
        error = drive(server, pieces)
        if error is not None:
            assert isinstance(error, RemoteProtocolError)
            assert error.http_status in (None, 400, 405, 426, 431)
            assert server.error_response(error).isascii()

    @given(
        st.lists(
            st.binary(max_size=64)
            | st.sampled_from(
                [b"HTTP/1.1 101 Switching Protocols\r\n", b"Upgrade: websocket\r\n", b"\r\n"]
            )
        )
    )
    def test_client(self, pieces: list[bytes]) -> None:
        client, _ = client_with_request(extensions=[Fake()], limits=Limits(max_handshake_size=512))
        error = drive(client, pieces)
        if error is not None:
            assert isinstance(error, RemoteProtocolError)
            assert error.http_status is None
