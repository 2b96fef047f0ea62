"""examples/pubsub, attacked: a fast publisher, hostile JSON, bursts of bad input, signals.

No test asserts on a duration: the traffic tests are bounded by message counts, and every
``fail_after`` only catches a hang.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio

import trio_ws

from .helpers import example_command, example_env, load_example
from .test_pubsub import receive, running_app, send, slow_client, subscribe

pytestmark = pytest.mark.network

pubsub = load_example("pubsub/server.py", "pubsub_server")

MESSAGE_SIZE = 16 * 1024


def payload(i: int) -> str:
    """About 16 KiB of incompressible text, numbered."""
    return f"{i}:" + os.urandom(MESSAGE_SIZE // 2).hex()


async def read_messages(ws: trio_ws.WebSocketConnection, count: int, into: list[str]) -> None:
    """Read as fast as possible until ``count`` published messages arrived."""
    while len(into) < count:
        message = json.loads(await ws.receive())
        if message["type"] == "message":
            into.append(message["data"])


# --- Item 6: a fast publisher, and subscribers that keep up or do not ------------------------


async def test_fast_publisher_does_not_drop_subscribers_that_read_as_fast_as_they_can() -> None:
    count = 3000  # 16 KiB each: 47 MiB to each of 4 subscribers
    with trio.fail_after(300):
        async with running_app() as port:
            url = f"ws://127.0.0.1:{port}/ws"
            async with AsyncExitStack() as stack:
                publisher = await stack.enter_async_context(
                    trio_ws.open_websocket(url, compression=None)
                )
                subscribers = [
                    await stack.enter_async_context(trio_ws.open_websocket(url, compression=None))
                    for _ in range(4)
                ]
                for ws in subscribers:
                    await subscribe(ws, "firehose")
                received: list[list[str]] = [[] for _ in subscribers]
                sent = []
                async with trio.open_nursery() as nursery:
                    for ws, into in zip(subscribers, received, strict=True):
                        nursery.start_soon(read_messages, ws, count, into)
                    for i in range(count):  # as fast as the server takes them
                        sent.append(payload(i))
                        await send(publisher, type="publish", topic="firehose", data=sent[-1])
                for into in received:
                    assert into == sent  # all of them, in order: nobody was dropped
                stats = await app_stats(port)
                assert stats["slow_dropped"] == 0


async def test_subscriber_that_stops_reading_is_dropped_while_others_keep_receiving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    count = 1000
    # The slow client is drained only at the end: however long the rest takes, its TCP
    # connection must not be cut before then (that would be 1006 instead of 1013).
    monkeypatch.setattr(pubsub, "CLOSE_GRACE", 600.0)
    with trio.fail_after(300):
        async with running_app(slow_timeout=1.0) as port:
            url = f"ws://127.0.0.1:{port}/ws"
            async with (
                trio_ws.open_websocket(url, compression=None) as publisher,
                trio_ws.open_websocket(url, compression=None) as fast1,
                trio_ws.open_websocket(url, compression=None) as fast2,
                slow_client(port) as slow,
            ):
                for ws in (fast1, fast2, slow):
                    await subscribe(ws, "firehose")
                sent: list[str] = []
                received: list[list[str]] = [[], []]
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read_messages, fast1, count, received[0])
                    nursery.start_soon(read_messages, fast2, count, received[1])
                    for i in range(count):
                        sent.append(payload(i))
                        await send(publisher, type="publish", topic="firehose", data=sent[-1])
                assert received == [sent, sent]
                # The slow one: what was in flight, then 1013.
                got = []
                with pytest.raises(trio_ws.ConnectionClosedError) as info:
                    while True:
                        got.append(json.loads(await slow.receive())["data"])
                assert info.value.code == 1013
                assert got == sent[: len(got)]
                assert len(got) < count
                # The publisher was not dropped and still publishes.
                await send(publisher, type="publish", topic="firehose", data="after")
                assert (await receive(fast1))["data"] == "after"
                assert (await app_stats(port))["slow_dropped"] == 1


async def app_stats(port: int) -> Any:
    from .helpers import http_get

    _, _, body = await http_get(port, "/stats")
    return json.loads(body)


# --- Item 7: JSON that makes json.loads (or json.dumps) raise --------------------------------

HOSTILE_JSON = {
    "deep list": "[" * 1000,
    "deep list, closed": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 5000,
    "deep data": '{"type": "publish", "topic": "t", "data": ' + "[" * 990 + "]" * 990 + "}",
    "huge integer": "1" * 5000,
    "huge integer in data": '{"type": "publish", "topic": "t", "data": ' + "9" * 10_000 + "}",
    "float overflow": '{"type": "publish", "topic": "t", "data": 1e999}',
    "negative float overflow": '{"type": "publish", "topic": "t", "data": -1e999}',
    "lone surrogate topic": '{"type": "subscribe", "topic": "\\ud800"}',
    "deep type": '{"type": ' + "[" * 900 + "]" * 900 + ', "topic": "t"}',
    "huge type": json.dumps({"type": "x" * 1_000_000, "topic": "t"}),
    "nul": "\x00",
    "empty": "",
}


@pytest.mark.parametrize("message", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
async def test_hostile_json_gets_an_error_reply_and_logs_nothing_above_info(
    message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(30):
        async with (
            running_app() as port,
            trio_ws.open_websocket(f"ws://127.0.0.1:{port}/ws") as ws,
        ):
            await subscribe(ws, "t")
            await ws.send(message)
            reply = await receive(ws)
            assert reply["type"] == "error", reply
            assert 0 < len(reply["reason"]) < 200
            # Still open and working.
            await send(ws, type="publish", topic="t", data="fine")
            assert await receive(ws) == {"type": "message", "topic": "t", "data": "fine"}
    loud = [record for record in caplog.records if record.levelno > logging.INFO]
    assert loud == []


# --- Item 8: a burst of bad messages gets every error reply, then 1008 -----------------------


async def test_a_burst_of_bad_messages_gets_every_error_then_1008() -> None:
    with trio.fail_after(30):
        async with (
            running_app() as port,
            trio_ws.open_websocket(f"ws://127.0.0.1:{port}/ws") as ws,
        ):
            for _ in range(pubsub.MAX_ERRORS):
                await ws.send("nonsense")  # all of them before reading any reply
            errors = 0
            with pytest.raises(trio_ws.ConnectionClosedError) as info:
                while True:
                    assert (await receive(ws))["type"] == "error"
                    errors += 1
            assert errors == pubsub.MAX_ERRORS - 1
            assert info.value.code == 1008


async def test_bad_messages_one_at_a_time_get_every_error_then_1008() -> None:
    with trio.fail_after(30):
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


# --- Item 9: SIGINT and SIGTERM close busy clients with 1001 ---------------------------------


@asynccontextmanager
async def server_process() -> AsyncIterator[tuple[trio.Process, int]]:
    """The example as a process on a free port: (the process, the port)."""
    process = await trio.lowlevel.open_process(
        example_command("pubsub/server.py", "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=example_env(),
    )
    try:
        assert process.stdout is not None
        output = b""
        while b"\n" not in output:
            chunk = await process.stdout.receive_some()
            assert chunk, "the server exited before listening"
            output += chunk
        port = int(output.split(b"\n")[0].rsplit(b":", 1)[1])
        yield process, port
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
                await process.wait()
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    await pipe.aclose()


async def busy_client(
    port: int, codes: list[int], busy: trio.Semaphore, *, task_status: Any
) -> None:
    """Subscribe, then publish and read without pause until the server closes; record the code."""
    async with trio_ws.open_websocket(f"ws://127.0.0.1:{port}/ws", compression=None) as ws:
        await send(ws, type="subscribe", topic="busy")
        while (await receive(ws))["type"] != "subscribed":  # others publish already
            pass
        task_status.started()

        async def publish_forever() -> None:
            data = os.urandom(512).hex()
            try:
                while True:
                    await send(ws, type="publish", topic="busy", data=data)
            except trio_ws.ConnectionClosed:
                pass

        async with trio.open_nursery() as nursery:
            nursery.start_soon(publish_forever)
            seen = 0
            try:
                while True:
                    await ws.receive()
                    seen += 1
                    if seen == 20:
                        busy.release()  # this one is busy
            except trio_ws.ConnectionClosed as exc:
                codes.append(exc.code)
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("run", range(3))
async def test_signal_closes_busy_clients_with_1001(signum: int, run: int) -> None:
    clients = 20
    with trio.fail_after(60):
        async with server_process() as (process, port):
            codes: list[int] = []
            busy = trio.Semaphore(0)
            async with trio.open_nursery() as nursery:
                for _ in range(clients):
                    await nursery.start(partial(busy_client, port, codes, busy))
                for _ in range(clients):
                    await busy.acquire()  # every client has received 20 messages
                process.send_signal(signum)
            assert codes == [1001] * clients
            assert await process.wait() == 0
            assert process.stderr is not None
            stderr = b""
            while chunk := await process.stderr.receive_some():
                stderr += chunk
            assert b"Traceback" not in stderr, stderr.decode()
