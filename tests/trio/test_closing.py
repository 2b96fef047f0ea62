"""Closing in every ending path: both initiators, errors, vanished or stalled peers, cancels."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

import trio_ws
from trio_ws import ConnectionClosedError, ConnectionClosedOK
from trio_ws._inbox import _STANDBY_DELAY as _READER_DELAY

from .helpers import RawPeer, ServerSide, options, pair


async def test_client_leaving_the_block_closes_with_1000() -> None:
    side = ServerSide()
    async with pair(side) as ws:
        await side.ready.wait()
    server_ws = side.ws
    assert server_ws is not None
    assert server_ws.close_received == trio_ws.protocol.CloseConnection(code=1000)
    with pytest.raises(ConnectionClosedOK):
        await server_ws.receive()
    side.release.set()
    assert ws.close_sent == trio_ws.protocol.CloseConnection(code=1000)


async def test_block_raising_closes_with_1011_and_the_error_comes_out_as_itself() -> None:
    side = ServerSide()
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: trio_ws.serve_stream(side, server_stream, options=options()))
        with pytest.raises(KeyError, match="boom") as info:
            async with trio_ws.open_websocket_stream(client_stream, host="t", options=options()):
                await side.ready.wait()
                raise KeyError("boom")
        assert type(info.value) is KeyError  # not an ExceptionGroup
        assert info.value.__context__ is None
        assert side.ws is not None
        await side.ws.wait_closed()
        assert side.ws.close_code == 1011
        assert side.ws.close_reason == "unexpected error"


async def test_handler_raising_closes_with_1011_and_is_logged(caplog) -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        await request.accept()
        raise RuntimeError("handler bug")

    with caplog.at_level(logging.ERROR, logger="trio_ws"):
        async with pair(handler) as ws:
            with pytest.raises(ConnectionClosedError) as info:
                await ws.receive()
    assert info.value.code == 1011
    assert any("handler raised" in r.message for r in caplog.records)
    assert any("handler bug" in (r.exc_text or "") for r in caplog.records)


async def test_server_initiated_close() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.aclose(1000, "done")
        assert ws.close_received is not None  # the client echoed

    async with pair(handler) as ws:
        with pytest.raises(ConnectionClosedOK) as info:
            await ws.receive()
        assert (info.value.code, info.value.reason) == (1000, "done")


async def test_peer_vanishes_mid_frame() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(client_stream, host="t", options=options()) as ws:
            await server_stream.send_all(b"\x81\x05he")  # half a frame
            await server_stream.aclose()
            with pytest.raises(ConnectionClosedError) as info:
                await ws.receive()
            assert info.value.code == 1006
            assert "middle of a frame" in str(info.value)


async def test_peer_half_closes_after_close_frame(autojump_clock) -> None:
    """The server sends its close and EOF; the client completes without waiting."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(client_stream, host="t", options=options()) as ws:
            await peer.send_frame(0x8, b"\x03\xe8")
            opcode, payload = await peer.read_frame()
            assert (opcode, payload) == (0x8, b"\x03\xe8")  # echoed
            await server_stream.send_eof() if hasattr(server_stream, "send_eof") else None
            await server_stream.aclose()
            with pytest.raises(ConnectionClosedOK):
                await ws.receive()


async def test_stalled_peer_close_times_out(autojump_clock) -> None:
    """A peer that never answers our close: we give up after close_timeout."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        start = trio.current_time()
        async with trio_ws.open_websocket_stream(
            client_stream, host="t", options=options(close_timeout=3)
        ) as ws:
            pass
        assert 3 <= trio.current_time() - start < 4
        assert ws.close_code == 1000  # ours; the peer never answered
        assert ws.close_received is None
        opcode, _ = await peer.read_frame()
        assert opcode == 0x8


async def test_cancelling_the_enclosing_scope_closes_promptly(autojump_clock) -> None:
    side = ServerSide()
    with trio.move_on_after(1) as scope:
        async with pair(side, client=options(close_timeout=100)):
            await side.ready.wait()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert trio.current_time() < 2
    side.release.set()


async def test_aclose_twice_and_from_two_tasks() -> None:
    async with pair() as ws:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.aclose)
            nursery.start_soon(ws.aclose, 1001)
        await ws.aclose()
        assert ws.close_code in (1000, 1001)  # whichever task got there first


async def test_invalid_close_code_is_rejected_before_sending() -> None:
    async with pair() as ws:
        with pytest.raises(trio_ws.LocalProtocolError, match=r"^close code 1005 may not be sent"):
            await ws.aclose(1005)
        await ws.send("still open")
        assert await ws.receive() == "still open"


async def test_protocol_error_from_peer() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(client_stream, host="t", options=options()) as ws:
            await peer.send_frame(0x1, b"masked!", mask=True)
            with pytest.raises(ConnectionClosedError) as info:
                await ws.receive()
            assert info.value.code == 1002
            assert "masked frame from the server" in str(info.value)
            opcode, payload = await peer.read_frame()
            assert (opcode, payload[:2]) == (0x8, b"\x03\xea")


async def test_close_echo_waits_for_a_blocked_sender_at_most_close_timeout(autojump_clock) -> None:
    """The peer closes while our handler is stuck sending to it: we still finish in time."""
    side = ServerSide()
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    peer = RawPeer(client_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: trio_ws.serve_stream(side, server_stream, options=options(close_timeout=3))
        )
        await peer.stream.send_all(
            b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await peer.read_until(b"\r\n\r\n")
        await side.ready.wait()
        assert side.ws is not None

        async def stuck_send() -> None:
            with pytest.raises(trio_ws.ConnectionClosed):
                await side.ws.send(b"x" * 100_000)  # blocks: the peer never reads

        nursery.start_soon(stuck_send)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await peer.send_frame(0x8, b"\x03\xe8", mask=True)
        await side.ws.wait_closed()
        # The handler never receives: the reader reads the close after _READER_DELAY.
        assert trio.current_time() - start <= 3.01 + _READER_DELAY


def test_a_connection_lost_without_a_close_frame_says_so() -> None:
    exc = trio_ws.ConnectionClosedError(None, None, "the transport broke while sending")
    assert str(exc).startswith("connection lost without a close frame: code 1006"), str(exc)
    assert "nobody" not in str(exc)
