"""examples/chat/server.py, in-process on port 0."""

from __future__ import annotations

import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio

import trio_ws

from .helpers import load_example, running_example_process

pytestmark = pytest.mark.network

chat = load_example("chat/server.py", "chat_server")


@asynccontextmanager
async def running_chat() -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(chat.main, "127.0.0.1", 0))
        yield f"ws://127.0.0.1:{server.port}"
        nursery.cancel_scope.cancel()


async def test_two_members_of_a_room_see_each_other() -> None:
    with trio.fail_after(10):
        async with (
            running_chat() as base,
            trio_ws.open_websocket(f"{base}/rooms/lobby?name=alice") as alice,
        ):
            assert await alice.receive() == "* alice joined"
            async with trio_ws.open_websocket(f"{base}/rooms/lobby?name=bob") as bob:
                assert await bob.receive() == "* bob joined"
                assert await alice.receive() == "* bob joined"
                async with trio_ws.open_websocket(f"{base}/rooms/other?name=carol") as carol:
                    assert await carol.receive() == "* carol joined"
                    await alice.send("hello bob")
                    await bob.send("hi alice")
                    for ws in (alice, bob):
                        assert await ws.receive() == "alice: hello bob"
                        assert await ws.receive() == "bob: hi alice"
                    await carol.send("anyone?")  # another room: alice and bob don't see it
                    assert await carol.receive() == "carol: anyone?"
            assert await alice.receive() == "* bob left"


async def test_bad_requests_are_rejected() -> None:
    with trio.fail_after(10):
        async with running_chat() as base:
            for url, status in [
                (f"{base}/rooms/lobby", 400),  # no name
                (f"{base}/rooms/lobby?name=", 400),
                (f"{base}/lobby?name=alice", 404),
            ]:
                with pytest.raises(trio_ws.HandshakeRejected) as info:
                    async with trio_ws.open_websocket(url):
                        pass
                assert info.value.status_code == status


async def test_cancelling_the_chat_closes_members_with_1001() -> None:
    chat_scope = trio.CancelScope()

    async def run_chat(task_status: trio.TaskStatus[trio_ws.Server]) -> None:
        with chat_scope:
            await chat.main("127.0.0.1", 0, task_status=task_status)

    with trio.fail_after(10):  # only catches a hang
        async with trio.open_nursery() as nursery:
            server = await nursery.start(run_chat)
            url = f"ws://127.0.0.1:{server.port}/rooms/lobby?name=alice"
            async with trio_ws.open_websocket(url) as alice:
                assert await alice.receive() == "* alice joined"
                chat_scope.cancel()
                with pytest.raises(trio_ws.ConnectionClosedOK) as info:
                    await alice.receive()
            assert info.value.code == 1001


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_chat_server_closes_members_with_1001_on_a_signal(signum: signal.Signals) -> None:
    with trio.fail_after(20):  # only catches a hang
        async with running_example_process("chat/server.py", "--port", "0") as (process, port):
            url = f"ws://127.0.0.1:{port}/rooms/lobby?name=alice"
            async with trio_ws.open_websocket(url) as ws:
                assert await ws.receive() == "* alice joined"
                process.send_signal(signum)
                with pytest.raises(trio_ws.ConnectionClosedOK) as info:
                    await ws.receive()
            assert info.value.code == 1001
            assert await process.wait() == 0
