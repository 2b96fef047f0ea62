"""No task or socket outlives a connection, in every ending path (counted, not assumed)."""

from __future__ import annotations

import gc
import os

import pytest
import trio
import trio.testing

import trio_ws

from .helpers import RawPeer, options
from .netutil import running_server

pytestmark = pytest.mark.network


def count_tasks() -> int:
    count = 0
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


def count_fds() -> int:
    # An unclosed socket also surfaces as a ResourceWarning, an error under this suite's
    # filterwarnings = error: the count catches descriptors still referenced somewhere.
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


async def client_normal(url: str) -> None:
    async with trio_ws.open_websocket(url, ping_interval=0.05) as ws:
        await ws.send("x")
        await ws.receive()


async def client_server_closes(url: str) -> None:
    async with trio_ws.open_websocket(url + "close") as ws:
        with pytest.raises(trio_ws.ConnectionClosedOK):
            await ws.receive()


async def client_handler_raises(url: str) -> None:
    async with trio_ws.open_websocket(url + "raise") as ws:
        with pytest.raises(trio_ws.ConnectionClosedError):
            await ws.receive()


async def client_body_raises(url: str) -> None:
    with pytest.raises(ZeroDivisionError):
        async with trio_ws.open_websocket(url) as ws:
            await ws.send("x")
            1 / 0  # noqa: B018


async def client_cancelled(url: str) -> None:
    with trio.move_on_after(0.05):
        async with trio_ws.open_websocket(url + "silent") as ws:
            await ws.receive()


async def client_rejected(url: str) -> None:
    with pytest.raises(trio_ws.HandshakeRejected):
        async with trio_ws.open_websocket(url + "reject"):
            pass


async def client_vanishes(url: str) -> None:
    """A raw client that sends half a handshake and disconnects."""
    port = int(url.rsplit(":", 1)[1].rstrip("/"))
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
    await stream.aclose()


async def handler(request: trio_ws.WebSocketRequest) -> None:
    if request.path == "/reject":
        await request.reject(403)
        return
    ws = await request.accept()
    if request.path == "/close":
        await ws.aclose(1000)
    elif request.path == "/raise":
        raise RuntimeError("handler failure (expected by the test)")
    elif request.path == "/silent":
        await ws.wait_closed()
    else:
        async for message in ws:
            await ws.send(message)


@pytest.mark.parametrize(
    "scenario",
    [
        client_normal,
        client_server_closes,
        client_handler_raises,
        client_body_raises,
        client_cancelled,
        client_rejected,
        client_vanishes,
    ],
)
async def test_no_task_or_socket_survives(scenario) -> None:
    fds_before = count_fds()
    with trio.fail_after(20):
        async with running_server(handler) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            await trio.testing.wait_all_tasks_blocked()
            tasks_before = count_tasks()
            for _ in range(5):
                await scenario(url)
            # Let the server side of the last connection finish.
            with trio.move_on_after(2):
                while count_tasks() > tasks_before or server.connections:
                    await trio.sleep(0.01)
            assert count_tasks() == tasks_before
            assert server.connections == []
    assert count_fds() == fds_before


async def test_memory_stream_connection_leaves_no_task() -> None:
    tasks_before = count_tasks()
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = RawPeer(server_stream)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.accept_handshake)
        async with trio_ws.open_websocket_stream(
            client_stream, host="t", options=options(ping_interval=1, close_timeout=0.1)
        ):
            assert count_tasks() > tasks_before
    assert count_tasks() == tasks_before
