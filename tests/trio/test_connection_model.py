"""A model of the Trio layer: a hypothesis state machine over a client/server pair.

Two trio_ws connections talk over ``trio.testing`` memory streams. Each rule runs a small
concurrent program on them, step by step: calls (send of text or bytes, send_fragments,
receive, receive_fragments, ping, pong, aclose) start at chosen scheduler steps, on either
side, and any of them may be cancelled at any later step (zero included), which lands the
cancellation at whatever checkpoint the call has reached: waiting for the send lock, handed
the lock but not yet running, inside a write, inside a read. Other rules let time pass on a
mock clock, split the bytes each read returns, and stall a side's reads (a peer that stops
reading) or let them flow again. After every rule, once every task is blocked, the
invariants must hold:

* **owed bytes are written**: a connection in use never holds bytes its core owes (a pong, a
  close echo) while every task is blocked, for nothing would write them until new input;
* **no message lost, duplicated or reordered**: what a side received is, in order, a
  sub-sequence of what the other side sent, and it misses no message that was sent before
  one it received;
* **the close completes within close_timeout**: an ``aclose()`` is over once that much mock
  time has passed;
* **no internal error**: nothing is logged at ERROR level (an exception escaping one of the
  connection's own tasks, such as two tasks reading the stream at once);
* and at the end **no task is left behind**: once both connections are closed, every task of
  theirs ends.

Trio runs in a thread of its own for the length of one example (hypothesis' rules are plain
functions); its scheduler's random batch order is seeded per example, so that a failing
example replays.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import trio_ws
from trio_ws import ConnectionClosed, Options, WebSocketConnection, WebSocketRequest

CLOSE_TIMEOUT = 5.0
OPTIONS = Options(
    ping_interval=None,
    close_timeout=CLOSE_TIMEOUT,
    open_timeout=5.0,
    compression=None,
    max_queue=2,
)
SIDES = ("client", "server")
KINDS = (
    "send",
    "send",
    "bytes",
    "fragments",
    "receive",
    "receive",
    "receive_fragments",
    "ping",
    "pong",
    "close",
)


class ChunkedStream(trio.abc.Stream):
    """A stream whose reads return at most ``chunk`` bytes (the peer's bytes split anywhere)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.chunk = 65536
        self.flowing = trio.Event()  # cleared: this side's reads stall
        self.flowing.set()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        size = self.chunk if max_bytes is None else min(max_bytes, self.chunk)
        await self.flowing.wait()
        return await self.inner.receive_some(size)

    async def send_eof(self) -> None:  # pragma: no cover - not used by trio_ws
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.inner.aclose()


class ErrorRecorder(logging.Handler):
    """Keeps what trio_ws logs at ERROR level or above."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    """A trio run in a thread, with a mock clock, and the two connections in it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.errors = ErrorRecorder()
        logging.getLogger("trio_ws").addHandler(self.errors)
        self.clock = trio.testing.MockClock()
        self.ws: dict[str, WebSocketConnection] = {}
        self.streams: dict[str, ChunkedStream] = {}
        self._ready: queue.Queue[BaseException | None] = queue.Queue()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self.left: int | None = None  # tasks still running after the end
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        error = self._ready.get(timeout=30)
        if error is not None:
            raise error

    def _main(self) -> None:
        try:
            trio.run(self._run, clock=self.clock)
        except BaseException as exc:  # reported by start or by finish
            self._ready.put(exc)

    async def _run(self) -> None:
        trio._core._run._r.seed(self.seed)  # the run loop's batch order: reproducible
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        client_raw, server_raw = trio.testing.memory_stream_pair()
        self.streams = {"client": ChunkedStream(client_raw), "server": ChunkedStream(server_raw)}
        accepted = trio.Event()

        async def handler(request: WebSocketRequest) -> None:
            self.ws["server"] = await request.accept()
            accepted.set()
            assert self._stop is not None
            await self._stop.wait()

        async def client() -> None:
            async with trio_ws.open_websocket_stream(
                self.streams["client"], host="model", options=OPTIONS
            ) as ws:
                self.ws["client"] = ws
                assert self._stop is not None
                await self._stop.wait()

        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(
                lambda: trio_ws.serve_stream(handler, self.streams["server"], options=OPTIONS)
            )
            nursery.start_soon(client)
            await accepted.wait()
            await trio.testing.wait_all_tasks_blocked()
            self._ready.put(None)
            await self._stop.wait()
            # The end: both owners close their connection (1000), within close_timeout.
            for _ in range(20):
                await trio.testing.wait_all_tasks_blocked()
                if not nursery.child_tasks:
                    break
                self.clock.jump(1.0)
            self.left = len(nursery.child_tasks)
            nursery.cancel_scope.cancel()

    def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        return trio.from_thread.run(fn, trio_token=self._token)

    def start_soon(self, fn: Callable[[], Awaitable[Any]]) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(fn)

    def finish(self) -> None:
        assert self._stop is not None
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self.thread.join(timeout=60)
        logging.getLogger("trio_ws").removeHandler(self.errors)
        assert not self.thread.is_alive(), "the connections' tasks did not end"


def op_strategy() -> st.SearchStrategy[tuple[str, str, int, int | None]]:
    """One call: (side, kind, step it starts at, step it is cancelled at, or None)."""
    return st.tuples(
        st.sampled_from(SIDES),
        st.sampled_from(KINDS),
        st.integers(0, 4),
        st.one_of(st.none(), st.integers(0, 6)),
    )


class ConnectionModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h: Harness | None = None
        self.seq = 0
        self.attempted: dict[str, list[str]] = {side: [] for side in SIDES}
        self.completed: dict[str, set[str]] = {side: set() for side in SIDES}
        self.received: dict[str, list[str]] = {side: [] for side in SIDES}
        self.closes: list[tuple[float, list[bool]]] = []  # (started at, [done])
        self.receiving: dict[str, int] = dict.fromkeys(SIDES, 0)
        # Beginnings of messages a cancelled receive_fragments() left (the rest is skipped).
        self.abandoned: dict[str, list[str]] = {side: [] for side in SIDES}

    def harness(self, seed: int) -> Harness:
        if self.h is None:
            self.h = Harness(seed)
        return self.h

    def other(self, side: str) -> str:
        return "server" if side == "client" else "client"

    # --- Calls ------------------------------------------------------------------------------

    def make_call(self, side: str, kind: str) -> Callable[[], Awaitable[None]]:
        h = self.h
        assert h is not None
        ws = h.ws[side]
        if kind in ("send", "bytes", "fragments"):
            self.seq += 1
            message = f"{side}-{self.seq:06d}"

            async def send() -> None:
                self.attempted[side].append(message)  # in the order the sends start
                if kind == "send":
                    await ws.send(message)
                elif kind == "bytes":
                    await ws.send(message.encode())
                else:
                    await ws.send_fragments([message[:3], message[3:7], message[7:]])
                self.completed[side].add(message)

            return send
        if kind in ("receive", "receive_fragments"):

            async def receive() -> None:
                if self.receiving[side]:
                    return  # one receiver per side (a second one raises BusyResourceError)
                self.receiving[side] += 1
                try:
                    if kind == "receive":
                        message = await ws.receive()
                    else:
                        pieces: list[str | bytes] = []
                        try:
                            async for piece in ws.receive_fragments():
                                pieces.append(piece)
                        except BaseException:
                            if pieces:  # left in the middle: the rest of it is skipped
                                head = pieces[0][:0].join(pieces)  # type: ignore[attr-defined]
                                text = head.decode() if isinstance(head, bytes) else head
                                self.abandoned[side].append(text)
                            raise
                        message = pieces[0][:0].join(pieces)  # type: ignore[assignment]
                    if isinstance(message, bytes):
                        message = message.decode()
                    self.received[side].append(message)
                finally:
                    self.receiving[side] -= 1

            return receive
        if kind == "ping":
            return ws.ping
        if kind == "pong":
            return ws.pong
        done = [False]
        self.closes.append((h.clock.current_time(), done))

        async def close() -> None:
            try:
                await ws.aclose()
            finally:
                done[0] = True

        return close

    @rule(
        seed=st.integers(0, 2**32 - 1),
        ops=st.lists(op_strategy(), min_size=1, max_size=4),
    )
    def program(self, seed: int, ops: list[tuple[str, str, int, int | None]]) -> None:
        """Run some calls concurrently, each started and perhaps cancelled at a given step."""
        h = self.harness(seed)
        calls = [
            (side, self.make_call(side, kind), start, cancel) for side, kind, start, cancel in ops
        ]

        async def run() -> None:
            scopes: list[trio.CancelScope | None] = [None] * len(calls)
            for step in range(12):
                for index, (_, fn, start, cancel) in enumerate(calls):
                    if step == start:
                        scope = scopes[index] = trio.CancelScope()
                        h.start_soon(_in_scope(scope, fn))
                    if cancel is not None and step == start + cancel:
                        scope = scopes[index]
                        assert scope is not None
                        scope.cancel()
                await trio.lowlevel.checkpoint()

        h.call(run)

    @rule(
        seed=st.integers(0, 2**32 - 1),
        side=st.sampled_from(SIDES),
        chunk=st.sampled_from([1, 2, 5, 13, 64, 65536]),
    )
    def split_reads(self, seed: int, side: str, chunk: int) -> None:
        """The bytes a side reads come in pieces of at most ``chunk`` bytes."""
        self.harness(seed).streams[side].chunk = chunk

    @rule(seed=st.integers(0, 2**32 - 1), side=st.sampled_from(SIDES), stalled=st.booleans())
    def stall(self, seed: int, side: str, stalled: bool) -> None:
        """A side stops reading its stream (its peer's bytes wait), or reads again."""
        h = self.harness(seed)

        async def toggle() -> None:
            stream = h.streams[side]
            if stalled:
                if stream.flowing.is_set():
                    stream.flowing = trio.Event()
            else:
                stream.flowing.set()

        h.call(toggle)

    @rule(seed=st.integers(0, 2**32 - 1), seconds=st.sampled_from([0.05, 0.2, 1.0, 6.0]))
    def time_passes(self, seed: int, seconds: float) -> None:
        h = self.harness(seed)

        async def jump() -> None:
            await trio.testing.wait_all_tasks_blocked()
            h.clock.jump(seconds)

        h.call(jump)

    # --- Invariants -------------------------------------------------------------------------

    def settle(self) -> Harness | None:
        if self.h is not None:
            self.h.call(trio.testing.wait_all_tasks_blocked)
        return self.h

    @invariant()
    def owed_bytes_are_written(self) -> None:
        h = self.settle()
        if h is None:
            return
        for side in SIDES:
            ws = h.ws[side]
            if ws._lifecycle.in_use:
                assert not ws._protocol.has_data_to_send(), (
                    f"{side}: the core owes bytes and nobody writes them"
                )

    @invariant()
    def no_message_lost_duplicated_or_reordered(self) -> None:
        for side in SIDES:
            sender = self.other(side)
            received = self.received[side]
            attempted = self.attempted[sender]
            assert set(received) <= set(attempted), f"{side}: received what was never sent"
            order = [attempted.index(message) for message in received]
            assert order == sorted(set(order)), f"{side}: duplicated or reordered"
            if received:
                last = attempted.index(received[-1])
                missing = [
                    m
                    for m in attempted[:last]
                    if m in self.completed[sender] and m not in received
                ]
                # Each message a receive_fragments() left in the middle excuses one.
                heads = self.abandoned[side]
                lost = [m for m in missing if not any(m.startswith(head) for head in heads)]
                if len(missing) > len(heads):
                    lost = missing
                assert not lost, (
                    f"{side}: lost {set(lost) - set(received)}: received {received}, "
                    f"{sender} sent {attempted}, completed {sorted(self.completed[sender])}"
                )

    @invariant()
    def no_internal_error(self) -> None:
        if self.h is not None and self.h.errors.records:
            record = self.h.errors.records[0]
            detail = logging.Formatter().format(record)
            raise AssertionError(f"trio_ws logged an error: {detail}")

    @invariant()
    def close_completes_within_close_timeout(self) -> None:
        h = self.settle()
        if h is None:
            return
        now = h.clock.current_time()
        for started, done in self.closes:
            if now > started + CLOSE_TIMEOUT + 0.001:
                assert done[0], "aclose() took longer than close_timeout"

    def teardown(self) -> None:
        if self.h is not None:
            h = self.h

            async def flow() -> None:
                for stream in h.streams.values():
                    stream.flowing.set()

            h.call(flow)
            h.finish()
            assert self.h.left == 0, f"{self.h.left} tasks left behind"


def _in_scope(
    scope: trio.CancelScope, fn: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        with scope:
            try:
                await fn()
            except (ConnectionClosed, trio.BusyResourceError):
                pass

    return run


TestConnectionModel = ConnectionModel.TestCase
# Thousands of programs in CI: ten times the profile's budget (dev 1,000, ci 2,000; about
# 25 ms each).
TestConnectionModel.settings = settings(
    max_examples=10 * settings().max_examples,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(autouse=True)
def _no_trio_mode() -> None:
    """These tests are synchronous: trio runs in the harness's own thread."""
