"""Messages complete before a protocol violation reach the application (issue 15 item 2).

Autobahn's cases 3.2, 3.3, 4.1.3-4.1.5, 4.2.3-4.2.5 and 5.15 send a valid message and then a
violation in the same bytes (or frame by frame, for the "chopped" variants). The connection
must fail with 1002, and the message that was complete before the violation must still come
out of ``receive()`` first; Autobahn's strict verdict also wants its echo on the wire before
our close frame.
"""

from __future__ import annotations

import pytest
import trio

from .rawpeer import (
    CONTINUATION,
    PING,
    PROMPT,
    RSV1,
    RSV2,
    RSV3,
    TEXT,
    RawPeer,
    both_roles,
    build_frame,
    connected,
    options,
)

# (the valid message, the frames after it), frames as (opcode, payload, fin, rsv).
FrameSpec = tuple[int, bytes, bool, int]
CASES: dict[str, tuple[list[FrameSpec], bytes, list[FrameSpec]]] = {
    # 3.2 / 3.3: a small text message, then one with RSV2 (3.2) or RSV1|RSV2 (3.3), then a ping.
    "3.2": ([(TEXT, b"Hello, world!", True, 0)], b"Hello, world!", [(TEXT, b"x", True, RSV2)]),
    "3.3": (
        [(TEXT, b"Hello, world!", True, 0)],
        b"Hello, world!",
        [(TEXT, b"x", True, RSV1 | RSV2)],
    ),
    "3.x-rsv3": (
        [(TEXT, b"Hello, world!", True, 0)],
        b"Hello, world!",
        [(TEXT, b"x", True, RSV3)],
    ),
    # 4.1.3-4.1.5: reserved non-control opcodes 5, 6 (with payload), 7 (with payload).
    "4.1.3": ([(TEXT, b"Hello, world!", True, 0)], b"Hello, world!", [(5, b"", True, 0)]),
    "4.1.4": ([(TEXT, b"Hello, world!", True, 0)], b"Hello, world!", [(6, b"payload", True, 0)]),
    "4.1.5": ([(TEXT, b"Hello, world!", True, 0)], b"Hello, world!", [(7, b"payload", True, 0)]),
    # 4.2.3-4.2.5: reserved control opcodes 0xC, 0xD (with payload), 0xE (with payload).
    "4.2.3": ([(TEXT, b"Hello, world!", True, 0)], b"Hello, world!", [(0xC, b"", True, 0)]),
    "4.2.4": ([(TEXT, b"Hello, world!", True, 0)], b"Hello, world!", [(0xD, b"payload", True, 0)]),
    "4.2.5": ([(TEXT, b"Hello, world!", True, 0)], b"Hello, world!", [(0xE, b"payload", True, 0)]),
    # 5.15: a text message in two fragments, then a continuation with nothing to continue
    # (FIN clear), then another continuation and a text message.
    "5.15": (
        [(TEXT, b"fragment1", False, 0), (CONTINUATION, b"fragment2", True, 0)],
        b"fragment1fragment2",
        [(CONTINUATION, b"fragment3", False, 0), (CONTINUATION, b"fragment4", True, 0)],
    ),
}
TRAILER: list[FrameSpec] = [(PING, b"never answered", True, 0), (TEXT, b"never seen", True, 0)]


def frames(peer: RawPeer, specs: list[FrameSpec]) -> list[bytes]:
    return [
        build_frame(opcode, payload, fin=fin, rsv=rsv, mask=peer.is_client)
        for opcode, payload, fin, rsv in specs
    ]


async def send_case(peer: RawPeer, case: str, chopped: bool) -> bytes:
    valid, expected, bad = CASES[case]
    data = frames(peer, valid + bad + TRAILER)
    if chopped:
        for frame in data:  # frame-wise chops, as Autobahn's "chopped" variants
            try:
                await peer.send_raw(frame)
            except trio.BrokenResourceError:
                break  # our side failed the connection and closed the stream already
    else:
        await peer.send_raw(b"".join(data))  # all in one write
    return expected


@both_roles
@pytest.mark.parametrize("chopped", [False, True], ids=["one-write", "frame-wise"])
@pytest.mark.parametrize("case", CASES)
async def test_message_before_violation_reaches_the_application(
    ours: str, case: str, chopped: bool
) -> None:
    with trio.fail_after(PROMPT):
        async with connected(ours, options(compression=None)) as (peer, side):
            expected = await send_case(peer, case, chopped)
            await peer.expect_close(1002)
            await side.closed.wait()
            assert side.received == [expected.decode()]


@both_roles
@pytest.mark.parametrize("chopped", [False, True], ids=["one-write", "frame-wise"])
@pytest.mark.parametrize("case", CASES)
async def test_echo_of_message_before_violation_precedes_the_close(
    ours: str, case: str, chopped: bool
) -> None:
    # Autobahn's strict verdict: the echo of the valid message comes before our close frame.
    # The core holds the violation back (defer_failure) until the application has taken the
    # message and had its turn to answer it.
    with trio.fail_after(PROMPT):
        async with connected(ours, options(compression=None)) as (peer, _):
            expected = await send_case(peer, case, chopped)
            frame = await peer.read_frame()
            assert (frame.opcode, frame.payload) == (TEXT, expected), frame
            await peer.expect_close(1002)
