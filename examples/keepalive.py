"""Keepalive: automatic pings every ``ping_interval`` seconds, and their round-trip times.

::

    uv run python examples/keepalive.py                      # against a server of its own
    uv run python examples/keepalive.py ws://127.0.0.1:8765/ --interval 2 --count 5

trio-ws pings the peer every ``ping_interval`` seconds and closes the connection with 1011
when no pong comes back within ``ping_timeout``: a peer that vanished (unplugged cable,
suspended laptop) is noticed even when no message flows. ``ws.statistics().last_rtt`` is
the round-trip time of the last answered ping; ``await ws.ping()`` measures one now.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import trio

import trio_ws


async def quiet(request: trio_ws.WebSocketRequest) -> None:
    """A server that accepts and never says a word (pongs are answered by trio-ws)."""
    ws = await request.accept()
    async for _ in ws:
        pass


async def watch(url: str, interval: float, count: int) -> None:
    async with trio_ws.open_websocket(url, ping_interval=interval) as ws:
        await trio.sleep(interval / 2)  # sample between pings, once a pong had time to come
        for n in range(1, count + 1):
            await trio.sleep(interval)
            stats = ws.statistics()
            last = "no pong yet" if stats.last_rtt is None else f"{stats.last_rtt * 1000:.3f} ms"
            print(f"keepalive {n}: last rtt {last}", flush=True)
        rtt = await ws.ping()  # an explicit ping waits for its pong
        print(f"explicit ping: rtt {rtt * 1000:.3f} ms", flush=True)


async def main(args: argparse.Namespace) -> None:
    if args.url is not None:
        await watch(args.url, args.interval, args.count)
        return
    async with trio.open_nursery() as nursery:  # no URL: run a local server to ping
        server = await nursery.start(trio_ws.serve, quiet, "127.0.0.1", 0)
        await watch(f"ws://127.0.0.1:{server.port}/", args.interval, args.count)
        await server.aclose()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="server to ping (default: a local one)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between pings (1)")
    parser.add_argument("--count", type=int, default=5, help="samples to print (5)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    trio.run(main, parse_args())
