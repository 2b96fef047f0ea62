"""Shutting a server down: every open connection is told 1001 (issue 16 item 5)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest
import trio

import trio_ws

pytestmark = pytest.mark.network


async def echo(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


async def run_server(
    serving: trio.CancelScope, task_status: trio.TaskStatus[trio_ws.Server]
) -> None:
    """The echo server, in a scope the test cancels (as Ctrl+C or a parent would)."""
    with serving:
        await trio_ws.serve(echo, "127.0.0.1", 0, ping_interval=None, task_status=task_status)


@pytest.mark.parametrize("clients", [1, 5])
async def test_cancelling_serve_sends_1001_to_every_client(clients: int) -> None:
    codes: list[tuple[int, str]] = []
    with trio.fail_after(10):  # only catches a hang
        async with trio.open_nursery() as nursery:
            serving = trio.CancelScope()
            server = await nursery.start(run_server, serving)
            url = f"ws://127.0.0.1:{server.port}/"

            async def client(connected: trio.Event, done: trio.Event) -> None:
                async with trio_ws.open_websocket(url) as ws:
                    await ws.send("x")
                    assert await ws.receive() == "x"
                    connected.set()
                    with pytest.raises(trio_ws.ConnectionClosed) as info:
                        await ws.receive()
                    codes.append((info.value.code, info.value.reason))
                done.set()

            async with trio.open_nursery() as clients_nursery:
                events = [(trio.Event(), trio.Event()) for _ in range(clients)]
                for connected, done in events:
                    clients_nursery.start_soon(client, connected, done)
                for connected, _ in events:
                    await connected.wait()
                serving.cancel()  # the server's scope ends: serve() is cancelled
    assert codes == [(1001, "server shutting down")] * clients


async def test_cancelling_serve_sends_1001_to_busy_clients() -> None:
    """Clients that keep sending while the server shuts down still get 1001."""
    codes: list[int] = []
    with trio.fail_after(10):  # only catches a hang
        async with trio.open_nursery() as nursery:
            serving = trio.CancelScope()
            server = await nursery.start(run_server, serving)
            url = f"ws://127.0.0.1:{server.port}/"
            echoed = [0] * 10

            async def client(index: int) -> None:
                async with trio_ws.open_websocket(url) as ws:

                    async def keep_sending() -> None:
                        try:
                            while True:
                                await ws.send("x" * 1000)
                        except trio_ws.ConnectionClosed:
                            pass

                    async with trio.open_nursery() as inner:
                        inner.start_soon(keep_sending)
                        try:
                            while True:
                                await ws.receive()
                                echoed[index] += 1
                        except trio_ws.ConnectionClosed as exc:
                            codes.append(exc.code)

            async with trio.open_nursery() as clients:
                for index in range(10):
                    clients.start_soon(client, index)
                while min(echoed) < 20:
                    await trio.sleep(0.01)
                serving.cancel()
    assert codes == [1001] * 10


SERVE_FOREVER = """
import sys, trio, trio_ws

async def echo(request):
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)

trio.run(trio_ws.serve, echo, "127.0.0.1", int(sys.argv[1]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_ctrl_c_on_trio_run_serve_sends_1001() -> None:
    """``trio.run(trio_ws.serve, ...)`` and Ctrl+C: KeyboardInterrupt lands in serve's task."""
    with socket.socket() as sock:  # a free port (serve() is the main task: it cannot say)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with trio.fail_after(20):  # only catches a hang
        process = await trio.lowlevel.open_process(
            [sys.executable, "-c", SERVE_FOREVER, str(port)], stderr=subprocess.DEVNULL
        )
        try:
            while True:
                try:
                    ws_context = trio_ws.open_websocket(f"ws://127.0.0.1:{port}/")
                    ws = await ws_context.__aenter__()
                    break
                except OSError:
                    await trio.sleep(0.05)  # not listening yet
            try:
                await ws.send("x")
                assert await ws.receive() == "x"
                process.send_signal(signal.SIGINT)
                with pytest.raises(trio_ws.ConnectionClosedOK) as info:
                    await ws.receive()
                assert info.value.code == 1001
            finally:
                await ws_context.__aexit__(None, None, None)
            await process.wait()
        finally:
            process.kill()
