"""The one load generator of bench/run.py: plain asyncio, frames built before the clock starts.

Every server gets the same client: masked frames (or, for the raw server, length-prefixed
messages) are built once per scenario, and incoming frames are only counted, never copied
(payloads are skipped by length). So the client costs the same whatever the server, and what
differs between rows is the server.

Run by bench/run.py, one process per measurement::

    python bench/loadgen.py --kind ws --port P --control C --scenario rt_1k --duration 1

It prints one JSON line: ``ops``, ``seconds`` (wall time of the timed part), ``cpu`` (the
server's CPU seconds over it, from its control port) and, for memory scenarios,
``rss_kib_per_conn``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import struct
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from deflate_throughput import messages as json_messages

HOST = "127.0.0.1"
MASK_KEY = b"\x12\x34\x56\x78"


# --- Wire formats -------------------------------------------------------------------------


def mask(data: bytes, key: bytes) -> bytes:
    n = len(data)
    keystream = (key * ((n + 3) // 4))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")


def ws_frame(payload: bytes, opcode: int = 2, rsv: int = 0) -> bytes:
    """A masked client frame (RFC 6455 §5.2)."""
    n = len(payload)
    b0 = 0x80 | rsv | opcode
    if n < 126:
        header = bytes((b0, 0x80 | n))
    elif n < 65536:
        header = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return header + MASK_KEY + mask(payload, MASK_KEY)


def raw_frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


def handshake_request(port: int, extensions: str | None) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET / HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


CLOSE_FRAME = ws_frame(struct.pack("!H", 1000), opcode=8)


class Client(asyncio.Protocol):
    """One connection: does the handshake (ws), then counts incoming messages."""

    def __init__(self, kind: str, request: bytes | None) -> None:
        self.kind = kind
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.response = b""
        self.buf = b""
        self.skip = 0
        self.count = 0
        self.target = 0
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.handshaking = kind == "ws"

    # asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if self.handshaking:
            transport.write(self.request)
        else:
            self.opened.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        for fut in (self.opened, self.waiter):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        if self.handshaking:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.response, data = self.head[: end + 4], self.head[end + 4 :]
            self.handshaking = False
            if not self.response.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(self.response.decode(errors="replace")))
                return
            self.opened.set_result(None)
            if not data:
                return
        if self.buf:
            data = self.buf + data
            self.buf = b""
        pos = 0
        end = len(data)
        raw = self.kind == "raw"
        while True:
            if self.skip:
                take = min(self.skip, end - pos)
                self.skip -= take
                pos += take
                if self.skip:
                    return
                self._message()
            if pos >= end:
                return
            if raw:
                if end - pos < 4:
                    self.buf = data[pos:]
                    return
                length = int.from_bytes(data[pos : pos + 4], "big")
                pos += 4
            else:
                if end - pos < 2:
                    self.buf = data[pos:]
                    return
                b0 = data[pos]
                length = data[pos + 1] & 0x7F
                head = 2 if length < 126 else 4 if length == 126 else 10
                if end - pos < head:
                    self.buf = data[pos:]
                    return
                if head == 4:
                    length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                elif head == 10:
                    length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                pos += head
                if b0 & 0x0F == 8:
                    self.closed = True
                    if self.waiter is not None and not self.waiter.done():
                        self.waiter.set_exception(ConnectionError("close frame received"))
                    return
            if length:
                self.skip = length
            else:
                self._message()

    def _message(self) -> None:
        self.count += 1
        if self.waiter is not None and self.count >= self.target and not self.waiter.done():
            self.waiter.set_result(None)

    # For the scenarios
    async def wait_count(self, target: int) -> None:
        if self.count >= target:
            return
        self.target = target
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter

    async def roundtrip(self, frame: bytes) -> None:
        target = self.count + 1
        self.write(frame)
        await self.wait_count(target)

    def write(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]


class H2Client(Client):
    """One WebSocket over HTTP/2 (RFC 8441): h2c with prior knowledge, one extended CONNECT
    stream; the frames on it are parsed by :class:`Client` as over TCP."""

    def __init__(self, port: int) -> None:
        import h2.config
        import h2.connection

        super().__init__("ws", None)
        self.handshaking = False
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config)
        self.port = port
        self.pending = b""
        self.asked = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        import h2.events

        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged) and not self.asked:
                self.asked = True
                self.h2.send_headers(
                    1,
                    [
                        (":method", "CONNECT"),
                        (":protocol", "websocket"),
                        (":scheme", "http"),
                        (":path", "/"),
                        (":authority", f"{HOST}:{self.port}"),
                        ("sec-websocket-version", "13"),
                    ],
                )
            elif isinstance(event, h2.events.ResponseReceived):
                self.opened.set_result(None)
            elif isinstance(event, h2.events.DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length, 1)
                Client.data_received(self, event.data)
            elif isinstance(event, h2.events.WindowUpdated):
                self._send_pending()
        self.transport.write(self.h2.data_to_send())  # type: ignore[union-attr]

    def write(self, data: bytes) -> None:
        self.pending += data
        self._send_pending()
        self.transport.write(self.h2.data_to_send())  # type: ignore[union-attr]

    def _send_pending(self) -> None:
        while self.pending:
            window = self.h2.local_flow_control_window(1)
            size = min(window, self.h2.max_outbound_frame_size, len(self.pending))
            if size <= 0:
                return
            self.h2.send_data(1, self.pending[:size])
            self.pending = self.pending[size:]


# --- Control port ---------------------------------------------------------------------------


class Control:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.file = self.sock.makefile("rwb")

    def ask(self, command: str) -> str:
        self.file.write(command.encode() + b"\n")
        self.file.flush()
        return self.file.readline().decode().strip()

    def stats(self) -> dict[str, float]:
        return json.loads(self.ask("stats"))


# --- Scenarios ------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.kind = args.kind
        self.port = args.port
        self.duration = args.duration
        self.control = Control(args.control)
        self.loop = asyncio.get_running_loop()

    async def connect(self, extensions: str | None = None) -> Client:
        if self.kind == "h2":
            _, client = await self.loop.create_connection(
                lambda: H2Client(self.port), HOST, self.port
            )
            await client.opened
            return client
        request = handshake_request(self.port, extensions) if self.kind == "ws" else None
        _, client = await self.loop.create_connection(
            lambda: Client(self.kind, request), HOST, self.port
        )
        await client.opened
        return client

    def frame(self, payload: bytes, opcode: int = 2) -> bytes:
        return raw_frame(payload) if self.kind == "raw" else ws_frame(payload, opcode)

    async def timed(self, step: Callable[[], Any], warmup: int = 20) -> dict[str, float]:
        """Run ``step`` (a coroutine function returning an op count) until the duration ends."""
        for _ in range(warmup):
            await step()
        before = self.control.stats()
        start = time.perf_counter()
        deadline = start + self.duration
        ops = 0
        while True:
            ops += await step()
            now = time.perf_counter()
            if now >= deadline:
                break
        after = self.control.stats()
        return {"ops": ops, "seconds": now - start, "cpu": after["cpu"] - before["cpu"]}

    async def roundtrips(self, size: int, text: bool = False) -> dict[str, float]:
        client = await self.connect()
        payload = (b"x" if text else b"\xa5") * size
        frame = self.frame(payload, 1 if text else 2)

        async def step() -> int:
            await client.roundtrip(frame)
            return 1

        warmup = 3 if size >= 1 << 20 else 20
        return await self.timed(step, warmup)

    async def pipelined(self, size: int) -> dict[str, float]:
        client = await self.connect()
        batch = 64 if size <= 1024 else 4
        window = batch * 4
        frames = self.frame(b"\xa5" * size) * batch
        sent = 0

        async def step() -> int:
            nonlocal sent
            # Keep up to ``window`` messages in flight; write them in batches.
            client.write(frames)
            sent += batch
            await client.wait_count(sent - window + batch)
            return batch

        result = await self.timed(step, 4)
        await client.wait_count(sent)
        return result

    async def many_connections(self, count: int, size: int) -> dict[str, float]:
        clients = [await self.connect() for _ in range(count)]
        frame = self.frame(b"\xa5" * size)

        async def one(client: Client) -> None:
            await client.roundtrip(frame)

        async def step() -> int:
            await asyncio.gather(*(one(client) for client in clients))
            return count

        return await self.timed(step, 3)

    async def lifecycle(self) -> None:
        """One connection from TCP connect to TCP close, with one small message each way."""
        client = await self.connect()
        await client.roundtrip(self.frame(b"hello"))
        if self.kind == "ws":
            client.transport.write(CLOSE_FRAME)  # type: ignore[union-attr]
            await client.lost  # the server closes TCP first (RFC 6455 §7.1.1)
        else:
            client.transport.close()  # type: ignore[union-attr]

    async def handshakes(self, concurrency: int) -> dict[str, float]:
        async def step() -> int:
            await asyncio.gather(*(self.lifecycle() for _ in range(concurrency)))
            return concurrency

        return await self.timed(step, 3)

    async def idle_memory(self, count: int, compression: bool) -> dict[str, float]:
        extensions = "permessage-deflate; client_max_window_bits" if compression else None
        small = self.frame(b"\xa5" * 32)

        async def open_one() -> Client:
            client = await self.connect(extensions)
            await client.roundtrip(small)  # below the compression threshold on every server
            return client

        async def open_many(n: int) -> list[Client]:
            clients: list[Client] = []
            for start in range(0, n, 50):
                clients += await asyncio.gather(*(open_one() for _ in range(min(50, n - start))))
            return clients

        # Warm the server's allocators and caches, then measure from there.
        for client in await open_many(100):
            client.transport.abort()  # type: ignore[union-attr]
        await asyncio.sleep(0.5)
        self.control.ask("gc")
        before = self.control.stats()
        clients = await open_many(count)
        await asyncio.sleep(0.5)
        self.control.ask("gc")
        after = self.control.stats()
        if compression and self.kind == "ws":
            negotiated = b"permessage-deflate" in clients[0].response
        else:
            negotiated = False
        for client in clients:
            client.transport.abort()  # type: ignore[union-attr]
        return {
            "ops": count,
            "seconds": 0.0,
            "cpu": after["cpu"] - before["cpu"],
            "rss_kib_per_conn": (after["rss_kib"] - before["rss_kib"]) / count,
            "compressed": negotiated,
        }

    async def compression(self) -> dict[str, float]:
        # Each message is compressed on its own (client_no_context_takeover), so the same
        # pre-built frames can be sent again and again; the server inflates every one and
        # deflates its echo with its own settings.
        client = await self.connect(
            "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        )
        response = client.response.decode().lower()
        if "permessage-deflate" not in response:
            raise RuntimeError("the server did not accept permessage-deflate")
        bits = 15
        if "client_max_window_bits=" in response:
            bits = int(response.split("client_max_window_bits=")[1][:2].strip(";\r "))
        frames = []
        for message in json_messages(16):
            compressor = zlib.compressobj(6, zlib.DEFLATED, -bits)
            payload = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
            frames.append(ws_frame(payload[:-4], opcode=1, rsv=0x40))
        index = 0

        async def step() -> int:
            nonlocal index
            await client.roundtrip(frames[index])
            index = (index + 1) % len(frames)
            return 1

        return await self.timed(step, 16)

    async def broadcast(self, count: int, size: int) -> dict[str, float]:
        clients: list[Client] = []
        for start in range(0, count, 50):
            clients += await asyncio.gather(
                *(self.connect() for _ in range(min(50, count - start)))
            )
        # One round trip each: the server's handler is then running and knows the connection.
        small = self.frame(b"hi")
        await asyncio.gather(*(client.roundtrip(small) for client in clients))
        received = 1

        async def step() -> int:
            nonlocal received
            received += 1
            reply = self.loop.run_in_executor(None, self.control.ask, f"broadcast {size}")
            await asyncio.gather(*(client.wait_count(received) for client in clients))
            await reply
            return count

        result = await self.timed(step, 2)
        for client in clients:
            client.transport.abort()  # type: ignore[union-attr]
        return result


SCENARIOS: dict[str, Callable[[Bench], Any]] = {
    "rt_32": lambda b: b.roundtrips(32),
    "rt_1k": lambda b: b.roundtrips(1024),
    "rt_64k": lambda b: b.roundtrips(65536),
    "rt_1m": lambda b: b.roundtrips(1 << 20),
    "rt_text_1k": lambda b: b.roundtrips(1024, text=True),
    "pipe_1k": lambda b: b.pipelined(1024),
    "pipe_64k": lambda b: b.pipelined(65536),
    "conns100_256": lambda b: b.many_connections(100, 256),
    "hs_seq": lambda b: b.handshakes(1),
    "hs_50": lambda b: b.handshakes(50),
    "deflate_16k_json": lambda b: b.compression(),
    "broadcast_500": lambda b: b.broadcast(500, 1024),
    "mem_plain": lambda b: b.idle_memory(b.count, False),
    "mem_deflate": lambda b: b.idle_memory(b.count, True),
}


async def main(args: argparse.Namespace) -> None:
    bench = Bench(args)
    bench.count = args.count  # type: ignore[attr-defined]
    result = await SCENARIOS[args.scenario](bench)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["ws", "raw", "h2"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--count", type=int, default=2000)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(parser.parse_args()))
