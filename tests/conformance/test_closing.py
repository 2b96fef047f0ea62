"""The closing handshake (Autobahn group 7)."""

from __future__ import annotations

import pytest
import trio

from .rawpeer import (
    CLOSE,
    PROMPT,
    TEXT,
    PeerClosed,
    both_roles,
    build_frame,
    close_payload,
    connected,
)

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]
VALID_CODES += [3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


async def _after_close(peer, side, ours: str) -> None:  # type: ignore[no-untyped-def]
    """After the close handshake: the server closes TCP first (RFC 6455 §7.1.1)."""
    if ours == "server":
        await peer.read_eof()  # no byte after the close frame, then EOF
    else:
        with trio.move_on_after(0.1):
            frame = await peer.read_frame()
            raise AssertionError(f"frame after the close handshake: {frame}")
        await peer.stream.aclose()
    await side.closed.wait()


@both_roles
@pytest.mark.parametrize("code", VALID_CODES)
async def test_valid_close_code_echoed(ours: str, code: int) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            await peer.send_close(code, "reason ✓")
            frame = await peer.expect_close(code)
            assert frame.close_reason == "reason ✓"
            await _after_close(peer, side, ours)
            assert side.ws is not None
            assert (side.ws.close_code, side.ws.close_reason) == (code, "reason ✓")


@both_roles
async def test_empty_close_echoed_empty(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            await peer.send_close(None)
            await peer.expect_close(None)
            await _after_close(peer, side, ours)
            assert side.ws is not None
            assert side.ws.close_code == 1005


@both_roles
@pytest.mark.parametrize("code", INVALID_CODES)
async def test_invalid_close_code_fails_1002(ours: str, code: int) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_close(code)
            await peer.expect_close(1002)


@both_roles
async def test_one_byte_close_payload_fails_1002(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(CLOSE, b"\x03")
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize(
    "reason", [b"\xff", b"bad \xed\xa0\x80", b"trunc \xce", b"\xc0\xaf"], ids=str
)
async def test_invalid_utf8_close_reason_fails_1007(ours: str, reason: bytes) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_close(1000, reason)
            await peer.expect_close(1007)


@both_roles
async def test_close_with_123_byte_reason_echoed(ours: str) -> None:
    reason = "r" * 120 + "é" + "!"  # 123 bytes
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_close(1000, reason)
            assert (await peer.expect_close(1000)).close_reason == reason


@both_roles
async def test_close_with_124_byte_reason_fails_1002(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_close(1000, "r" * 124)  # 126-byte control frame
            await peer.expect_close(1002)


@both_roles
async def test_data_after_close_ignored(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            mask = peer.is_client
            await peer.send_raw(
                build_frame(CLOSE, close_payload(1000, "done"), mask=mask)
                + build_frame(TEXT, b"ignored", mask=mask)
                + build_frame(0x9, b"ignored ping", mask=mask)
                + build_frame(TEXT, b"\xff not even utf-8", mask=mask)
            )
            frame = await peer.read_frame()
            assert frame.opcode == CLOSE, f"a frame after the close was answered: {frame}"
            assert frame.close_code == 1000
            await _after_close(peer, side, ours)


@both_roles
async def test_close_inside_fragmented_message_echoed(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            await peer.send_frame(TEXT, b"unfinished", fin=False)
            await peer.send_close(1001, "going away")
            await peer.expect_close(1001)
            await _after_close(peer, side, ours)


@both_roles
async def test_message_before_close_is_delivered(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(TEXT, b"last words")
            assert await peer.read_message() == (TEXT, b"last words")
            await peer.send_close(1000)
            await peer.expect_close(1000)


@both_roles
@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (4001, "bye"), (3000, "é" * 40)])
async def test_close_started_by_our_side(ours: str, code: int, reason: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            await peer.send_frame(TEXT, f"!close {code} {reason}".encode())
            frame = await peer.expect_close(code)
            assert frame.close_reason == reason
            await peer.send_close(code, reason)
            if ours == "server":
                await peer.read_eof()  # the server closes TCP once the close is echoed
            else:
                await peer.stream.aclose()
            await side.closed.wait()
            assert side.ws is not None
            assert (side.ws.close_code, side.ws.close_reason) == (code, reason)


@both_roles
async def test_eof_without_close_frame(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            await peer.echo("hello")
            await peer.send_frame(TEXT, b"half a mess", fin=False)
            await peer.stream.aclose()
            await side.closed.wait()
            assert side.ws is not None
            assert side.ws.close_code == 1006


@both_roles
async def test_eof_in_the_middle_of_a_frame(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, side):
            frame = build_frame(TEXT, b"x" * 1000, mask=peer.is_client)
            await peer.send_raw(frame[:500])
            await peer.stream.aclose()
            await side.closed.wait()
            assert side.ws is not None
            assert side.ws.close_code == 1006
            with pytest.raises(PeerClosed):
                await peer.read_frame()
