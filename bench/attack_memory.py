"""Peak memory of the sans-IO core under a ping flood whose pongs are never read (issue 15).

A hostile client sends pings and never reads; the server's core answers each one. This feeds
a server core N masked pings in 64 KiB reads, as a socket would deliver them, takes the events
after every read (as the Trio layer does) and never drains the output; tracemalloc reports the
peak of Python allocations above the starting point, and how many bytes wait to be sent.

Run: ``uv run python bench/attack_memory.py [N ...]`` (default: 100000 300000).
"""

from __future__ import annotations

import sys
import tracemalloc

from trio_ws.protocol import AcceptConnection, Connection, Request, Role
from trio_ws.protocol._frames import serialize_frame

READ_SIZE = 65536


def open_server() -> Connection:
    client = Connection(Role.CLIENT)
    server = Connection(Role.SERVER)
    client.send(Request(host="example.com", target="/"))
    server.receive_data(client.data_to_send())
    server.events()
    server.send(AcceptConnection())
    server.data_to_send()
    return server


def ping_flood(count: int) -> list[bytes]:
    """``count`` masked pings with 8-byte payloads, cut into socket-sized reads."""
    frame = serialize_frame(0x9, b"ping1234", mask_key=b"\x11\x22\x33\x44")
    per_read = READ_SIZE // len(frame)
    reads = []
    left = count
    while left:
        n = min(per_read, left)
        reads.append(frame * n)
        left -= n
    return reads


def measure(count: int) -> tuple[float, int]:
    server = open_server()
    reads = ping_flood(count)
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for data in reads:
        server.receive_data(data)
        server.events()
    pending = server.has_data_to_send()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    waiting = len(server.data_to_send()) if pending else 0
    return (peak - base) / 1e6, waiting


def main() -> None:
    counts = [int(arg) for arg in sys.argv[1:]] or [100_000, 300_000]
    for count in counts:
        peak, waiting = measure(count)
        print(
            f"{count:>8} pings, output never drained: peak +{peak:.2f} MB, {waiting} bytes waiting"
        )


if __name__ == "__main__":
    main()
