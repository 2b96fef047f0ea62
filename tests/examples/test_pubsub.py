"""examples/pubsub: the app in-process on port 0, with the in-memory broker."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio

import trio_ws

from .helpers import http_get, load_example

pytestmark = pytest.mark.network

pubsub = load_example("pubsub/server.py", "pubsub_server")
broker_module = load_example("pubsub/broker.py", "broker")


@asynccontextmanager
async def running_app(**kwargs: Any) -> AsyncIterator[int]:
    """Run the pub/sub app with the in-memory broker on a free port; yield the port."""
    async with broker_module.open_broker() as broker, trio.open_nursery() as nursery:
        server = await nursery.start(partial(pubsub.main, "127.0.0.1", 0, broker, **kwargs))
        yield server.port
        nursery.cancel_scope.cancel()


async def send(ws: trio_ws.WebSocketConnection, **fields: Any) -> None:
    await ws.send(json.dumps(fields))


async def receive(ws: trio_ws.WebSocketConnection) -> Any:
    message = await ws.receive()
    assert isinstance(message, str)
    return json.loads(message)


async def subscribe(ws: trio_ws.WebSocketConnection, topic: str) -> None:
    await send(ws, type="subscribe", topic=topic)
    assert await receive(ws) == {"type": "subscribed", "topic": topic}


async def test_http_routes() -> None:
    with trio.fail_after(10):
        async with running_app() as port:
            status, headers, body = await http_get(port, "/")
            assert status == 200
            assert headers["content-type"].startswith("text/html")
            for element_id in ("status", "topic", "subscribe", "unsubscribe", "message"):
                assert f'id="{element_id}"'.encode() in body
            assert b'id="publish"' in body
            assert b'id="log"' in body

            status, _, body = await http_get(port, "/healthz")
            assert (status, body) == (200, b"ok")

            status, headers, body = await http_get(port, "/stats")
            assert status == 200
            assert headers["content-type"] == "application/json"
            stats = json.loads(body)
            assert {"connections", "topics", "messages_in", "messages_out"} <= stats.keys()

            status, _, _ = await http_get(port, "/nope")
            assert status == 404
            with pytest.raises(trio_ws.HandshakeRejected) as info:
                async with trio_ws.open_websocket(f"ws://127.0.0.1:{port}/other"):
                    pass
            assert info.value.status_code == 404


async def test_subscribe_publish_between_two_clients() -> None:
    with trio.fail_after(10):
        async with running_app() as port:
            url = f"ws://127.0.0.1:{port}/ws"
            async with trio_ws.open_websocket(url) as alice, trio_ws.open_websocket(url) as bob:
                await subscribe(alice, "news")
                await subscribe(bob, "news")
                await subscribe(bob, "sport")
                await send(alice, type="publish", topic="news", data={"headline": "hi"})
                await send(alice, type="publish", topic="sport", data="goal")
                expected = {"type": "message", "topic": "news", "data": {"headline": "hi"}}
                assert await receive(alice) == expected
                assert await receive(bob) == expected
                assert await receive(bob) == {"type": "message", "topic": "sport", "data": "goal"}

                _, _, body = await http_get(port, "/stats")
                stats = json.loads(body)
                assert stats["connections"] == 2
                assert stats["topics"] == 2
                assert stats["messages_in"] == 5
                assert stats["messages_out"] == 6  # 3 acks, 3 messages

                await send(bob, type="unsubscribe", topic="news")
                assert await receive(bob) == {"type": "unsubscribed", "topic": "news"}
                await send(alice, type="publish", topic="news", data=1)
                await send(alice, type="publish", topic="sport", data=2)
                assert (await receive(alice))["data"] == 1
                assert (await receive(bob))["data"] == 2  # news no longer reaches bob

            # Both gone: their subscriptions went with them.
            _, _, body = await http_get(port, "/stats")
            assert json.loads(body)["connections"] == 0
            assert json.loads(body)["topics"] == 0


BAD_MESSAGES: list[str | bytes] = [
    b'{"type": "subscribe", "topic": "news"}',  # binary
    "{not json",
    '{"type": "publish", "topic": "news", "data": NaN}',
    "[1, 2]",
    "{}",
    '{"type": "shout", "topic": "news"}',
    '{"type": "subscribe"}',
    '{"type": "subscribe", "topic": 42}',
    '{"type": "subscribe", "topic": ""}',
    json.dumps({"type": "subscribe", "topic": "x" * 129}),
    '{"type": "publish", "topic": "news"}',  # no data
]


async def test_bad_input_gets_an_error_and_the_connection_stays_open() -> None:
    with trio.fail_after(10):
        async with (
            running_app() as port,
            trio_ws.open_websocket(f"ws://127.0.0.1:{port}/ws") as ws,
        ):
            for message in BAD_MESSAGES:
                await ws.send(message)
                reply = await receive(ws)
                assert reply["type"] == "error", message
                assert isinstance(reply["reason"], str)
                assert reply["reason"]
            # 128 characters is fine; 100 subscriptions too, not 101.
            await subscribe(ws, "x" * 128)
            for i in range(99):
                await subscribe(ws, f"topic-{i}")
            await send(ws, type="subscribe", topic="one-too-many")
            reply = await receive(ws)
            assert reply["type"] == "error"
            assert "too many subscriptions" in reply["reason"]
            await subscribe(ws, "topic-0")  # already subscribed: fine
            # Still open and working.
            await send(ws, type="publish", topic="topic-0", data="still here")
            assert (await receive(ws))["data"] == "still here"


async def test_abuse_closes_with_1008() -> None:
    with trio.fail_after(10):
        async with (
            running_app() as port,
            trio_ws.open_websocket(f"ws://127.0.0.1:{port}/ws") as ws,
        ):
            for _ in range(pubsub.MAX_ERRORS - 1):
                await ws.send("nonsense")
                assert (await receive(ws))["type"] == "error"
            await ws.send("nonsense")
            with pytest.raises(trio_ws.ConnectionClosedError) as info:
                await ws.receive()
            assert info.value.code == 1008


async def drain(ws: trio_ws.WebSocketConnection) -> tuple[list[Any], int]:
    """Read until the connection closes: (the data of the messages, the close code)."""
    received = []
    try:
        while True:
            message = await receive(ws)
            if message["type"] == "message":
                received.append(message["data"])
    except trio_ws.ConnectionClosed as exc:
        return received, exc.code


@asynccontextmanager
async def slow_client(port: int) -> AsyncIterator[trio_ws.WebSocketConnection]:
    """A client with a tiny socket receive buffer and receive queue, that we do not read."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    stream = trio.SocketStream(sock)
    options = trio_ws.Options(max_queue=1, compression=None)
    async with trio_ws.open_websocket_stream(
        stream, host=f"127.0.0.1:{port}", target="/ws", options=options
    ) as ws:
        yield ws


async def test_slow_subscriber_is_dropped_with_1013_and_others_get_everything() -> None:
    with trio.fail_after(20):
        async with running_app() as port:
            url = f"ws://127.0.0.1:{port}/ws"
            async with (
                trio_ws.open_websocket(url) as publisher,
                trio_ws.open_websocket(url) as fast,
                slow_client(port) as slow,
            ):
                await subscribe(fast, "firehose")
                await subscribe(slow, "firehose")
                # Random payloads (not compressible) until the slow one's queue overflows.
                sent = []
                for i in range(2000):
                    data = f"{i}:" + os.urandom(8000).hex()
                    await send(publisher, type="publish", topic="firehose", data=data)
                    sent.append(data)
                    assert (await receive(fast))["data"] == data  # in order, none missing
                    if i % 10 == 9:
                        _, _, body = await http_get(port, "/stats")
                        if json.loads(body)["slow_dropped"]:
                            break
                else:
                    pytest.fail("the slow subscriber was never dropped")
                # The fast subscriber still works after the drop.
                await send(publisher, type="publish", topic="firehose", data="after")
                assert (await receive(fast))["data"] == "after"
                # The slow one gets what was already in flight, then the 1013 close.
                received, code = await drain(slow)
                assert code == 1013
                assert received == sent[: len(received)]
                assert len(received) < len(sent)


async def test_cancelling_the_app_closes_clients_with_1001() -> None:
    with trio.fail_after(10):
        app_scope = trio.CancelScope()

        async def app(broker: Any, task_status: trio.TaskStatus[trio_ws.Server]) -> None:
            with app_scope:
                await pubsub.main("127.0.0.1", 0, broker, task_status=task_status)

        async with broker_module.open_broker() as broker, trio.open_nursery() as nursery:
            server = await nursery.start(app, broker)
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/ws") as ws:
                await subscribe(ws, "news")
                app_scope.cancel()  # as Ctrl+C would
                with pytest.raises(trio_ws.ConnectionClosedOK) as info:
                    await ws.receive()
                assert info.value.code == 1001
