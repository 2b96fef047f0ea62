"""UTF-8 handling (Autobahn group 6): valid text echoed, invalid text fails 1007 at once."""

from __future__ import annotations

import pytest
import trio

from .rawpeer import CONTINUATION, PROMPT, TEXT, both_roles, connected

VALID = {
    "ascii": b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
    "greek": "κόσμε".encode(),
    "2-byte-bounds": "\u0080\u07ff".encode(),
    "3-byte-bounds": "\u0800\uffff".encode(),
    "4-byte-bounds": "\U00010000\U0010ffff".encode(),
    "around-surrogates": "\ud7ff\ue000\ufffd".encode(),
    "noncharacters": "\ufdd0\ufffe\U0001fffe\U0010fffe".encode(),
    "nul": b"\x00",
    "mixed": "a\u00e9\u4e2d\U0001f600z".encode() * 20,
}

INVALID = {
    "lone-continuation": b"\x80",
    "continuations": b"\x80\xbf\x80\xbf",
    "lone-start-2": b"\xc2 ",
    "truncated-2": b"\xce",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\x98",
    "overlong-slash-2": b"\xc0\xaf",
    "overlong-slash-3": b"\xe0\x80\xaf",
    "overlong-slash-4": b"\xf0\x80\x80\xaf",
    "overlong-max-2": b"\xc1\xbf",
    "overlong-max-3": b"\xe0\x9f\xbf",
    "overlong-max-4": b"\xf0\x8f\xbf\xbf",
    "overlong-nul": b"\xc0\x80",
    "surrogate-high": b"\xed\xa0\x80",
    "surrogate-low": b"\xed\xbf\xbf",
    "surrogate-pair": b"\xed\xa0\x80\xed\xb0\x80",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "f5": b"\xf5\x80\x80\x80",
    "5-byte": b"\xf8\x88\x80\x80\x80",
    "fe": b"\xfe",
    "ff": b"\xff",
    "greek-then-surrogate": "κόσμε".encode() + b"\xed\xa0\x80edited",
}


@both_roles
@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
async def test_valid_utf8_echoed(ours: str, data: bytes) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(TEXT, data)
            assert await peer.read_message() == (TEXT, data)


@both_roles
@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
async def test_valid_utf8_split_on_every_byte(ours: str, data: bytes) -> None:
    # Code points cut across fragment boundaries are still valid.
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            for index in range(len(data)):
                await peer.send_frame(
                    TEXT if index == 0 else CONTINUATION, data[index : index + 1], fin=False
                )
            await peer.send_frame(CONTINUATION if data else TEXT, b"", fin=True)
            assert await peer.read_message() == (TEXT, data)


@both_roles
@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
async def test_invalid_utf8_fails_1007(ours: str, data: bytes) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(TEXT, data)
            await peer.expect_close(1007)


FAIL_FAST = {
    # (fragments sent before the final one; the final one is never sent)
    "surrogate-in-second": [b"hello ", "κόσμε".encode() + b"\xed\xa0\x80"],
    "surrogate-split": [b"abc\xed", b"\xa0", b"\x80"],
    "f5-first": [b"\xf5"],
    "above-10ffff-split": [b"\xf4", b"\x90"],
    "overlong-split": [b"ok", b"\xc0", b"\xaf"],
    "lone-continuation-middle": [b"x" * 1000, b"\x80" + b"y" * 1000],
    "invalid-early-in-big-fragment": [b"\xff" + b"z" * 60000],
}


@both_roles
@pytest.mark.parametrize("fragments", FAIL_FAST.values(), ids=FAIL_FAST.keys())
async def test_invalid_utf8_in_fragmented_message_fails_fast(
    ours: str, fragments: list[bytes]
) -> None:
    # The 1007 close arrives while the message is still unfinished: no final fragment is sent.
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            for index, fragment in enumerate(fragments):
                await peer.send_frame(TEXT if index == 0 else CONTINUATION, fragment, fin=False)
            await peer.expect_close(1007)


@both_roles
async def test_invalid_utf8_inside_one_frame_fails_before_its_end(ours: str) -> None:
    # Only the first part of a 100 kB frame is sent: the bad byte is in it.
    from .rawpeer import build_frame

    payload = b"a" * 1000 + b"\xed\xbf\xbf" + b"b" * 99_000
    frame = build_frame(TEXT, payload, mask=False)
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            if peer.is_client:
                frame = build_frame(TEXT, payload, mask=True)
            await peer.send_raw(frame[:2000])
            await peer.expect_close(1007)


@both_roles
async def test_truncated_code_point_at_end_of_fragmented_message_fails_1007(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.send_frame(TEXT, b"ends with \xce", fin=False)
            await peer.send_frame(CONTINUATION, b"", fin=True)
            await peer.expect_close(1007)


@both_roles
async def test_binary_is_not_checked(ours: str) -> None:
    from .rawpeer import BINARY

    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.echo(b"\xff\xfe\xed\xa0\x80\xc0\xaf")
            await peer.send_frame(BINARY, b"\xed", fin=False)
            await peer.send_frame(CONTINUATION, b"\xa0\x80")
            assert await peer.read_message() == (BINARY, b"\xed\xa0\x80")
