"""Backpressure: a full receive queue stops reading the socket, so the sender waits."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_ws

from .helpers import RawPeer, ServerSide, options


async def test_full_queue_stops_the_reader(autojump_clock) -> None:
    side = ServerSide()
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: trio_ws.serve_stream(side, server_stream, options=options()))
        async with trio_ws.open_websocket_stream(
            client_stream, host="t", options=options(max_queue=2, compression=None)
        ) as ws:
            await side.ready.wait()
            server_ws = side.ws
            assert server_ws is not None
            sent = 0
            with trio.move_on_after(10):
                while True:
                    await server_ws.send(b"x" * 1000)
                    sent += 1
            assert 3 <= sent < 10  # the server blocked: nobody reads
            # max_queue pieces, and the one more read a full queue allows (one message here).
            assert ws.statistics().queue_depth == 3
            # Reading releases the pressure and nothing was lost.
            got = [await ws.receive() for _ in range(sent)]
            assert got == [b"x" * 1000] * sent
            side.release.set()


async def test_pong_replies_do_not_block_the_reader_while_a_send_waits(autojump_clock) -> None:
    """Two peers both blocked sending to each other still read: no deadlock."""
    side = ServerSide()
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: trio_ws.serve_stream(side, server_stream, options=options()))
        async with trio_ws.open_websocket_stream(client_stream, host="t", options=options()) as ws:
            await side.ready.wait()
            server_ws = side.ws
            assert server_ws is not None
            with trio.fail_after(5):
                async with trio.open_nursery() as inner:
                    inner.start_soon(ws.send, b"a" * 100_000)
                    inner.start_soon(server_ws.send, b"b" * 100_000)
                    inner.start_soon(ws.ping)
            assert await ws.receive() == b"b" * 100_000
            assert await server_ws.receive() == b"a" * 100_000
            side.release.set()


async def test_closing_with_a_full_queue_reads_the_close_and_drops_what_overflows(
    autojump_clock,
) -> None:
    """aclose() with unread messages: the peer's close is read at once (not after
    close_timeout); messages read meanwhile beyond the queue's bound are dropped whole."""
    client_stream, peer_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(peer_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(
            client_stream, host="t", options=options(max_queue=1, close_timeout=10)
        ) as ws:
            for n in range(3):  # nobody receives: the reader reads them one by one
                await peer.send_frame(0x1, b"early %d" % n)
                await trio.sleep(1)
            assert ws.statistics().queue_depth == 2  # max_queue, and one more read
            # "early 2" waits unread in the stream; the peer sends more, and a fragmented
            # message, then answers our close.
            await peer.send_frame(0x1, b"late")
            await peer.stream.send_all(b"\x01\x03fra" + b"\x80\x03ged")  # two fragments

            async def answer() -> None:
                opcode, payload = await peer.read_frame()
                while opcode != 0x8:
                    opcode, payload = await peer.read_frame()
                await peer.send_frame(0x8, payload)
                await peer_stream.aclose()

            nursery.start_soon(answer)
            start = trio.current_time()
            await ws.aclose()
            assert trio.current_time() - start < 1  # not close_timeout
            assert ws.close_received is not None
            # What was queued is still delivered; what overflowed while closing is not.
            assert await ws.receive() == "early 0"
            assert await ws.receive() == "early 1"
            with pytest.raises(trio_ws.ConnectionClosedOK):
                await ws.receive()


async def test_closing_never_delivers_a_message_after_one_it_dropped(autojump_clock) -> None:
    """Once a message is dropped while closing, every later one is too: the application
    sees a prefix of what the peer sent, never a message with an earlier one missing (found
    by the connection model: the queue drained, and a later message was delivered again)."""
    client_stream, peer_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(peer_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(
            client_stream, host="t", options=options(max_queue=1, close_timeout=10)
        ) as ws:
            for n in range(2):
                await peer.send_frame(0x1, b"early %d" % n)
                await trio.sleep(1)
            assert ws.statistics().queue_depth == 2
            nursery.start_soon(ws.aclose)
            opcode, payload = await peer.read_frame()
            assert opcode == 0x8
            await peer.send_frame(0x1, b"dropped")  # the queue is over its bound
            await trio.sleep(1)
            assert await ws.receive() == "early 0"
            assert await ws.receive() == "early 1"  # the queue has drained
            await peer.send_frame(0x1, b"after the gap")
            await trio.sleep(1)
            await peer.send_frame(0x8, payload)
            await peer_stream.aclose()
            with pytest.raises(trio_ws.ConnectionClosedOK):
                await ws.receive()
