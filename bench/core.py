"""Microbenchmarks of the sans-IO cores alone: trio-ws, websockets (sans-IO) and wsproto.

No sockets, no event loop: bytes in, events out, in one process, same inputs for all three.

* parse, small: a server fed 100 masked 32-byte binary frames per call (frames/s);
* build, small: a server building 32-byte binary frames (frames/s);
* parse, 1 MiB masked: a server fed one 1 MiB masked frame in 64 KiB pieces, as from a
  socket (MiB/s of payload, unmasking included);
* build, 1 MiB masked: a client building one 1 MiB masked frame (MiB/s).

Run: ``uv run --group bench python bench/core.py [--quick]``
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

import websockets.frames as ws_frames
import websockets.protocol as ws_protocol
from wsproto.frame_protocol import FrameProtocol
from wsproto.frame_protocol import Opcode as WsprotoOpcode

from trio_ws.protocol import AcceptConnection, BytesMessage, Connection, Request, Role
from trio_ws.protocol._mask import HAS_SPEEDUPS

SMALL = 32
BATCH = 100
BIG = 1 << 20
PIECE = 65536
KEY = b"\x01\x02\x03\x04"


def masked_frame(payload: bytes) -> bytes:
    # Built with websockets' serializer (a fixed, independent reference), masked.
    frame = ws_frames.Frame(ws_frames.Opcode.BINARY, payload)
    return frame.serialize(mask=True)


SMALL_FRAMES = b"".join(masked_frame(b"x" * SMALL) for _ in range(BATCH))
BIG_FRAME = masked_frame(os.urandom(BIG))
BIG_PIECES = [BIG_FRAME[i : i + PIECE] for i in range(0, len(BIG_FRAME), PIECE)]


def rate(fn: Callable[[], int], duration: float) -> float:
    """Units per second of ``fn`` (which returns the units it did), median of 5 runs."""
    results = []
    for _ in range(5):
        units = 0
        start = time.perf_counter()
        end = start + duration / 5
        while True:
            units += fn()
            now = time.perf_counter()
            if now >= end:
                break
        results.append(units / (now - start))
    return statistics.median(results)


# --- trio-ws ----------------------------------------------------------------------------------


def trio_ws_pair() -> tuple[Connection, Connection]:
    client, server = Connection(Role.CLIENT), Connection(Role.SERVER)
    client.send(Request(host="example.com", target="/"))
    server.receive_data(client.data_to_send())
    server.events()
    server.send(AcceptConnection())
    client.receive_data(server.data_to_send())
    client.events()
    return client, server


def trio_ws_cases() -> dict[str, Callable[[], int]]:
    client, server = trio_ws_pair()
    _, big_server = trio_ws_pair()
    small = BytesMessage(data=b"x" * SMALL)
    big = BytesMessage(data=os.urandom(BIG))

    def parse_small() -> int:
        server.receive_data(SMALL_FRAMES)
        assert len(server.events()) == BATCH
        return BATCH

    def build_small() -> int:
        server.send(small)
        server.data_to_send()
        return 1

    def parse_big() -> int:
        for piece in BIG_PIECES:
            big_server.receive_data(piece)
        big_server.events()
        return BIG

    def build_big() -> int:
        client.send(big)
        client.data_to_send()
        return BIG

    return {"parse_small": parse_small, "build_small": build_small,
            "parse_big": parse_big, "build_big": build_big}  # fmt: skip


# --- websockets (sans-IO) -------------------------------------------------------------------


def websockets_cases() -> dict[str, Callable[[], int]]:
    # The base Protocol, created OPEN: what the handshake-parsing subclasses become after it.
    def make(side: ws_protocol.Side) -> ws_protocol.Protocol:
        return ws_protocol.Protocol(side, state=ws_protocol.State.OPEN, max_size=None)

    server = make(ws_protocol.SERVER)
    big_server = make(ws_protocol.SERVER)
    client = make(ws_protocol.CLIENT)
    small = b"x" * SMALL
    big = os.urandom(BIG)

    def parse_small() -> int:
        server.receive_data(SMALL_FRAMES)
        assert len(server.events_received()) == BATCH
        return BATCH

    def build_small() -> int:
        server.send_binary(small)
        server.data_to_send()
        return 1

    def parse_big() -> int:
        for piece in BIG_PIECES:
            big_server.receive_data(piece)
        big_server.events_received()
        return BIG

    def build_big() -> int:
        client.send_binary(big)
        client.data_to_send()
        return BIG

    return {"parse_small": parse_small, "build_small": build_small,
            "parse_big": parse_big, "build_big": build_big}  # fmt: skip


# --- wsproto ------------------------------------------------------------------------------


def wsproto_cases() -> dict[str, Callable[[], int]]:
    server = FrameProtocol(client=False, extensions=[])
    big_server = FrameProtocol(client=False, extensions=[])
    client = FrameProtocol(client=True, extensions=[])
    small = b"x" * SMALL
    big = os.urandom(BIG)

    def parse_small() -> int:
        server.receive_bytes(SMALL_FRAMES)
        frames = list(server.received_frames())
        assert len(frames) == BATCH
        assert frames[0].opcode is WsprotoOpcode.BINARY
        return BATCH

    def build_small() -> int:
        server.send_data(small, fin=True)
        return 1

    def parse_big() -> int:
        for piece in BIG_PIECES:
            big_server.receive_bytes(piece)
            list(big_server.received_frames())
        return BIG

    def build_big() -> int:
        client.send_data(big, fin=True)
        return BIG

    return {"parse_small": parse_small, "build_small": build_small,
            "parse_big": parse_big, "build_big": build_big}  # fmt: skip


def main() -> None:
    duration = 0.5 if "--quick" in sys.argv else 2.0
    cores = {"trio-ws": trio_ws_cases(), "websockets": websockets_cases(),
             "wsproto": wsproto_cases()}  # fmt: skip
    rows = [
        ("parse_small", "parse 32 B frames (frames/s)", 1),
        ("build_small", "build 32 B frames (frames/s)", 1),
        ("parse_big", "parse 1 MiB masked frame (MiB/s)", BIG),
        ("build_big", "build 1 MiB masked frame (MiB/s)", BIG),
    ]
    names = list(cores)
    print(f"trio-ws masking: {'C accelerator' if HAS_SPEEDUPS else 'pure Python'}\n")
    print("| benchmark | " + " | ".join(names) + " | trio-ws vs websockets | trio-ws vs wsproto |")
    print("| --- " * (len(names) + 3) + "|")
    for key, label, unit in rows:
        figures = {name: rate(cores[name][key], duration) / unit for name in names}
        cells = [f"{figures[n]:,.0f}" for n in names]
        ours = figures["trio-ws"]
        print(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {ours / figures['websockets']:.2f}x | {ours / figures['wsproto']:.2f}x |"
        )


if __name__ == "__main__":
    main()
