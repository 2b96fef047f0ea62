"""Fault injection: hypothesis drives a raw peer against both roles, in virtual time.

Each example is one connection over ``trio.testing.memory_stream_pair()``. OUR side is
trio_ws's server (``serve_stream`` with an echo handler) or trio_ws's client
(``open_websocket_stream`` with the same echo loop). The RAW PEER plays the other role byte by
byte: it opens or answers the opening handshake by hand, then plays a drawn list of actions:

* valid messages (text and binary, random payloads, random fragmentation, pings, pongs and
  stalls between the fragments) and valid pings and pongs,
* stalls: the peer stops reading and sending for a while (keepalive timers then fire),

and ends with one terminal action:

* a protocol violation (reserved opcodes, RSV bits, wrong masking, oversized or fragmented
  control frames, orphan continuations, interrupted messages, invalid UTF-8 in text or in a
  close reason, invalid close codes, messages over the size or fragment limit, 64-bit
  lengths with the top bit set),
* raw garbage bytes (then EOF or a half-close),
* a close frame (valid code or none, optionally followed by bytes that must be ignored),
* an abrupt EOF (the peer closes its stream), or a half-close (it stops sending and keeps
  reading; memory streams have no ``send_eof``, ``StapledStream.send_eof`` closes the send
  half only),
* nothing: the peer then closes cleanly with 1000.

Every byte the peer writes goes out in drawn chunks (split anywhere, with small delays
between them, or coalesced with the next action's bytes, the handshake's included). A few
examples break the opening handshake instead (garbage, a partial head then silence or EOF, a
403, a wrong accept key, nothing at all).

Each example runs in its own ``trio.run`` with ``MockClock(autojump_threshold=0)``: the
test is a sync ``@given`` function because pytest-trio's ``autojump_clock`` fixture does not
mix with hypothesis' per-example runs. Properties checked for every example:

1. No exception escapes: the application only sees messages and ``ConnectionClosed``
   subclasses (for the client's handshake, the one ``HandshakeError`` subclass the fault
   calls for); nothing is logged at WARNING or above on the ``trio_ws`` logger.
2. No hang: the example ends within the peer's own delays plus the timers the scenario may
   legitimately wait on (``open_timeout`` for a silent handshake, ping interval + ping timeout
   + ``close_timeout`` when a stall may starve the keepalive); promptly otherwise. A hard
   ``fail_after`` in virtual time backs this up.
3. Messages: every complete message sent before the terminal action arrives intact and in
   order, with nothing extra. When messages may be lost (an abrupt EOF, a keepalive abort),
   what arrived is a prefix of what was sent; after garbage, what was sent is a prefix of
   what arrived. Every echo the peer reads back is a prefix of what the application got.
4. Close codes: the close frame the peer reads carries the code the rule demands (1002,
   1007, 1009, the echo of the peer's own code, none after EOF or a half-close; 1011 only
   when a stall may have starved the keepalive); our side sends at most one close frame, and
   nothing after it. The application's ``ConnectionClosed`` carries the matching code, and is
   ``ConnectionClosedOK`` exactly for a clean 1000/1001/no-code close. Every ping is answered.
5. Framing: our frames are masked by the client only, have RSV 0, valid opcodes, short
   unfragmented control frames, proper continuation sequences.
6. Afterwards no task is left in the task tree and our stream is closed (both halves).

Budget: each example costs a few milliseconds of real time (virtual time does the waiting),
so the two main tests run three times the profile's ``max_examples`` per role (dev 300, ci
600), and ``test_every_violation_gets_its_close_code`` gives every rule a tenth of it per role
(dev 10, ci 20), since hypothesis draws some rules far more often than others. The whole file
takes about 7 s with the dev profile and 15 s with ci. ``--hypothesis-show-statistics`` shows
how the examples split between endings, handshake faults, and exact vs relaxed checks.

The fixed cases at the end pin down three bugs this file found (fixed since): a slow
handshake made ``serve_stream`` raise ``UnboundLocalError``; bytes that ended the connection,
read together with the handshake, kept the transport open until ``close_timeout``; messages
read together with a close frame or a violation were dropped when they did not fit in the
receive queue.
"""

from __future__ import annotations

import base64
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

import trio_ws

from ..conformance.rawpeer import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    Frame,
    accept_value,
    build_frame,
    close_payload,
    xor_mask,
)

# --- Settings of our side ----------------------------------------------------------------------

MAX_MESSAGE = 512
MAX_FRAGMENTS = 16
OPEN_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0
PING_INTERVAL = 4.0
PING_TIMEOUT = 5.0

#: Trickle between chunks of one write (virtual seconds), and most chunks per write.
CHUNK_DELAY = 0.25
MAX_CHUNKS = 6
#: A stall at least this long may leave a keepalive ping unanswered for ping_timeout (the
#: pong can also wait behind a trickling write holding the peer's send lock).
LONG_STALL = PING_TIMEOUT - MAX_CHUNKS * CHUNK_DELAY - 0.5
#: Slack for "promptly" (virtual seconds).
PROMPT = 0.5

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
REQUEST = (
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()
OK_CODES = {1000, 1001, None}
SENDABLE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]
INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
BAD_UTF8 = [
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xc0\xaf",
    b"\xc1\xbf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82",
]


def response_101(key: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_value(key)}\r\n\r\n"
    ).encode()


# --- What the peer does ------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunking:
    """How one write goes out: cut after ``sizes`` bytes, ``delays`` before each piece."""

    sizes: tuple[int, ...]
    delays: tuple[float, ...]
    now: bool  # write now, or keep the bytes to coalesce them with the next action's

    def split(self, data: bytes) -> Iterator[tuple[float, bytes]]:
        """Yield ``(delay, piece)`` pairs."""
        pos = 0
        for size, delay in zip(self.sizes, self.delays, strict=False):
            if pos >= len(data):
                return
            yield delay, data[pos : pos + size]
            pos += size
        if pos < len(data):
            yield self.delays[len(self.sizes)], data[pos:]

    @property
    def delay(self) -> float:
        return sum(self.delays)


@dataclass(frozen=True)
class Control:
    opcode: int  # PING or PONG
    payload: bytes


@dataclass(frozen=True)
class Stall:
    seconds: float


@dataclass(frozen=True)
class SendControl:
    control: Control
    chunking: Chunking


@dataclass(frozen=True)
class Message:
    data: str | bytes
    cuts: tuple[int, ...]  # byte offsets where the payload is cut into fragments
    between: tuple[Control | Stall | None, ...]  # after each fragment but the last
    chunking: Chunking

    @property
    def payload(self) -> bytes:
        return self.data.encode() if isinstance(self.data, str) else self.data


@dataclass(frozen=True)
class FrameSpec:
    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0
    wrong_mask: bool = False
    declared_length: int | None = None
    length_bits: int | None = None

    def encode(self, masks: bool, key: bytes) -> bytes:
        return build_frame(
            self.opcode,
            self.payload,
            fin=self.fin,
            rsv=self.rsv,
            mask=masks is not self.wrong_mask,
            key=key,
            declared_length=self.declared_length,
            length_bits=self.length_bits,
        )


@dataclass(frozen=True)
class Violation:
    kind: str
    code: int
    frames: tuple[FrameSpec, ...]
    chunking: Chunking


@dataclass(frozen=True)
class Garbage:
    data: bytes
    then: str  # "eof" or "half"
    chunking: Chunking


@dataclass(frozen=True)
class Close:
    code: int | None
    reason: bytes
    trailing: bytes  # bytes after the close frame, which our side must ignore
    chunking: Chunking


@dataclass(frozen=True)
class Eof:
    pass


@dataclass(frozen=True)
class HalfClose:
    pass


Terminal = Violation | Garbage | Close | Eof | HalfClose


@dataclass(frozen=True)
class HandshakeFault:
    kind: str  # garbage, partial, silent (both roles); reject, bad_accept (our client)
    data: bytes  # the garbage, or the cut head
    then: str  # "eof", "half" or "open" (the peer keeps the stream open, silent)


@dataclass(frozen=True)
class Scenario:
    ours: str  # the role under test
    keepalive: bool
    max_queue: int
    pipeline: bool  # our server: frames follow the request without waiting for the 101
    key: bytes  # the peer's masking key
    handshake_chunking: Chunking
    fault: HandshakeFault | None
    actions: tuple[Message | SendControl | Stall, ...]
    terminal: Terminal

    def options(self) -> trio_ws.Options:
        return trio_ws.Options(
            compression=None,
            max_message_size=MAX_MESSAGE,
            max_fragments=MAX_FRAGMENTS,
            max_queue=self.max_queue,
            ping_interval=PING_INTERVAL if self.keepalive else None,
            ping_timeout=PING_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
            open_timeout=OPEN_TIMEOUT,
        )

    def stalls(self) -> list[float]:
        out = []
        for action in self.actions:
            if isinstance(action, Stall):
                out.append(action.seconds)
            elif isinstance(action, Message):
                out += [b.seconds for b in action.between if isinstance(b, Stall)]
        return out

    def delays(self) -> float:
        """An upper bound on the virtual time the peer spends waiting on its own."""
        total = self.handshake_chunking.delay + sum(self.stalls())
        for action in self.actions:
            if isinstance(action, Message):
                total += action.chunking.delay * (1 + len(action.cuts))
            elif isinstance(action, SendControl):
                total += action.chunking.delay
        chunking = getattr(self.terminal, "chunking", None)
        return total + (chunking.delay if chunking else 0.0)


# --- Strategies --------------------------------------------------------------------------------


@st.composite
def chunkings(draw: st.DrawFn) -> Chunking:
    sizes = draw(st.lists(st.integers(1, 40), max_size=MAX_CHUNKS - 1))
    delays = draw(
        st.lists(
            st.sampled_from([0.0, 0.0, CHUNK_DELAY]),
            min_size=len(sizes) + 1,
            max_size=len(sizes) + 1,
        )
    )
    return Chunking(tuple(sizes), tuple(delays), draw(st.booleans()))


controls = st.builds(Control, st.sampled_from([PING, PONG]), st.binary(max_size=125))
stalls = st.builds(Stall, st.sampled_from([0.1, 1.0, 2.5, 4.0, 9.0]))
texts = st.text(st.characters(codec="utf-8"), max_size=60)
binaries = st.one_of(st.binary(max_size=60), st.binary(min_size=126, max_size=MAX_MESSAGE))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    data: str | bytes = draw(st.one_of(texts, binaries))
    size = len(data.encode() if isinstance(data, str) else data)
    cuts = tuple(sorted(draw(st.lists(st.integers(0, size), max_size=4))))
    between = draw(
        st.lists(
            st.one_of(st.none(), st.none(), controls, stalls),
            min_size=len(cuts),
            max_size=len(cuts),
        )
    )
    return Message(data, cuts, tuple(between), draw(chunkings()))


def fragments(opcode: int, payload: bytes, cuts: list[int]) -> tuple[FrameSpec, ...]:
    bounds = [0, *sorted(cuts), len(payload)]
    pieces = [payload[a:b] for a, b in pairwise(bounds)]
    return tuple(
        FrameSpec(opcode if i == 0 else CONTINUATION, piece, fin=i == len(pieces) - 1)
        for i, piece in enumerate(pieces)
    )


VIOLATIONS = [
    "reserved_opcode",
    "rsv_data",
    "rsv_continuation",
    "rsv_control",
    "wrong_mask",
    "long_control",
    "fragmented_control",
    "orphan_continuation",
    "interrupted_message",
    "bad_utf8",
    "bad_close_code",
    "one_byte_close",
    "bad_close_reason",
    "too_big",
    "huge_length",
    "too_many_fragments",
    "msb_length",
]


@st.composite
def violations(draw: st.DrawFn, kind: str | None = None) -> Violation:
    kind = kind or draw(st.sampled_from(VIOLATIONS))
    small = draw(st.binary(max_size=20))
    data_opcode = draw(st.sampled_from([TEXT, BINARY]))
    ascii_ = b"a" * len(small)  # a text payload that is valid UTF-8
    rsv = draw(st.sampled_from([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70]))
    code = 1002
    frames: tuple[FrameSpec, ...]
    if kind == "reserved_opcode":
        opcode = draw(st.sampled_from([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]))
        frames = (FrameSpec(opcode, small, fin=draw(st.booleans())),)
    elif kind == "rsv_data":
        frames = (FrameSpec(data_opcode, ascii_, rsv=rsv),)
    elif kind == "rsv_continuation":
        frames = (FrameSpec(BINARY, small, fin=False), FrameSpec(CONTINUATION, small, rsv=rsv))
    elif kind == "rsv_control":
        frames = (FrameSpec(draw(st.sampled_from([PING, PONG, CLOSE])), b"", rsv=rsv),)
    elif kind == "wrong_mask":
        opcode = draw(st.sampled_from([TEXT, BINARY, PING, PONG, CLOSE]))
        frames = (FrameSpec(opcode, ascii_ if opcode != CLOSE else b"", wrong_mask=True),)
    elif kind == "long_control":
        payload = draw(st.binary(min_size=126, max_size=300))
        frames = (FrameSpec(draw(st.sampled_from([PING, PONG, CLOSE])), payload),)
    elif kind == "fragmented_control":
        frames = (FrameSpec(draw(st.sampled_from([PING, PONG, CLOSE])), b"", fin=False),)
    elif kind == "orphan_continuation":
        frames = (FrameSpec(CONTINUATION, small, fin=draw(st.booleans())),)
    elif kind == "interrupted_message":
        frames = (FrameSpec(data_opcode, ascii_, fin=False), FrameSpec(BINARY, small))
    elif kind == "bad_utf8":
        code = 1007
        payload = draw(texts).encode() + draw(st.sampled_from(BAD_UTF8)) + draw(texts).encode()
        cuts = draw(st.lists(st.integers(0, len(payload)), max_size=3))
        frames = fragments(TEXT, payload, cuts)
    elif kind == "bad_close_code":
        payload = close_payload(draw(st.sampled_from(INVALID_CODES)), draw(texts).encode()[:60])
        frames = (FrameSpec(CLOSE, payload),)
    elif kind == "one_byte_close":
        frames = (FrameSpec(CLOSE, draw(st.binary(min_size=1, max_size=1))),)
    elif kind == "bad_close_reason":
        code = 1007
        reason = draw(st.text(max_size=5)).encode() + draw(st.sampled_from(BAD_UTF8))
        frames = (FrameSpec(CLOSE, close_payload(1000, reason)),)
    elif kind == "too_big":
        code = 1009
        size = draw(st.integers(MAX_MESSAGE + 1, MAX_MESSAGE + 200))
        cuts = draw(st.lists(st.integers(0, size), max_size=3))
        frames = fragments(data_opcode, b"a" * size, cuts)
    elif kind == "huge_length":
        code = 1009
        length = draw(st.sampled_from([MAX_MESSAGE + 1, 2**16, 2**31, 2**40, 2**63 - 1]))
        frames = (FrameSpec(data_opcode, b"", declared_length=length),)
    elif kind == "too_many_fragments":
        code = 1009
        count = draw(st.integers(MAX_FRAGMENTS + 1, MAX_FRAGMENTS + 4))
        frames = fragments(BINARY, small[:count], [min(i, len(small)) for i in range(count - 1)])
    else:
        assert kind == "msb_length"
        length = 2**63 + draw(st.integers(0, 2**20))
        frames = (FrameSpec(data_opcode, b"", declared_length=length, length_bits=64),)
    return Violation(kind, code, frames, draw(chunkings()))


@st.composite
def closes(draw: st.DrawFn) -> Close:
    code = draw(st.one_of(st.none(), st.sampled_from(SENDABLE_CODES), st.integers(3000, 4999)))
    reason = b"" if code is None else draw(st.text(max_size=30)).encode()
    trailing = draw(st.one_of(st.just(b""), st.binary(min_size=1, max_size=20)))
    return Close(code, reason, trailing, draw(chunkings()))


garbages = st.builds(
    Garbage, st.binary(min_size=1, max_size=64), st.sampled_from(["eof", "half"]), chunkings()
)
terminals = st.one_of(
    violations(),
    violations(),
    garbages,
    closes(),
    st.just(Eof()),
    st.just(HalfClose()),
    st.builds(Close, st.just(1000), st.just(b""), st.just(b""), chunkings()),
)


@st.composite
def handshake_faults(draw: st.DrawFn, ours: str) -> HandshakeFault:
    kinds = ["garbage", "partial", "silent"]
    if ours == "client":
        kinds += ["reject", "bad_accept"]
    kind = draw(st.sampled_from(kinds))
    then = draw(st.sampled_from(["eof", "half", "open"]))
    data = b""
    if kind == "garbage":
        # No CR or LF inside: the garbage is one bad start line, not blank lines.
        data = draw(st.binary(min_size=1, max_size=60).filter(lambda b: not {13, 10} & set(b)))
        data += b"\r\n\r\n"
    elif kind == "partial":
        head = REQUEST if ours == "server" else response_101(KEY)
        data = head[: draw(st.integers(1, len(head) - 1))]
    return HandshakeFault(kind, data, then)


actions = st.one_of(
    messages(), messages(), messages(), st.builds(SendControl, controls, chunkings()), stalls
)


@st.composite
def scenarios(
    draw: st.DrawFn, ours: str, terminal: st.SearchStrategy[Terminal] | None = None
) -> Scenario:
    """A connection's story; with ``terminal`` given, no handshake fault and that ending."""
    fault = None
    if terminal is None:
        fault = draw(st.one_of(st.none(), st.none(), st.none(), st.none(), handshake_faults(ours)))
    return Scenario(
        ours=ours,
        keepalive=draw(st.sampled_from([False, False, True])),
        max_queue=draw(st.sampled_from([1, 2, 16, 16])),
        pipeline=draw(st.booleans()),
        key=draw(st.binary(min_size=4, max_size=4)),
        handshake_chunking=draw(chunkings()),
        fault=fault,
        actions=() if fault else tuple(draw(st.lists(actions, max_size=6))),
        terminal=HalfClose() if fault else draw(terminals if terminal is None else terminal),
    )


# --- The raw peer ------------------------------------------------------------------------------


def take_frame(buf: bytearray) -> Frame | None:
    """Cut one whole frame from the front of ``buf`` (unmasked), or return None."""
    if len(buf) < 2:
        return None
    length = buf[1] & 0x7F
    pos = 2
    if length == 126:
        if len(buf) < 4:
            return None
        (length,) = struct.unpack_from("!H", buf, 2)
        pos = 4
    elif length == 127:
        if len(buf) < 10:
            return None
        (length,) = struct.unpack_from("!Q", buf, 2)
        pos = 10
    masked = bool(buf[1] & 0x80)
    key = b""
    if masked:
        if len(buf) < pos + 4:
            return None
        key = bytes(buf[pos : pos + 4])
        pos += 4
    if len(buf) < pos + length:
        return None
    payload = bytes(buf[pos : pos + length])
    if masked:
        payload = xor_mask(payload, key)
    frame = Frame(bool(buf[0] & 0x80), buf[0] & 0x70, buf[0] & 0x0F, payload, masked)
    del buf[: pos + length]
    return frame


class Peer:
    """The raw peer: a reader task that answers pings and closes, and the scripted actions."""

    def __init__(self, stream: trio.StapledStream, scenario: Scenario) -> None:
        self.stream = stream
        self.sc = scenario
        self.masks = scenario.ours == "server"  # the peer is a client: it masks
        self.plays_server = scenario.ours == "client"
        self.lock = trio.Lock()
        self.pending = bytearray()
        self.gate = trio.Event()
        self.gate.set()
        self.head: bytes | None = None
        self.head_seen = trio.Event()
        self.body = bytearray()
        self.frames: list[Frame] = []
        self.leftover = b""
        self.pings_sent: list[bytes] = []
        self.sending = True  # still speaking WebSocket: pongs, close echo
        self.sent_close = False
        self.send_failed = False
        self.stream_closed = False
        self.half_closed = False  # the peer's own send half is closed: it writes no more
        self.reader_scope = trio.CancelScope()
        self.reader_done = trio.Event()
        self.reader_cancelled = False
        self.handshake_pending = False  # the handshake's bytes wait in ``pending``
        self.pending_data_frames = 0  # data frames waiting in ``pending``
        #: Data frames that went out in the same write as the terminal action's bytes.
        self.data_frames_with_terminal = 0
        #: The terminal action's bytes went out in the same write as the handshake's.
        self.terminal_with_handshake = False

    # Bytes out.

    async def write(self, data: bytes, chunking: Chunking | None = None) -> None:
        async with self.lock:
            pieces = list(chunking.split(data)) if chunking else [(0.0, data)]
            for delay, piece in pieces:
                if delay:
                    await trio.sleep(delay)
                if self.half_closed:
                    # A pong for our keepalive ping, read before the half-close: the peer
                    # chose to stop sending, so it is not sent (and our side is not to blame).
                    return
                if self.stream_closed:
                    self.send_failed = True
                    return
                try:
                    await self.stream.send_all(piece)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self.send_failed = True
                    return
                # Let our side read this piece alone before the next one arrives.
                await trio.testing.wait_all_tasks_blocked()

    async def flush(self, chunking: Chunking | None) -> None:
        data = bytes(self.pending)
        self.pending.clear()
        self.handshake_pending = False
        self.pending_data_frames = 0
        if data:
            await self.write(data, chunking)

    def frame(self, opcode: int, payload: bytes = b"", **kwargs: object) -> bytes:
        return build_frame(opcode, payload, mask=self.masks, key=self.sc.key, **kwargs)  # type: ignore[arg-type]

    async def close_stream(self) -> None:
        self.stream_closed = True
        self.reader_cancelled |= not self.reader_done.is_set()
        self.reader_scope.cancel()
        await self.stream.aclose()

    async def stall(self, seconds: float) -> None:
        gate = self.gate = trio.Event()
        await trio.sleep(seconds)
        gate.set()

    # Bytes in.

    async def reader(self) -> None:
        buf = bytearray()
        try:
            with self.reader_scope:
                while True:
                    try:
                        data = await self.stream.receive_some(65536)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        data = b""
                    await self.gate.wait()  # during a stall, what was read waits
                    if not data:
                        return
                    buf += data
                    if self.head is None:
                        end = buf.find(b"\r\n\r\n")
                        if end < 0:
                            continue
                        self.head = bytes(buf[:end])
                        del buf[: end + 4]
                        self.head_seen.set()
                    if not self.plays_server and not self.head.startswith(b"HTTP/1.1 101 "):
                        self.body += buf  # an HTTP error page, not frames
                        buf.clear()
                        continue
                    while (frame := take_frame(buf)) is not None:
                        self.frames.append(frame)
                        await self.on_frame(frame)
                        if self.stream_closed:
                            return
        finally:
            self.leftover = bytes(buf)
            self.head_seen.set()
            self.reader_done.set()

    async def on_frame(self, frame: Frame) -> None:
        if frame.opcode == PING and self.sending:
            await self.write(self.frame(PONG, frame.payload))
        elif frame.opcode == CLOSE:
            if self.sending:  # our side started the closing handshake: echo it
                self.sending = False
                code = frame.close_code if frame.payload else None
                await self.write(self.frame(CLOSE, close_payload(code)))
                self.sent_close = True
            if self.plays_server and self.sent_close:
                await self.close_stream()  # the server closes the TCP connection first

    # The script.

    async def play(self) -> None:
        sc = self.sc
        if sc.fault is not None:
            await self.play_fault(sc.fault)
        elif sc.ours == "server":
            self.pending += REQUEST
            self.handshake_pending = True
            if sc.handshake_chunking.now or not sc.pipeline:
                await self.flush(sc.handshake_chunking)
            if not sc.pipeline:
                await self.head_seen.wait()
        else:
            await self.head_seen.wait()  # our client's request
            self.pending += response_101(self.request_key())
            self.handshake_pending = True
            if sc.handshake_chunking.now:
                await self.flush(sc.handshake_chunking)
        for action in sc.actions:
            if not self.sending:
                break
            await self.play_action(action)
        if self.sending:
            await self.play_terminal(sc.terminal)
        await self.reader_done.wait()  # our side closes the connection
        await self.close_stream()

    def request_key(self) -> str:
        assert self.head is not None, "our client sent no request"
        for line in self.head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                return value.strip()
        raise AssertionError(f"no Sec-WebSocket-Key in {self.head!r}")

    async def play_fault(self, fault: HandshakeFault) -> None:
        if self.plays_server:
            await self.head_seen.wait()
            key = self.request_key()
            if fault.kind == "reject":
                body = b"Forbidden by the fault injector\n"
                self.pending += b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(body),
                    body,
                )
            elif fault.kind == "bad_accept":
                self.pending += response_101(base64.b64encode(b"not the right key").decode())
            elif fault.kind == "partial":
                self.pending += response_101(key)[: len(fault.data)]
        if fault.kind in ("garbage", "partial") and not self.pending:
            self.pending += fault.data
        await self.flush(self.sc.handshake_chunking)
        self.sending = False
        await self.end(fault.then)

    async def end(self, how: str) -> None:
        if how == "eof":
            await self.close_stream()
        elif how == "half":
            self.half_closed = True
            await self.stream.send_eof()

    async def play_action(self, action: Message | SendControl | Stall) -> None:
        if isinstance(action, Stall):
            await self.flush(None)
            await self.stall(action.seconds)
        elif isinstance(action, SendControl):
            self.pending += self.frame(action.control.opcode, action.control.payload)
            if action.control.opcode == PING:
                self.pings_sent.append(action.control.payload)
            if action.chunking.now:
                await self.flush(action.chunking)
        else:
            opcode = TEXT if isinstance(action.data, str) else BINARY
            specs = fragments(opcode, action.payload, list(action.cuts))
            for index, spec in enumerate(specs):
                self.pending += spec.encode(self.masks, self.sc.key)
                self.pending_data_frames += 1
                extra = action.between[index] if index < len(action.between) else None
                if isinstance(extra, Stall):
                    await self.flush(action.chunking)
                    await self.stall(extra.seconds)
                elif isinstance(extra, Control):
                    self.pending += self.frame(extra.opcode, extra.payload)
                    if extra.opcode == PING:
                        self.pings_sent.append(extra.payload)
            if action.chunking.now:
                await self.flush(action.chunking)

    async def play_terminal(self, terminal: Terminal) -> None:
        if isinstance(terminal, Eof | HalfClose):
            await self.flush(None)
            self.sending = False
            await self.end("eof" if isinstance(terminal, Eof) else "half")
            return
        self.sending = False
        self.terminal_with_handshake = self.handshake_pending
        if isinstance(terminal, Violation):
            for spec in terminal.frames:
                self.pending += spec.encode(self.masks, self.sc.key)
                self.pending_data_frames += spec.opcode in (CONTINUATION, TEXT, BINARY)
        elif isinstance(terminal, Garbage):
            self.pending += terminal.data
        else:
            payload = close_payload(terminal.code, terminal.reason)
            self.pending += self.frame(CLOSE, payload) + terminal.trailing
            self.sent_close = True
        self.data_frames_with_terminal = self.pending_data_frames
        await self.flush(terminal.chunking)
        if isinstance(terminal, Garbage):
            await self.end(terminal.then)


# --- Our side ----------------------------------------------------------------------------------


@dataclass
class Ours:
    got: list[str | bytes] = field(default_factory=list)
    ws: trio_ws.WebSocketConnection | None = None
    closed: trio_ws.ConnectionClosed | None = None
    handshake_error: trio_ws.HandshakeError | None = None
    handler_called: bool = False
    errors: list[BaseException] = field(default_factory=list)


async def echo_loop(ws: trio_ws.WebSocketConnection, ours: Ours) -> None:
    while True:
        try:
            message = await ws.receive()
        except trio_ws.ConnectionClosed as exc:
            ours.closed = exc
            return
        ours.got.append(message)
        try:
            await ws.send(message)
        except trio_ws.ConnectionClosed:
            pass  # keep receiving: what already arrived must still be delivered


async def run_server(stream: trio.abc.Stream, sc: Scenario, ours: Ours) -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        ours.handler_called = True
        try:
            if not request.is_websocket:
                await request.respond(404)
                return
            try:
                ws = ours.ws = await request.accept()
            except trio_ws.ConnectionClosed as exc:
                ours.closed = exc
                return
            await echo_loop(ws, ours)
        except BaseException as exc:
            ours.errors.append(exc)
            raise

    await trio_ws.serve_stream(handler, stream, options=sc.options())


async def run_client(stream: trio.abc.Stream, sc: Scenario, ours: Ours) -> None:
    try:
        async with trio_ws.open_websocket_stream(
            stream, host="example.com", target="/chat", options=sc.options()
        ) as ws:
            ours.ws = ws
            await echo_loop(ws, ours)
    except trio_ws.HandshakeError as exc:
        ours.handshake_error = exc


# --- Running one example -----------------------------------------------------------------------


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def count_tasks() -> int:
    count = 0
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


@dataclass
class Outcome:
    peer: Peer
    ours: Ours
    elapsed: float
    tasks_left: int
    stream_closed: bool


async def stream_is_closed(stream: trio.StapledStream) -> bool:
    try:
        await stream.send_all(b"x")
    except trio.ClosedResourceError:
        pass
    else:
        return False
    try:
        await stream.receive_some(1)
    except trio.ClosedResourceError:
        return True
    return False


async def run_example(sc: Scenario) -> Outcome:
    tasks_before = count_tasks()
    our_stream, raw_stream = trio.testing.memory_stream_pair()
    peer = Peer(raw_stream, sc)
    ours = Ours()
    start = trio.current_time()
    runner = run_server if sc.ours == "server" else run_client
    # The hard stop: far beyond anything the scenario may legitimately wait for.
    with trio.move_on_after(sc.delays() + 60) as timer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner, our_stream, sc, ours)
            nursery.start_soon(peer.reader)
            await peer.play()
    if timer.cancelled_caught:
        raise AssertionError(f"hang: the example ran {trio.current_time() - start:.1f} s")
    elapsed = trio.current_time() - start
    return Outcome(
        peer, ours, elapsed, count_tasks() - tasks_before, await stream_is_closed(our_stream)
    )


def run(sc: Scenario, seed: int = 0) -> Outcome:
    # Trio shuffles its run queue with this (private) RNG. Inside @given tests hypothesis
    # seeds it per example; elsewhere seeding it here makes the fixed cases schedule their
    # tasks the same way on every run.
    scheduler_rng = getattr(trio._core._run, "_r", None)
    if scheduler_rng is not None and not currently_in_test_context():
        scheduler_rng.seed(seed)
    recorder = Recorder()
    logger = logging.getLogger("trio_ws")
    logger.addHandler(recorder)
    try:
        outcome = trio.run(run_example, sc, clock=trio.testing.MockClock(autojump_threshold=0))
    finally:
        logger.removeHandler(recorder)
    assert not recorder.records, [r.getMessage() for r in recorder.records]
    return outcome


# --- Properties --------------------------------------------------------------------------------


def check_our_frames(sc: Scenario, frames: list[Frame]) -> list[str | bytes]:
    """Check the framing rules on what our side sent; return the messages (echoes) in it."""
    messages: list[str | bytes] = []
    parts: list[bytes] | None = None
    opcode = 0
    for index, frame in enumerate(frames):
        assert frame.masked is (sc.ours == "client"), frame
        assert frame.rsv == 0, frame
        assert frame.opcode in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG), frame
        if frame.opcode & 0x8:
            assert frame.fin and len(frame.payload) <= 125, frame
            if frame.opcode == CLOSE:
                # After our close only pongs may follow: RFC 6455 §5.5.2 still requires
                # answering pings until the peer's close arrives; data frames (§5.5.1), pings
                # and a second close are forbidden.
                after = frames[index + 1 :]
                assert all(f.opcode == PONG for f in after), f"frames after our close: {after}"
            continue
        if frame.opcode == CONTINUATION:
            assert parts is not None, "continuation without a message"
            parts.append(frame.payload)
        else:
            assert parts is None, "new message inside a fragmented one"
            opcode, parts = frame.opcode, [frame.payload]
        if frame.fin:
            payload = b"".join(parts)
            messages.append(payload.decode() if opcode == TEXT else payload)
            parts = None
    return messages


def label(value: str) -> None:
    """Count this kind of example in hypothesis' statistics (--hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(value)


def describe(sc: Scenario) -> str:
    terminal = sc.terminal
    if isinstance(terminal, Violation):
        return f"violation:{terminal.kind}"
    return type(terminal).__name__


def check(sc: Scenario, outcome: Outcome) -> None:
    peer, ours = outcome.peer, outcome.ours
    assert not ours.errors, ours.errors
    assert outcome.tasks_left == 0, f"{outcome.tasks_left} tasks left"
    assert outcome.stream_closed, "our stream is still open"
    if not peer.reader_cancelled:
        assert not peer.leftover, f"half a frame from our side: {peer.leftover!r}"
    delays = sc.delays()
    label(f"fault={sc.fault.kind}/{sc.fault.then}" if sc.fault else f"terminal={describe(sc)}")
    if sc.fault is not None:
        check_fault(sc, outcome)
        return
    assert ours.handshake_error is None, ours.handshake_error
    assert ours.ws is not None, "the handshake did not complete"
    assert ours.ws.closed
    assert peer.head is not None
    if sc.ours == "server":
        assert peer.head.startswith(b"HTTP/1.1 101 "), peer.head
        assert accept_value(KEY).encode() in peer.head

    terminal = sc.terminal
    sent = [action.data for action in sc.actions if isinstance(action, Message)]
    garbage = isinstance(terminal, Garbage)
    # A stall may starve the keepalive: our side then closes with 1011 and drops the rest.
    keepalive_abort = sc.keepalive and any(s >= LONG_STALL for s in sc.stalls())
    lossy = keepalive_abort or isinstance(terminal, Eof)
    exact = not (lossy or garbage)
    got = ours.got

    # 2. No hang, and prompt when no timer is involved.
    limit = delays + PROMPT
    if keepalive_abort:
        limit += PING_INTERVAL + PING_TIMEOUT + CLOSE_TIMEOUT
    assert outcome.elapsed <= limit, (outcome.elapsed, limit)

    # 3. Messages.
    if garbage:
        common = min(len(got), len(sent)) if lossy else len(sent)
        assert got[:common] == sent[:common], (got, sent)
    elif lossy:
        assert got == sent[: len(got)], (got, sent)
    else:
        assert got == sent, (got, sent)
    echoed = check_our_frames(sc, peer.frames)
    assert echoed == got[: len(echoed)], (echoed, got)
    if exact and not isinstance(terminal, Violation) and not getattr(terminal, "trailing", b""):
        # (A violation may be seen, and the stream closed, before its last byte is sent;
        # bytes after a close frame may find the stream already closed. Both are right.)
        assert not peer.send_failed, "our side closed before the peer was done"

    # 4. Close codes.
    closes = [frame for frame in peer.frames if frame.opcode == CLOSE]
    received = closes[0].close_code if closes else None
    if isinstance(terminal, Violation):
        expected: set[int | None] = {terminal.code}
        app_codes = {terminal.code}
    elif isinstance(terminal, Close):
        expected = {terminal.code}
        app_codes = {1005 if terminal.code is None else terminal.code}
    else:  # EOF, half-close, garbage: no close frame is owed
        expected = set()
        app_codes = {1006}
    if keepalive_abort:
        expected.add(1011)
        app_codes.add(1011)
    if garbage:
        if closes and received is not None:
            assert 1000 <= received <= 4999 and received not in (1004, 1005, 1006, 1015)
    elif isinstance(terminal, Eof):
        assert not closes or received == 1011, received
    elif closes:
        assert received in expected, (received, expected, terminal)
    else:
        assert not expected or keepalive_abort, f"no close frame, expected {expected}"
    assert ours.closed is not None
    if not garbage:
        assert ours.closed.code in app_codes, (ours.closed, app_codes)
    if not lossy and not garbage:
        clean = isinstance(terminal, Close) and terminal.code in OK_CODES
        assert isinstance(ours.closed, trio_ws.ConnectionClosedOK) is clean, ours.closed
    label("exact" if exact else "relaxed")
    if exact:
        pongs = [frame.payload for frame in peer.frames if frame.opcode == PONG]
        assert pongs == peer.pings_sent, (pongs, peer.pings_sent)


def check_fault(sc: Scenario, outcome: Outcome) -> None:
    fault = sc.fault
    assert fault is not None
    peer, ours = outcome.peer, outcome.ours
    assert ours.ws is None and not ours.got
    silent = fault.kind in ("partial", "silent") and fault.then == "open"
    limit = sc.delays() + (OPEN_TIMEOUT if silent else 0) + PROMPT
    assert outcome.elapsed <= limit, (outcome.elapsed, limit)
    if silent:
        assert outcome.elapsed >= OPEN_TIMEOUT, "dropped before open_timeout"
    if sc.ours == "server":
        assert not ours.handler_called
        if peer.head is not None:
            assert peer.head.startswith(b"HTTP/1.1 4"), peer.head
        return
    error = ours.handshake_error
    if fault.kind == "reject":
        assert isinstance(error, trio_ws.HandshakeRejected), error
        assert error.status_code == 403
        assert error.body == b"Forbidden by the fault injector\n"
    elif silent:
        assert isinstance(error, trio_ws.HandshakeTimeout), error
    else:
        assert isinstance(error, trio_ws.InvalidHandshake), error
        assert not isinstance(error, trio_ws.HandshakeTimeout), error


# --- The tests ---------------------------------------------------------------------------------

# Each example costs a few milliseconds (virtual time does the waiting), so the tests take
# three times the profile's budget: dev 300, ci 600 examples per role (about 15 s in all).
fault_settings = settings(
    max_examples=3 * settings.default.max_examples,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@fault_settings
@given(scenarios("server"))
def test_our_server_survives_a_faulty_client(scenario: Scenario) -> None:
    check(scenario, run(scenario))


@fault_settings
@given(scenarios("client"))
def test_our_client_survives_a_faulty_server(scenario: Scenario) -> None:
    check(scenario, run(scenario))


# Hypothesis draws some rules far more often than others; this gives each its share, in
# varied surroundings: a tenth of the profile's budget per rule and role (dev 10, ci 20).
@settings(fault_settings, max_examples=max(10, settings.default.max_examples // 10))
@pytest.mark.parametrize("ours", ["server", "client"])
@pytest.mark.parametrize("kind", VIOLATIONS)
@given(data=st.data())
def test_every_violation_gets_its_close_code(ours: str, kind: str, data: st.DataObject) -> None:
    scenario = data.draw(scenarios(ours, violations(kind)))
    check(scenario, run(scenario))


# --- A few fixed cases, so the machinery is seen to work whatever hypothesis draws ----------

NOW = Chunking((), (0.0,), True)
BYTEWISE = Chunking((1, 1, 1, 1, 1), (0.0,) * 6, True)


@pytest.mark.parametrize("ours", ["server", "client"])
@pytest.mark.parametrize(
    "terminal",
    [
        Close(1000, b"bye", b"", NOW),
        Close(None, b"", b"junk after close", NOW),
        Violation("bad_utf8", 1007, fragments(TEXT, b"ok\xffno", [2, 3]), BYTEWISE),
        Violation("too_big", 1009, (FrameSpec(BINARY, b"a" * (MAX_MESSAGE + 1)),), NOW),
        Violation("reserved_opcode", 1002, (FrameSpec(5),), NOW),
        Eof(),
        HalfClose(),
        Garbage(b"\x00\xff" * 10, "half", NOW),
    ],
    ids=repr,
)
def test_fixed_cases(ours: str, terminal: Terminal) -> None:
    actions = (
        Message("héllo wörld", (1, 3), (Control(PING, b"p"), None), BYTEWISE),
        Stall(2.0),
        Message(b"\x00" * 300, (), (), NOW),
    )
    sc = Scenario(ours, False, 1, True, b"\x01\x02\x03\x04", NOW, None, actions, terminal)
    check(sc, run(sc))


@pytest.mark.parametrize("ours", ["server", "client"])
def test_keepalive_abort_after_long_stall(ours: str) -> None:
    sc = Scenario(
        ours, True, 16, False, b"abcd", NOW, None, (Stall(30.0),), Close(1000, b"", b"", NOW)
    )
    outcome = run(sc)
    check(sc, outcome)
    closes = [f.close_code for f in outcome.peer.frames if f.opcode == CLOSE]
    assert closes == [1011]


# Regression: serve_stream() raised UnboundLocalError when open_timeout ran out.
@pytest.mark.parametrize("ours", ["server", "client"])
@pytest.mark.parametrize("kind", ["partial", "silent"])
def test_slow_handshake_dropped_at_open_timeout(ours: str, kind: str) -> None:
    data = (REQUEST if ours == "server" else response_101(KEY))[:10] if kind == "partial" else b""
    sc = Scenario(
        ours, False, 16, False, b"abcd", NOW, HandshakeFault(kind, data, "open"), (), HalfClose()
    )
    outcome = run(sc)
    check(sc, outcome)
    assert OPEN_TIMEOUT <= outcome.elapsed <= OPEN_TIMEOUT + PROMPT


# Regression: bytes that ended the connection, read together with the handshake, left the
# transport open until close_timeout (and our client did not send the close frame it owed).
@pytest.mark.parametrize("ours", ["server", "client"])
@pytest.mark.parametrize(
    "terminal",
    [
        Violation("reserved_opcode", 1002, (FrameSpec(5),), NOW),
        Close(1000, b"", b"", NOW),
    ],
    ids=["violation", "close"],
)
def test_end_read_with_the_handshake_closes_promptly(ours: str, terminal: Terminal) -> None:
    # The handshake's bytes are kept (now=False) and leave in one write with the terminal's.
    sc = Scenario(ours, False, 16, True, b"abcd", Chunking((), (0.0,), False), None, (), terminal)
    outcome = run(sc)
    assert outcome.peer.terminal_with_handshake
    assert outcome.elapsed <= PROMPT, f"transport closed after {outcome.elapsed} s"


# Regression: messages read together with a close frame or a violation were dropped when
# they did not fit in the receive queue, and the close frame owed waited for close_timeout.
@pytest.mark.parametrize("ours", ["server", "client"])
@pytest.mark.parametrize(
    "terminal",
    [
        Violation("reserved_opcode", 1002, (FrameSpec(5),), NOW),
        Close(1000, b"", b"", NOW),
    ],
    ids=["violation", "close"],
)
def test_messages_read_with_the_close_are_delivered(ours: str, terminal: Terminal) -> None:
    # Four messages and the terminal frame leave in one write; our side's queue holds one.
    later = Chunking((), (0.0,), False)
    actions = tuple(Message(text, (), (), later) for text in "abcd")
    sc = Scenario(ours, False, 1, False, b"abcd", NOW, None, actions, terminal)
    failures = []
    for seed in range(8):  # the outcome depends on how trio schedules the tasks
        outcome = run(sc, seed)
        assert outcome.peer.data_frames_with_terminal == 4
        closes = [f.close_code for f in outcome.peer.frames if f.opcode == CLOSE]
        if outcome.ours.got != list("abcd") or outcome.elapsed > PROMPT or not closes:
            failures.append((seed, outcome.ours.got, outcome.elapsed, closes))
    assert not failures, failures


def test_half_close_while_our_keepalive_ping_waits_for_its_pong() -> None:
    """Found in the full suite: the peer stalls twice mid-message, our keepalive pings
    meanwhile, and the peer half-closes before its reader answers. The pong it then cannot
    send is the peer's own doing, not our side closing early."""
    sc = Scenario(
        "server",
        True,
        1,
        False,
        b"abcd",
        NOW,
        None,
        (
            Message("one", (), (), NOW),
            Message("two", (), (), NOW),
            Message("three and more", (3, 6), (Stall(2.5), Stall(2.5)), NOW),
        ),
        HalfClose(),
    )
    outcome = run(sc)
    check(sc, outcome)
    assert any(frame.opcode == PING for frame in outcome.peer.frames)  # the case it is about
