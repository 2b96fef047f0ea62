"""Keepalive: pings every ping_interval; no pong within ping_timeout closes with 1011."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trio_ws
from trio_ws import ConnectionClosedError

from .helpers import RawPeer, options, pair


async def test_keepalive_measures_rtt(autojump_clock) -> None:
    async with pair(client=options(ping_interval=5, ping_timeout=5)) as ws:
        await trio.sleep(12)
        assert ws.statistics().last_rtt is not None
        await ws.send("alive")
        assert await ws.receive() == "alive"


async def test_missing_pong_closes_with_1011(autojump_clock) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(
            client_stream, host="t", options=options(ping_interval=5, ping_timeout=3)
        ) as ws:
            opcode, _ = await peer.read_frame()  # the keepalive ping, never answered
            assert opcode == 0x9
            assert trio.current_time() == pytest.approx(5)
            with pytest.raises(ConnectionClosedError) as info:
                await ws.receive()
            assert info.value.code == 1011
            assert "keepalive ping timeout" in str(info.value)
            opcode, payload = await peer.read_frame()
            assert (opcode, payload[:2]) == (0x8, (1011).to_bytes(2, "big"))


async def test_keepalive_off() -> None:
    async with pair(client=options(ping_interval=None)) as ws:
        assert ws.statistics().pings_in_flight == 0
