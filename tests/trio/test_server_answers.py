"""What the server answers by itself: plain HTTP to a WebSocket-only handler, HTTP errors
that must reach the client (issue 16 item 4, issue 15 item 5)."""

from __future__ import annotations

import logging

import pytest
import trio

import trio_ws

from .netutil import raw_http, running_server

pytestmark = pytest.mark.network


async def minimal(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send(message)


async def test_plain_http_to_a_minimal_handler_gets_426(caplog: pytest.LogCaptureFixture) -> None:
    curl = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
    with trio.fail_after(10), caplog.at_level(logging.DEBUG, logger="trio_ws"):
        async with running_server(minimal) as server:
            reply = await raw_http(server.port, curl)
            # The server goes on serving WebSocket clients.
            async with trio_ws.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("still serving")
                assert await ws.receive() == "still serving"
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0] == b"http/1.1 426 upgrade required", reply[:200]
    assert b"upgrade: websocket" in lines
    assert b"content-type: text/plain; charset=utf-8" in lines
    assert body == b"Upgrade Required: this is a WebSocket endpoint.\n"
    assert caplog.records, "the 426 is logged"
    assert all(r.levelno <= logging.INFO for r in caplog.records), caplog.text
    assert not any(r.exc_info for r in caplog.records), caplog.text


async def test_accept_on_plain_http_raises_connection_closed_in_the_handler() -> None:
    seen: list[BaseException] = []

    async def handler(request: trio_ws.WebSocketRequest) -> None:
        try:
            await request.accept()
        except trio_ws.ConnectionClosed as exc:
            seen.append(exc)
            assert request.answered
            raise

    with trio.fail_after(10):
        async with running_server(handler) as server:
            reply = await raw_http(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 426 ")
    assert len(seen) == 1
    assert "426" in str(seen[0])


async def test_a_handler_that_wants_plain_http_still_responds() -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        if not request.is_websocket:
            await request.respond(200, body="hello\n")
            return
        await minimal(request)

    with trio.fail_after(10):
        async with running_server(handler) as server:
            reply = await raw_http(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(b"\r\n\r\nhello\n")


async def _send_then_read(port: int, request: bytes) -> bytes | None:
    """As curl or requests do: send the whole request, then read the answer to its end.

    Returns the status, or ``None`` when the server reset the connection: such a client
    reports the reset and never shows the answer (and on some systems a reset also throws
    away the answer the client's kernel had received).
    """
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        reply = b""
        try:
            await stream.send_all(request)
            while chunk := await stream.receive_some(65536):
                reply += chunk
        except trio.BrokenResourceError:
            return None
    return reply.split(b" ")[1] if reply.startswith(b"HTTP/1.1 ") else None


def _huge_head(size: int) -> bytes:
    return b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"


async def test_a_431_for_a_1_mb_head_reaches_the_client_10_of_10() -> None:
    with trio.fail_after(60):
        async with running_server(minimal) as server:
            statuses = [await _send_then_read(server.port, _huge_head(10**6)) for _ in range(10)]
    assert statuses == [b"431"] * 10


@pytest.mark.parametrize(
    ("handler_kind", "status"),
    [("reject", b"403"), ("respond", b"404"), ("accept", b"426")],
)
async def test_handler_answers_reach_a_client_still_sending(
    handler_kind: str, status: bytes
) -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        if handler_kind == "reject":
            await request.reject(403, body="no\n")
        elif handler_kind == "respond":
            await request.respond(404, body="none\n")
        else:
            await request.accept()

    # A head under the 8 KiB limit followed by 1 MB the server never reads as a request
    # (a body it does not expect): the answer comes while the client is still sending.
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"b" * 2**20
    with trio.fail_after(60):
        async with running_server(handler) as server:
            statuses = [await _send_then_read(server.port, request) for _ in range(3)]
    assert statuses == [status] * 3
