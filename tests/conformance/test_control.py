"""Pings and pongs (Autobahn group 2)."""

from __future__ import annotations

import os

import pytest
import trio

from .rawpeer import BINARY, CONTINUATION, PING, PONG, PROMPT, TEXT, both_roles, connected


@both_roles
@pytest.mark.parametrize(
    "payload", [b"", b"hello", os.urandom(125), bytes(range(125))], ids=["0", "5", "125r", "125b"]
)
async def test_ping_answered_with_same_payload(ours: str, payload: bytes) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(PING, payload)
            frame = await peer.read_frame()
            assert (frame.opcode, frame.payload, frame.fin, frame.rsv) == (PONG, payload, True, 0)


@both_roles
async def test_ping_of_126_bytes_fails_1002(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(PING, b"x" * 126)
            frame = await peer.read_frame()
            assert frame.opcode != PONG, "a 126-byte ping was answered"
            assert frame.close_code == 1002


@both_roles
async def test_pong_of_126_bytes_fails_1002(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(PONG, b"x" * 126)
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize("payload", [b"", b"unsolicited"])
async def test_unsolicited_pong_ignored(ours: str, payload: bytes) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(PONG, payload)
            await peer.echo("still open")


@both_roles
async def test_ping_between_fragments_answered_at_once(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(TEXT, b"frag", fin=False)
            await peer.send_frame(PING, b"between")
            # The pong comes while the message is still unfinished.
            frame = await peer.read_frame()
            assert (frame.opcode, frame.payload) == (PONG, b"between")
            await peer.send_frame(CONTINUATION, b"ment", fin=True)
            assert await peer.read_message() == (TEXT, b"fragment")


@both_roles
async def test_ten_pings_ten_pongs_in_order(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            for i in range(10):
                await peer.send_frame(PING, f"ping {i}".encode())
            for i in range(10):
                frame = await peer.read_frame()
                assert (frame.opcode, frame.payload) == (PONG, f"ping {i}".encode())


@both_roles
async def test_ping_split_byte_by_byte(ours: str) -> None:
    from .rawpeer import build_frame

    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            frame = build_frame(PING, b"slow ping", mask=peer.is_client)
            for index in range(len(frame)):
                await peer.send_raw(frame[index : index + 1])
            pong = await peer.read_frame()
            assert (pong.opcode, pong.payload) == (PONG, b"slow ping")


@both_roles
async def test_our_ping_gets_rtt_from_pong(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side), trio.open_nursery() as nursery:
            await peer.echo(b"ready")
            assert side.ws is not None
            result: list[float] = []

            async def ping() -> None:
                assert side.ws is not None
                result.append(await side.ws.ping(b"ours"))

            nursery.start_soon(ping)
            frame = await peer.read_frame()
            assert (frame.opcode, frame.payload) == (PING, b"ours")
            await peer.send_frame(PONG, b"ours")
        assert result
        assert result[0] >= 0


@both_roles
async def test_binary_after_pings(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(PING, b"")
            await peer.send_frame(BINARY, b"\x00\xff")
            assert (await peer.read_frame()).opcode == PONG
            assert await peer.read_message() == (BINARY, b"\x00\xff")
