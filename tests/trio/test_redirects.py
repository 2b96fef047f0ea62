"""Redirects on connect: hops, relative Locations, credentials across origins, refusals."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
import trustme

import trio_ws

pytestmark = pytest.mark.network

FAST: dict[str, Any] = {"ping_interval": None, "close_timeout": 2.0, "open_timeout": 5.0}


class Site:
    """A trio_ws server whose handler redirects (or echoes) and records every request."""

    def __init__(self, route: Callable[[trio_ws.WebSocketRequest], str | None]) -> None:
        self.route = route  # a Location to redirect to, or None to accept and echo
        self.status = 302
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.port = 0

    async def handler(self, request: trio_ws.WebSocketRequest) -> None:
        self.requests.append((request.target, dict(request.headers)))
        location = self.route(request)
        if location is not None:
            await request.reject(self.status, headers=[("Location", location)])
            return
        ws = await request.accept()
        await ws.send(request.target)
        async for message in ws:
            await ws.send(message)


@asynccontextmanager
async def sites(
    *routes: Callable[[trio_ws.WebSocketRequest], str | None],
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[list[Site]]:
    async with trio.open_nursery() as nursery:
        started = []
        for route in routes:
            site = Site(route)
            serve = partial(trio_ws.serve, ssl_context=ssl_context, **FAST)
            server = await nursery.start(serve, site.handler, "127.0.0.1", 0)
            site.port = server.port
            started.append((site, server))
        yield [site for site, _ in started]
        for _, server in started:
            await server.aclose()


def never(request: trio_ws.WebSocketRequest) -> str | None:
    return None


async def first_message(url: str, **kwargs: Any) -> str | bytes:
    async with trio_ws.open_websocket(url, **{**FAST, **kwargs}) as ws:
        return await ws.receive()


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_to_another_server(status: int) -> None:
    target: list[int] = []
    with trio.fail_after(10):
        async with sites(never, lambda r: f"ws://127.0.0.1:{target[0]}/there?x=1") as [b, a]:
            target.append(b.port)
            a.status = status
            assert await first_message(f"ws://127.0.0.1:{a.port}/here") == "/there?x=1"
    assert [t for t, _ in a.requests] == ["/here"]
    assert [t for t, _ in b.requests] == ["/there?x=1"]
    assert b.requests[0][1]["host"] == f"127.0.0.1:{b.port}"


async def test_relative_location_is_resolved_against_the_current_url() -> None:
    def route(request: trio_ws.WebSocketRequest) -> str | None:
        return {"/a/b": "c?q=1", "/a/c": "/final"}.get(request.path)

    with trio.fail_after(10):
        async with sites(route) as [site]:
            assert await first_message(f"ws://127.0.0.1:{site.port}/a/b") == "/final"
    assert [t for t, _ in site.requests] == ["/a/b", "/a/c?q=1", "/final"]


async def test_http_location_means_ws() -> None:
    def route(request: trio_ws.WebSocketRequest) -> str | None:
        return f"http://127.0.0.1:{request_port[0]}/ws#frag" if request.path == "/" else None

    request_port: list[int] = []
    with trio.fail_after(10):
        async with sites(route) as [site]:
            request_port.append(site.port)
            assert await first_message(f"ws://127.0.0.1:{site.port}/") == "/ws"


async def test_credentials_dropped_when_the_origin_changes() -> None:
    target: list[int] = []
    headers = [
        ("Authorization", "Bearer secret"),
        ("cookie", "session=1"),
        ("X-Trace", "abc"),
    ]
    with trio.fail_after(10):
        async with sites(
            never,
            # Same origin first (credentials kept), then another port (credentials dropped).
            lambda r: "/again" if r.path == "/" else f"ws://127.0.0.1:{target[0]}/",
        ) as [other, first]:
            target.append(other.port)
            url = f"ws://127.0.0.1:{first.port}/"
            await first_message(url, headers=headers, origin="https://app.example")
    for _, seen in first.requests:
        assert seen["authorization"] == "Bearer secret"
        assert seen["cookie"] == "session=1"
    [(_, seen)] = other.requests
    assert "authorization" not in seen
    assert "cookie" not in seen
    assert seen["x-trace"] == "abc"
    assert seen["origin"] == "https://app.example"


async def test_ws_may_upgrade_to_wss() -> None:
    server_context, client_context = tls_contexts()
    target: list[int] = []
    with trio.fail_after(10):
        async with (
            sites(never, ssl_context=server_context) as [secure],
            sites(lambda r: f"wss://localhost:{target[0]}/tls") as [plain],
        ):
            target.append(secure.port)
            url = f"ws://127.0.0.1:{plain.port}/"
            assert await first_message(url, ssl_context=client_context) == "/tls"


@pytest.mark.parametrize("scheme", ["ws", "http"])
async def test_wss_never_downgrades(scheme: str) -> None:
    server_context, client_context = tls_contexts()
    with trio.fail_after(10):
        async with sites(lambda r: f"{scheme}://127.0.0.1:1/", ssl_context=server_context) as [
            site
        ]:
            url = f"wss://localhost:{site.port}/"
            with pytest.raises(trio_ws.InvalidHandshake) as info:
                await first_message(url, ssl_context=client_context)
    assert str(info.value) == (
        f"server redirected from {url!r} to 'ws://127.0.0.1:1/': "
        "refusing to downgrade from wss:// to ws://"
    )
    assert isinstance(info.value.__cause__, trio_ws.HandshakeRejected)


async def test_redirect_loop_stops_after_max_redirects() -> None:
    with trio.fail_after(10):
        async with sites(lambda r: "/loop") as [site]:
            with pytest.raises(trio_ws.InvalidHandshake, match=r"^too many redirects \(10\)$"):
                await first_message(f"ws://127.0.0.1:{site.port}/")
    assert len(site.requests) == 11


async def test_max_redirects_is_configurable() -> None:
    with trio.fail_after(10):
        async with sites(lambda r: "/loop") as [site]:
            with pytest.raises(trio_ws.InvalidHandshake, match=r"^too many redirects \(2\)$"):
                await first_message(f"ws://127.0.0.1:{site.port}/", max_redirects=2)
    assert len(site.requests) == 3


async def test_max_redirects_zero_reports_the_redirect() -> None:
    with trio.fail_after(10):
        async with sites(lambda r: "/elsewhere") as [site]:
            with pytest.raises(trio_ws.HandshakeRejected) as info:
                await first_message(f"ws://127.0.0.1:{site.port}/", max_redirects=0)
    assert info.value.status_code == 302
    assert ("location", "/elsewhere") in info.value.headers
    assert len(site.requests) == 1


async def test_redirect_without_location_is_a_rejection() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        await request.reject(302)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_ws.serve, handler, "127.0.0.1", 0)
            with pytest.raises(trio_ws.HandshakeRejected) as info:
                await first_message(f"ws://127.0.0.1:{server.port}/")
            await server.aclose()
    assert info.value.status_code == 302


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://127.0.0.1/file", r"^server redirected to 'ftp://127.0.0.1/file', which is not"),
        ("ws://user:pw@127.0.0.1/", r"^server redirected to an invalid URI: .* has user info"),
    ],
)
async def test_redirect_to_an_unusable_url(location: str, message: str) -> None:
    with trio.fail_after(10):
        async with sites(lambda r: location) as [site]:
            with pytest.raises(trio_ws.InvalidHandshake, match=message):
                await first_message(f"ws://127.0.0.1:{site.port}/")


async def test_max_redirects_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match=r"^max_redirects must be 0 or more, not -1$"):
        async with trio_ws.open_websocket("ws://127.0.0.1:9/", max_redirects=-1):
            pass  # pragma: no cover


async def test_open_timeout_covers_every_hop() -> None:
    async def slow_redirect(request: trio_ws.WebSocketRequest) -> None:
        await trio.sleep(0.2)
        await request.reject(302, headers=[("Location", "/again")])

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_ws.serve, slow_redirect, "127.0.0.1", 0)
            url = f"ws://127.0.0.1:{server.port}/"
            with pytest.raises(trio_ws.HandshakeTimeout):
                await first_message(url, open_timeout=0.5)
            await server.aclose()
