"""Backpressure: a full receive queue stops reading the socket, so the sender waits."""

from __future__ import annotations

import trio
import trio.testing

import trio_ws

from .helpers import ServerSide, options


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
