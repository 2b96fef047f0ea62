"""HTTP CONNECT proxies: explicit, from the environment, with credentials, refusing, broken."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
import trustme

import trio_ws
from trio_ws._proxy import ProxyURL, choose_proxy, open_tunnel, parse_proxy_url

from .proxy_server import ConnectProxy

pytestmark = pytest.mark.network

FAST: dict[str, Any] = {"ping_interval": None, "close_timeout": 2.0, "open_timeout": 5.0}
PROXY_VARIABLES = [f"{scheme}_proxy" for scheme in ("http", "https", "all", "no", "ftp", "socks")]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)


async def echo(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


@asynccontextmanager
async def running(
    *, ssl_context: ssl.SSLContext | None = None, **proxy_options: Any
) -> AsyncIterator[tuple[int, ConnectProxy]]:
    """An echo server (its port) and a CONNECT proxy on loopback."""
    async with trio.open_nursery() as nursery:
        serve = partial(trio_ws.serve, ssl_context=ssl_context, **FAST)
        server = await nursery.start(serve, echo, "127.0.0.1", 0)
        proxy = await nursery.start(ConnectProxy(**proxy_options).run)
        yield server.port, proxy
        await server.aclose()
        nursery.cancel_scope.cancel()


async def roundtrip(url: str, **kwargs: Any) -> None:
    async with trio_ws.open_websocket(url, **{**FAST, **kwargs}) as ws:
        await ws.send("through the tunnel")
        assert await ws.receive() == "through the tunnel"


# --- Through the tunnel --------------------------------------------------------------------


async def test_ws_through_proxy() -> None:
    with trio.fail_after(10):
        async with running() as (port, proxy):
            await roundtrip(f"ws://127.0.0.1:{port}/", proxy=proxy.url)
    assert proxy.tunnels == 1
    [(request_line, headers)] = proxy.requests
    assert request_line == f"CONNECT 127.0.0.1:{port}"
    assert headers["host"] == f"127.0.0.1:{port}"
    assert "proxy-authorization" not in headers
    # Inside the tunnel, the origin-form target and the origin's Host.
    assert b"GET / HTTP/1.1\r\n" in proxy.client_bytes


async def test_wss_through_proxy_keeps_tls_end_to_end() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with trio.fail_after(10):
        async with running(ssl_context=server_context) as (port, proxy):
            await roundtrip(
                f"wss://localhost:{port}/secret-path",
                proxy=proxy.url,
                ssl_context=client_context,
            )
    assert proxy.tunnels == 1
    assert proxy.requests[0][0] == f"CONNECT localhost:{port}"
    # The proxy saw a TLS handshake and ciphertext, never the WebSocket request or messages.
    assert proxy.client_bytes[:1] == b"\x16"  # TLS handshake record
    assert b"secret-path" not in proxy.client_bytes
    assert b"Upgrade" not in proxy.client_bytes


async def test_wss_proxy_checks_the_origin_certificate() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    with trio.fail_after(10):
        async with running(ssl_context=server_context) as (port, proxy):
            # The client does not trust this CA: the TLS handshake through the tunnel fails.
            with pytest.raises(trio_ws.TLSError) as info:
                await roundtrip(f"wss://localhost:{port}/", proxy=proxy.url)
    assert info.value.certificate_rejected
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


# --- Credentials and refusals --------------------------------------------------------------


async def test_basic_credentials_from_the_url_are_percent_decoded() -> None:
    with trio.fail_after(10):
        async with running(credentials=("al ice", "p@ss:word")) as (port, proxy):
            url = proxy.url.replace("http://", "http://al%20ice:p%40ss%3Aword@")
            await roundtrip(f"ws://127.0.0.1:{port}/", proxy=url)
    assert proxy.tunnels == 1
    assert proxy.requests[0][1]["proxy-authorization"] == "Basic YWwgaWNlOnBAc3M6d29yZA=="


async def test_missing_credentials_give_407() -> None:
    with trio.fail_after(10):
        async with running(credentials=("user", "pass")) as (port, proxy):
            with pytest.raises(trio_ws.ProxyError) as info:
                await roundtrip(f"ws://127.0.0.1:{port}/", proxy=proxy.url)
    assert info.value.status_code == 407
    assert str(info.value) == (
        f"proxy 127.0.0.1:{proxy.port} requires authentication "
        "(HTTP 407 Proxy Authentication Required): put user:password@ in the proxy URL"
    )
    assert isinstance(info.value, trio_ws.HandshakeError)
    assert proxy.tunnels == 0


async def test_wrong_credentials_give_407() -> None:
    with trio.fail_after(10):
        async with running(credentials=("user", "pass")) as (port, proxy):
            url = proxy.url.replace("http://", "http://user:nope@")
            with pytest.raises(trio_ws.ProxyError, match=r"credentials in the proxy URL were"):
                await roundtrip(f"ws://127.0.0.1:{port}/", proxy=url)
    assert proxy.tunnels == 0


async def test_refusal_gives_proxy_error_with_status() -> None:
    with trio.fail_after(10):
        async with running(refuse=403) as (port, proxy):
            with pytest.raises(trio_ws.ProxyError) as info:
                await roundtrip(f"ws://127.0.0.1:{port}/", proxy=proxy.url)
    assert info.value.status_code == 403
    assert str(info.value) == (
        f"proxy 127.0.0.1:{proxy.port} refused to tunnel to 127.0.0.1:{port} (HTTP 403 Refused)"
    )


async def test_unreachable_origin_gives_502() -> None:
    with trio.fail_after(10):
        async with running() as (_, proxy):
            listener = trio.socket.socket()
            await listener.bind(("127.0.0.1", 0))
            closed_port = listener.getsockname()[1]
            listener.close()  # nothing listens there now
            with pytest.raises(trio_ws.ProxyError) as info:
                await roundtrip(f"ws://127.0.0.1:{closed_port}/", proxy=proxy.url)
    assert info.value.status_code == 502


# --- Broken proxies ------------------------------------------------------------------------


@asynccontextmanager
async def raw_proxy(
    behave: Callable[[trio.SocketStream], Awaitable[None]],
) -> AsyncIterator[ProxyURL]:
    """A fake proxy that reads the CONNECT head and then does ``behave``."""

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                data = await stream.receive_some(4096)
                if not data:
                    return
                head += data
            await behave(stream)

    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
        yield ProxyURL("127.0.0.1", listener.socket.getsockname()[1])
        nursery.cancel_scope.cancel()


async def test_bytes_after_the_head_belong_to_the_tunnel() -> None:
    async def answer(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HTTP/1.1 200 OK\r\n\r\nhello from the origin")
        assert await stream.receive_some(100) == b"ping"

    with trio.fail_after(10):
        async with raw_proxy(answer) as proxy:
            tunnel = await open_tunnel(proxy, "example.com", 443)
            async with tunnel:
                assert await tunnel.receive_some(5) == b"hello"
                assert await tunnel.receive_some() == b" from the origin"
                await tunnel.send_all(b"ping")
                assert await tunnel.receive_some() == b""


async def test_proxy_closing_without_answer() -> None:
    async def hang_up(stream: trio.SocketStream) -> None:
        pass

    with trio.fail_after(10):
        async with raw_proxy(hang_up) as proxy:
            with pytest.raises(trio_ws.ProxyError) as info:
                await open_tunnel(proxy, "example.com", 443)
    assert info.value.status_code is None
    assert str(info.value) == (
        f"proxy 127.0.0.1:{proxy.port} closed the connection before answering CONNECT"
    )


async def test_proxy_answer_head_is_limited() -> None:
    async def flood(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * 10_000 + b"\r\n\r\n")

    with trio.fail_after(10):
        async with raw_proxy(flood) as proxy:
            with pytest.raises(trio_ws.ProxyError, match=r"sent an invalid answer to CONNECT"):
                await open_tunnel(proxy, "example.com", 443)


async def test_proxy_garbage_answer() -> None:
    async def garbage(stream: trio.SocketStream) -> None:
        await stream.send_all(b"SSH-2.0-OpenSSH\r\n\r\n")

    with trio.fail_after(10):
        async with raw_proxy(garbage) as proxy:
            with pytest.raises(trio_ws.ProxyError, match=r"invalid answer") as info:
                await open_tunnel(proxy, "example.com", 443)
    assert info.value.status_code is None


async def test_open_timeout_bounds_the_connect_exchange() -> None:
    async def stall(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    with trio.fail_after(10):
        async with raw_proxy(stall) as proxy:
            url = f"http://127.0.0.1:{proxy.port}"
            with pytest.raises(trio_ws.HandshakeTimeout):
                await roundtrip("ws://example.invalid/", proxy=url, open_timeout=0.3)


async def test_informational_answers_are_skipped() -> None:
    async def answer(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")

    with trio.fail_after(10):
        async with raw_proxy(answer) as proxy:
            tunnel = await open_tunnel(proxy, "::1", 443)
            await tunnel.aclose()


# --- Which proxy: arguments and environment -------------------------------------------------


async def test_proxy_from_http_proxy_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with trio.fail_after(10):
        async with running() as (port, proxy):
            monkeypatch.setenv("http_proxy", proxy.url)
            await roundtrip(f"ws://127.0.0.1:{port}/")
    assert proxy.tunnels == 1


async def test_proxy_from_upper_case_all_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with trio.fail_after(10):
        async with running() as (port, proxy):
            monkeypatch.setenv("ALL_PROXY", proxy.url)
            await roundtrip(f"ws://127.0.0.1:{port}/")
    assert proxy.tunnels == 1


async def test_no_proxy_bypasses(monkeypatch: pytest.MonkeyPatch) -> None:
    with trio.fail_after(10):
        async with running() as (port, proxy):
            monkeypatch.setenv("http_proxy", proxy.url)
            monkeypatch.setenv("no_proxy", "example.com,127.0.0.1")
            await roundtrip(f"ws://127.0.0.1:{port}/")
    assert proxy.tunnels == 0
    assert proxy.requests == []


async def test_proxy_false_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with trio.fail_after(10):
        async with running() as (port, proxy):
            monkeypatch.setenv("http_proxy", proxy.url)
            monkeypatch.setenv("all_proxy", proxy.url)
            await roundtrip(f"ws://127.0.0.1:{port}/", proxy=False)
    assert proxy.requests == []


def test_choose_proxy_by_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://plain:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure:3129")
    monkeypatch.setenv("all_proxy", "http://fallback")
    monkeypatch.setenv("NO_PROXY", ".internal")
    choose = partial(choose_proxy, None, port=443)
    assert choose(secure=False, host="example.com") == ProxyURL("plain", 3128)
    assert choose(secure=True, host="example.com") == ProxyURL("secure", 3129)
    assert choose(secure=True, host="api.internal") is None
    monkeypatch.delenv("http_proxy")
    assert choose(secure=False, host="example.com") == ProxyURL("fallback", 80)
    assert choose_proxy(False, secure=False, host="example.com", port=80) is None
    assert choose_proxy("http://x:1", secure=False, host="api.internal", port=80) == ProxyURL(
        "x", 1
    )


def test_no_proxy_star(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://secure:3129")
    monkeypatch.setenv("no_proxy", "*")
    assert choose_proxy(None, secure=True, host="example.com", port=443) is None


def test_parse_proxy_url() -> None:
    assert parse_proxy_url("proxy.local:8080") == ProxyURL("proxy.local", 8080)
    assert parse_proxy_url("http://[::1]:3128") == ProxyURL("::1", 3128)
    parsed = parse_proxy_url("http://user:secret@proxy:1")
    assert parsed.authorization == "Basic dXNlcjpzZWNyZXQ="
    assert "secret" not in repr(parsed)
    assert repr(parsed) == "<ProxyURL proxy:1, with credentials>"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "socks5://user:secret@proxy:1080",
            r"^unsupported proxy URL 'socks5://user:\*\*\*@proxy:1080': only http:// proxies "
            r"\(HTTP CONNECT\) are supported; pass proxy=False to connect directly$",
        ),
        ("https://proxy:443", r"^unsupported proxy URL 'https://proxy:443'"),
        ("http://:3128", r"^invalid proxy URL 'http://:3128': no host$"),
        ("http://proxy:99999", r"^invalid proxy URL 'http://proxy:99999': "),
    ],
)
async def test_bad_proxy_urls_fail_before_connecting(url: str, message: str) -> None:
    with pytest.raises(trio_ws.InvalidURI, match=message):
        async with trio_ws.open_websocket("ws://127.0.0.1:9/", proxy=url):
            pass  # pragma: no cover


async def test_proxy_and_unix_socket_are_exclusive() -> None:
    with pytest.raises(ValueError, match=r"^proxy and unix_socket_path cannot be used together$"):
        async with trio_ws.open_websocket(
            "ws://localhost/", proxy="http://proxy:1", unix_socket_path="/tmp/x.sock"
        ):
            pass  # pragma: no cover
