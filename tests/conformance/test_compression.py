"""permessage-deflate (Autobahn groups 12 and 13, RFC 7692): negotiation and data frames."""

from __future__ import annotations

import random
import zlib

import pytest
import trio

import trio_ws

from .rawpeer import (
    BINARY,
    CONTINUATION,
    PING,
    PROMPT,
    RSV1,
    TEXT,
    both_roles,
    connected,
    options,
)

DEFLATE = "permessage-deflate"


def far_matches(seed: int = 0) -> bytes:
    """Data whose only repeats are 3000 bytes apart: a window under 4 KiB cannot use them.

    A peer that deflates with a larger window than negotiated emits back-references that a
    decompressor with the negotiated window rejects ("invalid distance too far back").
    """
    block = random.Random(seed).randbytes(3000)
    return block * 3


def check_extension(ws: trio_ws.WebSocketConnection | None) -> None:
    assert ws is not None
    assert [extension.name for extension in ws.extensions] == [DEFLATE]


async def roundtrip(peer, times: int = 2) -> None:  # type: ignore[no-untyped-def]
    """Send compressed messages that our side echoes compressed; the same data each time,
    so context takeover (or not) is exercised in both directions."""
    data = far_matches()
    for _ in range(times):
        await peer.send_compressed(BINARY, data)
        frame_opcode, payload = await peer.read_message()
        assert (frame_opcode, payload) == (BINARY, data)


# --- Negotiation, our server answering a raw offer -------------------------------------------

# (raw offer, our server's exact answer); our server deflates with at most a 12-bit window
# by default and asks clients that allow it for 12 bits as well.
SERVER_ANSWERS = {
    "plain": (DEFLATE, DEFLATE),
    "client_bits-novalue": (
        f"{DEFLATE}; client_max_window_bits",
        f"{DEFLATE}; client_max_window_bits=12",
    ),
    "client_bits-15": (
        f"{DEFLATE}; client_max_window_bits=15",
        f"{DEFLATE}; client_max_window_bits=12",
    ),
    "client_bits-9": (
        f"{DEFLATE}; client_max_window_bits=9",
        f"{DEFLATE}; client_max_window_bits=9",
    ),
    **{
        f"server_bits-{bits}": (
            f"{DEFLATE}; server_max_window_bits={bits}",
            f"{DEFLATE}; server_max_window_bits={min(bits, 12)}",
        )
        for bits in range(9, 16)
    },
    "server_nct": (
        f"{DEFLATE}; server_no_context_takeover",
        f"{DEFLATE}; server_no_context_takeover",
    ),
    "client_nct": (
        f"{DEFLATE}; client_no_context_takeover",
        f"{DEFLATE}; client_no_context_takeover",
    ),
    "all-four": (
        f"{DEFLATE}; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=10; client_max_window_bits=11",
        f"{DEFLATE}; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=10; client_max_window_bits=11",
    ),
    "second-offer-after-invalid": (
        f"{DEFLATE}; bogus, {DEFLATE}; server_max_window_bits=9",
        f"{DEFLATE}; server_max_window_bits=9",
    ),
    "quoted-value": (
        f'{DEFLATE}; server_max_window_bits="10"',
        f"{DEFLATE}; server_max_window_bits=10",
    ),
    "after-unknown-extension": (
        f"x-webkit-deflate-frame, {DEFLATE}",
        DEFLATE,
    ),
}

DECLINED_OFFERS = {
    "server_bits-8": f"{DEFLATE}; server_max_window_bits=8",
    "unknown-param": f"{DEFLATE}; foo=1",
    "duplicate": f"{DEFLATE}; server_no_context_takeover; server_no_context_takeover",
    "server_bits-novalue": f"{DEFLATE}; server_max_window_bits",
    "server_bits-16": f"{DEFLATE}; server_max_window_bits=16",
    "client_bits-7": f"{DEFLATE}; client_max_window_bits=7",
    "leading-zero": f"{DEFLATE}; server_max_window_bits=09",
    "nct-with-value": f"{DEFLATE}; client_no_context_takeover=1",
    "unknown-extension-only": "x-webkit-deflate-frame",
}


@pytest.mark.parametrize(("offer", "answer"), SERVER_ANSWERS.values(), ids=SERVER_ANSWERS.keys())
async def test_server_answer_to_offer(offer: str, answer: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected("server", offer=offer) as (peer, side):
            assert peer.response_headers.get("sec-websocket-extensions") == answer
            await roundtrip(peer)
            check_extension(side.ws)


@pytest.mark.parametrize("offer", DECLINED_OFFERS.values(), ids=DECLINED_OFFERS.keys())
async def test_server_declines_invalid_offer(offer: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected("server", offer=offer) as (peer, side):
            assert peer.status == 101
            assert "sec-websocket-extensions" not in peer.response_headers
            await peer.echo(b"x" * 1000)  # uncompressed both ways
            assert side.ws is not None
            assert side.ws.extensions == []


async def test_server_with_compression_off_ignores_offer() -> None:
    with trio.fail_after(PROMPT):
        async with connected("server", options(compression=None), offer=DEFLATE) as (peer, _):
            assert "sec-websocket-extensions" not in peer.response_headers
            await peer.echo(b"x" * 1000)


# --- Negotiation, our client reading a raw answer --------------------------------------------

CLIENT_ACCEPTS = {
    "plain": DEFLATE,
    **{f"client_bits-{b}": f"{DEFLATE}; client_max_window_bits={b}" for b in range(9, 16)},
    **{f"server_bits-{b}": f"{DEFLATE}; server_max_window_bits={b}" for b in range(9, 16)},
    "server_nct": f"{DEFLATE}; server_no_context_takeover",
    "client_nct": f"{DEFLATE}; client_no_context_takeover",
    "all-four": f"{DEFLATE}; server_no_context_takeover; client_no_context_takeover;"
    " server_max_window_bits=9; client_max_window_bits=9",
}

CLIENT_REFUSES = {
    "unknown-param": f"{DEFLATE}; foo",
    "client_bits-8": f"{DEFLATE}; client_max_window_bits=8",
    "client_bits-novalue": f"{DEFLATE}; client_max_window_bits",
    "server_bits-novalue": f"{DEFLATE}; server_max_window_bits",
    "server_bits-16": f"{DEFLATE}; server_max_window_bits=16",
    "duplicate": f"{DEFLATE}; client_no_context_takeover; client_no_context_takeover",
    "not-offered": "x-webkit-deflate-frame",
    "twice": f"{DEFLATE}, {DEFLATE}",
}


async def test_client_offer() -> None:
    with trio.fail_after(PROMPT):
        async with connected("client", answer=None) as (peer, side):
            offer = peer.request_headers["sec-websocket-extensions"]
            assert offer == f"{DEFLATE}; client_max_window_bits"
            await peer.echo(b"x" * 1000)  # declined by the raw server: uncompressed
            assert side.ws is not None
            assert side.ws.extensions == []


async def test_client_with_compression_off_offers_nothing() -> None:
    with trio.fail_after(PROMPT):
        async with connected("client", options(compression=None)) as (peer, _):
            assert "sec-websocket-extensions" not in peer.request_headers
            await peer.echo("plain")


@pytest.mark.parametrize("answer", CLIENT_ACCEPTS.values(), ids=CLIENT_ACCEPTS.keys())
async def test_client_accepts_answer(answer: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected("client", answer=answer) as (peer, side):
            await roundtrip(peer)
            check_extension(side.ws)


@pytest.mark.parametrize("answer", CLIENT_REFUSES.values(), ids=CLIENT_REFUSES.keys())
async def test_client_fails_on_invalid_answer(answer: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected("client", answer=answer, allow_error=True) as (peer, side):
            await peer.read_eof()  # the client drops the connection without a frame
            await side.closed.wait()
            assert isinstance(side.error, trio_ws.InvalidHandshake), side.error
            assert side.ws is None


# --- Data frames, both roles -----------------------------------------------------------------

NEGOTIATED = {"offer": DEFLATE, "answer": DEFLATE}


@both_roles
@pytest.mark.parametrize("pieces", [2, 3, 50])
async def test_compressed_fragmented_message(ours: str, pieces: int) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            data = far_matches(pieces)
            await peer.send_compressed(TEXT, data.hex().encode(), pieces=pieces)
            assert await peer.read_message() == (TEXT, data.hex().encode())


@both_roles
async def test_compressed_and_plain_messages_mixed(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            for i in range(4):
                data = f"message {i} ".encode() * 50
                if i % 2:
                    await peer.send_frame(BINARY, data)
                else:
                    await peer.send_compressed(BINARY, data)
                assert await peer.read_message() == (BINARY, data)


@both_roles
async def test_empty_compressed_message(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            await peer.send_compressed(TEXT, b"")
            assert await peer.read_message() == (TEXT, b"")


@both_roles
async def test_context_takeover_across_messages(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            await roundtrip(peer, times=5)


@both_roles
async def test_message_ending_with_bfinal_block(ours: str) -> None:
    # RFC 7692 §7.2.3.4: a sender may end a message with a BFINAL block.
    data = b"final block " * 100
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = compressor.compress(data) + compressor.flush(zlib.Z_FINISH)
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            await peer.send_frame(BINARY, payload, rsv=RSV1)
            assert await peer.read_message() == (BINARY, data)
            await peer.send_compressed(BINARY, data)  # a fresh raw context, as after BFINAL
            assert await peer.read_message() == (BINARY, data)


@both_roles
async def test_rsv1_on_continuation_fails_1002(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            assert peer.deflate is not None
            payload = peer.deflate.compress(b"abc" * 100)
            await peer.send_frame(TEXT, payload[:10], fin=False, rsv=RSV1)
            await peer.send_frame(CONTINUATION, payload[10:], fin=True, rsv=RSV1)
            await peer.expect_close(1002)


@both_roles
@pytest.mark.parametrize("opcode", [PING, 0xA, 0x8], ids=["ping", "pong", "close"])
async def test_rsv1_on_control_frame_fails_1002(ours: str, opcode: int) -> None:
    payload = b"\x03\xe8" if opcode == 0x8 else b"x"
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            await peer.send_frame(opcode, payload, rsv=RSV1)
            frame = await peer.read_frame()
            assert frame.close_code == 1002, frame


@both_roles
async def test_invalid_deflate_data_fails_1007(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            await peer.send_frame(BINARY, b"\xff\xff\xff\xff not deflate", rsv=RSV1)
            await peer.expect_close(1007)


@both_roles
async def test_compressed_invalid_utf8_fails_1007(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            await peer.send_compressed(TEXT, b"valid, then \xed\xa0\x80 a surrogate" * 10)
            await peer.expect_close(1007)


@both_roles
async def test_decompression_bomb_fails_1009(ours: str) -> None:
    bomb = bytes(16 * 2**20)  # 16 MiB of zeros deflate to ~16 kB
    with trio.fail_after(PROMPT):
        async with connected(ours, options(max_message_size=2**20), **NEGOTIATED) as (peer, _):
            assert peer.deflate is not None
            payload = peer.deflate.compress(bomb)
            assert len(payload) < 20_000
            await peer.send_frame(BINARY, payload, rsv=RSV1)
            await peer.expect_close(1009)


@both_roles
async def test_our_side_sets_rsv1_on_first_frame_only(ours: str) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, side):
            await peer.echo("ready")
            assert side.ws is not None
            data = [b"a" * 500, b"b" * 500, b"c" * 500]
            await side.ws.send_fragments(data, compress=True)
            frames = []
            while not frames or not frames[-1].fin:
                frames.append(await peer.read_frame())
            assert frames[0].rsv == RSV1
            assert all(frame.rsv == 0 for frame in frames[1:])
            assert peer.inflate is not None
            assert peer.inflate.decompress(b"".join(f.payload for f in frames)) == b"".join(data)


@both_roles
async def test_bytes_after_bfinal_block_fail_with_1007(ours: str) -> None:
    # Only zero padding may follow a BFINAL block (RFC 7692 §7.2.3.4); anything else would be
    # data silently lost, so the connection fails instead.
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = b"data " * 50
    payload = compressor.compress(data) + compressor.flush(zlib.Z_FINISH) + b"trailing junk"
    with trio.fail_after(PROMPT):
        async with connected(ours, **NEGOTIATED) as (peer, _):
            await peer.send_frame(BINARY, payload, rsv=RSV1)
            await peer.expect_close(1007)
