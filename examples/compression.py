"""Compression: the same JSON sent with and without permessage-deflate, and its wire size.

::

    uv run python examples/compression.py --messages 20 --records 100

permessage-deflate (RFC 7692) is offered by trio-ws clients and accepted by trio-ws servers
by default; ``compression=None`` turns it off on either side. ``ws.statistics()`` counts the
payload bytes the application sent and the bytes that went on the wire. Repetitive text such
as JSON shrinks a lot, more so over several messages because the compression context is kept
from one message to the next.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Literal

import trio

import trio_ws

Compression = Literal["deflate"] | None  # what open_websocket(compression=...) takes


async def sink(request: trio_ws.WebSocketRequest) -> None:
    """A server that reads and discards every message."""
    ws = await request.accept()
    async for _ in ws:
        pass


def document(records: int) -> str:
    """Some typical JSON: a list of similar records."""
    rows = [
        {"id": i, "name": f"sensor-{i}", "status": "ok", "value": i * 0.5, "tags": ["a", "b"]}
        for i in range(records)
    ]
    return json.dumps({"type": "readings", "rows": rows})


async def measure(url: str, text: str, messages: int, compression: Compression) -> None:
    async with trio_ws.open_websocket(url, compression=compression) as ws:
        for _ in range(messages):
            await ws.send(text)
        stats = ws.statistics()
    label = "permessage-deflate" if compression else "no compression"
    print(
        f"{label:>18}: {stats.messages_sent} messages, {stats.bytes_sent} payload bytes, "
        f"{stats.wire_bytes_sent} wire bytes (ratio {stats.compression_ratio:.3f})",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    text = document(args.records)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, sink, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.port}/"
        await measure(url, text, args.messages, "deflate")
        await measure(url, text, args.messages, None)
        await server.aclose()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20, help="messages to send (20)")
    parser.add_argument("--records", type=int, default=100, help="records per message (100)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    trio.run(main, parse_args())
