"""receive() reads the stream itself; the reader task takes over when nobody receives.

The test body plays the application of our side (a client, or a server where both roles are
tested); the other end is a raw peer that speaks frames by hand (tests/conformance/rawpeer.py)
over memory or lockstep streams. Time is Trio's mock clock: every bound below is in mock
seconds, never wall-clock speed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager

import pytest
import trio
import trio.testing

import trio_ws
from trio_ws import ConnectionClosed, Options, WebSocketConnection
from trio_ws._inbox import _SCHEDULE_EVERY, Reading
from trio_ws._inbox import _STANDBY_DELAY as _READER_DELAY
from trio_ws._lifecycle import Transport
from trio_ws._outbox import Writing

from ..conformance.rawpeer import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    RawPeer,
    build_frame,
)
from .helpers import options

#: What "at once / within the reader's delay" allows, in mock seconds (_READER_DELAY is 0.1).
PROMPT = 2 * _READER_DELAY


@asynccontextmanager
async def connected(
    ours: str = "client",
    opts: Options | None = None,
    *,
    lockstep: bool = False,
    peer_class: type[RawPeer] = RawPeer,
) -> AsyncIterator[tuple[RawPeer, WebSocketConnection]]:
    """Our side (``"client"`` or ``"server"``) against a raw peer; the test body plays our
    side's application, which does nothing with the connection unless the test says so."""
    make = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
    our_stream, raw_stream = make()
    peer = peer_class(raw_stream, is_client=ours == "server")
    opts = opts or options()
    async with trio.open_nursery() as nursery:
        if ours == "client":
            answered = trio.Event()

            async def handshake() -> None:
                await peer.server_handshake()
                answered.set()

            nursery.start_soon(handshake)
            async with trio_ws.open_websocket_stream(
                our_stream, host="example.com", options=opts
            ) as ws:
                try:
                    await answered.wait()  # the peer's send_all returned (lockstep streams)
                    yield peer, ws
                finally:
                    await trio.aclose_forcefully(raw_stream)
        else:
            accepted: list[WebSocketConnection] = []
            release = trio.Event()

            async def handler(request: trio_ws.WebSocketRequest) -> None:
                accepted.append(await request.accept())
                await release.wait()

            nursery.start_soon(lambda: trio_ws.serve_stream(handler, our_stream, options=opts))
            assert await peer.client_handshake() == 101
            await trio.testing.wait_all_tasks_blocked()
            try:
                yield peer, accepted[0]
            finally:
                await trio.aclose_forcefully(raw_stream)
                release.set()


both_roles = pytest.mark.parametrize("ours", ["client", "server"])


async def read_until(peer: RawPeer, opcode: int) -> bytes:
    """Read frames until one with ``opcode``; return its payload (others are skipped)."""
    while True:
        frame = await peer.read_frame()
        if frame.opcode == opcode:
            return frame.payload


def is_reader(task: trio.lowlevel.Task) -> bool:
    """Whether ``task`` is a connection's reader task (there may be none, or a new one)."""
    return task.name.endswith("Inbox._reader")


class StepCounter(trio.abc.Instrument):
    """Counts the steps (runs until the next yield) of the tasks that ``which`` selects."""

    def __init__(self, which: Callable[[trio.lowlevel.Task], bool]) -> None:
        self.which = which
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if self.which(task):
            self.steps += 1


# --- 1. An application that only sends -----------------------------------------------------------


@both_roles
async def test_app_that_only_sends_answers_pings_and_sees_the_close(
    autojump_clock: trio.testing.MockClock, ours: str
) -> None:
    async with connected(ours) as (peer, ws):
        ended: list[ConnectionClosed] = []

        async def only_send() -> None:
            try:
                while True:
                    await ws.send(b"tick")
                    await trio.sleep(0.05)
            except ConnectionClosed as exc:
                ended.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(only_send)
            await trio.sleep(1)  # the application has only been sending for a while
            await peer.send_frame(PING, b"are you there")
            with trio.fail_after(PROMPT):
                frame = await peer.read_frame()
                while frame.opcode != PONG:
                    assert (frame.opcode, frame.payload) == (BINARY, b"tick")
                    frame = await peer.read_frame()
            assert frame.payload == b"are you there"

            await peer.send_close(1001, "going away")
            with trio.fail_after(PROMPT):
                echo = await peer.read_close()
            assert (echo.close_code, echo.close_reason) == (1001, "going away")
            if ours == "client":
                await peer.stream.aclose()  # the server closes TCP first
        # The next send() after the close found the connection closed, with the peer's code.
        assert len(ended) == 1
        assert (ended[0].code, ended[0].reason) == (1001, "going away")
        with trio.fail_after(PROMPT):
            await ws.wait_closed()
        assert ws.close_code == 1001


# --- 2. The reader takes over after receive(); pings are answered during receive() too -----------


@both_roles
async def test_reader_resumes_after_the_app_stops_receiving(
    autojump_clock: trio.testing.MockClock, ours: str
) -> None:
    async with connected(ours) as (peer, ws), trio.open_nursery() as nursery:
        await peer.send_frame(TEXT, b"zero")
        assert await ws.receive() == "zero"
        got: list[str | bytes] = []

        async def receive_one() -> None:
            got.append(await ws.receive())

        nursery.start_soon(receive_one)
        await trio.sleep(1)  # the application waits in receive() for a while
        assert ws._inbox.reading not in (
            Reading.READER,
            Reading.HANDING_OVER,
        )  # receive() reads for itself
        await peer.send_frame(TEXT, b"one")
        await trio.testing.wait_all_tasks_blocked()
        assert got == ["one"]

        # The application no longer receives; the peer's pings are still answered.
        for n in range(3):
            start = trio.current_time()
            await peer.send_frame(PING, b"ping %d" % n)
            with trio.fail_after(PROMPT):
                assert await read_until(peer, PONG) == b"ping %d" % n
            assert trio.current_time() - start <= PROMPT
            await trio.sleep(1)


@both_roles
async def test_ping_answered_while_a_task_waits_in_receive(
    autojump_clock: trio.testing.MockClock, ours: str
) -> None:
    async with connected(ours) as (peer, ws), trio.open_nursery() as nursery:
        await peer.send_frame(TEXT, b"first")
        assert await ws.receive() == "first"
        got: list[str | bytes] = []
        done = trio.Event()

        async def app() -> None:
            got.append(await ws.receive())
            done.set()

        nursery.start_soon(app)
        await trio.testing.wait_all_tasks_blocked()
        assert ws._inbox.reading not in (
            Reading.READER,
            Reading.HANDING_OVER,
        )  # receive() reads for itself
        for n in range(3):
            start = trio.current_time()
            await peer.send_frame(PING, b"while receiving %d" % n)
            with trio.fail_after(1):
                frame = await peer.read_frame()
            assert (frame.opcode, frame.payload) == (PONG, b"while receiving %d" % n)
            # Answered at once, not after the reader's delay; the app is still waiting.
            assert trio.current_time() - start < _READER_DELAY
            assert not got
        await peer.send_frame(TEXT, b"later")
        with trio.fail_after(1):
            await done.wait()
        assert got == ["later"]


# --- 3. No hand-over from the reader task per message --------------------------------------------


async def test_receiving_task_reads_its_messages_itself(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with connected() as (peer, ws), trio.open_nursery() as nursery:

        async def echo_peer() -> None:
            while True:
                opcode, payload = await peer.read_message()
                await peer.send_frame(opcode, payload)

        nursery.start_soon(echo_peer)
        counter = StepCounter(is_reader)
        trio.lowlevel.add_instrument(counter)
        try:
            await ws.send("warm-up")
            assert await ws.receive() == "warm-up"
            await trio.sleep(1)  # nobody receives: the reader goes back to reading
            assert counter.steps >= 1, "the counter does not see the reader task"
            before = counter.steps
            start = trio.current_time()
            for n in range(50):
                await ws.send(f"message {n}")
                assert await ws.receive() == f"message {n}"
            steps = counter.steps - before
        finally:
            trio.lowlevel.remove_instrument(counter)
        assert trio.current_time() == start  # the reader's delay never ran out meanwhile
        assert steps < 10, f"reader tasks took {steps} steps for 50 messages"
        nursery.cancel_scope.cancel()


# --- 4. Cancelling a receive() that reads the stream loses nothing -------------------------------


def _whole_frame() -> list[bytes]:
    frame = build_frame(TEXT, b"x" * 1000)
    return [frame[:1], frame[1:3], frame[3:500], frame[500:]]


def _fragments() -> list[bytes]:
    return [
        build_frame(TEXT, b"hello ", fin=False),
        build_frame(CONTINUATION, b"wo", fin=False),
        build_frame(CONTINUATION, b"rld", fin=True)[:3],
        build_frame(CONTINUATION, b"rld", fin=True)[3:],
    ]


async def _receive_in(
    ws: WebSocketConnection, scope: trio.CancelScope, result: list[str | bytes]
) -> None:
    with scope:
        result.append(await ws.receive())


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([build_frame(TEXT, b"second")], "second"),
        (_whole_frame(), "x" * 1000),
        (_fragments(), "hello world"),
    ],
    ids=["whole", "split-frame", "fragments"],
)
async def test_cancelled_receive_loses_no_data(
    autojump_clock: trio.testing.MockClock, chunks: list[bytes], message: str
) -> None:
    async with connected() as (peer, ws):
        await peer.send_frame(TEXT, b"first")
        assert await ws.receive() == "first"
        # Every chunk but the last is read by a receive() that is then cancelled.
        for chunk in [b"", *chunks[:-1]]:
            async with trio.open_nursery() as nursery:
                scope = trio.CancelScope()
                result: list[str | bytes] = []
                nursery.start_soon(_receive_in, ws, scope, result)
                await trio.testing.wait_all_tasks_blocked()
                read_before = ws.statistics().wire_bytes_received
                if chunk:
                    await peer.send_raw(chunk)
                    await trio.testing.wait_all_tasks_blocked()
                # The receiving task read the chunk itself.
                assert ws._inbox.reading not in (Reading.READER, Reading.HANDING_OVER)
                assert ws.statistics().wire_bytes_received == read_before + len(chunk)
                assert not result
                scope.cancel()
            assert scope.cancelled_caught
        await peer.send_raw(chunks[-1])
        with trio.fail_after(1):
            assert await ws.receive() == message
        # And the stream is still in step.
        await peer.send_frame(TEXT, b"after")
        assert await ws.receive() == "after"


# --- 5. receive() with messages already queued ---------------------------------------------------


async def test_queued_receive_is_a_cancellation_point_and_sometimes_yields(
    autojump_clock: trio.testing.MockClock,
) -> None:
    count = 40
    async with connected(opts=options(max_queue=64)) as (peer, ws):
        for n in range(count + 1):
            await peer.send_frame(TEXT, b"m%d" % n)
        await trio.sleep(1)  # nobody receives: the reader reads
        assert ws.statistics().queue_depth == count + 1  # the reader queued them all

        # Already cancelled: Cancelled, and the message stays for the next receive().
        with trio.CancelScope() as scope:
            scope.cancel()
            await ws.receive()
        assert scope.cancelled_caught
        assert ws.statistics().queue_depth == count + 1
        assert await ws.receive() == "m0"

        # Count the times this task yields in the loop (each resumption is a step), while
        # another task is runnable all along and counts the times it gets to run.
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await trio.lowlevel.checkpoint()
                ticks += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            while ticks < 3:  # the ticker runs
                await trio.lowlevel.checkpoint()
            this_task = trio.lowlevel.current_task()
            counter = StepCounter(lambda task: task is this_task)
            trio.lowlevel.add_instrument(counter)
            before = ticks
            try:
                got = [await ws.receive() for _ in range(count)]
            finally:
                trio.lowlevel.remove_instrument(counter)
            ran = ticks - before
            nursery.cancel_scope.cancel()
        assert got == [f"m{n}" for n in range(1, count + 1)]
        # receive() yielded once per _SCHEDULE_EVERY messages, not at every one...
        yields = counter.steps
        assert count // _SCHEDULE_EVERY <= yields <= count // _SCHEDULE_EVERY + 1, yields
        assert yields < count // 2
        # ...and each time, the other task could run (Trio may run it before or after us in
        # the first and last of those passes through the run loop).
        assert yields - 1 <= ran <= yields + 1, (ran, yields)


# --- 6. Backpressure: a full queue stops the reading ---------------------------------------------


async def test_full_queue_stops_reading_until_receive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    total = 20
    messages = [bytes([n]) * 100 for n in range(total)]
    async with connected(opts=options(max_queue=2), lockstep=True) as (peer, ws):
        sent = 0

        async def produce() -> None:
            nonlocal sent
            for message in messages:
                await peer.send_frame(BINARY, message)
                sent += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            await trio.sleep(5)  # far beyond _READER_DELAY, and nobody receives
            # max_queue pieces plus the one more read a full queue allows; the peer blocks.
            assert sent == 3
            assert ws.statistics().queue_depth == 3
            # One receive(), then none: the reader reads once more and stops again.
            assert await ws.receive() == messages[0]
            await trio.sleep(5)
            assert sent == 4
            assert ws.statistics().queue_depth == 3
            # Receiving drains everything, in order.
            with trio.fail_after(5):
                got = [await ws.receive() for _ in range(total - 1)]
            assert got == messages[1:]
            await trio.testing.wait_all_tasks_blocked()
            assert sent == total


# --- 7. A close right behind messages, with max_queue=1 ------------------------------------------


@pytest.mark.parametrize("messages", [1, 2])
async def test_peer_close_behind_messages_then_aclose_is_prompt(
    autojump_clock: trio.testing.MockClock, messages: int
) -> None:
    async with connected(opts=options(max_queue=1, close_timeout=5)) as (peer, ws):
        for n in range(messages):
            await peer.send_frame(TEXT, b"m%d" % n)
            await trio.sleep(1)  # nobody receives: the reader reads, one write at a time
        await peer.send_close(1001, "bye")
        await trio.sleep(1)

        async def peer_side() -> None:
            # The echo of 1001, or our own 1000 if our side had not read the peer's close.
            frame = await peer.read_close()
            assert frame.close_code in (1000, 1001)
            await peer.stream.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer_side)
            with trio.fail_after(PROMPT):
                await ws.aclose()
        assert ws.close_code == 1001
        assert ws.close_received is not None
        # The messages are still there to be received.
        assert [await ws.receive() for _ in range(messages)] == [f"m{n}" for n in range(messages)]


@pytest.mark.parametrize("queued_before", [0, 1, 2])
async def test_close_reply_behind_a_message_is_read(
    autojump_clock: trio.testing.MockClock, queued_before: int
) -> None:
    """aclose() with max_queue=1: the peer's close reply comes right behind a message."""
    async with connected(opts=options(max_queue=1, close_timeout=5)) as (peer, ws):
        for n in range(queued_before):
            await peer.send_frame(TEXT, b"early %d" % n)
            await trio.sleep(1)  # nobody receives: the reader reads, one write at a time
        assert ws.statistics().queue_depth == queued_before

        async def peer_side() -> None:
            frame = await peer.read_close()
            assert frame.close_code == 1000
            await peer.send_frame(TEXT, b"late")
            await peer.send_close(1000, "ok")
            await peer.stream.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer_side)
            with trio.fail_after(PROMPT):
                await ws.aclose()
        assert ws.close_received is not None
        assert ws.close_code == 1000


# --- 8. The close echo while another task holds the send lock ------------------------------------


class SlowPeer(RawPeer):
    """A raw peer that reads 16 KiB at a time, every 20 ms."""

    read_size = 16384

    async def _fill(self) -> bool:
        await trio.sleep(0.02)
        return await super()._fill()


@both_roles
async def test_close_echo_sent_while_a_send_holds_the_lock(
    autojump_clock: trio.testing.MockClock, ours: str
) -> None:
    close_timeout = 2.0
    big = b"B" * 300_000
    opts = options(close_timeout=close_timeout, compression=None)
    async with connected(ours, opts, lockstep=True, peer_class=SlowPeer) as (peer, ws):
        outcomes: list[str | int] = []

        async def big_send() -> None:
            await ws.send(big)
            outcomes.append("sent")

        async def waiting_send() -> None:
            try:
                await ws.send(b"small")
                outcomes.append("small sent")
            except ConnectionClosed as exc:
                outcomes.append(exc.code)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(big_send)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(waiting_send)
            await trio.testing.wait_all_tasks_blocked()
            assert ws._outbox.state is Writing.HELD  # big_send is blocked writing to the slow peer
            start = trio.current_time()
            with trio.fail_after(close_timeout):
                await peer.send_close(1001, "going away")  # read by the reader
            await trio.testing.wait_all_tasks_blocked()
            assert ws.close_received is not None
            assert ws._outbox.state is Writing.HELD  # still writing when the close came
            with trio.fail_after(close_timeout):
                assert await peer.read_message() == (BINARY, big)
                frame = await peer.read_frame()
                assert frame.opcode == CLOSE
                assert (frame.close_code, frame.close_reason) == (1001, "going away")
                if ours == "client":
                    await peer.stream.aclose()  # the server closes TCP first
                await ws.wait_closed()
            assert trio.current_time() - start < close_timeout
        assert outcomes == ["sent", 1001]
        assert ws.close_code == 1001
        assert ws.close_sent is not None and ws.close_sent.code == 1001


@both_roles
async def test_control_frames_go_between_fragments(
    autojump_clock: trio.testing.MockClock, ours: str
) -> None:
    """send_fragments() holds the send lock only while it writes: while its iterable makes
    the next fragment, the peer's ping is answered, ours goes out, and the peer's close is
    echoed at once."""
    async with connected(ours) as (peer, ws):
        more = trio.Event()
        outcome: list[int] = []

        async def fragments() -> AsyncIterator[str]:
            yield "first half"
            await more.wait()
            yield "second half"

        async def send_in_fragments() -> None:
            try:
                async with aclosing(fragments()) as items:
                    await ws.send_fragments(items)
            except ConnectionClosed as exc:
                outcome.append(exc.code)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_in_fragments)
            frame = await peer.read_frame()
            assert (frame.opcode, frame.fin, frame.payload) == (TEXT, False, b"first half")
            assert ws._outbox.state is not Writing.HELD
            await peer.send_frame(PING, b"between")
            with trio.fail_after(PROMPT):
                assert await read_until(peer, PONG) == b"between"
            nursery.start_soon(ws.ping, b"ours")
            with trio.fail_after(PROMPT):
                assert await read_until(peer, PING) == b"ours"
            await peer.send_frame(PONG, b"ours")
            await peer.send_close(1001, "going away")
            with trio.fail_after(PROMPT):
                frame = await peer.read_frame()
            assert (frame.opcode, frame.close_code) == (CLOSE, 1001)
            if ours == "client":
                await peer.stream.aclose()  # the server closes TCP first
            with trio.fail_after(PROMPT):
                await ws.wait_closed()
            more.set()  # the message cannot be finished now
        assert outcome == [1001]
        assert ws.close_code == 1001


@both_roles
async def test_a_message_sent_during_a_fragmented_one_goes_after_it(
    autojump_clock: trio.testing.MockClock, ours: str
) -> None:
    async with connected(ours) as (peer, ws):
        more = trio.Event()

        async def fragments() -> AsyncIterator[bytes]:
            yield b"one"
            await more.wait()
            yield b"two"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.send_fragments, fragments())
            frame = await peer.read_frame()
            assert (frame.opcode, frame.fin, frame.payload) == (BINARY, False, b"one")
            nursery.start_soon(ws.send, "in between?")
            await trio.sleep(1)
            more.set()
            frames = [await peer.read_frame() for _ in range(3)]
        assert [(f.opcode, f.fin, f.payload) for f in frames] == [
            (CONTINUATION, False, b"two"),
            (CONTINUATION, True, b""),
            (TEXT, True, b"in between?"),
        ]


# --- 9. Found by review: a close echo written by receive(), and polling ------------------------


async def test_close_echo_written_by_receive_is_bounded_by_close_timeout(autojump_clock) -> None:
    """The peer closes, then stops reading: the echo that receive() writes cannot complete,
    and the connection still ends within close_timeout."""
    async with connected("server", options(close_timeout=2), lockstep=True) as (peer, ws):
        outcome: list[BaseException] = []

        async def app() -> None:
            try:
                await ws.receive()
            except trio_ws.ConnectionClosed as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(app)
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            await peer.send_close(1000, "bye")  # lockstep: and nothing reads the echo
            with trio.fail_after(2 + PROMPT):
                await ws.wait_closed()
        assert trio.current_time() - start <= 2 + PROMPT
        assert isinstance(outcome[0], trio_ws.ConnectionClosedOK)
        assert ws.close_received is not None
        assert ws.close_received.code == 1000


@both_roles
async def test_an_application_polling_receive_still_answers_pings(
    autojump_clock, ours: str
) -> None:
    """receive() under a timeout too short to read (polling) does not read for the
    connection, so it must not keep the reader from reading."""
    async with connected(ours) as (peer, ws):

        async def poll() -> None:
            while True:
                with trio.move_on_after(0):
                    await ws.receive()
                await trio.sleep(_READER_DELAY / 4)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            await trio.sleep(1)
            await peer.send_frame(PING, b"anyone?")
            with trio.fail_after(PROMPT):
                assert await read_until(peer, PONG) == b"anyone?"
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("call", ["ping", "pong"])
async def test_a_control_frame_cancelled_as_it_gets_the_lock_ends_nothing(
    autojump_clock: trio.testing.MockClock, call: str
) -> None:
    """The send lock is handed to a waiting ping() or pong() whose cancellation has come
    meanwhile: it must give up before queueing anything, not inside send_all (which would
    count as a frame cut in half and end the connection)."""
    async with connected("client", lockstep=True) as (peer, ws):
        scope = trio.CancelScope()

        async def sender() -> None:
            await ws.send(b"x")  # holds the lock until the peer reads the frame
            scope.cancel()  # in the same step as the release that handed the lock over

        async def control() -> None:
            with scope:
                await (ws.ping(b"p") if call == "ping" else ws.pong(b"p"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(control)
            await trio.testing.wait_all_tasks_blocked()
            frame = await peer.read_frame()
            assert frame.payload == b"x"
        assert scope.cancelled_caught
        assert not ws.closed
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.send, b"still open")  # lockstep: done when the peer reads
            assert (await peer.read_frame()).payload == b"still open"


async def test_a_send_cut_in_half_wakes_a_task_reading_in_receive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A send cancelled in the middle of a frame ends the connection; a task waiting in
    receive() (reading the stream itself, with no reader task) is told at once."""
    async with connected("client", lockstep=True) as (_peer, ws):
        outcome: list[BaseException] = []

        async def receiver() -> None:
            try:
                await ws.receive()
            except trio_ws.ConnectionClosed as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.sleep(1)  # in receive(), reading: no reader task now
            with trio.move_on_after(1):
                await ws.send(b"x" * 1000)  # lockstep: blocks until the peer reads; cut off
            with trio.fail_after(PROMPT):
                await ws.wait_closed()
        assert isinstance(outcome[0], trio_ws.ConnectionClosedError)
        assert ws._lifecycle.state is Transport.CLOSED


async def test_a_connection_outliving_its_nursery_ends_when_it_needs_a_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """connect_stream(nursery, ...) with a nursery that finishes first: while a task (from
    elsewhere) waits in receive() there is no reader task to keep the nursery open; when the
    connection next needs one it cannot start it, and ends instead of hanging."""
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ws = await request.accept()
        await trio.sleep(5)
        await ws.send("late")
        await ws.wait_closed()

    got: list[object] = []
    async with trio.open_nursery() as outer:
        outer.start_soon(
            lambda: trio_ws.serve_stream(handler, server_stream, options=options(close_timeout=1))
        )
        async with trio.open_nursery() as inner:
            ws = await trio_ws.connect_stream(inner, client_stream, host="t", options=options())

            async def receive_twice() -> None:
                got.append(await ws.receive())
                try:
                    await ws.receive()
                except trio_ws.ConnectionClosed as exc:
                    got.append(type(exc))

            outer.start_soon(receive_twice)
        # ``inner`` is over: the connection's reader stopped while receive() read.
        with trio.fail_after(10):
            await ws.wait_closed()
        assert ws.closed
        assert "nursery has ended" in ws._lifecycle.detail
        # A stream that is not a plain socket cannot be closed without a task: its owner
        # (here, this test) closes it, and the server sees the end.
        await client_stream.aclose()
    assert got == ["late", trio_ws.ConnectionClosedError]
