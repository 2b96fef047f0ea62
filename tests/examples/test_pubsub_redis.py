"""examples/pubsub with --redis: two server processes share one topic space through Redis."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

import trio_ws

from .helpers import running_example

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="redis-server is not installed (apt-get install redis-server)",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    """Run a throwaway redis-server on a free port; yield its URL."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no"]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.DEVNULL)
    try:
        while True:  # wait until it accepts connections
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                if process.poll() is not None:
                    raise AssertionError("redis-server exited at start") from None
                await trio.sleep(0.05)
            else:
                await stream.aclose()
                break
        yield f"redis://127.0.0.1:{port}"
    finally:
        with trio.CancelScope(shield=True):
            process.kill()
            await process.wait()


async def receive_json(ws: trio_ws.WebSocketConnection) -> object:
    message = await ws.receive()
    assert isinstance(message, str)
    return json.loads(message)


async def test_two_servers_share_topics_through_redis() -> None:
    pytest.importorskip("coredis", reason="coredis is in the 'examples' dependency group")
    with trio.fail_after(30):
        async with (
            redis_server() as redis_url,
            running_example("pubsub/server.py", "--port", "0", "--redis", redis_url) as port_a,
            running_example("pubsub/server.py", "--port", "0", "--redis", redis_url) as port_b,
            trio_ws.open_websocket(f"ws://127.0.0.1:{port_a}/ws") as on_a,
            trio_ws.open_websocket(f"ws://127.0.0.1:{port_b}/ws") as on_b,
        ):
            for ws in (on_a, on_b):
                await ws.send(json.dumps({"type": "subscribe", "topic": "news"}))
                # The ack comes once Redis sends the topic to that server.
                assert await receive_json(ws) == {"type": "subscribed", "topic": "news"}

            data = {"headline": "across processes", "n": 1}
            await on_a.send(json.dumps({"type": "publish", "topic": "news", "data": data}))
            expected = {"type": "message", "topic": "news", "data": data}
            assert await receive_json(on_b) == expected  # through Redis to the other server
            assert await receive_json(on_a) == expected  # and back to the publisher's own

            await on_b.send(json.dumps({"type": "publish", "topic": "news", "data": "reply"}))
            assert (await receive_json(on_a))["data"] == "reply"
            assert (await receive_json(on_b))["data"] == "reply"
