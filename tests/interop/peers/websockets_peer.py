"""A peer built on the ``websockets`` library (asyncio), run in a subprocess by the tests.

Usage::

    python websockets_peer.py server [deflate options]   # prints "PORT <n>", serves forever
    python websockets_peer.py client URL [deflate options]  # prints "CLOSED <code> <reason>"

Both roles echo every message back, except text messages that are commands (the side under
test drives the scenario):

* ``!close CODE REASON``: close the connection with this code and reason.
* ``!fragments COUNT SIZE KIND``: send one message in COUNT fragments of SIZE bytes, text or
  binary (websockets sends an iterable as a fragmented message).
* ``!ping PAYLOAD``: ping, wait for the pong, answer ``pong PAYLOAD``.
* ``!extensions``: answer the negotiated extensions as JSON.
* ``!closed PATH``: (server) answer, as JSON, how the last connection on PATH ended.

Deflate options: ``--no-compression``, ``--server-max-window-bits N``,
``--client-max-window-bits N``, ``--server-no-context-takeover``,
``--client-no-context-takeover``. Messages up to 64 MiB are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

MAX_SIZE = 64 * 2**20
CLOSED: dict[str, tuple[int | None, str | None]] = {}


def extension_factories(args: argparse.Namespace, server: bool) -> list[Any] | None:
    if args.no_compression:
        return []
    factory = ServerPerMessageDeflateFactory if server else ClientPerMessageDeflateFactory
    kwargs: dict[str, Any] = {
        "server_no_context_takeover": args.server_no_context_takeover,
        "client_no_context_takeover": args.client_no_context_takeover,
        "server_max_window_bits": args.server_max_window_bits,
    }
    if args.client_max_window_bits is not None:
        kwargs["client_max_window_bits"] = args.client_max_window_bits
    return [factory(**kwargs)]


def describe_extensions(ws: Any) -> str:
    return json.dumps(
        [
            {
                "name": ext.name,
                "local_max_window_bits": ext.local_max_window_bits,
                "remote_max_window_bits": ext.remote_max_window_bits,
                "local_no_context_takeover": ext.local_no_context_takeover,
                "remote_no_context_takeover": ext.remote_no_context_takeover,
            }
            for ext in ws.protocol.extensions
        ]
    )


async def run_commands(ws: Any) -> None:
    """Echo messages and run commands until the connection closes."""
    try:
        async for message in ws:
            if not (isinstance(message, str) and message.startswith("!")):
                await ws.send(message)
                continue
            command, *args = message.split(" ", 2)
            if command == "!close":
                await ws.close(int(args[0]), args[1] if len(args) > 1 else "")
            elif command == "!fragments":
                count, size, kind = int(args[0]), int(args[1].split()[0]), args[1].split()[1]
                if kind == "text":
                    await ws.send([chr(0x61 + i % 26) * size for i in range(count)])
                else:
                    await ws.send([bytes([i % 256]) * size for i in range(count)])
            elif command == "!ping":
                waiter = await ws.ping(args[0].encode())
                await waiter
                await ws.send(f"pong {args[0]}")
            elif command == "!extensions":
                await ws.send(describe_extensions(ws))
            elif command == "!closed":
                await ws.send(json.dumps(CLOSED.get(args[0])))
            else:
                await ws.send(f"unknown command {command}")
    except ConnectionClosed:
        pass


async def run_server(args: argparse.Namespace) -> None:
    async def handler(ws: Any) -> None:
        await run_commands(ws)
        await ws.wait_closed()
        CLOSED[ws.request.path] = (ws.close_code, ws.close_reason)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        extensions=extension_factories(args, server=True),
        compression=None,
        max_size=MAX_SIZE,
        ping_interval=None,
        close_timeout=2,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Future()


async def run_client(args: argparse.Namespace) -> None:
    async with connect(
        args.url,
        extensions=extension_factories(args, server=False),
        compression=None,
        max_size=MAX_SIZE,
        ping_interval=None,
        close_timeout=2,
        proxy=None,
        subprotocols=args.subprotocol or None,
    ) as ws:
        print(f"EXTENSIONS {describe_extensions(ws)}", flush=True)
        await run_commands(ws)
    await ws.wait_closed()
    print(f"CLOSED {ws.close_code} {ws.close_reason}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("url", nargs="?")
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int)
    parser.add_argument("--client-max-window-bits", type=int)
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--subprotocol", action="append")
    args = parser.parse_args()
    try:
        asyncio.run(run_server(args) if args.role == "server" else run_client(args))
    except KeyboardInterrupt:
        sys.exit(1)


if __name__ == "__main__":
    main()
