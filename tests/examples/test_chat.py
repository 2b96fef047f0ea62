"""examples/chat/server.py, in-process on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio

import trio_ws

from .helpers import load_example

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
