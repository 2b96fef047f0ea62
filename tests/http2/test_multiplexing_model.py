"""A model of WebSockets multiplexed on one HTTP/2 connection: a hypothesis state machine.

Three WebSocket pairs run as three streams of one HTTP/2 connection (our client session and
our server, ``serve_stream(http2=True)``) over ``trio.testing`` memory streams whose reads
return the peer's bytes split anywhere. Each rule runs a small concurrent program: calls
(send, receive, aclose) on any pair and either side start at chosen scheduler steps, and any
of them may be cancelled at any later step, which lands the cancellation wherever the call
has reached: waiting for a flow-control window, for the writer, inside a read. Other rules
let time pass on a mock clock and change how reads are split. After every rule, once every
task is blocked, the invariants must hold:

* **streams are isolated**: a side only ever receives messages the other side sent on the
  same pair, in the order they were sent, each once;
* **one stream's end is not another's**: a pair nobody closed and no cancelled call touched
  is still open, whatever happened to the others;
* **the HTTP/2 connection survives its streams**: it is still running while any pair is open;
* **no internal error**: nothing is logged at ERROR level;
* and at the end **no task is left behind**: once every pair is closed and the connection
  is told to go away, every task ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.lowlevel
import trio.testing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import trio_ws
from trio_ws import Options, WebSocketConnection, WebSocketRequest
from trio_ws._h2_client import connect_over_http2
from trio_ws._h2_session import Phase, Session
from trio_ws._url import parse_uri

from ..trio.test_connection_model import ChunkedStream, _in_scope
from ..trio.test_connection_model import Harness as ConnectionHarness

PAIRS = 3
SIDES = ("client", "server")
KINDS = ("send", "send", "send", "receive", "receive", "receive", "close")
OPTIONS = Options(ping_interval=None, close_timeout=5.0, open_timeout=None, compression=None)


class Harness(ConnectionHarness):
    """The connection model's harness (a trio run in a thread, a mock clock), running one
    HTTP/2 connection with three pairs on it instead of one pair."""

    ws: dict[tuple[int, str], WebSocketConnection]  # type: ignore[assignment]
    session: Session | None = None

    async def _run(self) -> None:
        trio._core._run._r.seed(self.seed)  # the run loop's batch order: reproducible
        self.ws = {}
        self._token = trio.lowlevel.current_trio_token()
        self._stop = stop = trio.Event()
        client_raw, server_raw = trio.testing.memory_stream_pair()
        self.streams = {"client": ChunkedStream(client_raw), "server": ChunkedStream(server_raw)}
        accepted = 0

        async def handler(request: WebSocketRequest) -> None:
            nonlocal accepted
            pair = int(request.path.strip("/"))
            self.ws[pair, "server"] = ws = await request.accept()
            accepted += 1
            await stop.wait()
            await ws.aclose()

        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(
                lambda: trio_ws.serve_stream(
                    handler, self.streams["server"], options=OPTIONS, http2=True
                )
            )
            self.session = session = Session(self.streams["client"], client=True)
            await nursery.start(session.run)
            await session.wait_settings()
            for pair in range(PAIRS):
                uri = parse_uri(f"ws://model/{pair}")
                self.ws[pair, "client"] = await connect_over_http2(
                    nursery, session, uri, subprotocols=(), headers=(), options=OPTIONS
                )
            while accepted < PAIRS:
                await trio.lowlevel.checkpoint()
            await trio.testing.wait_all_tasks_blocked()
            self._ready.put(None)
            await stop.wait()
            # The end: every pair closed (1000), then the connection goes away.
            for pair in range(PAIRS):
                with trio.move_on_after(10):
                    await self.ws[pair, "client"].aclose()
            session.going_away()
            await session.wait_drained()
            await session.goodbye()  # GOAWAY: the server ends its side, then ours ends
            for _ in range(30):
                await trio.testing.wait_all_tasks_blocked()
                if not nursery.child_tasks:
                    break
                self.clock.jump(1.0)
            self.left = len(nursery.child_tasks)
            nursery.cancel_scope.cancel()


def op_strategy() -> st.SearchStrategy[tuple[int, str, str, int, int | None]]:
    """One call: (pair, side, kind, step it starts at, step it is cancelled at, or None)."""
    return st.tuples(
        st.integers(0, PAIRS - 1),
        st.sampled_from(SIDES),
        st.sampled_from(KINDS),
        st.integers(0, 4),
        st.one_of(st.none(), st.integers(0, 6)),
    )


class MultiplexingModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h: Harness | None = None
        self.seq = 0
        keys = [(pair, side) for pair in range(PAIRS) for side in SIDES]
        self.sent: dict[tuple[int, str], list[str]] = {key: [] for key in keys}
        self.received: dict[tuple[int, str], list[str]] = {key: [] for key in keys}
        self.receiving: dict[tuple[int, str], bool] = dict.fromkeys(keys, False)
        self.touched: set[int] = set()  # pairs closed, or with a cancelled call

    def harness(self, seed: int) -> Harness:
        if self.h is None:
            self.h = Harness(seed)
        return self.h

    def make_call(self, pair: int, side: str, kind: str) -> Callable[[], Awaitable[None]]:
        h = self.h
        assert h is not None
        ws = h.ws[pair, side]
        key = (pair, side)
        if kind == "send":
            self.seq += 1
            message = f"{pair}-{side}-{self.seq:06d}-" + "x" * (self.seq * 997 % 3000)

            async def send() -> None:
                self.sent[key].append(message)
                await ws.send(message)

            return send
        if kind == "receive":

            async def receive() -> None:
                if self.receiving[key]:
                    return  # one receiver per side
                self.receiving[key] = True
                try:
                    message = await ws.receive()
                    assert isinstance(message, str)
                    self.received[key].append(message)
                finally:
                    self.receiving[key] = False

            return receive

        async def close() -> None:
            self.touched.add(pair)
            await ws.aclose()

        return close

    @rule(seed=st.integers(0, 2**32 - 1), ops=st.lists(op_strategy(), min_size=1, max_size=5))
    def program(self, seed: int, ops: list[tuple[int, str, str, int, int | None]]) -> None:
        """Run some calls concurrently, each started and perhaps cancelled at a given step."""
        h = self.harness(seed)
        calls = [
            (pair, self.make_call(pair, side, kind), start, cancel)
            for pair, side, kind, start, cancel in ops
        ]

        async def run() -> None:
            scopes: list[trio.CancelScope | None] = [None] * len(calls)
            for step in range(12):
                for index, (pair, fn, start, cancel) in enumerate(calls):
                    if step == start:
                        scope = scopes[index] = trio.CancelScope()
                        h.start_soon(_in_scope(scope, fn))
                    if cancel is not None and step == start + cancel:
                        scope = scopes[index]
                        assert scope is not None
                        self.touched.add(pair)
                        scope.cancel()
                await trio.lowlevel.checkpoint()

        h.call(run)

    @rule(seed=st.integers(0, 2**32 - 1), side=st.sampled_from(SIDES), chunk=st.integers(1, 64))
    def split_reads(self, seed: int, side: str, chunk: int) -> None:
        self.harness(seed).streams[side].chunk = chunk

    @rule(seed=st.integers(0, 2**32 - 1), seconds=st.sampled_from([0.05, 1.0, 6.0]))
    def time_passes(self, seed: int, seconds: float) -> None:
        h = self.harness(seed)

        async def jump() -> None:
            h.clock.jump(seconds)
            await trio.testing.wait_all_tasks_blocked()

        h.call(jump)

    def settle(self) -> Harness | None:
        if self.h is not None:
            self.h.call(trio.testing.wait_all_tasks_blocked)
        return self.h

    @invariant()
    def streams_are_isolated(self) -> None:
        if self.settle() is None:
            return
        for (pair, side), got in self.received.items():
            other = "server" if side == "client" else "client"
            sent = self.sent[pair, other]
            assert len(set(got)) == len(got), f"a message arrived twice on pair {pair}"
            positions = [sent.index(m) if m in sent else -1 for m in got]
            assert -1 not in positions, f"pair {pair} {side} got a message not sent on it"
            assert positions == sorted(positions), f"pair {pair} {side}: reordered"

    @invariant()
    def one_stream_ending_is_not_anothers(self) -> None:
        h = self.settle()
        if h is None:
            return
        for pair in range(PAIRS):
            if pair in self.touched:
                continue
            for side in SIDES:
                ws = h.ws[pair, side]
                assert not ws.closed, (
                    f"pair {pair} ({side}) ended: {ws.close_code} {ws.close_reason}"
                )
        assert h.session is not None
        assert h.session.phase is Phase.RUNNING, h.session.why

    @invariant()
    def no_internal_error(self) -> None:
        h = self.settle()
        if h is not None:
            assert not h.errors.records, [r.getMessage() for r in h.errors.records]

    def teardown(self) -> None:
        if self.h is not None:
            self.h.finish()
            assert self.h.left == 0, f"{self.h.left} tasks left behind"


TestMultiplexingModel = MultiplexingModel.TestCase
TestMultiplexingModel.settings = settings(
    max_examples=2 * settings().max_examples,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(autouse=True)
def _no_trio_mode() -> None:
    """These tests are synchronous: trio runs in the harness's own thread."""


def test_a_reader_started_by_a_cancelled_aclose_never_reads_beside_receive() -> None:
    """The model's first find: aclose() cancelled at once, then receive() on the same pair.

    The connection finished while its reader task was being started; the reader did not see
    that (it took FINISHED for "read now") and called receive_some() beside the task already
    reading in receive(): "internal error in the reader task" (BusyResourceError). The same
    can happen over TCP, where a memory stream raises the same error.
    """
    state = MultiplexingModel()
    try:
        state.program(
            ops=[
                (0, "client", "send", 0, None),
                (1, "client", "receive", 1, None),
                (1, "client", "close", 0, 0),
            ],
            seed=0,
        )
        state.no_internal_error()
        state.streams_are_isolated()
    finally:
        state.teardown()
