"""broadcast(): many receivers, a stalled one bounded by the timeout, closed ones skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial

import pytest
import trio
import trio.testing

import trio_ws
import trio_ws._broadcast
from trio_ws import BroadcastResult, Options, WebSocketConnection, WebSocketRequest, broadcast

OPTIONS = Options(ping_interval=None, close_timeout=1.0, open_timeout=2.0, compression=None)


@dataclass
class Hub:
    servers: list[WebSocketConnection]  # server side of each connection, in order
    clients: list[WebSocketConnection]  # the matching clients


@asynccontextmanager
async def hub(healthy: int, *, stalled: int = 0) -> AsyncIterator[Hub]:
    """``healthy`` in-memory clients, then ``stalled`` ones that never read.

    A stalled client sits behind a lockstep stream (no buffering) with a receive queue of
    one message, so once it holds a message or two, sending to it blocks.
    """
    count = healthy + stalled
    servers: list[WebSocketConnection | None] = [None] * count
    clients: list[WebSocketConnection] = []
    async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
        for index in range(count):
            lockstep = index >= healthy
            make = (
                trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
            )
            client_stream, server_stream = make()
            accepted = trio.Event()

            async def handler(
                request: WebSocketRequest, index: int = index, accepted: trio.Event = accepted
            ) -> None:
                ws = await request.accept()
                servers[index] = ws
                accepted.set()
                await ws.wait_closed()

            nursery.start_soon(
                partial(trio_ws.serve_stream, handler, server_stream, options=OPTIONS)
            )
            client_options = Options(
                ping_interval=None,
                close_timeout=1.0,
                compression=None,
                max_queue=1 if lockstep else 16,
            )
            client = await stack.enter_async_context(
                trio_ws.open_websocket_stream(client_stream, host="t", options=client_options)
            )
            clients.append(client)
            await accepted.wait()
        assert all(ws is not None for ws in servers)
        yield Hub([ws for ws in servers if ws is not None], clients)
        nursery.cancel_scope.cancel()


async def test_every_client_gets_the_message() -> None:
    with trio.fail_after(10):
        async with hub(25) as h:
            result = await broadcast(h.servers, "hello, everyone")
            assert result == BroadcastResult(tuple(h.servers), (), ())
            for client in h.clients:
                assert await client.receive() == "hello, everyone"
            result = await broadcast(h.servers, bytearray(b"\x00\x01"))
            assert len(result.delivered) == 25
            for client in h.clients:
                assert await client.receive() == b"\x00\x01"


async def test_a_stalled_client_is_dropped_after_the_timeout_without_delaying_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with hub(5, stalled=1) as h:
            stalled_server, stalled_client = h.servers[-1], h.clients[-1]
            healthy = h.servers[:-1]
            results = []
            for n in range(3):
                started = trio.current_time()
                results.append(await broadcast(h.servers, f"message {n}", timeout=2.0))
                elapsed = trio.current_time() - started
                assert elapsed <= 2.0 + 1e-6
                for client in h.clients[:-1]:
                    assert await client.receive() == f"message {n}"
                if results[-1].dropped:
                    break
            # The stalled client takes one message into its queue and one into its reader;
            # the next send blocks and is cut off at the timeout.
            last = results[-1]
            assert last.dropped == (stalled_server,)
            assert last.delivered == tuple(healthy)
            assert elapsed == pytest.approx(2.0)
            assert all(r.delivered == tuple(h.servers) for r in results[:-1])
            # The dropped connection is over on both sides.
            await stalled_server.wait_closed()
            assert stalled_server.closed
            assert stalled_server.close_code == 1006
            with pytest.raises(trio_ws.ConnectionClosedError):
                while True:
                    await stalled_client.receive()
            # The next broadcast skips it at once.
            started = trio.current_time()
            result = await broadcast(h.servers, "after", timeout=2.0)
            assert trio.current_time() == started
            assert result.skipped == (stalled_server,)
            assert result.delivered == tuple(healthy)


async def test_closed_connections_are_skipped() -> None:
    with trio.fail_after(10):
        async with hub(4) as h:
            await h.clients[1].aclose()
            await h.servers[1].wait_closed()
            await h.servers[2].aclose()
            result = await broadcast(h.servers, "x")
            assert result.skipped == (h.servers[1], h.servers[2])
            assert result.delivered == (h.servers[0], h.servers[3])
            assert result.dropped == ()
            assert await h.clients[0].receive() == "x"
            assert await h.clients[3].receive() == "x"


async def test_a_connection_given_twice_gets_the_message_once() -> None:
    with trio.fail_after(10):
        async with hub(2) as h:
            result = await broadcast([*h.servers, *h.servers], "once")
            assert result.delivered == tuple(h.servers)
            for client in h.clients:
                assert await client.receive() == "once"
                await client.send("probe")
            for server in h.servers:
                assert await server.receive() == "probe"
            for client in h.clients:
                assert client.statistics().messages_received == 1


async def test_no_timeout_waits_for_the_slow_receiver(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with hub(1, stalled=1) as h:
            stalled_client = h.clients[-1]
            async with trio.open_nursery() as nursery:

                async def drain_later() -> None:
                    await trio.sleep(30)
                    for _ in range(3):
                        assert await stalled_client.receive() == "m"

                nursery.start_soon(drain_later)
                for _ in range(3):
                    result = await broadcast(h.servers, "m", timeout=None)
                    assert result.delivered == tuple(h.servers)
            assert trio.current_time() >= 30


async def test_empty_and_bad_arguments() -> None:
    assert await broadcast([], "nothing") == BroadcastResult((), (), ())
    with pytest.raises(TypeError, match="not int"):
        await broadcast([], 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be positive"):
        await broadcast([], "x", timeout=0)


async def test_the_frame_is_encoded_once_for_connections_that_can_share_it(monkeypatch) -> None:
    from trio_ws.protocol import _connection as core
    from trio_ws.protocol import _sharing as sharing

    built = []
    original = core.serialize_frame

    def counting(*args, **kwargs):
        built.append(args[0])
        return original(*args, **kwargs)

    with trio.fail_after(10):
        async with hub(10) as h:
            # Frames are built where a message is shared, and where one connection sends.
            monkeypatch.setattr(sharing, "serialize_frame", counting)
            monkeypatch.setattr(core, "serialize_frame", counting)
            result = await broadcast(h.servers, "shared")
            monkeypatch.setattr(sharing, "serialize_frame", original)
            monkeypatch.setattr(core, "serialize_frame", original)
            assert len(result.delivered) == 10
            assert built == [0x1]  # one text frame built for ten connections
            for client in h.clients:
                assert await client.receive() == "shared"
            assert h.servers[0].statistics().messages_sent == 1


# --- Over TCP: the frame is written directly to sockets that take it ----------------------


@asynccontextmanager
async def tcp_hub(count: int, *, stalled: int = 0) -> AsyncIterator[Hub]:
    """``count`` loopback TCP clients; the last ``stalled`` of them never read."""
    servers: list[WebSocketConnection] = []
    arrived = trio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        servers.append(ws)
        if len(servers) == count:
            arrived.set()
        await ws.wait_closed()

    async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
        server = await nursery.start(
            partial(trio_ws.serve, handler, "127.0.0.1", 0, ping_interval=None, compression=None)
        )
        clients = []
        for index in range(count):
            clients.append(
                await stack.enter_async_context(
                    trio_ws.open_websocket(
                        f"ws://127.0.0.1:{server.port}/",
                        ping_interval=None,
                        close_timeout=1.0,
                        compression=None,
                        max_queue=1 if index >= count - stalled else 16,
                        max_message_size=8 * 1024 * 1024,
                    )
                )
            )
        await arrived.wait()
        # Accepted in connection order (each client waits for its handshake).
        yield Hub(servers, clients)
        nursery.cancel_scope.cancel()


async def test_small_frames_go_to_tcp_sockets_without_a_task(monkeypatch) -> None:
    slow_path = []
    original = trio_ws._broadcast.send_shared

    async def counting(ws, frame, size):  # type: ignore[no-untyped-def]
        slow_path.append(ws)
        return await original(ws, frame, size)

    with trio.fail_after(10):
        async with tcp_hub(20) as h:
            monkeypatch.setattr(trio_ws._broadcast, "send_shared", counting)
            for n in range(5):
                result = await broadcast(h.servers, f"tick {n}")
                assert result.delivered == tuple(h.servers)
            monkeypatch.setattr(trio_ws._broadcast, "send_shared", original)
            assert slow_path == []  # every socket took every frame at once
            for client in h.clients:
                assert [await client.receive() for _ in range(5)] == [
                    f"tick {n}" for n in range(5)
                ]
            assert h.servers[0].statistics().messages_sent == 5


async def test_a_frame_larger_than_the_socket_buffer_arrives_whole_or_the_client_is_dropped() -> (
    None
):
    message = bytes(range(256)) * 16384  # 4 MiB: more than a loopback socket takes at once
    with trio.fail_after(30):
        async with tcp_hub(3, stalled=1) as h:
            readers_done = 0
            async with trio.open_nursery() as nursery:

                async def read(client: WebSocketConnection) -> None:
                    nonlocal readers_done
                    assert await client.receive() == message
                    readers_done += 1

                for client in h.clients[:2]:
                    nursery.start_soon(read, client)
                result = await broadcast(h.servers, message, timeout=1.0)
            assert readers_done == 2
            assert result.delivered == tuple(h.servers[:2])
            assert result.dropped == (h.servers[2],)
            # The healthy connections go on: the rest of each frame went out before this.
            for server, client in zip(h.servers[:2], h.clients[:2], strict=True):
                await server.send("after")
                assert await client.receive() == "after"
