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


async def test_keepalive_keeps_pinging_a_client_connection(autojump_clock) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(
            client_stream, host="t", options=options(ping_interval=5, ping_timeout=3)
        ):
            for expected_time in (5, 10, 15):
                opcode, payload = await peer.read_frame()
                assert opcode == 0x9
                assert trio.current_time() == pytest.approx(expected_time)
                await peer.send_frame(0xA, payload)


async def test_server_keepalive_pings_every_connection_repeatedly(autojump_clock) -> None:
    pings = {}

    class Counting(trio.abc.Listener):
        def __init__(self) -> None:
            self.send, self.recv = trio.open_memory_channel(10)

        async def accept(self):
            return await self.recv.receive()

        async def aclose(self) -> None:
            await self.recv.aclose()

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.wait_closed()

    listener = Counting()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: trio_ws.serve_listeners(
                handler,
                [listener],
                options=options(ping_interval=5, ping_timeout=3),
                task_status=task_status,
            )
        )
        peers = []
        for i in range(3):
            client_stream, server_stream = trio.testing.memory_stream_pair()
            listener.send.send_nowait(server_stream)
            await client_stream.send_all(
                b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            peer = RawPeer(client_stream)
            await peer.read_until(b"\r\n\r\n")
            peers.append(peer)
            pings[i] = 0

        async def answer(i: int, peer: RawPeer) -> None:
            while True:
                opcode, payload = await peer.read_frame()
                if opcode == 0x9:
                    pings[i] += 1
                    await peer.send_frame(0xA, payload, mask=True)

        async with trio.open_nursery() as answers:
            for i, peer in enumerate(peers):
                answers.start_soon(answer, i, peer)
            await trio.sleep(31)
            answers.cancel_scope.cancel()
        assert all(count >= 5 for count in pings.values()), pings
        await server.aclose()


async def test_keepalive_timeout_while_a_send_is_stuck(autojump_clock) -> None:
    """The 1011 close must not wait forever for a send blocked on the silent peer."""
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(
            client_stream,
            host="t",
            options=options(ping_interval=5, ping_timeout=3, close_timeout=2),
        ) as ws:

            async def stuck() -> None:
                with pytest.raises(trio_ws.ConnectionClosed):
                    await ws.send(b"x" * 1_000_000)

            nursery.start_soon(stuck)
            await ws.wait_closed()
            assert trio.current_time() <= 5 + 3 + 2 + 0.01
            assert "keepalive ping timeout" in str(ws._lifecycle.closed_exception())


async def test_a_slow_application_does_not_make_a_healthy_peer_look_dead(autojump_clock) -> None:
    """Our application stops calling receive() for 3 x ping_timeout while the peer keeps
    sending: the queue fills, reading pauses, the peer's pong waits unread behind its
    messages. That is our slowness, not the peer's: the connection stays open and nothing is
    lost. (A silent peer is still dropped: test_missing_pong_closes_with_1011.)"""
    count = 40

    async def talkative(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        for n in range(count):
            await ws.send(f"message {n}")
            await trio.sleep(0.5)
        await ws.receive()  # until the client closes

    client = options(ping_interval=2, ping_timeout=2, max_queue=1)
    async with pair(talkative, client=client) as ws:
        await trio.sleep(3 * 2 + 1)  # not receiving: reading pauses
        assert ws.statistics().reading_paused
        assert [await ws.receive() for _ in range(count)] == [f"message {n}" for n in range(count)]
        assert not ws.closed
        assert ws.statistics().last_rtt is not None  # the pings were answered meanwhile
