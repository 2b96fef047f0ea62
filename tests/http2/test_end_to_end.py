"""WebSockets over HTTP/2 (RFC 8441) between our client and our server, over TLS on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trustme

import trio_ws

pytestmark = pytest.mark.network


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


def client_context(ca: trustme.CA, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


async def handler(request: trio_ws.WebSocketRequest) -> None:
    if not request.is_websocket:
        await request.respond(body=f"plain over HTTP/{request.http_version}\n")
        return
    ws = await request.accept(
        subprotocol=request.subprotocols[0] if request.subprotocols else None
    )
    async for message in ws:
        if message == "version?":
            await ws.send(f"{ws.http_version} {request.path}")
        else:
            await ws.send(message)


@asynccontextmanager
async def h2_server(ca: trustme.CA, **kwargs: object) -> AsyncIterator[trio_ws.Server]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: trio_ws.serve(
                handler,
                "127.0.0.1",
                0,
                ssl_context=server_context(ca),
                http2=True,
                task_status=task_status,
                **kwargs,
            )
        )
        yield server
        await server.aclose()


async def test_echo_over_http2_both_ends_know_it(ca: trustme.CA) -> None:
    with trio.fail_after(20):
        async with h2_server(ca) as server:
            url = f"wss://localhost:{server.port}/chat?room=1"
            async with trio_ws.open_websocket(
                url,
                http2=True,
                ssl_context=client_context(ca, ["h2", "http/1.1"]),
                subprotocols=["v1"],
            ) as ws:
                assert ws.http_version == "2"
                assert ws.statistics().http_version == "2"
                assert ws.subprotocol == "v1"
                assert [e.name for e in ws.extensions] == ["permessage-deflate"]
                await ws.send("version?")
                assert await ws.receive() == "2 /chat"
                for size in (0, 1, 100_000, 1_000_000):
                    data = bytes(range(256)) * (size // 256)
                    await ws.send(data)
                    assert await ws.receive() == data
                (server_side,) = server.connections
                assert server_side.http_version == "2"
            assert ws.close_code == 1000


async def test_without_http2_the_same_server_speaks_http1(ca: trustme.CA) -> None:
    with trio.fail_after(20):
        async with h2_server(ca) as server:
            url = f"wss://localhost:{server.port}/"
            async with trio_ws.open_websocket(url, ssl_context=client_context(ca)) as ws:
                assert ws.http_version == "1.1"
                await ws.send("version?")
                assert await ws.receive() == "1.1 /"


async def test_websockets_share_one_http2_connection(ca: trustme.CA) -> None:
    with trio.fail_after(20):
        async with h2_server(ca) as server:
            origin = f"wss://localhost:{server.port}"
            context = client_context(ca, ["h2"])
            async with trio_ws.open_http2_connection(origin, ssl_context=context) as h2:
                assert h2.accepts_websockets
                opened = 0
                all_open = trio.Event()
                async with trio.open_nursery() as nursery:
                    for i in range(10):

                        async def talk(i: int = i) -> None:
                            nonlocal opened
                            async with trio_ws.open_websocket(f"{origin}/{i}", http2=h2) as ws:
                                opened += 1
                                if opened == 10:
                                    assert h2.streams == 10  # one connection, ten streams
                                    while len(server.connections) < 10:
                                        await trio.sleep(0.01)
                                    all_open.set()
                                await all_open.wait()
                                for _ in range(20):
                                    await ws.send("version?")
                                    assert await ws.receive() == f"2 /{i}"

                        nursery.start_soon(talk)
                assert h2.streams == 0


async def test_a_server_without_http2_gets_http1(ca: trustme.CA) -> None:
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                partial(trio_ws.serve, ssl_context=server_context(ca)), handler, "127.0.0.1", 0
            )
            url = f"wss://localhost:{server.port}/"
            async with trio_ws.open_websocket(
                url, http2=True, ssl_context=client_context(ca, ["h2", "http/1.1"])
            ) as ws:
                assert ws.http_version == "1.1"
            await server.aclose()


async def test_server_aclose_says_1001_on_each_stream_and_goaway_to_each_connection(
    ca: trustme.CA,
) -> None:
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            serve = partial(trio_ws.serve, ssl_context=server_context(ca), http2=True)
            server = await nursery.start(serve, handler, "127.0.0.1", 0)
            origin = f"wss://localhost:{server.port}"
            context = client_context(ca, ["h2"])
            async with (
                trio_ws.open_http2_connection(origin, ssl_context=context) as idle,
                trio_ws.open_http2_connection(origin, ssl_context=context) as busy,
                trio_ws.open_websocket(f"{origin}/a", http2=busy) as a,
                trio_ws.open_websocket(f"{origin}/b", http2=busy) as b,
            ):
                await a.send("version?")
                assert await a.receive() == "2 /a"
                started = trio.current_time()
                await server.aclose()
                assert trio.current_time() - started < 5  # not close_timeout (10 s) and more
                for ws in (a, b):
                    with pytest.raises(trio_ws.ConnectionClosedOK):
                        await ws.receive()
                    assert ws.close_code == 1001
                assert not idle.accepts_websockets or idle.streams == 0
