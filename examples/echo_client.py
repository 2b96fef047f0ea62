"""An echo client: sends back every message the server sends, until the server closes.

::

    uv run python examples/echo_client.py ws://127.0.0.1:8765/

It exits with status 0 when the server closes normally (1000 or 1001) and 1 otherwise,
after printing the close code; 2 when it cannot connect at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import trio

import trio_ws


async def main(args: argparse.Namespace) -> int:
    try:
        async with trio_ws.open_websocket(
            args.url,
            compression=None if args.no_compression else "deflate",
            max_message_size=args.max_message_size or None,  # 0 means no limit
        ) as ws:
            try:
                async for message in ws:
                    await ws.send(message)  # same type back: str as text, bytes as binary
            except trio_ws.ConnectionClosed:
                pass  # closed with an error code: reported below
            # trio-ws answered the server's close frame by itself; we only report it.
            print(f"connection closed: code {ws.close_code}, reason {ws.close_reason!r}")
            return 0 if ws.close_code in (1000, 1001) else 1
    except (OSError, trio_ws.HandshakeError, trio_ws.InvalidURI) as exc:
        print(f"cannot connect to {args.url}: {exc}", file=sys.stderr)
        return 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="ws:// or wss:// URL of the server")
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=2**20,
        metavar="BYTES",
        help="largest incoming message, larger ones close with 1009 (1 MiB; 0: no limit)",
    )
    parser.add_argument("--no-compression", action="store_true", help="do not offer compression")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(trio.run(main, parse_args()))
