"""Limits (Autobahn groups 9 and 12's sizes): big messages with a raised limit, 1009 beyond."""

from __future__ import annotations

import os

import pytest
import trio

from .rawpeer import (
    BINARY,
    CONTINUATION,
    PROMPT,
    TEXT,
    both_roles,
    connected,
    options,
)

MiB = 2**20


@both_roles
@pytest.mark.parametrize("size", [1 * MiB, 4 * MiB, 16 * MiB], ids=["1MiB", "4MiB", "16MiB"])
async def test_big_binary_message_with_raised_limit(ours: str, size: int) -> None:
    data = os.urandom(size)
    with trio.fail_after(PROMPT * 3):
        async with connected(ours, options(max_message_size=16 * MiB)) as (peer, _):
            await peer.echo(data)


@both_roles
async def test_big_text_message_in_fragments_with_raised_limit(ours: str) -> None:
    piece = ("κόσμε " * 10_000).encode()  # 120 kB, split mid code point below
    data = piece * 34  # ~4 MiB
    with trio.fail_after(PROMPT * 3):
        async with connected(ours, options(max_message_size=16 * MiB)) as (peer, _):
            step = 65_537
            for i in range(0, len(data), step):
                await peer.send_frame(
                    TEXT if i == 0 else CONTINUATION,
                    data[i : i + step],
                    fin=i + step >= len(data),
                )
            assert await peer.read_message() == (TEXT, data)


@both_roles
@pytest.mark.parametrize("limit", [1 * MiB, 4 * MiB])
async def test_frame_over_the_limit_fails_1009_on_its_header(ours: str, limit: int) -> None:
    # Only the header is sent: the declared length alone is enough to refuse it.
    with trio.fail_after(PROMPT):
        async with connected(ours, options(max_message_size=limit)) as (peer, _):
            await peer.send_frame(BINARY, b"", declared_length=limit + 1)
            await peer.expect_close(1009)


@both_roles
async def test_message_at_the_limit_accepted(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, options(max_message_size=100_000)) as (peer, _):
            await peer.echo(b"x" * 100_000)


@both_roles
async def test_fragmented_message_over_the_limit_fails_1009(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, options(max_message_size=100_000)) as (peer, _):
            await peer.send_frame(BINARY, b"x" * 60_000, fin=False)
            await peer.send_frame(CONTINUATION, b"x" * 40_000, fin=False)
            await peer.send_frame(CONTINUATION, b"", fin=False)
            await peer.send_frame(CONTINUATION, b"", declared_length=1)  # payload never sent
            await peer.expect_close(1009)


@both_roles
async def test_default_limit_is_1_mib(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.echo(b"y" * MiB)
            await peer.send_frame(TEXT, b"", declared_length=MiB + 1)
            await peer.expect_close(1009)
