"""Reserved bits and reserved opcodes (Autobahn groups 3 and 4): each fails with 1002."""

from __future__ import annotations

import pytest
import trio

from .rawpeer import PING, PROMPT, RSV1, RSV2, RSV3, TEXT, both_roles, connected, options


@both_roles
@pytest.mark.parametrize(
    "rsv", [RSV1, RSV2, RSV3, RSV1 | RSV2, RSV2 | RSV3, RSV1 | RSV2 | RSV3], ids=hex
)
async def test_rsv_bits_on_data_frame_without_extension_fail_1002(ours: str, rsv: int) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, options(compression=None)) as (peer, _):
            await peer.echo("before")
            await peer.send_frame(TEXT, b"hello", rsv=rsv)
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize("rsv", [RSV2, RSV3])
async def test_rsv2_rsv3_with_deflate_negotiated_fail_1002(ours: str, rsv: int) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, offer="permessage-deflate", answer="permessage-deflate") as (
            peer,
            _,
        ):
            await peer.send_frame(TEXT, b"hello", rsv=rsv)
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize("rsv", [RSV1, RSV2, RSV3])
async def test_rsv_bits_on_ping_fail_1002(ours: str, rsv: int) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, options(compression=None)) as (peer, _):
            await peer.send_frame(PING, b"p", rsv=rsv)
            frame = await peer.read_frame()
            assert frame.close_code == 1002, frame


@both_roles
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF], ids=hex)
async def test_reserved_opcode_fails_1002(ours: str, opcode: int) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            await peer.echo("before")
            await peer.send_frame(opcode, b"payload")
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize("opcode", [3, 0xB])
async def test_reserved_opcode_after_valid_frames_in_one_write(ours: str, opcode: int) -> None:
    # The message before the bad frame may be echoed or not (the connection fails while the
    # echo is on its way); nothing after the bad frame is processed.
    from .rawpeer import build_frame

    with trio.fail_after(PROMPT):
        async with connected(ours) as (peer, _):
            mask = peer.is_client
            await peer.send_raw(
                build_frame(TEXT, b"first", mask=mask)
                + build_frame(opcode, b"", mask=mask)
                + build_frame(PING, b"never answered", mask=mask)
            )
            frame = await peer.read_frame()
            if frame.opcode == TEXT:
                assert frame.payload == b"first"
                frame = await peer.read_frame()
            assert frame.close_code == 1002, frame
