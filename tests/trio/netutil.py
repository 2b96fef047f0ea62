"""Loopback helpers: a served trio_ws server and raw HTTP over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

import trio_ws


@asynccontextmanager
async def running_server(handler: Any, **kwargs: Any) -> AsyncIterator[trio_ws.Server]:
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("close_timeout", 2)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: trio_ws.serve(
                handler, "127.0.0.1", 0, task_status=task_status, **kwargs
            )
        )
        try:
            yield server
        finally:
            await server.aclose()


async def raw_http(port: int, request: bytes, *, read_all: bool = True) -> bytes:
    """Send raw bytes to 127.0.0.1:port and read until the server closes."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
            if not read_all and b"\r\n\r\n" in data:
                break
        return data


def upgrade_request(path: str = "/", *, extra: bytes = b"", version: bytes = b"13") -> bytes:
    return (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: " + version + b"\r\n" + extra + b"\r\n"
    )
