"""trio-websocket 0.12.2's behaviours that its own suite pins down (issue 18), tested here.

Each test states, with the public API only, what one of the incumbent's tests checks.
"""

from __future__ import annotations

import inspect
from functools import partial

import pytest
import trio
import trio.lowlevel
import trio.testing

from trio_ws.compat import trio_websocket as tw
from trio_ws.compat.trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    DisconnectionTimeout,
    WebSocketRequest,
    _client,
)
from trio_ws.compat.trio_websocket._stream import CompatStream

HOST = "127.0.0.1"

pytestmark = pytest.mark.network


async def test_str_of_a_connection_says_its_side() -> None:
    seen: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        seen.append(str(ws))

    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(tw.serve_websocket, handler, HOST, 0, None))
        async with tw.open_websocket(HOST, server.port, "/", use_ssl=False) as ws:
            assert str(ws).startswith("client-")
        nursery.cancel_scope.cancel()
    assert seen[0].startswith("server-")


async def test_server_extra_headers_are_the_clients_handshake_headers() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.accept(
            subprotocol="chat",
            extra_headers=[(b"X-Test-Header", b"My test header"), (b"X-B", b"2")],
        )

    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(tw.serve_websocket, handler, HOST, 0, None))
        async with tw.open_websocket(
            HOST, server.port, "/", use_ssl=False, subprotocols=["chat"]
        ) as ws:
            # In the server's order, names lower-cased, without the handshake's own fields.
            assert ws.handshake_headers == ((b"x-test-header", b"My test header"), (b"x-b", b"2"))
        nursery.cancel_scope.cancel()


async def test_handler_that_raises_before_accepting_crashes_the_server() -> None:
    answers: list[bytes] = []

    async def handler(request: WebSocketRequest) -> None:
        raise ValueError("handler bug")

    async def client(port: int) -> None:
        stream = await trio.open_tcp_stream(HOST, port)
        async with stream:
            await stream.send_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            answers.append(await stream.receive_some())

    with trio.fail_after(10):
        with pytest.raises(BaseExceptionGroup) as info:
            async with trio.open_nursery() as nursery:
                server = await nursery.start(partial(tw.serve_websocket, handler, HOST, 0, None))
                nursery.start_soon(client, server.port)
    # One group per nursery crossed, as in trio-websocket: this one, the server's, the
    # listeners' and the connection's.
    assert pytest.RaisesGroup(
        pytest.RaisesGroup(pytest.RaisesGroup(pytest.RaisesGroup(ValueError)))
    ).matches(info.value)
    assert answers in ([], [b""])  # no HTTP answer (trio-ws's serve() would send 500)


async def test_informational_status_is_a_rejection_without_body() -> None:
    async def server(stream: trio.SocketStream) -> None:
        await stream.send_all(b"HTTP/1.1 100 CONTINUE\r\nX-A: 1\r\n\r\n")
        await stream.receive_some(1024)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            (listener,) = await nursery.start(partial(trio.serve_tcp, server, 0, host=HOST))
            port = listener.socket.getsockname()[1]
            with pytest.raises(ConnectionRejected) as info:
                async with tw.open_websocket(HOST, port, "/", use_ssl=False):
                    pytest.fail("the handshake should fail")
            nursery.cancel_scope.cancel()
    assert info.value.status_code == 100
    assert info.value.body is None
    assert info.value.headers == ((b"x-a", b"1"),)
    assert repr(info.value) == "ConnectionRejected<status_code=100>"


async def test_close_times_out_when_an_unbuffered_server_has_not_read(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reached: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await trio.sleep(2)  # the message below waits unread: the close is not answered
        reached.append(await ws.get_message())

    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(tw.serve_websocket, handler, HOST, 0, None, message_queue_size=0)
        )
        started = trio.current_time()
        with pytest.raises(DisconnectionTimeout):
            async with tw.open_websocket(
                HOST, server.port, "/", use_ssl=False, disconnect_timeout=1
            ) as ws:
                await ws.send_message("test")
        assert trio.current_time() - started == pytest.approx(1, abs=0.01)
        nursery.cancel_scope.cancel()
    assert reached == []


async def test_send_after_a_local_close_began_raises() -> None:
    async with trio.open_nursery() as nursery:
        client_stream, server_stream = trio.testing.memory_stream_pair()

        async def server() -> None:
            # Unbuffered and never reading: the client's close frame is not answered.
            request = await tw.wrap_server_stream(nursery, server_stream, 0)
            await request.accept()

        nursery.start_soon(server)
        ws = await tw.wrap_client_stream(nursery, client_stream, "example.com", "/")  # type: ignore[arg-type]
        assert ws.closed is None
        nursery.start_soon(ws.aclose)
        await trio.testing.wait_all_tasks_blocked()
        # The close frame is out and the server has not answered: closing, not open.
        assert ws.closed is not None
        assert ws.closed.code == 1000
        with pytest.raises(ConnectionClosed):
            await ws.send_message("hello")
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
        nursery.cancel_scope.cancel()


async def test_exception_in_the_block_survives_a_cancelled_close(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def echo(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            await ws.send_message(await ws.get_message())
        except ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(tw.serve_websocket, echo, HOST, 0, None))
        with pytest.raises(ValueError, match="mine"):
            with trio.move_on_after(1):
                async with tw.open_websocket(HOST, server.port, "/", use_ssl=False):
                    try:
                        await trio.sleep_forever()
                    finally:
                        raise ValueError("mine")
        nursery.cancel_scope.cancel()


async def test_reads_are_at_most_receive_buffer_size() -> None:
    asked: list[int | None] = []
    send, receive = trio.testing.memory_stream_pair()

    async def record(max_bytes: int | None = None) -> bytes | bytearray:
        asked.append(max_bytes)
        return b"x"

    receive.receive_stream.receive_some = record  # type: ignore[method-assign]
    default = CompatStream(receive, receive_size=tw.RECEIVE_BYTES, unbuffered=False, client=False)
    await default.receive_some()
    await default.receive_some(65536)
    await default.receive_some(10)
    unlimited = CompatStream(receive, receive_size=None, unbuffered=False, client=False)
    await unlimited.receive_some(65536)
    assert asked == [4096, 4096, 10, 65536]
    del send


# trio-websocket 0.12.2's signatures: parameter names, kinds and defaults.
SIGNATURES = {
    "open_websocket": "(host, port, resource, *, use_ssl, subprotocols=None, extra_headers=None, "
    "message_queue_size=1, max_message_size=1048576, receive_buffer_size=4096, "
    "connect_timeout=60, disconnect_timeout=60)",
    "open_websocket_url": "(url, ssl_context=None, *, subprotocols=None, extra_headers=None, "
    "message_queue_size=1, max_message_size=1048576, connect_timeout=60, "
    "disconnect_timeout=60, receive_buffer_size=4096)",
    "connect_websocket": "(nursery, host, port, resource, *, use_ssl, subprotocols=None, "
    "extra_headers=None, message_queue_size=1, max_message_size=1048576, "
    "receive_buffer_size=4096)",
    "connect_websocket_url": "(nursery, url, ssl_context=None, *, subprotocols=None, "
    "extra_headers=None, message_queue_size=1, max_message_size=1048576, "
    "receive_buffer_size=4096)",
    "wrap_client_stream": "(nursery, stream, host, resource, *, subprotocols=None, "
    "extra_headers=None, message_queue_size=1, max_message_size=1048576, "
    "receive_buffer_size=4096)",
    "wrap_server_stream": "(nursery, stream, message_queue_size=1, max_message_size=1048576, "
    "receive_buffer_size=4096)",
    "serve_websocket": "(handler, host, port, ssl_context, *, handler_nursery=None, "
    "message_queue_size=1, max_message_size=1048576, receive_buffer_size=4096, "
    "connect_timeout=60, disconnect_timeout=60, task_status=TASK_STATUS_IGNORED)",
    "WebSocketServer": "(handler, listeners, *, handler_nursery=None, message_queue_size=1, "
    "max_message_size=1048576, receive_buffer_size=4096, connect_timeout=60, "
    "disconnect_timeout=60)",
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signatures_are_trio_websockets(name: str) -> None:
    parameters = inspect.signature(getattr(tw, name)).parameters.values()
    shown = []
    star = False
    for p in parameters:
        if p.kind is p.KEYWORD_ONLY and not star:
            shown.append("*")
            star = True
        if p.default is p.empty:
            shown.append(p.name)
        elif p.default is trio.TASK_STATUS_IGNORED:
            shown.append(f"{p.name}=TASK_STATUS_IGNORED")
        else:
            shown.append(f"{p.name}={p.default!r}")
    assert f"({', '.join(shown)})" == SIGNATURES[name]


def test_open_websocket_url_hands_its_options_to_open_websocket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # trio-websocket's open_websocket_url calls open_websocket at once (its tests patch that
    # and never enter the context manager): the same here.
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr(_client, "open_websocket", lambda *a, **k: calls.append((a, k)))
    options: dict[str, object] = {
        "subprotocols": ["chat"],
        "extra_headers": [(b"X-Test-Header", b"My test header")],
        "message_queue_size": 9,
        "max_message_size": 333,
        "receive_buffer_size": 999,
        "connect_timeout": 36,
        "disconnect_timeout": 37,
    }
    tw.open_websocket_url("ws://127.0.0.1:1234/resource", **options)  # type: ignore[arg-type]
    tw.open_websocket_url("wss://127.0.0.1/r")
    (args, kwargs), (_, secure) = calls
    assert args == ("127.0.0.1", 1234, "/resource")
    assert kwargs.pop("use_ssl") is False
    assert kwargs == options
    assert secure["use_ssl"] is True
