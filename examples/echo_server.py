"""An echo server: every message comes back with the same type, every close code too.

Its command line is a fixed interface that conformance test suites (Autobahn|Testsuite and
the like) drive, so keep the options stable::

    uv run python examples/echo_server.py                    # ws://127.0.0.1:8765
    uv run python examples/echo_server.py --port 0           # any free port (printed)
    uv run python examples/echo_server.py --max-message-size 0 --no-compression

It accepts connections on any path and prints ``listening on ws://HOST:PORT`` once it
accepts them. When the client closes, trio-ws answers with the same close code and reason
by itself; the server has nothing to do for that.

Ctrl+C (SIGINT) or SIGTERM shuts it down gracefully: every client is closed with 1001
"going away", within the close timeout. A second Ctrl+C stops it at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Sequence
from functools import partial

import trio

import trio_ws

DEFAULT_SUBPROTOCOLS = ("chat", "superchat")


def choose_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """Return the first subprotocol the client offered that we support, or ``None``."""
    return next((name for name in offered if name in supported), None)


async def echo(request: trio_ws.WebSocketRequest, subprotocols: Sequence[str]) -> None:
    """Handle one request: echo a WebSocket connection until the client closes it."""
    if not request.is_websocket:
        # A browser or curl pointed at the server: say what this port is.
        await request.respond(
            426, headers=[("Upgrade", "websocket")], body="This is a WebSocket echo server.\n"
        )
        return
    ws = await request.accept(subprotocol=choose_subprotocol(request.subprotocols, subprotocols))
    try:
        async for message in ws:  # ends quietly when the client closes with 1000 or 1001
            await ws.send(message)  # str comes back as text, bytes as binary
    except trio_ws.ConnectionClosed:
        pass  # any other close code (already echoed by trio-ws) or a vanished client


async def main(args: argparse.Namespace) -> None:
    handler = partial(echo, subprotocols=args.subprotocol or DEFAULT_SUBPROTOCOLS)
    serve = partial(
        trio_ws.serve,
        handler,
        args.host,
        args.port,
        compression=None if args.no_compression else "deflate",
        max_message_size=args.max_message_size or None,  # 0 means no limit
    )
    async with trio.open_nursery() as nursery:
        # nursery.start() returns once the server listens, with the port it bound.
        server = await nursery.start(serve)
        # Signals are received as messages here rather than as a KeyboardInterrupt raised
        # in whichever task happens to run, so the shutdown below always runs.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            print(f"listening on ws://{args.host}:{server.port}", flush=True)
            async for signum in signals:
                print(f"{signal.Signals(signum).name}: closing connections", flush=True)
                break
        # Out of the block, a second Ctrl+C raises KeyboardInterrupt and stops at once.
        await server.aclose()  # 1001 to every client, then wait for the handlers


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (8765; 0 picks a free one)")
    parser.add_argument(
        "--max-message-size",
        type=int,
        default=2**20,
        metavar="BYTES",
        help="largest incoming message, larger ones close with 1009 (1 MiB; 0: no limit)",
    )
    parser.add_argument("--no-compression", action="store_true", help="decline permessage-deflate")
    parser.add_argument(
        "--subprotocol",
        action="append",
        metavar="NAME",
        help="a subprotocol to support; repeat for several (default: chat and superchat)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    try:
        trio.run(main, parse_args())
    except* KeyboardInterrupt:
        pass
