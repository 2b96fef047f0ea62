"""The pub/sub example under one fast publisher: who gets dropped, and at what rate.

Starts ``examples/pubsub/server.py`` as a process, then, from this process: 4 subscribers
that read as fast as they can, one publisher that sends ``--count`` messages of 16 KiB as
fast as the server takes them, and optionally one subscriber that never reads. Prints what
each subscriber received, its close code, and the publish rate. Figures, not assertions::

    uv run python bench/pubsub_firehose.py --count 3000
    uv run python bench/pubsub_firehose.py --count 3000 --stalled
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import trio

import trio_ws

SERVER = Path(__file__).resolve().parents[1] / "examples" / "pubsub" / "server.py"


async def subscriber(
    url: str,
    name: str,
    results: dict[str, str],
    done: trio.MemorySendChannel[str],
    *,
    read: bool = True,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with trio_ws.open_websocket(url, compression=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "topic": "firehose"}))
        await ws.receive()  # the ack
        results[name] = "subscribed, never reads"
        task_status.started()
        if not read:
            await trio.sleep_forever()
        count = 0
        try:
            while True:
                message = json.loads(await ws.receive())
                if message["data"] == "end":
                    results[name] = f"got all {count}"
                    break
                count += 1
        except trio_ws.ConnectionClosed as exc:
            results[name] = f"closed with {exc.code} after {count}"
        done.send_nowait(name)


async def get_stats(port: int) -> dict[str, int]:
    """GET /stats."""
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := await stream.receive_some():
            response += chunk
    stats: dict[str, int] = json.loads(response.partition(b"\r\n\r\n")[2])
    return stats


async def bench(count: int, stalled: bool, server: str, redis: str | None) -> None:
    command = [sys.executable, server, "--port", "0"]
    if redis is not None:
        command += ["--redis", redis]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = b""
        while b"\n" not in line:
            line += await process.stdout.receive_some()
        port = int(re.search(rb":(\d+)\s", line).group(1))  # type: ignore[union-attr]
        url = f"ws://127.0.0.1:{port}/ws"
        results: dict[str, str] = {}
        done, finished = trio.open_memory_channel[str](5)
        async with trio.open_nursery() as nursery:
            for i in range(4):
                await nursery.start(partial(subscriber, url, f"subscriber {i}", results, done))
            if stalled:
                await nursery.start(partial(subscriber, url, "stalled", results, done, read=False))
            async with trio_ws.open_websocket(url, compression=None) as publisher:
                data = [f"{i}:" + os.urandom(8192).hex() for i in range(count)]
                start = time.perf_counter()
                for item in [*data, "end"]:
                    await publisher.send(
                        json.dumps({"type": "publish", "topic": "firehose", "data": item})
                    )
                elapsed = time.perf_counter() - start
                with trio.move_on_after(30):
                    for _ in range(4):
                        await finished.receive()
            nursery.cancel_scope.cancel()
        stats = await get_stats(port)
        print(f"{count} messages of 16 KiB published in {elapsed:.2f} s: {count / elapsed:.0f}/s")
        for name, result in sorted(results.items()):
            print(f"  {name}: {result}")
        print(f"  server: slow_dropped = {stats['slow_dropped']}")
    finally:
        process.terminate()
        await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--server", default=str(SERVER), help="another copy of server.py")
    parser.add_argument("--redis", metavar="URL", help="run the server with --redis URL")
    parser.add_argument("--stalled", action="store_true", help="add a subscriber that never reads")
    args = parser.parse_args()
    trio.run(bench, args.count, args.stalled, args.server, args.redis)


if __name__ == "__main__":
    main()
