"""Throughput of permessage-deflate on 16 KiB JSON messages: encode() then decode().

Each message goes through the sending side's ``encode`` (one frame) and the receiving side's
``decode``, with context takeover, as a connection would. MB/s counts uncompressed bytes.

Run: ``uv run python bench/deflate_throughput.py``
"""

from __future__ import annotations

import json
import random
import time
import zlib

from trio_ws.protocol.extensions import PerMessageDeflate

SIZE = 16 * 1024
WORDS = ["order", "filled", "price", "alert", "hello", "market", "user", "status", "ok"]


def messages(count: int) -> list[bytes]:
    """JSON documents cut to 16 KiB: lists of records, as an API or a feed would send."""
    rng = random.Random(7)
    result = []
    for page in range(count):
        items = [
            {
                "id": page * 1000 + i,
                "name": " ".join(rng.choice(WORDS) for _ in range(3)),
                "price": round(rng.uniform(1, 999), 2),
                "tags": rng.sample(WORDS, 3),
                "active": rng.random() < 0.5,
            }
            for i in range(200)
        ]
        result.append(json.dumps({"page": page, "items": items}).encode()[:SIZE])
    return result


def run(label: str, **settings: int) -> None:
    """Send the messages from a server to a client negotiated with ``settings``."""
    client = PerMessageDeflate()
    server = PerMessageDeflate(**settings)
    answer = server.accept_offer(client.offer())
    assert answer is not None
    client.accept_response(answer)
    data = messages(64)
    rounds = 8
    sent = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for message in data:
            rsv, payload = server.encode(message, first=True, fin=True, compress=None)
            sent += len(payload)
            assert client.decode(payload, rsv=rsv, fin=True, max_size=None) == message
    elapsed = time.perf_counter() - started
    total = rounds * len(data) * SIZE
    print(
        f"| {label} | {total / elapsed / 1e6:.0f} MB/s | {100 * sent / total:.1f} % |"
        f" {elapsed / (rounds * len(data)) * 1e6:.0f} µs |"
    )


def main() -> None:
    """Print the table."""
    print(f"zlib {zlib.ZLIB_RUNTIME_VERSION}; 16 KiB JSON messages, encode() + decode()\n")
    print("| settings | throughput | compressed size | per message |")
    print("| --- | --- | --- | --- |")
    run("defaults (window 12, memLevel 5, level 3)")
    run("level 1", compress_level=1)
    run("level 6 (zlib's default level)", compress_level=6)
    run(
        "zlib defaults (window 15, memLevel 8, level 6)",
        server_max_window_bits=15,
        mem_level=8,
        compress_level=6,
    )


if __name__ == "__main__":
    main()
