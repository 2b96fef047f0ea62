"""Fragmentation (Autobahn group 5)."""

from __future__ import annotations

import pytest
import trio

from .rawpeer import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    PROMPT,
    TEXT,
    both_roles,
    build_frame,
    close_payload,
    connected,
    options,
)


@both_roles
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("pieces", [2, 3, 10])
async def test_fragmented_message_reassembled(ours: str, opcode: int, pieces: int) -> None:
    data = b"".join(f"piece {i};".encode() for i in range(pieces))
    step = -(-len(data) // pieces)
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            for index, chunk in enumerate(chunks):
                await peer.send_frame(
                    opcode if index == 0 else CONTINUATION, chunk, fin=index == len(chunks) - 1
                )
            assert await peer.read_message() == (opcode, data)


@both_roles
@pytest.mark.parametrize("fin", [True, False], ids=["fin", "nofin"])
async def test_continuation_without_start_fails_1002(ours: str, fin: bool) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(CONTINUATION, b"orphan", fin=fin)
            await peer.expect_close(1002)


@both_roles
async def test_continuation_after_finished_message_fails_1002(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.echo("complete")
            await peer.send_frame(CONTINUATION, b"late", fin=True)
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("fin", [True, False], ids=["fin", "nofin"])
async def test_new_message_inside_fragmented_one_fails_1002(
    ours: str, opcode: int, fin: bool
) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(TEXT, b"started", fin=False)
            await peer.send_frame(opcode, b"intruder", fin=fin)
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE], ids=["ping", "pong", "close"])
async def test_fragmented_control_frame_fails_1002(ours: str, opcode: int) -> None:
    payload = close_payload(1000) if opcode == CLOSE else b"frag"
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(opcode, payload, fin=False)
            await peer.send_frame(CONTINUATION, b"more", fin=True)
            frame = await peer.read_frame()
            assert frame.opcode == CLOSE, f"fragmented control frame answered with {frame}"
            assert frame.close_code == 1002


@both_roles
@pytest.mark.parametrize("size", [1, 0], ids=["1-byte", "empty"])
async def test_many_tiny_fragments(ours: str, size: int) -> None:
    count = 4000  # under the default max_fragments (4096)
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            frames = [
                build_frame(
                    TEXT if i == 0 else CONTINUATION, b"x" * size, fin=False, mask=peer.is_client
                )
                for i in range(count - 1)
            ]
            frames.append(build_frame(CONTINUATION, b"!", mask=peer.is_client))
            await peer.send_raw(b"".join(frames))
            assert await peer.read_message() == (TEXT, b"x" * size * (count - 1) + b"!")


@both_roles
async def test_control_frames_between_every_fragment(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            for i in range(5):
                await peer.send_frame(
                    TEXT if i == 0 else CONTINUATION, f"{i}".encode(), fin=i == 4
                )
                if i < 4:
                    await peer.send_frame(PONG, b"unsolicited")
                    await peer.send_frame(PING, f"p{i}".encode())
            for i in range(4):
                frame = await peer.read_frame()
                assert (frame.opcode, frame.payload) == (PONG, f"p{i}".encode())
            assert await peer.read_message() == (TEXT, b"01234")


@both_roles
async def test_fragments_over_max_fragments_fail_1009(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, options(max_fragments=10)) as (peer, _):
            for i in range(11):
                await peer.send_frame(TEXT if i == 0 else CONTINUATION, b"x", fin=False)
            await peer.expect_close(1009)


@both_roles
async def test_default_fragment_cap_fails_1009(ours: str) -> None:
    """By default a message may span 4096 frames: the 4097th fails it, whatever its size."""
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            frames = [
                build_frame(TEXT if i == 0 else CONTINUATION, b"", fin=False, mask=peer.is_client)
                for i in range(4097)
            ]
            await peer.send_raw(b"".join(frames))
            await peer.expect_close(1009)


@both_roles
async def test_our_fragments_are_sent_as_fragments(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            await peer.echo("ready")
            assert side.ws is not None
            await side.ws.send_fragments(["ab", "cd", "ef"])
            frames = [await peer.read_frame() for _ in range(4)]
            assert [(f.opcode, f.fin, f.payload) for f in frames] == [
                (TEXT, False, b"ab"),
                (CONTINUATION, False, b"cd"),
                (CONTINUATION, False, b"ef"),
                (CONTINUATION, True, b""),
            ]
