"""Peak memory and CPU of receiving one message sent as tiny fragments (issue 15, item 3).

A hostile client sends a message as N fragments of ``size`` bytes each (1 by default, the
worst case: 7 bytes of traffic per payload byte). The server is trio-ws itself, served with
``serve_stream`` over a lockstep memory stream (so the attack's bytes are never buffered
ahead of the server), and its handler receives the message whole with ``receive()``. The
fragment cap is lifted (``max_fragments=None``), to measure the assembly itself.
tracemalloc reports the peak of Python allocations above the starting point while the
message comes in; ``time.process_time`` the CPU it cost (the attacker's frame building
included, about a tenth of it).

Run: ``uv run python bench/fragment_memory.py [N ...]`` (default: 100000 1048576, the second
being one 1 MiB message, the default max_message_size, in 1-byte fragments). To compare
with another checkout, run it with ``PYTHONPATH=<checkout>/src``.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc

import trio
import trio.testing

import trio_ws

READ_SIZE = 65536
#: BENCH_NO_TRACE=1 measures CPU without tracemalloc (which slows allocation-heavy code).
TRACE = not os.environ.get("BENCH_NO_TRACE")
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
REQUEST = (
    "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()


def fragment(opcode: int, payload: bytes, fin: bool) -> bytes:
    """A masked frame with a zero masking key (the payload goes as is)."""
    assert len(payload) < 126
    return bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def attack(count: int, size: int) -> list[bytes]:
    """The message's frames, cut into socket-sized reads (built lazily by the caller)."""
    body = fragment(0x0, b"x" * size, False)
    per_read = READ_SIZE // len(body)
    first = fragment(0x2, b"x" * size, False)
    last = fragment(0x0, b"x" * size, True)
    reads = [first]
    left = count - 2
    while left > 0:
        n = min(per_read, left)
        reads.append(body * n)
        left -= n
    reads.append(last + fragment(0x8, b"\x03\xe8", True))
    return reads


async def run(count: int, size: int) -> tuple[float, float, int]:
    client, server = trio.testing.lockstep_stream_pair()
    got: list[int] = []
    # No fragment cap (the default, 4096, fails such a message with 1009 early): this
    # measures what assembling any number of fragments costs.
    options = trio_ws.Options(compression=None, ping_interval=None, max_fragments=None)

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        got.append(len(await ws.receive()))

    async def peer() -> None:
        await client.send_all(REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            head += await client.receive_some(READ_SIZE)
        for data in attack(count, size):
            await client.send_all(data)
        try:
            while await client.receive_some(READ_SIZE):
                pass
        except trio.BrokenResourceError:
            pass

    if TRACE:
        tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    cpu = time.process_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer)
        await trio_ws.serve_stream(handler, server, options=options)
    cpu = time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    if TRACE:
        tracemalloc.stop()
    return (peak - base) / 1e6, cpu, got[0] if got else -1


def main() -> None:
    counts = [int(arg) for arg in sys.argv[1:]] or [100_000, 1_048_576]
    size = int(os.environ.get("FRAGMENT_SIZE", "1"))
    for count in counts:
        peak, cpu, received = trio.run(run, count, size)
        print(
            f"{count:>8} fragments of {size} B ({count * size / 1e6:.2f} MB of payload,"
            f" {count * (6 + size) / 1e6:.1f} MB of traffic): received {received} B,"
            f" peak +{peak:.1f} MB, CPU {cpu:.1f} s"
        )


if __name__ == "__main__":
    main()
