"""trio_ws.testing: the in-memory pair users test their apps with."""

from __future__ import annotations

import pytest
import trio

import trio_ws
from trio_ws.testing import open_memory_websocket

from .helpers import echo


async def test_echo_in_memory() -> None:
    async with open_memory_websocket(echo, subprotocols=["chat"], target="/x?y=1") as ws:
        assert ws.subprotocol == "chat"
        await ws.send("hi")
        assert await ws.receive() == "hi"
    assert ws.close_code == 1000


async def test_rejection_and_headers() -> None:
    async def app(request: trio_ws.WebSocketRequest) -> None:
        if request.header("authorization") != "Bearer ok":
            await request.reject(401)
            return
        ws = await request.accept()
        await ws.send(request.target)

    with pytest.raises(trio_ws.HandshakeRejected) as info:
        async with open_memory_websocket(app):
            pass
    assert info.value.status_code == 401
    async with open_memory_websocket(app, headers=[("Authorization", "Bearer ok")]) as ws:
        assert await ws.receive() == "/"


async def test_user_exception_comes_out_as_itself() -> None:
    with pytest.raises(KeyError):
        async with open_memory_websocket(echo):
            raise KeyError("x")


async def test_lockstep_and_virtual_time(autojump_clock) -> None:
    options = trio_ws.Options(ping_interval=10, ping_timeout=10)
    async with open_memory_websocket(echo, lockstep=True, client_options=options) as ws:
        await trio.sleep(25)
        assert ws.statistics().last_rtt is not None
