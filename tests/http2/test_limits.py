"""HTTP/2's own limits and fallbacks: concurrent streams, header list size, idle connections,
and a server that speaks HTTP/2 without RFC 8441 (over TLS on loopback)."""

from __future__ import annotations

import ssl
from functools import partial

import pytest
import trio
import trustme

import trio_ws
from trio_ws._h2_session import Phase, Session

from .test_end_to_end import client_context, h2_server, server_context

pytestmark = pytest.mark.network


async def test_the_101st_concurrent_stream_is_refused_and_the_rest_go_on(
    ca: trustme.CA,
) -> None:
    with trio.fail_after(30):
        async with h2_server(ca) as server:
            origin = f"wss://localhost:{server.port}"
            async with trio_ws.open_http2_connection(
                origin, ssl_context=client_context(ca, ["h2"])
            ) as h2:
                async with trio.open_nursery() as nursery:
                    opened: list[trio_ws.WebSocketConnection] = []
                    done = trio.Event()

                    async def hold(i: int) -> None:
                        async with trio_ws.open_websocket(f"{origin}/{i}", http2=h2) as ws:
                            opened.append(ws)
                            await done.wait()
                            await ws.send("version?")
                            assert await ws.receive() == f"2 /{i}"

                    for i in range(100):
                        nursery.start_soon(hold, i)
                    while len(opened) < 100:
                        await trio.sleep(0.01)
                    with pytest.raises(trio_ws.InvalidHandshake, match="MAX_CONCURRENT_STREAMS"):
                        async with trio_ws.open_websocket(f"{origin}/101", http2=h2):
                            pass
                    done.set()


async def test_a_header_block_over_the_limit_ends_that_connection_only(ca: trustme.CA) -> None:
    context = client_context(ca, ["h2"])
    with trio.fail_after(20):
        async with h2_server(ca) as server:
            url = f"wss://localhost:{server.port}/"
            big = [("x-big", "a" * 20_000)]  # over max_handshake_size (8 KiB)
            with pytest.raises(trio_ws.InvalidHandshake):
                async with trio_ws.open_websocket(
                    url, http2=True, ssl_context=context, headers=big
                ):
                    pass
            async with trio_ws.open_websocket(url, http2=True, ssl_context=context) as ws:
                await ws.send("version?")
                assert await ws.receive() == "2 /"


async def test_an_idle_http2_connection_gets_goaway_after_open_timeout(ca: trustme.CA) -> None:
    with trio.fail_after(20):
        async with h2_server(ca, open_timeout=0.5) as server:
            stream = await trio.open_ssl_over_tcp_stream(
                "localhost", server.port, ssl_context=client_context(ca, ["h2"])
            )
            session = Session(stream, client=True)
            async with trio.open_nursery() as nursery:
                await nursery.start(session.run)
                await session.wait_settings()
                await session.wait_drained()  # the server's GOAWAY (or its close)
                assert session.phase is not Phase.RUNNING


async def test_http2_without_extended_connect_falls_back_to_http1(
    ca: trustme.CA, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server speaks HTTP/2 but does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the client's default context trusts it
    context = server_context(ca)
    context.set_alpn_protocols(["h2", "http/1.1"])
    h2_connections = 0

    async def echo(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        async for message in ws:
            await ws.send(message)

    async def serve_one(stream: trio.SSLStream[trio.SocketStream]) -> None:
        nonlocal h2_connections
        await stream.do_handshake()
        if stream.selected_alpn_protocol() == "h2":
            h2_connections += 1
            await Session(stream, client=False, websockets=False).run()
        else:
            await trio_ws.serve_stream(echo, stream)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_ssl_over_tcp_listeners(0, context, host="127.0.0.1")
            port = listeners[0].transport_listener.socket.getsockname()[1]
            nursery.start_soon(partial(trio.serve_listeners, serve_one, listeners))
            url = f"wss://localhost:{port}/"
            async with trio_ws.open_websocket(url, http2=True) as ws:
                assert ws.http_version == "1.1"
                await ws.send("over HTTP/1.1 after all")
                assert await ws.receive() == "over HTTP/1.1 after all"
            assert h2_connections == 1
            # With an ssl_context that offers h2, falling back is not possible: a clear error.
            offers_h2 = ssl.create_default_context()
            offers_h2.set_alpn_protocols(["h2", "http/1.1"])
            with pytest.raises(trio_ws.InvalidHandshake, match="does not allow WebSockets"):
                async with trio_ws.open_websocket(url, http2=True, ssl_context=offers_h2):
                    pass
            nursery.cancel_scope.cancel()
