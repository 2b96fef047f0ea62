"""Loopback benchmark of trio-ws against websockets.trio, trio-websocket and raw Trio.

Run::

    uv run --group bench python bench/run.py           # full: 3 rounds, about 6 minutes
    uv run --group bench python bench/run.py --quick   # 1 short round, under 2 minutes

Each server under test (bench/servers/*.py) runs in its own process; one load generator
(bench/loadgen.py, plain asyncio, frames built in advance) drives every server the same way,
in a process of its own per measurement. The raw Trio server is the limit: a TCP echo server
framing messages with a 4-byte length prefix, and the load generator speaks that to it.

Two figures per scenario and server:

* **CPU µs/op**: the server process's CPU time (user + system, from ``getrusage`` read through
  its control port) over the timed part, per operation. On a shared 2-core machine, where the
  client competes with the server for the same cores, this is the steadier figure.
* **ops/s**: operations per wall-clock second, client included.

An operation is one message echoed (round trips, throughput, 100 connections, compression),
one connection from TCP connect to TCP close with one small message each way (handshakes),
one message delivered (broadcast: trio-ws uses its ``broadcast()``, which writes the frame
to each socket directly when the socket takes it; the others, which have no broadcast for
Trio, and raw Trio loop over their ``send``, one run-loop pass per delivery). Idle memory
is the server's RSS growth per open connection over 2,000 connections, each after its
handshake and one 32-byte echo. Rounds are interleaved (every server, every scenario, then
again) and each figure is the median over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class ServerKind:
    name: str
    script: str
    wire: str  # "ws", "raw" or "h2" (a WebSocket on an HTTP/2 stream, RFC 8441)
    compression: bool


SERVERS = [
    ServerKind("trio-ws", "trio_ws_server.py", "ws", True),
    ServerKind("trio-ws HTTP/2", "trio_ws_h2_server.py", "h2", False),
    ServerKind("websockets.trio", "websockets_trio_server.py", "ws", True),
    ServerKind("trio-websocket", "trio_websocket_server.py", "ws", False),
    ServerKind("raw Trio", "raw_trio_server.py", "raw", False),
]
OURS, WEBSOCKETS, TRIO_WEBSOCKET, RAW = "trio-ws", "websockets.trio", "trio-websocket", "raw Trio"
OURS_H2 = "trio-ws HTTP/2"

#: (key, label, needs compression)
SCENARIOS = [
    ("rt_32", "round trip 32 B", False),
    ("rt_1k", "round trip 1 KiB", False),
    ("rt_64k", "round trip 64 KiB", False),
    ("rt_1m", "round trip 1 MiB", False),
    ("rt_text_1k", "round trip 1 KiB text", False),
    ("pipe_1k", "pipelined 1 KiB", False),
    ("pipe_64k", "pipelined 64 KiB", False),
    ("conns100_256", "100 conns x 256 B round trips", False),
    ("hs_seq", "handshakes, sequential", False),
    ("hs_50", "handshakes, 50 concurrent", False),
    ("deflate_16k_json", "compressed 16 KiB JSON echo", True),
    ("broadcast_500", "broadcast 1 KiB to 500 clients", False),
]
MEMORY = [
    ("mem_plain", "idle memory, no compression", False),
    ("mem_deflate", "idle memory, deflate offered", True),
]


def pinned(cpu: int | None) -> dict[str, object]:
    """Popen/run arguments that pin the child process to one CPU (``--pin``), or none."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return {}
    return {"preexec_fn": lambda: os.sched_setaffinity(0, {cpu})}


#: With --pin: the server under test on CPU 0, the load generator on CPU 1.
PIN: dict[str, int | None] = {"server": None, "client": None}


class Server:
    def __init__(self, kind: ServerKind) -> None:
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "servers", kind.script)],
            stdout=subprocess.PIPE,
            text=True,
            **pinned(PIN["server"]),  # type: ignore[call-overload]
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"{kind.name} did not start")
        self.port, self.control = int(line[1]), int(line[2])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def measure(server: Server, scenario: str, duration: float, count: int) -> dict[str, float] | None:
    command = [
        sys.executable, os.path.join(HERE, "loadgen.py"),
        "--kind", server.kind.wire, "--port", str(server.port),
        "--control", str(server.control), "--scenario", scenario,
        "--duration", str(duration), "--count", str(count),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            **pinned(PIN["client"]),  # type: ignore[call-overload]
        )
    except subprocess.TimeoutExpired:
        print(f"  {server.kind.name} {scenario}: timed out", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"  {server.kind.name} {scenario}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


#: What the HTTP/2 row runs: messages on one stream per connection (no handshake,
#: broadcast or memory rows: the load generator opens one HTTP/2 connection per WebSocket).
H2_SCENARIOS = {"rt_32", "rt_1k", "rt_64k", "rt_1m", "rt_text_1k", "pipe_1k", "pipe_64k"}


def applicable(kind: ServerKind, needs_compression: bool, scenario: str = "") -> bool:
    if kind.wire == "h2" and scenario not in H2_SCENARIOS:
        return False
    return kind.compression or not needs_compression


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (< 2 minutes)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, or 1 with --quick)")
    parser.add_argument("--only", help="comma-separated scenario keys")
    parser.add_argument("--servers", help="comma-separated server names")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument(
        "--pin", action="store_true", help="server on CPU 0, load generator on CPU 1 (Linux)"
    )
    args = parser.parse_args()
    if args.pin:
        PIN.update(server=0, client=1)
    rounds = args.rounds or (1 if args.quick else 3)
    duration = 0.3 if args.quick else 1.0
    count = 2000
    servers = [k for k in SERVERS if not args.servers or k.name in args.servers.split(",")]
    wanted = set(args.only.split(",")) if args.only else None
    scenarios = [s for s in SCENARIOS if wanted is None or s[0] in wanted]
    memory = [s for s in MEMORY if wanted is None or s[0] in wanted]

    started = time.monotonic()
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    running = [Server(kind) for kind in servers]
    try:
        for round_ in range(rounds):
            for key, label, needs in scenarios:
                # Rotate the order each round so that no server always runs first.
                order = running[round_ % len(running) :] + running[: round_ % len(running)]
                for server in order:
                    if applicable(server.kind, needs, key):
                        result = measure(server, key, duration, count)
                        if result is not None:
                            results.setdefault((key, server.kind.name), []).append(result)
                print(f"round {round_ + 1}/{rounds}: {label} done", file=sys.stderr)
    finally:
        for server in running:
            server.stop()
    # Memory: a fresh server per measurement, so that earlier scenarios' garbage and freed
    # arenas do not hide the growth.
    for key, label, needs in memory:
        for kind in servers:
            if not applicable(kind, needs, key):
                continue
            server = Server(kind)
            try:
                result = measure(server, key, duration, count)
            finally:
                server.stop()
            if result is not None:
                results.setdefault((key, kind.name), []).append(result)
        print(f"{label} done", file=sys.stderr)

    elapsed = time.monotonic() - started
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{k[0]} {k[1]}": v for k, v in results.items()}, f, indent=1)
    print(table(results, servers, scenarios, memory))
    print()
    print(
        f"{rounds} round(s) of {duration} s per measurement, medians; {elapsed:.0f} s in all."
        f" Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs."
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(
    results: dict[tuple[str, str], list[dict[str, float]]],
    servers: list[ServerKind],
    scenarios: list[tuple[str, str, bool]],
    memory: list[tuple[str, str, bool]],
) -> str:
    names = [k.name for k in servers]
    header = ["scenario"]
    for name in names:
        header += [f"{name} ops/s", f"{name} CPU µs/op"]
    header += [
        "trio-ws HTTP/2 CPU vs HTTP/1.1",
        "trio-ws CPU vs raw",
        "trio-ws vs websockets.trio (CPU / ops/s)",
        "trio-ws vs trio-websocket (CPU / ops/s)",
    ]
    rows = [header, ["---"] * len(header)]

    def figures(key: str, name: str) -> tuple[float, float] | None:
        runs = results.get((key, name))
        if not runs:
            return None
        rate = median([r["ops"] / r["seconds"] for r in runs])
        cpu = median([r["cpu"] / r["ops"] * 1e6 for r in runs])
        return rate, cpu

    for key, label, _ in scenarios:
        row = [label]
        for name in names:
            f = figures(key, name)
            row += [f"{f[0]:,.0f}", f"{f[1]:,.1f}"] if f else ["n/a", "n/a"]
        ours, raw = figures(key, OURS), figures(key, RAW)
        over_h2 = figures(key, OURS_H2)
        row.append(f"{over_h2[1] / ours[1]:.2f}x" if ours and over_h2 else "n/a")
        row.append(f"{ours[1] / raw[1]:.2f}x" if ours and raw else "n/a")
        for peer in (WEBSOCKETS, TRIO_WEBSOCKET):
            theirs = figures(key, peer)
            row.append(
                f"{theirs[1] / ours[1]:.2f}x / {ours[0] / theirs[0]:.2f}x"
                if ours and theirs
                else "n/a"
            )
        rows.append(row)
    for key, label, _ in memory:
        row = [label + " (KiB/conn)"]
        for name in names:
            runs = results.get((key, name))
            if runs:
                value = median([r["rss_kib_per_conn"] for r in runs])
                note = (
                    ""
                    if not key.endswith("deflate") or runs[0]["compressed"]
                    else " (not negotiated)"
                )
                row += [f"{value:.1f}{note}", ""]
            else:
                row += ["n/a", ""]
        ours = results.get((key, OURS))
        row += ["", ""]
        for peer in (WEBSOCKETS, TRIO_WEBSOCKET):
            theirs = results.get((key, peer))
            if ours and theirs:
                mine = max(0.01, median([r["rss_kib_per_conn"] for r in ours]))
                other = median([r["rss_kib_per_conn"] for r in theirs])
                row.append(f"{other / mine:.2f}x less")
            else:
                row.append("n/a")
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


if __name__ == "__main__":
    main()
