"""The server over loopback TCP: serve(), plain HTTP on the same port, hostile handshakes."""

from __future__ import annotations

import logging

import pytest
import trio

import trio_ws
from trio_ws import HandshakeRejected

from .helpers import echo
from .netutil import raw_http, running_server, upgrade_request

pytestmark = pytest.mark.network


async def test_serve_with_nursery_start_and_echo() -> None:
    with trio.fail_after(10):
        async with running_server(echo) as server:
            assert server.port == server.ports[0] > 0
            assert len(server.listeners) == 1
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/a?b=c") as ws:
                await ws.send("hi")
                assert await ws.receive() == "hi"
                assert ws.local_address[0] == "127.0.0.1"
                assert ws.remote_address[1] == server.port
                assert len(server.connections) == 1
            assert "Server ports=" in repr(server)


async def test_request_facts_reach_the_handler() -> None:
    seen = {}

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        seen.update(
            path=request.path,
            query=request.query_params,
            origin=request.origin,
            token=request.header("Authorization"),
            subprotocols=request.subprotocols,
            remote=request.remote_address,
            websocket=request.is_websocket,
        )
        ws = await request.accept(subprotocol="b", headers=[("X-Served-By", "test")])
        await ws.send("ok")

    with trio.fail_after(10):
        async with running_server(handler) as server:
            async with trio_ws.open_websocket(
                f"ws://127.0.0.1:{server.port}/room/1?x=2",
                subprotocols=["a", "b"],
                headers=[("Authorization", "Bearer t")],
                origin="https://app.example",
            ) as ws:
                assert await ws.receive() == "ok"
                assert ws.subprotocol == "b"
                assert ws.response is not None
                assert ("x-served-by", "test") in ws.response.headers
    assert seen["path"] == "/room/1"
    assert seen["query"] == {"x": ["2"]}
    assert seen["origin"] == "https://app.example"
    assert seen["token"] == "Bearer t"
    assert seen["subprotocols"] == ("a", "b")
    assert seen["remote"][0] == "127.0.0.1"
    assert seen["websocket"] is True


async def test_plain_http_on_the_same_port() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        if request.path == "/healthz":
            await request.respond(200, body="ok\n")
        elif request.path == "/silent-ws":
            return  # unanswered

    with trio.fail_after(10):
        async with running_server(handler) as server:
            reply = await raw_http(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 200 ")
            assert reply.endswith(b"\r\n\r\nok\n")
            assert b"content-type: text/plain; charset=utf-8" in reply.lower()
            reply = await raw_http(server.port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 404 ")
            reply = await raw_http(server.port, upgrade_request("/silent-ws"))
            assert reply.startswith(b"HTTP/1.1 403 ")


@pytest.mark.parametrize(
    ("request_bytes", "status", "needle"),
    [
        (upgrade_request(version=b"8"), b"426", b"sec-websocket-version: 13"),
        (upgrade_request().replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"c2hvcnQ="), b"400", b"key"),
        (upgrade_request().replace(b"GET", b"POST"), b"405", b"allow: get"),
        (upgrade_request().replace(b"HTTP/1.1", b"HTTP/1.0"), b"400", b""),
        (upgrade_request(extra=b"X-Big: " + b"a" * 9000 + b"\r\n"), b"431", b""),
        (upgrade_request(extra=b"".join(b"X-%d: 1\r\n" % i for i in range(150))), b"431", b""),
        (upgrade_request(extra=b"Content-Length: 3\r\n") + b"abc", b"400", b"body"),
        (b"GARBAGE\r\n\r\n", b"400", b""),
    ],
)
async def test_hostile_handshakes_get_an_http_error(
    request_bytes: bytes, status: bytes, needle: bytes
) -> None:
    with trio.fail_after(10):
        async with running_server(echo) as server:
            reply = await raw_http(server.port, request_bytes)
    assert reply.split(b" ")[1] == status, reply[:200]
    assert needle in reply.lower()


async def test_slowloris_is_dropped_after_open_timeout() -> None:
    with trio.fail_after(60):  # a hang only
        async with running_server(echo, open_timeout=0.3) as server:
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            async with stream:
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
                start = trio.current_time()
                assert await stream.receive_some(100) == b""
                # Never before open_timeout (a loaded machine only makes it later); the
                # upper bound is the hang guard above, not a timing assertion.
                assert trio.current_time() - start > 0.25


async def test_origin_allowlist() -> None:
    with trio.fail_after(10):
        async with running_server(echo, origins={"https://good.example"}) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            async with trio_ws.open_websocket(url, origin="https://good.example") as ws:
                await ws.send("x")
                assert await ws.receive() == "x"
            with pytest.raises(HandshakeRejected) as info:
                async with trio_ws.open_websocket(url, origin="https://evil.example"):
                    pass
            assert info.value.status_code == 403
            with pytest.raises(HandshakeRejected):
                async with trio_ws.open_websocket(url):  # no Origin at all
                    pass


async def test_handler_error_is_logged_and_the_server_goes_on(caplog) -> None:
    calls = 0

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("before accept")
        await echo(request)

    with trio.fail_after(10), caplog.at_level(logging.ERROR, logger="trio_ws"):
        async with running_server(handler) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            with pytest.raises(HandshakeRejected) as info:
                async with trio_ws.open_websocket(url):
                    pass
            assert info.value.status_code == 500
            async with trio_ws.open_websocket(url) as ws:
                await ws.send("still serving")
                assert await ws.receive() == "still serving"
    assert any("before accept" in (r.exc_text or "") for r in caplog.records)


async def test_graceful_aclose_sends_1001_and_waits_for_handlers() -> None:
    finished = trio.Event()

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        async for message in ws:
            await ws.send(message)
        finished.set()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_ws.serve, handler, "127.0.0.1", 0)
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("x")
                assert await ws.receive() == "x"
                await server.aclose()
                assert finished.is_set()
                with pytest.raises(trio_ws.ConnectionClosedOK) as info:
                    await ws.receive()
                assert info.value.code == 1001
                assert info.value.reason == "server shutting down"
            with pytest.raises(OSError):
                await trio.open_tcp_stream("127.0.0.1", server.port)


async def test_handler_nursery() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as handlers:
            async with trio.open_nursery() as nursery:
                server = await nursery.start(
                    lambda task_status: trio_ws.serve(
                        echo, "127.0.0.1", 0, handler_nursery=handlers, task_status=task_status
                    )
                )
                async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
                    await ws.send("x")
                    assert await ws.receive() == "x"
                await server.aclose()


async def test_ports_are_kept_after_aclose() -> None:
    with trio.fail_after(10):
        async with running_server(echo) as server:
            port = server.port
        assert server.port == port
        assert server.ports == [port]
