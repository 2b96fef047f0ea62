"""WebSocketConnection over trio memory streams: messages, fragments, pings, checkpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

import trio_ws
from trio_ws import ConnectionClosed, ConnectionClosedOK

from .helpers import RawPeer, ServerSide, options, pair


async def test_text_and_binary_round_trip() -> None:
    async with pair() as ws:
        await ws.send("héllo 🎉")
        assert await ws.receive() == "héllo 🎉"
        await ws.send(b"\x00\x01")
        assert await ws.receive() == b"\x00\x01"
        await ws.send(bytearray(b"ba"))
        assert await ws.receive() == b"ba"
        await ws.send(memoryview(b"mv"))
        assert await ws.receive() == b"mv"
        await ws.send("")
        assert await ws.receive() == ""


async def test_large_message_with_and_without_compression() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    for compression in ("deflate", None):
        async with pair(client=options(compression=compression)) as ws:
            await ws.send(payload)
            assert await ws.receive() == payload
            assert bool(ws.extensions) is (compression == "deflate")


async def test_send_rejects_other_types() -> None:
    async with pair() as ws:
        with pytest.raises(TypeError, match=r"^a message is str or bytes-like, not int$"):
            await ws.send(42)  # type: ignore[arg-type]


async def test_async_for_ends_quietly_on_normal_close() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        for i in range(3):
            await ws.send(str(i))
        await ws.aclose(1001, "bye")

    async with pair(handler) as ws:
        assert [m async for m in ws] == ["0", "1", "2"]
        assert ws.close_code == 1001
        assert ws.close_reason == "bye"
        with pytest.raises(ConnectionClosedOK):
            await ws.receive()


async def test_async_for_raises_on_error_close() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.aclose(4000, "custom")

    async with pair(handler) as ws:
        with pytest.raises(trio_ws.ConnectionClosedError) as info:
            async for _ in ws:
                pass
        assert info.value.code == 4000
        assert info.value.reason == "custom"
        assert str(info.value) == "connection closed by the peer: code 4000, reason 'custom'"


async def test_messages_received_before_close_are_not_lost() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        for i in range(5):
            await ws.send(f"m{i}")

    async with pair(handler) as ws:
        await trio.sleep(0.1)  # the server has closed by now
        assert [await ws.receive() for _ in range(5)] == [f"m{i}" for i in range(5)]
        with pytest.raises(ConnectionClosedOK):
            await ws.receive()


async def test_send_fragments_and_receive_fragments() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        pieces = [piece async for piece in ws.receive_fragments()]
        await ws.send("".join(pieces))  # type: ignore[arg-type]

        async def gen():
            for part in ("a", "b", "c"):
                yield part

        await ws.send_fragments(gen())
        with pytest.raises(ConnectionClosed):
            await ws.receive()

    async with pair(handler) as ws:
        await ws.send_fragments(["hel", "lo ", "world"])
        assert await ws.receive() == "hello world"
        assert await ws.receive() == "abc"
        with pytest.raises(TypeError, match=r"^all fragments of a message must be str"):
            await ws.send_fragments(["a", b"b"])
        # Half a message went out: the connection cannot go on.
        with pytest.raises(
            trio_ws.ConnectionClosedError, match="fragmented message was interrupted"
        ):
            await ws.send("x")


async def test_ping_returns_rtt_and_rejects_duplicates() -> None:
    async with pair() as ws:
        rtt = await ws.ping(b"x")
        assert rtt >= 0
        assert ws.statistics().last_rtt == rtt
        assert await ws.ping() >= 0
        with pytest.raises(trio_ws.LocalProtocolError):
            await ws.ping(bytes(126))


async def test_concurrent_receive_is_busy() -> None:
    async with pair() as ws, trio.open_nursery() as nursery:
        nursery.start_soon(ws.receive)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await ws.receive()
        await ws.send("unblock")


async def test_concurrent_sends_are_serialized() -> None:
    async with pair() as ws:
        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(ws.send, f"{i}" * 1000)
        got = sorted([await ws.receive() for _ in range(20)])
        assert got == sorted(f"{i}" * 1000 for i in range(20))


async def test_public_async_methods_are_checkpoints() -> None:
    async with pair() as ws:
        with trio.testing.assert_checkpoints():
            await ws.send("a")
        with trio.testing.assert_checkpoints():
            await ws.receive()
        with trio.testing.assert_checkpoints():
            await ws.ping()
        with trio.testing.assert_checkpoints():
            await ws.pong()
        with trio.testing.assert_checkpoints():
            await ws.aclose()


async def test_receive_cancelled_mid_message_loses_nothing() -> None:
    side = ServerSide()
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: trio_ws.serve_stream(side, server_stream, options=options()))
        async with trio_ws.open_websocket_stream(client_stream, host="t", options=options()) as ws:
            await side.ready.wait()
            assert side.ws is not None

            async def first_half() -> None:
                await side.ws.send_fragments(_slow(["part1-", "part2"]))  # type: ignore[union-attr]

            nursery.start_soon(first_half)
            with trio.move_on_after(0.05):
                await ws.receive()  # cancelled after the first piece arrived
            assert await ws.receive() == "part1-part2"
            side.release.set()


async def _slow(parts):
    for part in parts:
        yield part
        await trio.sleep(0.1)


async def test_facts() -> None:
    async with pair(subprotocols=("chat",)) as ws:
        assert ws.is_client
        assert ws.subprotocol == "chat"
        assert ws.request is not None and ws.request.target == "/"
        assert ws.response is not None and ws.response.subprotocol == "chat"
        assert ws.local_address is None  # memory streams have no socket
        assert ws.close_code is None
        assert not ws.closed
        await ws.send("x" * 1000)
        await ws.receive()
        stats = ws.statistics()
        assert stats.messages_sent == 1 and stats.messages_received == 1
        assert stats.bytes_sent == 1000 and stats.wire_bytes_sent < 1000  # compressed
        assert stats.compression_ratio is not None and stats.compression_ratio < 1
        assert "WebSocketConnection client OPEN" in repr(ws)
    assert ws.closed
    assert ws.close_code == 1000
    with pytest.raises(ConnectionClosed):
        await ws.send("late")


async def test_cancelled_send_mid_frame_ends_the_connection(autojump_clock) -> None:
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(client_stream, host="t", options=options()) as ws:
            with trio.move_on_after(1):
                await ws.send(b"x" * 1_000_000)  # the peer never reads: blocked mid-frame
            with pytest.raises(trio_ws.ConnectionClosedError, match="interrupted in the middle"):
                await ws.send("hello")


async def test_send_cancelled_before_writing_keeps_the_connection() -> None:
    async with pair() as ws:
        with trio.CancelScope() as scope:
            scope.cancel()
            await ws.send("never sent")
        await ws.send("sent")
        assert await ws.receive() == "sent"


async def test_abandoned_receive_fragments_discards_the_rest() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_fragments(_slow([b"A" * 10, b"B" * 10, b"C" * 10]))
        await ws.send(b"next")
        with pytest.raises(ConnectionClosed):
            await ws.receive()

    async with pair(handler) as ws:
        async for piece in ws.receive_fragments():
            assert piece.startswith(b"A")
            break
        assert await ws.receive() == b"next"  # not BusyResourceError, not the tail


async def test_users_own_exception_group_comes_out_whole() -> None:
    from trio_ws.testing import open_memory_websocket

    from .helpers import echo

    with pytest.raises(ExceptionGroup) as info:
        async with open_memory_websocket(echo):
            raise ExceptionGroup("mine", [ValueError("x")])
    assert info.value.message == "mine"


async def test_sends_waiting_behind_a_fragmented_message_all_go() -> None:
    """Two send() calls wait while send_fragments() sends a message: once it ends, both go,
    in order. (Found by the connection model: the two waiting sends handed the message lock
    to each other forever, each seeing it held by the other, and spun.)"""
    more = trio.Event()

    async def fragments() -> AsyncIterator[str]:
        yield "frag"
        await more.wait()
        yield "mented"

    async with pair() as ws:
        with trio.fail_after(10):  # a hang (the spin) only
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.send_fragments, fragments())
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(ws.send, "first")
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(ws.send, "second")
                await trio.testing.wait_all_tasks_blocked()
                more.set()
            assert [await ws.receive() for _ in range(3)] == ["fragmented", "first", "second"]
