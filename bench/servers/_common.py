"""What every benchmark server shares: the command line, the control port, the READY line.

A server under test is started as ``python bench/servers/NAME.py`` and prints
``READY <port> <control port>`` once it listens. The control port is a plain TCP socket served
by a thread, so that the load generator can ask, identically for every server:

* ``stats``: the process's CPU time (``getrusage(RUSAGE_SELF)``, user + system, seconds) and
  RSS (KiB, from /proc/self/status), as one JSON line;
* ``broadcast N``: send an N-byte binary message to every open connection, one after the
  other, then answer ``done``.

The control thread is idle between commands, so it adds nothing measurable to the CPU figures.
"""

from __future__ import annotations

import gc
import json
import resource
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import trio

#: Large enough for the 1 MiB scenario on every server (some check ``>=``, some ``>``).
MAX_SIZE = 4 * 1024 * 1024


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def stats() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss_kib": rss}


def _control_thread(
    sock: socket.socket, token: trio.lowlevel.TrioToken, broadcast: Callable[[bytes], Any]
) -> None:
    while True:
        conn, _ = sock.accept()
        with conn, conn.makefile("rwb") as f:
            for line in f:
                words = line.decode().split()
                if not words:
                    continue
                if words[0] == "stats":
                    reply = json.dumps(stats())
                elif words[0] == "gc":
                    trio.from_thread.run_sync(gc.collect, trio_token=token)
                    reply = "done"
                elif words[0] == "broadcast":
                    trio.from_thread.run(broadcast, b"b" * int(words[1]), trio_token=token)
                    reply = "done"
                else:
                    reply = "error"
                f.write(reply.encode() + b"\n")
                f.flush()


def run(
    serve: Callable[[int, Any], Awaitable[Any]],
    broadcast: Callable[[bytes], Awaitable[None]],
) -> None:
    """Run ``serve(port, task_status)`` (it reports the bound port) with the control thread."""
    raise_fd_limit()

    async def main() -> None:
        control = socket.create_server(("127.0.0.1", 0))
        token = trio.lowlevel.current_trio_token()
        threading.Thread(
            target=_control_thread, args=(control, token, broadcast), daemon=True
        ).start()
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve, 0)
            print("READY", port, control.getsockname()[1], flush=True)

    try:
        trio.run(main)
    except KeyboardInterrupt:
        sys.exit(0)
