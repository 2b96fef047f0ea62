"""reconnecting(): backoff growth, jitter bounds, reset, which errors stop the loop."""

from __future__ import annotations

import inspect
import itertools
import logging
import ssl
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

import trio_ws
from trio_ws import _reconnect
from trio_ws._reconnect import reconnect_with

FAST: dict[str, Any] = {"ping_interval": None, "close_timeout": 2.0, "open_timeout": 5.0}
OPTIONS = trio_ws.Options(**FAST)


class Script:
    """A connect function over memory streams that plays one behaviour per attempt.

    Behaviours: ``"refuse"`` (OSError), an int (HTTP status to reject with), ``("accept",
    seconds)`` (accept, then the server closes with 1001 after that long; ``None``: never).
    """

    def __init__(self, *behaviours: Any) -> None:
        self.behaviours = list(behaviours)
        self.attempts: list[float] = []
        self.closes: list[int | None] = []  # close codes the server saw, per accepted connection

    async def connect(self, nursery: trio.Nursery) -> trio_ws.WebSocketConnection:
        self.attempts.append(trio.current_time())
        behaviour = self.behaviours.pop(0) if self.behaviours else ("accept", None)
        if behaviour == "refuse":
            await trio.lowlevel.checkpoint()
            raise ConnectionRefusedError(111, "Connection refused")
        client, server = trio.testing.memory_stream_pair()
        handler = partial(self.handle, behaviour)
        nursery.start_soon(partial(trio_ws.serve_stream, handler, server, options=OPTIONS))
        return await trio_ws.connect_stream(nursery, client, host="test", options=OPTIONS)

    async def handle(self, behaviour: Any, request: trio_ws.WebSocketRequest) -> None:
        if isinstance(behaviour, tuple) and behaviour[0] == "reject":
            await request.reject(behaviour[1], headers=behaviour[2])
            return
        if isinstance(behaviour, int):
            await request.reject(behaviour)
            return
        ws = await request.accept()
        lifetime = behaviour[1]
        with trio.move_on_after(float("inf") if lifetime is None else lifetime):
            async for _ in ws:
                pass
        if not ws.closed:
            await ws.aclose(1001, "going away")
        self.closes.append(ws.close_code)


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


@pytest.fixture
def top_of_range(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Make the jitter pick the top of its range, and record the ranges asked for."""
    calls: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    monkeypatch.setattr(_reconnect, "_uniform", uniform)
    return calls


async def take(connections: trio_ws.Reconnector, count: int) -> list[trio_ws.WebSocketConnection]:
    taken = []
    async for ws in connections:
        taken.append(ws)
        if len(taken) == count:
            break
        try:
            async for _ in ws:
                pass
        except trio_ws.ConnectionClosed:
            pass
    return taken


# --- Backoff --------------------------------------------------------------------------------


async def test_backoff_grows_geometrically_to_the_cap(
    autojump_clock: trio.testing.MockClock, top_of_range: list[tuple[float, float]]
) -> None:
    script = Script(*["refuse"] * 7)
    with trio.fail_after(1000):
        async with reconnect_with(script.connect, backoff_max=30.0) as connections:
            [ws] = await take_open(connections)
    assert gaps(script.attempts) == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert top_of_range == [(0.0, c) for c in (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0)]
    assert ws.closed


async def take_open(connections: trio_ws.Reconnector) -> list[trio_ws.WebSocketConnection]:
    async for ws in connections:
        return [ws]
    raise AssertionError("unreachable")  # pragma: no cover


async def test_full_jitter_stays_within_bounds(autojump_clock: trio.testing.MockClock) -> None:
    script = Script(*["refuse"] * 40)
    with trio.fail_after(10_000):
        async with reconnect_with(
            script.connect, backoff_initial=0.5, backoff_factor=3.0, backoff_max=10.0
        ) as connections:
            await take_open(connections)
    caps = [min(10.0, 0.5 * 3.0**n) for n in range(40)]
    delays = gaps(script.attempts)
    assert all(0.0 <= d <= cap + 1e-6 for d, cap in zip(delays, caps, strict=True))
    assert len(set(delays)) > 30  # random, not the caps themselves


async def test_without_jitter_the_delay_is_the_cap(autojump_clock: trio.testing.MockClock) -> None:
    script = Script("refuse", "refuse", "refuse")
    with trio.fail_after(100):
        async with reconnect_with(
            script.connect, backoff_initial=0.25, backoff_factor=4.0, jitter=False
        ) as connections:
            await take_open(connections)
    assert gaps(script.attempts) == [0.25, 1.0, 4.0]


async def test_short_lived_connections_back_off_long_lived_reset(
    autojump_clock: trio.testing.MockClock, top_of_range: list[tuple[float, float]]
) -> None:
    script = Script(
        ("accept", 5.0),  # dies young: wait 1 s
        ("accept", 5.0),  # young again: wait 2 s
        ("accept", 100.0),  # lived past backoff_reset: reconnect at once
        "refuse",  # the sequence starts over: wait 1 s
        ("accept", None),
    )
    with trio.fail_after(1000):
        async with reconnect_with(script.connect, backoff_reset=60.0) as connections:
            await take(connections, 4)
    assert gaps(script.attempts) == [5.0 + 1.0, 5.0 + 2.0, 100.0, 1.0]
    assert script.closes == [1001, 1001, 1001, 1000]  # the last one closed by us


async def test_retry_after_is_honoured(
    autojump_clock: trio.testing.MockClock, top_of_range: list[tuple[float, float]]
) -> None:
    script = Script(("reject", 429, [("Retry-After", "30")]), ("reject", 503, []))
    with trio.fail_after(1000):
        async with reconnect_with(script.connect) as connections:
            await take_open(connections)
    assert gaps(script.attempts) == [30.0, 2.0]


# --- What stops the loop and what does not -------------------------------------------------


async def test_continues_on_503_and_refused(autojump_clock: trio.testing.MockClock) -> None:
    script = Script(503, "refuse", 502, ("accept", None))
    with trio.fail_after(1000):
        async with reconnect_with(script.connect) as connections:
            [ws] = await take_open(connections)
            assert connections.attempts == 3
            assert connections.connection is ws
            await ws.send("hello")
    assert len(script.attempts) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_stops_on_4xx(autojump_clock: trio.testing.MockClock, status: int) -> None:
    script = Script("refuse", status)
    with trio.fail_after(1000), pytest.raises(trio_ws.HandshakeRejected) as info:
        async with reconnect_with(script.connect) as connections:
            await take_open(connections)
    assert info.value.status_code == status
    assert len(script.attempts) == 2


async def test_previous_connection_is_closed_on_next_iteration(
    autojump_clock: trio.testing.MockClock,
) -> None:
    script = Script(("accept", None), ("accept", None))
    seen = []
    with trio.fail_after(1000):
        async with reconnect_with(script.connect) as connections:
            async for ws in connections:
                seen.append(ws)
                if len(seen) == 2:
                    assert seen[0].closed
                    assert seen[0].close_code == 1000
                    assert not ws.closed
                    break
        assert seen[1].closed
        assert seen[1].close_code == 1000
    assert gaps(script.attempts) == [0.0]  # moving on from an open connection: no delay


async def test_leaving_the_block_by_an_error_closes_with_1011(
    autojump_clock: trio.testing.MockClock,
) -> None:
    script = Script(("accept", None))
    seen = []
    with trio.fail_after(100), pytest.raises(KeyError):
        async with reconnect_with(script.connect) as connections:
            async for ws in connections:
                seen.append(ws)
                raise KeyError("boom")
    assert seen[0].close_code == 1011


async def test_iterating_after_the_block_is_an_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    script = Script()
    async with reconnect_with(script.connect) as connections:
        pass
    with pytest.raises(RuntimeError, match=r"^the reconnecting\(\) block has ended$"):
        await connections.__anext__()


async def test_bad_backoff_settings() -> None:
    with pytest.raises(ValueError, match=r"^backoff_factor must be at least 1, not 0.5$"):
        async with trio_ws.reconnecting("ws://127.0.0.1:9/", backoff_factor=0.5):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match=r"must be >= 0$"):
        async with trio_ws.reconnecting("ws://127.0.0.1:9/", backoff_max=-1):
            pass  # pragma: no cover


async def test_invalid_uri_raises_at_once() -> None:
    with pytest.raises(trio_ws.InvalidURI):
        async with trio_ws.reconnecting("http://example.com/"):
            pass  # pragma: no cover


def certificate_error() -> BaseException:
    broken = trio.BrokenResourceError("TLS failed")
    broken.__cause__ = ssl.SSLCertVerificationError("certificate verify failed")
    return broken


@pytest.mark.parametrize(
    ("make", "retry"),
    [
        (lambda: ConnectionRefusedError(111, "refused"), True),
        (lambda: OSError("name resolution failed"), True),
        (lambda: trio.BrokenResourceError("reset"), True),
        (lambda: trio_ws.HandshakeTimeout("slow"), True),
        (lambda: trio_ws.InvalidHandshake("EOF during the handshake"), True),
        (lambda: trio_ws.HandshakeRejected(500, (), b""), True),
        (lambda: trio_ws.HandshakeRejected(503, (), b""), True),
        (lambda: trio_ws.HandshakeRejected(408, (), b""), True),
        (lambda: trio_ws.HandshakeRejected(429, (), b""), True),
        (lambda: trio_ws.HandshakeRejected(403, (), b""), False),
        (lambda: trio_ws.HandshakeRejected(404, (), b""), False),
        (lambda: trio_ws.HandshakeRejected(302, (), b""), False),
        (lambda: trio_ws.HandshakeRejected(200, (), b""), False),
        (lambda: trio_ws.ProxyError("bad gateway", 502), True),
        (lambda: trio_ws.ProxyError("garbage"), True),
        (lambda: trio_ws.ProxyError("auth", 407), False),
        (lambda: trio_ws.InvalidURI("bad"), False),
        (certificate_error, False),
        (lambda: ssl.SSLCertVerificationError("certificate verify failed"), False),
        (lambda: ValueError("a bug"), False),
    ],
)
def test_should_reconnect(make: Callable[[], BaseException], retry: bool) -> None:
    assert trio_ws.should_reconnect(make()) is retry


def test_reconnecting_takes_every_open_websocket_keyword() -> None:
    opening = inspect.signature(trio_ws.open_websocket).parameters
    looping = inspect.signature(trio_ws.reconnecting).parameters
    for name, parameter in opening.items():
        assert looping[name].default == parameter.default, name
        assert looping[name].kind == parameter.kind, name


# --- On real sockets -------------------------------------------------------------------------


@pytest.mark.network
async def test_reconnects_to_a_real_server_that_drops_and_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    accepted = 0

    async def drop_after_hello(request: trio_ws.WebSocketRequest) -> None:
        nonlocal accepted
        accepted += 1
        ws = await request.accept()
        await ws.send(f"hello {accepted}")

    # Find a free port, then start the server on it only after the client began trying.
    probe = trio.socket.socket()
    await probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def start_later(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await trio.sleep(0.2)
        await trio_ws.serve(drop_after_hello, "127.0.0.1", port, **FAST, task_status=task_status)

    greetings = []
    caplog.set_level(logging.INFO, logger="trio_ws")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(start_later)
            async with trio_ws.reconnecting(
                f"ws://127.0.0.1:{port}/", backoff_initial=0.05, backoff_max=0.1, **FAST
            ) as connections:
                async for ws in connections:
                    async for message in ws:  # ends quietly: the handler closes with 1000
                        greetings.append(message)
                    if len(greetings) == 3:
                        break
            nursery.cancel_scope.cancel()
    assert greetings == ["hello 1", "hello 2", "hello 3"]
    # Each retry while the server was down: one INFO line that names the cause, without
    # the logger's name repeated in the message; nothing at WARNING or above.
    retries = [r for r in caplog.records if "failed" in r.getMessage()]
    assert retries, "no retry was logged"
    for record in retries:
        assert record.levelname == "INFO", record.levelname
        assert "Connection refused" in record.getMessage(), record.getMessage()
        assert not record.getMessage().startswith("trio_ws:"), record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
