"""permessage-deflate window sizes (RFC 7692 §7.1.2), every value from 9 to 15, both roles.

What a side announces in the handshake and the window it inflates with must agree: the raw
peer deflates with the largest window the negotiation allows it (15 bits when the answer says
nothing, §7.1.2.1/§7.1.2.2) and sends runs of messages whose repeats lie further back than
``2**bits`` bytes, so a side that inflates with a smaller window than it announced fails with
1007 ("invalid distance too far back") on the second pass of the run.
"""

from __future__ import annotations

import random

import pytest
import trio

from .rawpeer import BINARY, PROMPT, RawPeer, connected

DEFLATE = "permessage-deflate"
BITS = range(9, 16)
#: Each message is over 1 KiB, as in the report of issue 15.
PIECE = 1536


def far_run(bits: int, seed: int = 0) -> list[bytes]:
    """Messages of random bytes, then the same messages again, then one that repeats itself.

    The second pass repeats the first from ``2**bits + 2048`` bytes back (at most 30,000,
    inside the largest window): only a window of more than ``2**bits`` bytes reaches it.
    The last message repeats itself ``2**bits + 512`` bytes further on (at most 16,000), so
    the same holds without context takeover.
    """
    rng = random.Random(seed)
    total = min(2**bits + 2048, 30000)
    data = rng.randbytes(total)
    run = [data[i : i + PIECE] for i in range(0, total, PIECE)]
    itself = rng.randbytes(min(2**bits + 512, 16000))
    return [*run, *run, itself + itself]


async def echo_run(peer: RawPeer, bits: int) -> None:
    for message in far_run(bits):
        await peer.send_compressed(BINARY, message)
        assert await peer.read_message() == (BINARY, message)


def server_offers(bits: int) -> dict[str, str]:
    return {
        "client_bits": f"{DEFLATE}; client_max_window_bits={bits}",
        "server_bits": f"{DEFLATE}; server_max_window_bits={bits}",
        "both_bits": f"{DEFLATE}; server_max_window_bits={bits}; client_max_window_bits={bits}",
        "all_four": f"{DEFLATE}; server_no_context_takeover; client_no_context_takeover;"
        f" server_max_window_bits={bits}; client_max_window_bits={bits}",
        "client_bits_novalue": f"{DEFLATE}; client_max_window_bits",
    }


def client_answers(bits: int) -> dict[str, str]:
    return {
        "client_bits": f"{DEFLATE}; client_max_window_bits={bits}",
        "server_bits": f"{DEFLATE}; server_max_window_bits={bits}",
        "both_bits": f"{DEFLATE}; server_max_window_bits={bits}; client_max_window_bits={bits}",
        "all_four": f"{DEFLATE}; server_no_context_takeover; client_no_context_takeover;"
        f" server_max_window_bits={bits}; client_max_window_bits={bits}",
        "plain": DEFLATE,
    }


SERVER_CASES = [
    pytest.param(bits, offer, id=f"{name}-{bits}")
    for bits in BITS
    for name, offer in server_offers(bits).items()
]
CLIENT_CASES = [
    pytest.param(bits, answer, id=f"{name}-{bits}")
    for bits in BITS
    for name, answer in client_answers(bits).items()
]


@pytest.mark.parametrize(("bits", "offer"), SERVER_CASES)
async def test_our_server_inflates_with_the_window_it_announced(bits: int, offer: str) -> None:
    with trio.fail_after(PROMPT * 5):
        async with connected("server", offer=offer) as (peer, _):
            answer = peer.response_headers["sec-websocket-extensions"]
            if f"client_max_window_bits={bits}" in offer:
                # RFC 7692 §7.1.2.2: an answer without the parameter would let the client use
                # 15 bits; ours names a window no larger than the offered one.
                assert "client_max_window_bits=" in answer, answer
            await echo_run(peer, bits)


@pytest.mark.parametrize(("bits", "answer"), CLIENT_CASES)
async def test_our_client_follows_the_answered_windows(bits: int, answer: str) -> None:
    with trio.fail_after(PROMPT * 5):
        async with connected("client", answer=answer) as (peer, _):
            await echo_run(peer, bits)
