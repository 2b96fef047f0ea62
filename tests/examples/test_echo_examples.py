"""examples/echo_server.py and examples/echo_client.py, run as processes."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import trio

import trio_ws

from .helpers import example_command, example_env, running_example, running_example_process

pytestmark = pytest.mark.network


async def test_echo_server_echoes_messages_close_codes_and_subprotocols() -> None:
    with trio.fail_after(20):
        async with running_example("echo_server.py", "--port", "0") as port:
            url = f"ws://127.0.0.1:{port}/any/path?x=1"
            async with trio_ws.open_websocket(url, subprotocols=["superchat", "chat"]) as ws:
                assert ws.subprotocol == "superchat"  # the client's first choice we support
                assert [ext.name for ext in ws.extensions] == ["permessage-deflate"]
                for message in ["hello", "", "é" * 1000, b"\x00\xff" * 5000, b""]:
                    await ws.send(message)
                    assert await ws.receive() == message  # same value, same type
                await ws.aclose(4321, "bye now")
            assert ws.close_received is not None
            assert (ws.close_received.code, ws.close_received.reason) == (4321, "bye now")

            async with trio_ws.open_websocket(url, subprotocols=["mqtt", "chat"]) as ws:
                assert ws.subprotocol == "chat"
            async with trio_ws.open_websocket(url, subprotocols=["mqtt"]) as ws:
                assert ws.subprotocol is None
            async with trio_ws.open_websocket(url) as ws:
                assert ws.subprotocol is None
                await ws.aclose(1001)
            assert ws.close_received is not None
            assert ws.close_received.code == 1001


async def test_echo_server_options() -> None:
    with trio.fail_after(20):
        args = ["--port", "0", "--no-compression", "--max-message-size", "1000"]
        args += ["--subprotocol", "v2", "--subprotocol", "v1"]
        async with running_example("echo_server.py", *args) as port:
            url = f"ws://127.0.0.1:{port}/"
            async with trio_ws.open_websocket(url, subprotocols=["chat", "v1", "v2"]) as ws:
                assert ws.extensions == []  # offered, declined
                assert ws.subprotocol == "v1"  # the client's order decides
                await ws.send("x" * 1000)
                assert await ws.receive() == "x" * 1000
                await ws.send("x" * 1001)
                with pytest.raises(trio_ws.ConnectionClosedError) as info:
                    await ws.receive()
            assert info.value.code == 1009


async def run_echo_client(close_code: int) -> tuple[subprocess.CompletedProcess[bytes], list]:
    """Run echo_client.py against a server that sends messages, then closes with a code."""
    messages: list[str | bytes] = ["one", b"two", "three" * 1000, b"\x00" * 70000]
    echoed: list[str | bytes] = []

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        for message in messages:
            await ws.send(message)
            echoed.append(await ws.receive())
        await ws.aclose(close_code, "done")

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_ws.serve, handler, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.port}/"
        result = await trio.run_process(
            example_command("echo_client.py", url),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=example_env(),
        )
        await server.aclose()
    assert echoed == messages
    return result, echoed


async def test_echo_client_exits_0_on_normal_close() -> None:
    with trio.fail_after(20):
        result, _ = await run_echo_client(1000)
    assert result.returncode == 0, result.stderr
    assert b"code 1000" in result.stdout


async def test_echo_client_exits_non_zero_on_error_close() -> None:
    with trio.fail_after(20):
        result, _ = await run_echo_client(1011)
    assert result.returncode != 0
    assert b"code 1011" in result.stdout


async def test_echo_client_cannot_connect() -> None:
    with trio.fail_after(20):
        result = await trio.run_process(
            example_command("echo_client.py", "ws://127.0.0.1:1/"),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=example_env(),
        )
    assert result.returncode == 2
    assert b"cannot connect" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_echo_server_closes_clients_with_1001_on_a_signal(signum: signal.Signals) -> None:
    with trio.fail_after(20):  # only catches a hang
        async with running_example_process("echo_server.py", "--port", "0") as (process, port):
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("before")
                assert await ws.receive() == "before"
                process.send_signal(signum)
                with pytest.raises(trio_ws.ConnectionClosedOK) as info:
                    await ws.receive()
            assert info.value.code == 1001
            assert await process.wait() == 0
