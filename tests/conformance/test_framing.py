"""Framing (Autobahn group 1): payload length boundaries, length encodings, masking."""

from __future__ import annotations

import os

import pytest
import trio

from .rawpeer import BINARY, PROMPT, TEXT, both_roles, build_frame, connected, options

SIZES = [0, 125, 126, 127, 65535, 65536, 2**20]


@both_roles
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["text", "binary"])
async def test_payload_length_boundaries(ours: str, size: int, kind: str) -> None:
    data: str | bytes = "*" * size if kind == "text" else os.urandom(size)
    with trio.fail_after(PROMPT):
        async with connected(ours, options(compression=None)) as (peer, _):
            await peer.echo(data)


@both_roles
@pytest.mark.parametrize("length_bits", [16, 64])
async def test_non_minimal_length_encoding_accepted(ours: str, length_bits: int) -> None:
    # RFC 6455 §5.2 requires the minimal encoding when sending, but receivers need not check.
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.echo(b"short", length_bits=length_bits)
            await peer.echo("also short", length_bits=length_bits)


@both_roles
async def test_64_bit_length_with_msb_set_fails_1002(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(BINARY, b"", declared_length=2**63 + 5, length_bits=64)
            await peer.expect_close(1002)


@both_roles
async def test_wrong_masking_fails_1002(ours: str) -> None:
    # A server must fail on an unmasked frame, a client on a masked one (RFC 6455 §5.1).
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(TEXT, b"hello", mask=not peer.is_client)
            await peer.expect_close(1002)


@both_roles
async def test_frames_split_byte_by_byte(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            for data in (b"\x00\x01\x02" * 50, b"x" * 70000):
                frame = build_frame(BINARY, data, mask=peer.is_client)
                for index in range(min(len(frame), 300)):
                    await peer.send_raw(frame[index : index + 1])
                await peer.send_raw(frame[300:])
                assert await peer.read_message() == (BINARY, data)


@both_roles
async def test_many_frames_in_one_write(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, options(max_queue=4)) as (peer, _):
            messages = [f"message {i}".encode() for i in range(200)]
            await peer.send_raw(
                b"".join(build_frame(TEXT, m, mask=peer.is_client) for m in messages)
            )
            for message in messages:
                assert await peer.read_message() == (TEXT, message)


@both_roles
async def test_server_masks_nothing_client_masks_everything(ours: str) -> None:
    # read_frame() asserts the masking of every frame our side sends, pongs and closes included.
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.echo(b"data")
            await peer.send_frame(0x9, b"ping")
            frame = await peer.read_frame()
            assert (frame.opcode, frame.payload) == (0xA, b"ping")
            await peer.send_close(1000)
            await peer.expect_close(1000)
