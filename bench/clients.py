"""Each library's own client against one fixed server: client CPU per message.

Run::

    uv run --group bench python bench/clients.py           # 3 rounds, about a minute
    uv run --group bench python bench/clients.py --quick   # 1 short round

The fixed server is websockets' asyncio echo server (``websockets.asyncio.server``), in a
process of its own, the same for every client, with compression off. Each client runs in a
process of its own and measures its own CPU time (``getrusage``, user + system) over the
timed part; the clients are:

* trio-ws (``open_websocket``, ``send`` / ``receive``);
* websockets.trio (``connect``, ``send`` / ``recv``);
* trio-websocket (``open_websocket_url``, ``send_message`` / ``get_message``);
* raw Trio, the limit: the handshake by hand, then masked frames built before the clock
  starts, written with ``send_all`` and echoes read by length, never parsed further.

Scenarios: sequential round trips of 32 B, 1 KiB and 64 KiB binary messages, and pipelined
1 KiB (100 sent, then 100 received). Figures are medians of interleaved rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

HOST = "127.0.0.1"
CLIENTS = ["trio-ws", "websockets.trio", "trio-websocket", "raw Trio"]
SCENARIOS = [
    ("rt_32", "round trip 32 B", 32, 1),
    ("rt_1k", "round trip 1 KiB", 1024, 1),
    ("rt_64k", "round trip 64 KiB", 65536, 1),
    ("pipe_1k", "pipelined 1 KiB (100 at a time)", 1024, 100),
]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- The fixed server -----------------------------------------------------------------------


def run_server() -> None:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws: Any) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:  # the raw client leaves without a closing handshake
            pass

    async def main() -> None:
        async with serve(echo, HOST, 0, compression=None, max_size=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            print("READY", port, flush=True)
            await asyncio.Future()

    asyncio.run(main())


# --- The clients ----------------------------------------------------------------------------

# Each returns (send, receive) coroutines over an open connection, inside a context that the
# runner enters; the runner times ``rounds`` of ``batch`` sends then ``batch`` receives.
Exchange = tuple[Callable[[bytes], Awaitable[None]], Callable[[], Awaitable[Any]]]


async def time_exchanges(exchange: Exchange, size: int, batch: int, duration: float) -> dict:
    send, receive = exchange
    message = os.urandom(size)
    for _ in range(20):  # warm up
        await send(message)
        await receive()
    ops = 0
    started, cpu_started = time.perf_counter(), cpu()
    while time.perf_counter() - started < duration:
        for _ in range(batch):
            await send(message)
        for _ in range(batch):
            await receive()
        ops += batch
    return {"ops": ops, "seconds": time.perf_counter() - started, "cpu": cpu() - cpu_started}


def run_client(kind: str, port: int, size: int, batch: int, duration: float) -> dict:
    import trio

    url = f"ws://{HOST}:{port}/"

    async def trio_ws_client() -> dict:
        import trio_ws

        async with trio_ws.open_websocket(
            url, compression=None, max_message_size=None, ping_interval=None
        ) as ws:
            return await time_exchanges((ws.send, ws.receive), size, batch, duration)

    async def websockets_trio_client() -> dict:
        from websockets.trio.client import connect

        async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
            return await time_exchanges((ws.send, ws.recv), size, batch, duration)

    async def trio_websocket_client() -> dict:
        from trio_websocket import open_websocket_url

        async with open_websocket_url(url, max_message_size=2**24) as ws:
            return await time_exchanges((ws.send_message, ws.get_message), size, batch, duration)

    async def raw_trio_client() -> dict:
        stream = await trio.open_tcp_stream(HOST, port)
        key = base64.b64encode(os.urandom(16)).decode()
        await stream.send_all(
            (
                f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(65536)
        pending = len(head.partition(b"\r\n\r\n")[2])
        frames: dict[int, bytes] = {}
        # The server's frame for a payload of n bytes: header 2, 4 or 10 bytes, unmasked.
        echo_size = size + (2 if size < 126 else 4 if size < 65536 else 10)

        def masked_frame(payload: bytes) -> bytes:
            if len(payload) not in frames:
                n = len(payload)
                mask_key = b"\x01\x02\x03\x04"
                if n < 126:
                    header = bytes((0x82, 0x80 | n))
                elif n < 65536:
                    header = struct.pack("!BBH", 0x82, 0x80 | 126, n)
                else:
                    header = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
                keystream = (mask_key * (n // 4 + 1))[:n]
                body = bytes(a ^ b for a, b in zip(payload, keystream, strict=True))
                frames[n] = header + mask_key + body
            return frames[len(payload)]

        async def send(message: bytes) -> None:
            await stream.send_all(masked_frame(message))

        async def receive() -> None:
            nonlocal pending
            while pending < echo_size:
                pending += len(await stream.receive_some(65536))
            pending -= echo_size

        return await time_exchanges((send, receive), size, batch, duration)

    runners = {
        "trio-ws": trio_ws_client,
        "websockets.trio": websockets_trio_client,
        "trio-websocket": trio_websocket_client,
        "raw Trio": raw_trio_client,
    }
    return trio.run(runners[kind])


# --- The runner -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, or 1 with --quick)")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        run_server()
        return
    if args.client:
        print(json.dumps(run_client(args.client, args.port, args.size, args.batch, args.duration)))
        return

    rounds = args.rounds or (1 if args.quick else 3)
    duration = 0.3 if args.quick else 1.0
    server = subprocess.Popen(
        [sys.executable, __file__, "--server"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        results: dict[tuple[str, str], list[dict]] = {}
        for round_ in range(rounds):
            for key, _, size, batch in SCENARIOS:
                order = CLIENTS[round_ % len(CLIENTS) :] + CLIENTS[: round_ % len(CLIENTS)]
                for kind in order:
                    command = [
                        sys.executable, __file__, "--client", kind, "--port", str(port),
                        "--size", str(size), "--batch", str(batch), "--duration", str(duration),
                    ]  # fmt: skip
                    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
                    if done.returncode != 0:
                        print(f"{kind} {key} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                        continue
                    results.setdefault((key, kind), []).append(json.loads(done.stdout))
            print(f"round {round_ + 1}/{rounds} done", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    print(table(results))


def table(results: dict[tuple[str, str], list[dict]]) -> str:
    header = ["client, against one fixed server"]
    for kind in CLIENTS:
        header += [f"{kind} ops/s", f"{kind} CPU µs/op"]
    header += ["trio-ws CPU vs raw", "trio-ws vs websockets.trio (CPU / ops/s)"]
    rows = [header, ["---"] * len(header)]

    def figures(key: str, kind: str) -> tuple[float, float] | None:
        runs = results.get((key, kind))
        if not runs:
            return None
        rate = statistics.median(r["ops"] / r["seconds"] for r in runs)
        cost = statistics.median(r["cpu"] / r["ops"] * 1e6 for r in runs)
        return rate, cost

    for key, label, _, _ in SCENARIOS:
        row = [label]
        for kind in CLIENTS:
            f = figures(key, kind)
            row += [f"{f[0]:,.0f}", f"{f[1]:,.1f}"] if f else ["n/a", "n/a"]
        ours, raw, theirs = (figures(key, k) for k in ("trio-ws", "raw Trio", "websockets.trio"))
        row.append(f"{ours[1] / raw[1]:.2f}x" if ours and raw else "n/a")
        row.append(
            f"{theirs[1] / ours[1]:.2f}x / {ours[0] / theirs[0]:.2f}x"
            if ours and theirs
            else "n/a"
        )
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


if __name__ == "__main__":
    main()
