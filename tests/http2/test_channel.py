"""An HTTP/2 stream as a Trio byte stream: Trio's own stream conformance checks, and the
flow-control and closing rules of trio_ws._h2_channel."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_ws._h2_channel import Channel, Direction
from trio_ws._h2_session import STREAM_WINDOW

from .helpers import SessionPair


async def test_a_channel_pair_passes_trios_half_closeable_stream_checks() -> None:
    async with trio.open_nursery() as nursery:
        pair = await SessionPair(nursery).start()

        async def make() -> tuple[Channel, Channel]:
            return await pair.channels()

        await trio.testing.check_half_closeable_stream(make, None)
        nursery.cancel_scope.cancel()


async def test_a_reader_that_stops_stops_the_peer_at_one_window() -> None:
    async with trio.open_nursery() as nursery:
        pair = await SessionPair(nursery).start()
        ours, theirs = await pair.channels()
        sent = 0

        async def flood() -> None:
            nonlocal sent
            while True:
                await ours.send_all(b"x" * 1000)
                sent += 1000

        nursery.start_soon(flood)
        await trio.testing.wait_all_tasks_blocked()
        assert theirs.buffered <= STREAM_WINDOW
        assert sent <= STREAM_WINDOW + 1000
        # Reading reopens the window: the flood goes on.
        before = sent
        for _ in range(200):
            await theirs.receive_some()
        await trio.testing.wait_all_tasks_blocked()
        assert sent > before
        nursery.cancel_scope.cancel()


async def test_a_stream_nobody_reads_does_not_block_the_others() -> None:
    async with trio.open_nursery() as nursery:
        pair = await SessionPair(nursery).start()
        stuck_ours, _stuck_theirs = await pair.channels()
        ours, theirs = await pair.channels()

        async def flood() -> None:
            while True:
                await stuck_ours.send_all(b"x" * 1000)

        nursery.start_soon(flood)
        await trio.testing.wait_all_tasks_blocked()
        # The connection window (65535 by the spec) is long past: it was reopened at once.
        for _ in range(100):
            await ours.send_all(b"y" * 1000)
            assert await theirs.receive_some(1000) == b"y" * 1000
        nursery.cancel_scope.cancel()


async def test_close_is_end_stream_and_unread_data_is_a_reset() -> None:
    async with trio.open_nursery() as nursery:
        pair = await SessionPair(nursery).start()
        ours, theirs = await pair.channels()
        await theirs.aclose()
        assert await ours.receive_some() == b""  # END_STREAM: an orderly end
        assert ours.receiving is Direction.ENDED
        await ours.aclose()

        ours, theirs = await pair.channels()
        await ours.send_all(b"never read")
        await trio.testing.wait_all_tasks_blocked()
        await theirs.aclose()  # data left unread: RST_STREAM CANCEL
        await trio.testing.wait_all_tasks_blocked()
        assert ours.receiving is Direction.BROKEN
        assert "CANCEL" in ours.why
        nursery.cancel_scope.cancel()


async def test_losing_the_connection_breaks_every_channel() -> None:
    async with trio.open_nursery() as nursery:
        pair = await SessionPair(nursery).start()
        channels = [await pair.channels() for _ in range(3)]
        await pair.server.transport.aclose()
        await trio.testing.wait_all_tasks_blocked()
        for ours, _theirs in channels:
            with pytest.raises(trio.BrokenResourceError, match="HTTP/2 connection"):
                await ours.receive_some()
        nursery.cancel_scope.cancel()
