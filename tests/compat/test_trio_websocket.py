"""trio-websocket's main scenarios, run against trio_ws.compat.trio_websocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trio.testing

import trio_ws
from trio_ws.compat import trio_websocket as tw
from trio_ws.compat.trio_websocket import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
    Endpoint,
    HandshakeError,
    WebSocketRequest,
    WebSocketServer,
)

HOST = "127.0.0.1"

pytestmark = pytest.mark.network


async def echo_handler(request: WebSocketRequest) -> None:
    subprotocol = request.proposed_subprotocols[0] if request.proposed_subprotocols else None
    ws = await request.accept(subprotocol=subprotocol, extra_headers=[(b"x-server", b"yes")])
    while True:
        try:
            message = await ws.get_message()
        except ConnectionClosed:
            return
        await ws.send_message(message)


@asynccontextmanager
async def serving(
    handler: tw.Handler = echo_handler, **kwargs: object
) -> AsyncIterator[WebSocketServer]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(tw.serve_websocket, handler, HOST, 0, None, **kwargs))
        yield server
        nursery.cancel_scope.cancel()


async def test_echo_over_open_websocket_url() -> None:
    with trio.fail_after(10):
        async with serving() as server:
            assert isinstance(server, WebSocketServer)
            url = f"ws://{HOST}:{server.port}/chat?room=1"
            async with tw.open_websocket_url(
                url, subprotocols=["chat"], extra_headers=[(b"x-client", b"1")]
            ) as ws:
                assert ws.is_client
                assert not ws.is_server
                assert ws.path == "/chat?room=1"
                assert ws.subprotocol == "chat"
                assert (b"x-server", b"yes") in ws.handshake_headers
                assert ws.closed is None
                await ws.send_message("hello")
                assert await ws.get_message() == "hello"
                await ws.send_message(b"\x00\xff")
                assert await ws.get_message() == b"\x00\xff"
                assert isinstance(ws.remote, Endpoint)
                assert ws.remote.port == server.port
                assert ws.remote.url == f"ws://{HOST}:{server.port}"
                assert isinstance(ws.connection, trio_ws.WebSocketConnection)
            assert ws.closed is not None
            assert ws.closed.code == 1000
            assert ws.closed.name == "NORMAL_CLOSURE"


async def test_open_websocket_with_host_port_resource() -> None:
    with trio.fail_after(10):
        async with (
            serving() as server,
            tw.open_websocket(HOST, server.port, "/", use_ssl=False) as ws,
        ):
            await ws.send_message("x")
            assert await ws.get_message() == "x"


async def test_server_side_request_and_connection_facts() -> None:
    seen: dict[str, object] = {}

    async def handler(request: WebSocketRequest) -> None:
        seen["path"] = request.path
        seen["headers"] = request.headers
        seen["proposed"] = request.proposed_subprotocols
        seen["remote"] = request.remote
        seen["local"] = request.local
        ws = await request.accept()
        seen["is_server"] = ws.is_server
        seen["handshake_headers"] = ws.handshake_headers
        seen["ws_path"] = ws.path
        await ws.send_message("bye")

    with trio.fail_after(10):
        async with serving(handler) as server:
            port = server.port
            async with tw.open_websocket_url(
                f"ws://{HOST}:{port}/p?q=1",
                subprotocols=["a", "b"],
                extra_headers=[(b"X-Token", b"t")],
            ) as ws:
                assert await ws.get_message() == "bye"
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert info.value.reason is not None
                assert info.value.reason.code == 1000
    assert seen["path"] == "/p?q=1"
    assert (b"x-token", b"t") in seen["headers"]  # type: ignore[operator]
    assert seen["proposed"] == ("a", "b")
    assert isinstance(seen["remote"], Endpoint)
    assert isinstance(seen["local"], Endpoint)
    assert seen["local"].port == port
    assert seen["is_server"] is True
    assert (b"x-token", b"t") in seen["handshake_headers"]  # type: ignore[operator]
    assert seen["ws_path"] == "/p?q=1"


async def test_reject_with_status_headers_and_body() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(401, extra_headers=[(b"x-why", b"token")], body=b"go away")

    with trio.fail_after(10):
        async with serving(handler) as server:
            with pytest.raises(ConnectionRejected) as info:
                async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/"):
                    pytest.fail("the handshake should fail")
    assert info.value.status_code == 401
    assert info.value.body == b"go away"
    assert (b"x-why", b"token") in info.value.headers
    assert isinstance(info.value, HandshakeError)
    assert repr(info.value) == "ConnectionRejected<status_code=401>"


async def test_reject_without_body_gives_empty_body() -> None:
    # As trio-websocket 0.12.2 (through wsproto) reports it: b"", and None only for 1xx.
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(403)

    with trio.fail_after(10):
        async with serving(handler) as server:
            with pytest.raises(ConnectionRejected) as info:
                async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/"):
                    pytest.fail("the handshake should fail")
    assert info.value.status_code == 403
    assert info.value.body == b""


async def test_close_reason_from_the_server() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("last")
        await ws.aclose(4000, "done here")
        assert ws.closed is not None
        assert ws.closed.code == 4000

    with trio.fail_after(10):
        async with serving(handler) as server:
            async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/") as ws:
                # Messages that arrived before the close are still delivered.
                assert await ws.get_message() == "last"
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                reason = info.value.reason
                assert reason is not None
                assert (reason.code, reason.name, reason.reason) == (
                    4000,
                    "PRIVATE_RESERVED",
                    "done here",
                )
                assert ws.closed is not None
                assert ws.closed.code == 4000
                with pytest.raises(ConnectionClosed):
                    await ws.send_message("too late")


async def test_get_message_after_local_close_raises_at_once() -> None:
    with trio.fail_after(10):
        async with serving() as server:
            async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/") as ws:
                await ws.send_message("pending")
                await ws.aclose(1001, "leaving")
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert info.value.reason is not None
                assert info.value.reason.code == 1001
                assert info.value.reason.name == "GOING_AWAY"
                await ws.aclose()  # idempotent
                with pytest.raises(ConnectionClosed):
                    await ws.ping()


async def test_ping_waits_for_pong_and_pong() -> None:
    with trio.fail_after(10):
        async with serving() as server:
            async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/") as ws:
                assert await ws.ping() is None
                await ws.ping(b"abc")
                await ws.pong(b"unsolicited")
                await ws.pong()
                await ws.send_message("still open")
                assert await ws.get_message() == "still open"


async def test_send_message_rejects_other_types() -> None:
    with trio.fail_after(10):
        async with serving() as server:
            async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/") as ws:
                with pytest.raises(ValueError, match="must be str or bytes"):
                    await ws.send_message(42)  # type: ignore[arg-type]


async def test_server_object_from_nursery_start() -> None:
    with trio.fail_after(10):
        async with serving() as server:
            assert server.port > 0
            (endpoint,) = server.listeners
            assert isinstance(endpoint, Endpoint)
            assert endpoint.port == server.port
            assert not endpoint.is_ssl
            assert repr(endpoint) == (
                f'Endpoint(address="{HOST}", port={server.port}, is_ssl=False)'
            )
            await server.aclose()


async def test_server_run_on_given_listeners_and_handler_nursery() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_tcp_listeners(0, host=HOST)
            server = WebSocketServer(echo_handler, listeners, handler_nursery=nursery)
            assert await nursery.start(server.run) is server
            async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/") as ws:
                await ws.send_message("via run()")
                assert await ws.get_message() == "via run()"
            nursery.cancel_scope.cancel()
    with pytest.raises(ValueError, match="at least one"):
        WebSocketServer(echo_handler, [])


async def test_plain_http_gets_400() -> None:
    with trio.fail_after(10):
        async with serving() as server:
            stream = await trio.open_tcp_stream(HOST, server.port)
            async with stream:
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                response = b""
                while chunk := await stream.receive_some():
                    response += chunk
    assert response.startswith(b"HTTP/1.1 400 ")


async def test_connect_websocket_runs_in_the_given_nursery() -> None:
    with trio.fail_after(10):
        async with serving() as server, trio.open_nursery() as nursery:
            ws = await tw.connect_websocket(nursery, HOST, server.port, "/", use_ssl=False)
            await ws.send_message("a")
            assert await ws.get_message() == "a"
            await ws.aclose()
            url_ws = await tw.connect_websocket_url(nursery, f"ws://{HOST}:{server.port}/")
            await url_ws.send_message("b")
            assert await url_ws.get_message() == "b"
            await url_ws.aclose()


async def test_wrap_client_and_server_streams_in_memory() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def server_side() -> None:
                request = await tw.wrap_server_stream(nursery, server_stream)
                assert request.path == "/mem"
                assert request.local == repr(server_stream)
                ws = await request.accept(subprotocol="p")
                assert ws.remote == repr(server_stream)
                message = await ws.get_message()
                await ws.send_message(f"echo: {message}")
                with pytest.raises(ConnectionClosed):
                    await ws.get_message()

            nursery.start_soon(server_side)
            ws = await tw.wrap_client_stream(
                nursery, client_stream, "memory", "/mem", subprotocols=["p"]
            )
            assert ws.subprotocol == "p"
            await ws.send_message("hi")
            assert await ws.get_message() == "echo: hi"
            await ws.aclose()
            assert ws.closed is not None
            assert ws.closed.code == 1000


async def test_wrap_server_stream_reject() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def server_side() -> None:
                request = await tw.wrap_server_stream(nursery, server_stream)
                await request.reject(404, body=b"nothing here")

            nursery.start_soon(server_side)
            with pytest.raises(ConnectionRejected) as info:
                await tw.wrap_client_stream(nursery, client_stream, "memory", "/")
    assert (info.value.status_code, info.value.body) == (404, b"nothing here")


async def test_wrap_server_stream_without_a_handshake() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await client_stream.aclose()
            with pytest.raises(HandshakeError, match="no valid WebSocket opening handshake"):
                await tw.wrap_server_stream(nursery, server_stream)


async def test_connect_timeout() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            # A listener that accepts TCP connections and never answers.
            listeners = await trio.open_tcp_listeners(0, host=HOST)
            port = listeners[0].socket.getsockname()[1]

            async def silent(stream: trio.SocketStream) -> None:
                await trio.sleep_forever()

            nursery.start_soon(partial(trio.serve_listeners, silent, listeners))
            with pytest.raises(ConnectionTimeout):
                async with tw.open_websocket(HOST, port, "/", use_ssl=False, connect_timeout=0.2):
                    pytest.fail("the handshake should time out")
            nursery.cancel_scope.cancel()


async def test_connection_refused_is_a_handshake_error() -> None:
    listeners = await trio.open_tcp_listeners(0, host=HOST)
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    with trio.fail_after(10), pytest.raises(HandshakeError) as info:
        async with tw.open_websocket(HOST, port, "/", use_ssl=False):
            pytest.fail("the connection should fail")
    assert isinstance(info.value.__cause__, OSError)


async def test_disconnect_timeout() -> None:
    async def stalled(request: WebSocketRequest) -> None:
        await request.accept()
        await trio.sleep_forever()  # never reads: the reader stops when its queue is full

    with trio.fail_after(10):
        async with serving(stalled, message_queue_size=1) as server:
            with pytest.raises(DisconnectionTimeout):
                async with tw.open_websocket(
                    HOST, server.port, "/", use_ssl=False, disconnect_timeout=0.3
                ) as ws:
                    for _ in range(3):
                        await ws.send_message("unread")
                    # Past the server reader's first read (it waits 0.1 s for a receive()),
                    # which fills its queue, so the close below is never read.
                    await trio.sleep(0.3)


async def test_user_exception_comes_out_unwrapped() -> None:
    with trio.fail_after(10):
        async with serving() as server:
            with pytest.raises(KeyError):
                async with tw.open_websocket_url(f"ws://{HOST}:{server.port}/"):
                    raise KeyError("mine")


async def test_url_errors() -> None:
    with pytest.raises(ValueError, match="scheme"):
        async with tw.open_websocket_url("http://example.com/"):
            pytest.fail("not a WebSocket URL")
    with pytest.raises(ValueError, match="SSL context must be None"):
        async with tw.open_websocket_url(
            "ws://example.com/",
            ssl_context=object(),  # type: ignore[arg-type]
        ):
            pytest.fail("an SSL context with ws://")
    async with trio.open_nursery() as nursery:
        with pytest.raises(ValueError, match="scheme"):
            await tw.connect_websocket_url(nursery, "https://example.com/")


def test_close_reason_names() -> None:
    assert CloseReason(1000, None).name == "NORMAL_CLOSURE"
    assert CloseReason(1007, None).name == "INVALID_FRAME_PAYLOAD_DATA"
    assert CloseReason(1014, None).name == "RFC_RESERVED"
    assert CloseReason(3001, None).name == "IANA_RESERVED"
    assert CloseReason(4001, None).name == "PRIVATE_RESERVED"
    assert CloseReason(999, "x").name == "INVALID_CODE"
    assert repr(CloseReason(1000, None)) == (
        "CloseReason<code=1000, name=NORMAL_CLOSURE, reason=None>"
    )
    assert repr(ConnectionClosed(CloseReason(1001, "r"))) == (
        "ConnectionClosed<CloseReason<code=1001, name=GOING_AWAY, reason=r>>"
    )


def test_endpoint_urls() -> None:
    assert Endpoint("127.0.0.1", 80, False).url == "ws://127.0.0.1"
    assert Endpoint("127.0.0.1", 443, True).url == "wss://127.0.0.1"
    assert Endpoint("::1", 8000, True).url == "wss://[::1]:8000"


def test_defaults_are_trio_websockets() -> None:
    assert (tw.MESSAGE_QUEUE_SIZE, tw.MAX_MESSAGE_SIZE, tw.CONN_TIMEOUT) == (1, 2**20, 60)


def test_public_names() -> None:
    expected = {
        "CloseReason",
        "ConnectionClosed",
        "ConnectionRejected",
        "ConnectionTimeout",
        "DisconnectionTimeout",
        "Endpoint",
        "HandshakeError",
        "WebSocketConnection",
        "WebSocketRequest",
        "WebSocketServer",
        "connect_websocket",
        "connect_websocket_url",
        "open_websocket",
        "open_websocket_url",
        "serve_websocket",
        "wrap_client_stream",
        "wrap_server_stream",
    }
    assert expected <= set(tw.__all__)
    for name in tw.__all__:
        assert getattr(tw, name).__doc__ or name.isupper(), name
