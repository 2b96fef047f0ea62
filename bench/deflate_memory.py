"""Memory per connection of permessage-deflate, by window bits and memLevel.

One connection holds one compressor and one decompressor. We build many of each, push a few
messages through them (so zlib has allocated every buffer, including the inflate window that
it only allocates on first output), and divide the growth of memory by the count.

CPython's zlib module allocates through ``PyMem_RawMalloc``, which tracemalloc traces: that is
the memory reserved. Resident memory can be lower (zlib does not touch every page of its hash
tables for short messages), so an RSS figure is printed as a cross-check. A second table gives
the compression ratio of each setting on a stream of small JSON events.

Run: ``uv run python bench/deflate_memory.py``
"""

from __future__ import annotations

import gc
import json
import os
import random
import tracemalloc
import zlib
from typing import Any

N = 200  # connections per measurement

MESSAGES = [
    json.dumps(
        {"id": i, "user": f"user-{i}", "text": "hello " * (50 + i), "tags": [i] * 20}
    ).encode()
    for i in range(4)
]


def connection(window_bits: int, mem_level: int) -> tuple[Any, Any]:
    """A compressor and a decompressor that have each handled a few messages."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -window_bits, mem_level)
    decompressor = zlib.decompressobj(-window_bits)
    for message in MESSAGES:
        data = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert decompressor.decompress(data) == message
    return compressor, decompressor


def traced_bytes(window_bits: int, mem_level: int) -> float:
    """Bytes per connection according to tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = [connection(window_bits, mem_level) for _ in range(N)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / N


def rss() -> int:
    """Current resident set size in bytes (Linux), or 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def rss_bytes(window_bits: int, mem_level: int) -> float:
    """Bytes per connection by resident memory: only the pages zlib has touched."""
    gc.collect()
    before = rss()
    keep = [connection(window_bits, mem_level) for _ in range(N * 5)]
    after = rss()
    del keep
    return (after - before) / (N * 5)


def ratio(window_bits: int, mem_level: int) -> float:
    """Compressed size in % of the original for a stream of JSON messages (context takeover)."""
    rng = random.Random(42)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -window_bits, mem_level)
    original = compressed = 0
    for i in range(300):
        event = {
            "type": rng.choice(["trade", "quote", "chat", "presence"]),
            "id": i,
            "symbol": rng.choice(["BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD"]),
            "price": round(rng.uniform(1, 60000), 2),
            "size": rng.randint(1, 1000),
            "user": {"name": f"user{rng.randint(1, 500)}", "roles": ["member"]},
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60))),
        }
        message = json.dumps(event).encode()
        original += len(message)
        compressed += len(compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)) - 4
    return 100 * compressed / original


WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "market",
    "order",
    "filled",
    "price",
    "alert",
    "hello",
]


def main() -> None:
    """Print the table."""
    print(f"zlib {zlib.ZLIB_RUNTIME_VERSION}; {N} connections per cell; KiB per connection")
    print("(compressor + decompressor, tracemalloc; compressor alone in parentheses)\n")
    levels = [1, 4, 5, 8]
    print("| window bits | " + " | ".join(f"memLevel {m}" for m in levels) + " |")
    print("| --- | " + " | ".join("---" for _ in levels) + " |")
    for bits in (15, 12, 10, 9):
        cells = []
        for mem_level in levels:
            total = traced_bytes(bits, mem_level)
            decompressor_only = traced_decompressor(bits)
            cells.append(f"{total / 1024:.0f} ({(total - decompressor_only) / 1024:.0f})")
        print(f"| {bits} | " + " | ".join(cells) + " |")
    print("\nCompressed size, % of the original (300 JSON events of 0.1-0.5 KiB, one stream)\n")
    print("| window bits | " + " | ".join(f"memLevel {m}" for m in levels) + " |")
    print("| --- | " + " | ".join("---" for _ in levels) + " |")
    for bits in (15, 12, 10, 9):
        cells = [f"{ratio(bits, mem_level):.1f} %" for mem_level in levels]
        print(f"| {bits} | " + " | ".join(cells) + " |")
    print("\nResident memory (pages actually touched) per connection, for comparison:")
    for bits, mem_level in ((12, 5), (15, 8)):
        kib = rss_bytes(bits, mem_level) / 1024
        print(f"- window {bits} / memLevel {mem_level}: {kib:.0f} KiB")


def traced_decompressor(window_bits: int) -> float:
    """Bytes per decompressor alone according to tracemalloc."""
    compressed = []
    compressor = zlib.compressobj(6, zlib.DEFLATED, -window_bits, 8)
    for message in MESSAGES:
        compressed.append(compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = []
    for _ in range(N):
        decompressor = zlib.decompressobj(-window_bits)
        for data in compressed:
            decompressor.decompress(data)
        keep.append(decompressor)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / N


if __name__ == "__main__":
    main()
