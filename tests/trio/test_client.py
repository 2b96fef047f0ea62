"""The client: URIs, rejections, timeouts, options."""

from __future__ import annotations

import pytest
import trio

import trio_ws
from trio_ws import HandshakeRejected, HandshakeTimeout, InvalidURI
from trio_ws._url import parse_uri

from .helpers import echo
from .netutil import running_server

pytestmark = pytest.mark.network


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://example.com/", "the scheme must be ws or wss"),
        ("ws://example.com/#frag", "has a fragment"),
        ("ws:///path", "has no host"),
        ("ws://example.com:99999/", "is not a valid URI"),
        ("ws://example.com:0/", "has port 0"),
        ("ws://user:pw@example.com/", "has user info"),
        ("ws://example.com/a b", "whitespace"),
    ],
)
async def test_invalid_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidURI, match=message):
        async with trio_ws.open_websocket(uri):
            pass
    with pytest.raises(ValueError, match=message):
        parse_uri(uri)


@pytest.mark.parametrize(
    ("uri", "secure", "host", "port", "target", "header"),
    [
        ("ws://example.com", False, "example.com", 80, "/", "example.com"),
        ("wss://example.com/x?y=1", True, "example.com", 443, "/x?y=1", "example.com"),
        ("ws://example.com:8080/", False, "example.com", 8080, "/", "example.com:8080"),
        ("WSS://[::1]:9/", True, "::1", 9, "/", "[::1]:9"),
    ],
)
def test_uri_parsing(uri, secure, host, port, target, header) -> None:
    parsed = parse_uri(uri)
    assert (parsed.secure, parsed.host, parsed.port, parsed.target) == (secure, host, port, target)
    assert parsed.host_header == header


async def test_rejection_carries_status_headers_and_body() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        await request.reject(401, headers=[("WWW-Authenticate", "Bearer")], body=b"token please")

    with trio.fail_after(10):
        async with running_server(handler) as server:
            with pytest.raises(HandshakeRejected) as info:
                async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/"):
                    pass
    assert info.value.status_code == 401
    assert ("www-authenticate", "Bearer") in info.value.headers
    assert info.value.body == b"token please"
    assert str(info.value) == "server rejected the WebSocket handshake with HTTP 401"


async def test_open_timeout_covers_a_silent_server() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    try:
        with trio.fail_after(10), pytest.raises(HandshakeTimeout) as info:
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{port}/", open_timeout=0.3):
                pass
        assert isinstance(info.value, trio.TooSlowError)
        assert "timed out after 0.3 s" in str(info.value)
    finally:
        for listener in listeners:
            await listener.aclose()


async def test_connection_refused_is_an_oserror() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    with trio.fail_after(10), pytest.raises(OSError):
        async with trio_ws.open_websocket(f"ws://127.0.0.1:{port}/"):
            pass


@pytest.mark.parametrize(
    ("client", "server"), [("deflate", None), (None, "deflate"), (None, None)]
)
async def test_compression_off_on_either_side(client, server) -> None:
    with trio.fail_after(10):
        async with running_server(echo, compression=server) as srv:
            async with trio_ws.open_websocket(
                f"ws://127.0.0.1:{srv.port}/", compression=client
            ) as ws:
                assert ws.extensions == []
                await ws.send("x" * 1000)
                assert await ws.receive() == "x" * 1000


async def test_message_too_big_closes_with_1009() -> None:
    with trio.fail_after(10):
        async with running_server(echo, max_message_size=1000) as server:
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send(b"x" * 1001)
                with pytest.raises(trio_ws.ConnectionClosedError) as info:
                    await ws.receive()
                assert info.value.code == 1009


def test_invalid_uri_messages_hide_passwords() -> None:
    with pytest.raises(InvalidURI) as info:
        parse_uri("ws://user:secret@example.com/")
    assert "secret" not in str(info.value)
    assert "user:***@" in str(info.value)
