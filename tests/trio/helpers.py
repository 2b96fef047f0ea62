"""Helpers for the Trio layer tests: an in-memory client/server pair and a raw peer."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

import trio_ws
from trio_ws import Options, WebSocketConnection, WebSocketRequest
from trio_ws.protocol._frames import serialize_frame

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FAST = {"ping_interval": None, "close_timeout": 2.0, "open_timeout": 2.0}


def options(**overrides: Any) -> Options:
    return Options(**{**FAST, **overrides})


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept(
        subprotocol=request.subprotocols[0] if request.subprotocols else None
    )
    async for message in ws:
        await ws.send(message)


@asynccontextmanager
async def pair(
    handler: Callable[[WebSocketRequest], Awaitable[Any]] = echo,
    *,
    client: Options | None = None,
    server: Options | None = None,
    lockstep: bool = False,
    subprotocols: tuple[str, ...] = (),
) -> AsyncIterator[WebSocketConnection]:
    """A client connected in memory to ``handler`` served by trio_ws."""
    make = trio.testing.lockstep_stream_pair if lockstep else trio.testing.memory_stream_pair
    client_stream, server_stream = make()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: trio_ws.serve_stream(handler, server_stream, options=server or options())
        )
        async with trio_ws.open_websocket_stream(
            client_stream, host="test", options=client or options(), subprotocols=subprotocols
        ) as ws:
            yield ws


class ServerSide:
    """A handler that hands its accepted connection to the test and waits to be released."""

    def __init__(self) -> None:
        self.ready = trio.Event()
        self.release = trio.Event()
        self.ws: WebSocketConnection | None = None
        self.error: BaseException | None = None

    async def __call__(self, request: WebSocketRequest) -> None:
        self.ws = ws = await request.accept()
        self.ready.set()
        async with trio.open_nursery() as nursery:

            async def released() -> None:
                await self.release.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(released)
            await ws.wait_closed()
            nursery.cancel_scope.cancel()


class RawPeer:
    """A hand-written WebSocket peer over a trio stream, for fault injection."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = b""

    async def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    async def accept_handshake(self) -> None:
        """Play a server: read the request and answer 101."""
        head = await self.read_until(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
        await self.stream.send_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )

    async def send_frame(self, opcode: int, payload: bytes = b"", *, mask: bool = False) -> None:
        key = b"\x01\x02\x03\x04" if mask else None
        await self.stream.send_all(serialize_frame(opcode, payload, mask_key=key))

    async def read_frame(self) -> tuple[int, bytes]:
        """Read one frame the library sent (unmasking if needed)."""
        while True:
            frame = _parse(self.buffer)
            if frame is not None:
                opcode, payload, used = frame
                self.buffer = self.buffer[used:]
                return opcode, payload
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data


def _parse(buf: bytes) -> tuple[int, bytes, int] | None:
    if len(buf) < 2:
        return None
    opcode = buf[0] & 0x0F
    length = buf[1] & 0x7F
    pos = 2
    if length == 126:
        if len(buf) < 4:
            return None
        length = int.from_bytes(buf[2:4], "big")
        pos = 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length = int.from_bytes(buf[2:10], "big")
        pos = 10
    key = None
    if buf[1] & 0x80:
        if len(buf) < pos + 4:
            return None
        key = buf[pos : pos + 4]
        pos += 4
    if len(buf) < pos + length:
        return None
    payload = buf[pos : pos + length]
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return opcode, payload, pos + length
