"""A raw WebSocket peer for conformance tests: frames crafted byte by byte, nothing reused.

Nothing here imports trio_ws's protocol code: frames are built and parsed with ``struct``,
masking is a plain XOR, the opening handshake is written and read as text. The peer drives
OUR side (a server through :func:`trio_ws.serve_stream`, or a client through
:func:`trio_ws.open_websocket_stream`) over an in-memory stream pair; OUR side runs an echo
loop (see :func:`connected`).

Vocabulary: ``ours`` is the role of the side under test ("server" or "client"); the raw peer
plays the other role, so it masks its frames when ``ours == "server"``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

import trio_ws

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TAIL = b"\x00\x00\xff\xff"

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10

#: The close code the raw peer reports when the stream ended without a close frame.
NO_CLOSE_FRAME = 1006


def accept_value(key: str | bytes) -> str:
    """Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2), computed here independently."""
    if isinstance(key, str):
        key = key.encode("ascii")
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode("ascii")


def xor_mask(payload: bytes, key: bytes) -> bytes:
    """Mask or unmask ``payload`` (RFC 6455 §5.3): a whole-payload integer XOR."""
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = False,
    key: bytes | None = None,
    length_bits: int | None = None,
    declared_length: int | None = None,
) -> bytes:
    """Serialize one frame.

    Args:
        opcode: Any 4-bit value, reserved ones included.
        payload: The (unmasked) payload.
        fin: The FIN bit.
        rsv: RSV bits as they sit in the first byte (``RSV1 | RSV3``...).
        mask: Mask the payload with ``key`` (a random key by default).
        key: The masking key.
        length_bits: Force the 7-, 16- or 64-bit length encoding (non-minimal encodings).
        declared_length: Put this length in the header instead of the payload's.
    """
    length = len(payload) if declared_length is None else declared_length
    if length_bits is None:
        length_bits = 7 if length < 126 else 16 if length < 65536 else 64
    head = bytes([(0x80 if fin else 0) | rsv | (opcode & 0x0F)])
    mask_bit = 0x80 if mask else 0
    if length_bits == 7:
        head += bytes([mask_bit | length])
    elif length_bits == 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if mask:
        key = key if key is not None else os.urandom(4)
        return head + key + xor_mask(payload, key)
    return head + payload


def close_payload(code: int | None, reason: bytes | str = b"") -> bytes:
    """The payload of a close frame (empty when ``code`` is None)."""
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


@dataclass
class Frame:
    """One frame received from our side, unmasked."""

    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    masked: bool

    @property
    def close_code(self) -> int | None:
        """The code of a close frame (None for an empty payload)."""
        assert self.opcode == CLOSE, self
        if not self.payload:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    @property
    def close_reason(self) -> str:
        """The reason of a close frame."""
        return self.payload[2:].decode("utf-8")


class PeerClosed(AssertionError):
    """Our side closed the stream where the test expected a frame."""


@dataclass
class Deflate:
    """One direction of permessage-deflate, done with zlib by hand (RFC 7692 §7.2)."""

    window_bits: int = 15
    no_context_takeover: bool = False
    _zlib: object | None = field(default=None, repr=False)

    def compress(self, data: bytes) -> bytes:
        """Deflate one message: sync-flush, then drop the 00 00 ff ff tail."""
        if self._zlib is None or self.no_context_takeover:
            self._zlib = zlib.compressobj(9, zlib.DEFLATED, -self.window_bits)
        out = self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)  # type: ignore[attr-defined]
        assert out.endswith(TAIL)
        return out[:-4]

    def decompress(self, data: bytes) -> bytes:
        """Inflate one message: append the 00 00 ff ff tail first."""
        if self._zlib is None or self.no_context_takeover:
            self._zlib = zlib.decompressobj(-self.window_bits)
        return self._zlib.decompress(data + TAIL)  # type: ignore[attr-defined]


class RawPeer:
    """The other end of the connection, speaking bytes.

    Args:
        stream: Our side's peer stream.
        is_client: The raw peer's role: a client masks what it sends and expects unmasked
            frames.
    """

    #: The most one read takes from the stream.
    read_size = 65536

    def __init__(self, stream: trio.abc.Stream, *, is_client: bool) -> None:
        self.stream = stream
        self.is_client = is_client
        self.buffer = bytearray()
        self.eof = False
        #: What we send compressed with, and how we inflate what our side sends (if negotiated).
        self.deflate: Deflate | None = None
        self.inflate: Deflate | None = None
        self.response_headers: dict[str, str] = {}
        self.request_headers: dict[str, str] = {}
        self.status = 0

    # --- Bytes ------------------------------------------------------------------------------

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are."""
        await self.stream.send_all(data)

    async def send_frame(self, opcode: int, payload: bytes = b"", **kwargs: object) -> None:
        """Build a frame (masked when the raw peer is a client) and send it."""
        kwargs.setdefault("mask", self.is_client)
        await self.send_raw(build_frame(opcode, payload, **kwargs))  # type: ignore[arg-type]

    async def send_text(self, text: str | bytes, **kwargs: object) -> None:
        """Send a text frame (``bytes`` go out as they are, valid UTF-8 or not)."""
        payload = text.encode("utf-8") if isinstance(text, str) else text
        await self.send_frame(TEXT, payload, **kwargs)

    async def send_close(self, code: int | None = 1000, reason: bytes | str = b"") -> None:
        """Send a close frame."""
        await self.send_frame(CLOSE, close_payload(code, reason))

    async def send_compressed(self, opcode: int, data: bytes, *, pieces: int = 1) -> None:
        """Send one compressed message, split in ``pieces`` frames (RSV1 on the first only)."""
        assert self.deflate is not None, "permessage-deflate was not negotiated"
        payload = self.deflate.compress(data)
        step = max(1, -(-len(payload) // pieces))
        chunks = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        for index, chunk in enumerate(chunks):
            await self.send_frame(
                opcode if index == 0 else CONTINUATION,
                chunk,
                fin=index == len(chunks) - 1,
                rsv=RSV1 if index == 0 else 0,
            )

    async def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = await self.stream.receive_some(self.read_size)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    async def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not await self._fill():
                raise PeerClosed(f"stream ended, {size - len(self.buffer)} bytes short")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_eof(self) -> None:
        """Wait until our side closes the stream; fail if it sends bytes before."""
        while await self._fill():
            pass
        assert not self.buffer, f"unexpected bytes before EOF: {bytes(self.buffer[:40])!r}"

    # --- Frames -----------------------------------------------------------------------------

    async def read_frame(self) -> Frame:
        """Read one frame from our side and check its masking (RFC 6455 §5.1)."""
        b0, b1 = await self._read_exactly(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self._read_exactly(8))
        masked = bool(b1 & 0x80)
        key = await self._read_exactly(4) if masked else b""
        payload = await self._read_exactly(length)
        if masked:
            payload = xor_mask(payload, key)
        # A client masks every frame; a server never does.
        assert masked is not self.is_client, f"masked={masked} frame from our side"
        return Frame(bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, payload, masked)

    async def read_message(self) -> tuple[int, bytes]:
        """Read one data message (inflating it if RSV1 says so); return opcode and payload."""
        first = await self.read_frame()
        if first.opcode == CLOSE:
            raise AssertionError(f"close frame {first.close_code} {first.payload[2:]!r}")
        assert first.opcode in (TEXT, BINARY), first
        parts = [first.payload]
        frame = first
        while not frame.fin:
            frame = await self.read_frame()
            assert frame.opcode == CONTINUATION, frame
            assert frame.rsv == 0, frame
            parts.append(frame.payload)
        payload = b"".join(parts)
        if first.rsv & RSV1:
            assert self.inflate is not None, "RSV1 without permessage-deflate"
            payload = self.inflate.decompress(payload)
        else:
            assert first.rsv == 0, first
        return first.opcode, payload

    async def read_close(self) -> Frame:
        """Read frames until a close frame arrives; data frames and pongs are skipped.

        Raises:
            PeerClosed: the stream ended first (the close code would be 1006).
        """
        while True:
            frame = await self.read_frame()
            if frame.opcode == CLOSE:
                return frame

    async def expect_close(self, code: int | None) -> Frame:
        """Read until the close frame, and check its code."""
        frame = await self.read_close()
        assert frame.close_code == code, (frame.close_code, frame.payload[2:])
        return frame

    async def echo(self, data: str | bytes, **kwargs: object) -> None:
        """Send a text (``str``) or binary (``bytes``) message and check it comes back."""
        if isinstance(data, str):
            await self.send_frame(TEXT, data.encode("utf-8"), **kwargs)
            assert await self.read_message() == (TEXT, data.encode("utf-8"))
        else:
            await self.send_frame(BINARY, data, **kwargs)
            assert await self.read_message() == (BINARY, data)

    # --- Opening handshake, by hand ---------------------------------------------------------

    async def _read_head(self) -> list[str]:
        while b"\r\n\r\n" not in self.buffer:
            if not await self._fill():
                raise PeerClosed(f"stream ended in the HTTP head: {bytes(self.buffer)!r}")
        end = self.buffer.index(b"\r\n\r\n")
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        return head.split("\r\n")

    @staticmethod
    def _headers(lines: Sequence[str]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = (
                f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
            )
        return headers

    async def client_handshake(
        self, *, extensions: str | None = None, subprotocols: str | None = None
    ) -> int:
        """Send an upgrade request written by hand, check the answer, return its status."""
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        lines = [
            "GET /chat HTTP/1.1",
            "Host: example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if extensions is not None:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        if subprotocols is not None:
            lines.append(f"Sec-WebSocket-Protocol: {subprotocols}")
        await self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status_line, *header_lines = await self._read_head()
        self.status = int(status_line.split()[1])
        self.response_headers = self._headers(header_lines)
        if self.status == 101:
            headers = self.response_headers
            assert headers["upgrade"].lower() == "websocket"
            assert "upgrade" in headers["connection"].lower()
            assert headers["sec-websocket-accept"] == accept_value(key)
        return self.status

    async def server_handshake(self, *, extensions: str | None = None) -> dict[str, str]:
        """Read our client's request, check it, answer 101 by hand; return its headers."""
        request_line, *header_lines = await self._read_head()
        method, _target, version = request_line.split()
        assert (method, version) == ("GET", "HTTP/1.1")
        headers = self._headers(header_lines)
        self.request_headers = headers
        assert headers["upgrade"].lower() == "websocket"
        assert "upgrade" in headers["connection"].lower()
        assert headers["sec-websocket-version"] == "13"
        key = headers["sec-websocket-key"]
        assert len(base64.b64decode(key, validate=True)) == 16
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_value(key)}",
        ]
        if extensions is not None:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        await self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return headers

    def use_deflate(self, extension_header: str) -> None:
        """Configure permessage-deflate from the header that negotiated it (RFC 7692 §7.1).

        As the RFC reads, not as our side wishes: an answer without ``client_max_window_bits``
        lets the client deflate with a 15-bit window, whatever it offered (§7.1.2.2); one
        without ``server_max_window_bits`` lets the server do so (§7.1.2.1). The raw peer
        uses the largest window it is allowed, so a gap between what our side announced and
        what it inflates with shows up as a 1007.
        """
        name, *params = (p.strip() for p in extension_header.split(";"))
        assert name == "permessage-deflate", extension_header
        values = {}
        for param in params:
            key, _, value = param.partition("=")
            values[key.strip()] = value.strip().strip('"') or None
        server_bits = int(values.get("server_max_window_bits") or 15)
        client_bits = int(values.get("client_max_window_bits") or 15)
        server = Deflate(max(server_bits, 9), "server_no_context_takeover" in values)
        client = Deflate(max(client_bits, 9), "client_no_context_takeover" in values)
        self.deflate, self.inflate = (client, server) if self.is_client else (server, client)


# --- OUR side, run against the raw peer --------------------------------------------------------


@dataclass
class Ours:
    """What happened on the side under test."""

    role: str
    ws: trio_ws.WebSocketConnection | None = None
    error: BaseException | None = None
    closed: trio.Event = field(default_factory=trio.Event)
    #: Every message our side's application received, in order.
    received: list[str | bytes] = field(default_factory=list)


def options(**kwargs: object) -> trio_ws.Options:
    """Options for the side under test: no keepalive, short timeouts, plus ``kwargs``."""
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("close_timeout", 1.0)
    kwargs.setdefault("open_timeout", 2.0)
    return trio_ws.Options(**kwargs)  # type: ignore[arg-type]


async def _echo(ws: trio_ws.WebSocketConnection, ours: Ours) -> None:
    """Echo every message; ``"!close CODE REASON"`` makes our side close instead."""
    # A receive() loop rather than ``async for``: leaving ``async for`` by an exception
    # (send() raising ConnectionClosed) leaves the connection's async generator unfinished,
    # and trio warns (ResourceWarning) when it is garbage collected.
    try:
        while True:
            message = await ws.receive()
            ours.received.append(message)
            if isinstance(message, str) and message.startswith("!close "):
                _, code, reason = message.split(" ", 2)
                await ws.aclose(int(code), reason)
                return
            await ws.send(message)
    except trio_ws.ConnectionClosed:
        pass


async def _run_server(
    stream: trio.abc.Stream, opts: trio_ws.Options, ours: Ours, http2: bool = False
) -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        try:
            ours.ws = await request.accept()
            await _echo(ours.ws, ours)
        except Exception as exc:
            ours.error = exc
        finally:
            if http2:  # the HTTP/2 connection outlives the stream: done with the handler
                ours.closed.set()

    try:
        await trio_ws.serve_stream(handler, stream, options=opts, http2=http2)
    finally:
        ours.closed.set()


async def _run_client(
    stream: trio.abc.Stream, opts: trio_ws.Options, ours: Ours, http2: bool = False
) -> None:
    try:
        async with trio_ws.open_websocket_stream(
            stream, host="example.com", options=opts, http2=http2
        ) as ws:
            ours.ws = ws
            await _echo(ws, ours)
    except Exception as exc:
        ours.error = exc
    finally:
        ours.closed.set()


@asynccontextmanager
async def connected(
    ours_role: str,
    opts: trio_ws.Options | None = None,
    *,
    offer: str | None = None,
    answer: str | None = None,
    handshake: bool = True,
    allow_error: bool = False,
) -> AsyncIterator[tuple[RawPeer, Ours]]:
    """Run OUR side (``"server"`` or ``"client"``) against a raw peer, over memory streams.

    Args:
        ours_role: The role under test.
        opts: Options of our side (see :func:`options`).
        offer: The raw client's Sec-WebSocket-Extensions header (our server under test).
        answer: The raw server's Sec-WebSocket-Extensions header (our client under test).
        handshake: Do the opening handshake before yielding.
        allow_error: Do not re-raise an exception our side's code ended with.

    Yields:
        The raw peer, and what happens on our side. When the block ends the raw peer's stream
        is closed, and our side gets one second to finish before it is cancelled.
    """
    opts = opts or options()
    our_stream, raw_stream = trio.testing.memory_stream_pair()
    ours = Ours(ours_role)
    http2 = TRANSPORT == "http2"
    async with trio.open_nursery() as nursery:
        runner = _run_server if ours_role == "server" else _run_client
        nursery.start_soon(runner, our_stream, opts, ours, http2)
        peer_stream: trio.abc.Stream = raw_stream
        fields: dict[str, str] = {}  # the extended CONNECT's request or answer, over HTTP/2
        if http2:
            peer_stream, fields = await _extended_connect(
                nursery, raw_stream, ours_role, offer, answer
            )
        peer = RawPeer(peer_stream, is_client=ours_role == "server")
        try:
            if handshake:
                if ours_role == "server":
                    if http2:
                        peer.status = 101  # the extended CONNECT's 200: the same meaning
                        peer.response_headers = fields
                    else:
                        await peer.client_handshake(extensions=offer)
                    header = peer.response_headers.get("sec-websocket-extensions")
                else:
                    if http2:
                        peer.request_headers = fields
                    else:
                        await peer.server_handshake(extensions=answer)
                    header = answer
                # Only a single permessage-deflate answer configures the raw peer; other
                # answers are there to be refused by our client.
                if header and header.startswith("permessage-deflate") and "," not in header:
                    peer.use_deflate(header)
            yield peer, ours
        finally:
            await trio.aclose_forcefully(peer_stream)
            await trio.aclose_forcefully(raw_stream)
            with trio.move_on_after(1):
                await ours.closed.wait()
            nursery.cancel_scope.cancel()
    if ours.error is not None and not allow_error:
        raise AssertionError(f"our {ours_role} failed: {ours.error!r}") from ours.error


#: What the cases run over: "http1" (the stream is the connection, as TCP) or "http2" (the
#: stream is one HTTP/2 stream opened by an extended CONNECT, RFC 8441). Set per case by
#: tests/conformance/conftest.py, which runs every case over both.
TRANSPORT = "http1"


async def _extended_connect(
    nursery: trio.Nursery,
    raw_stream: trio.abc.Stream,
    ours_role: str,
    offer: str | None,
    answer: str | None,
) -> tuple[trio.abc.Stream, dict[str, str]]:
    """The raw peer's side of an HTTP/2 connection: one extended CONNECT stream, and the
    header fields of our client's request or of our server's answer."""
    # Imported here: the raw peer's HTTP/2 framing is trio-ws's own session (h2 underneath);
    # what is under test is the WebSocket conversation on the stream, still byte by byte.
    from trio_ws._h2_session import Session

    def text(fields: list[tuple[bytes, bytes]]) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in fields if not k.startswith(b":")}

    if ours_role == "server":
        client = Session(raw_stream, client=True)
        await nursery.start(client.run)
        await client.wait_settings()
        request = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/chat"),
            (":authority", "example.com"),
            ("sec-websocket-version", "13"),
        ]
        if offer is not None:
            request.append(("sec-websocket-extensions", offer))
        channel = await client.open_stream(request)
        fields = await client.response(channel)
        assert (b":status", b"200") in fields, fields
        return channel, text(fields)
    arrived: list[tuple[object, list[tuple[bytes, bytes]]]] = []
    got_one = trio.Event()

    def on_request(channel: object, fields: list[tuple[bytes, bytes]], ended: bool) -> None:
        arrived.append((channel, fields))
        got_one.set()

    server = Session(raw_stream, client=False, on_request=on_request)
    await nursery.start(server.run)
    await got_one.wait()
    channel, fields = arrived[0]
    headers = dict(fields)
    assert headers[b":method"] == b"CONNECT" and headers[b":protocol"] == b"websocket", fields
    reply = [(":status", "200")]
    if answer is not None:
        reply.append(("sec-websocket-extensions", answer))
    await server.send_headers(channel.stream_id, reply)  # type: ignore[attr-defined]
    return channel, text(fields)  # type: ignore[return-value]


#: Parametrize a test over the role under test (for rules that hold for both ends).
both_roles = pytest.mark.parametrize("ours", ["server", "client"])

#: The bound on every conformance case: a failure must be prompt, never a hang.
PROMPT = 2
