"""Cancelling open_websocket at every checkpoint of the opening leaves no socket open (issue 17).

For each N = 0, 1, 2, ... the opening runs in a cancel scope that an instrument cancels after
the opening task's Nth step (a cancellation then lands at its next checkpoint: connecting,
the TLS handshake, writing the request, reading the answer, the proxy's CONNECT). After each
attempt, every socket made meanwhile (trio's TCP and Unix openers are watched) must already
be closed: not left to the garbage collector. The loop ends at the first N whose opening
completes.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any

import pytest
import trio
import trustme

import trio_ws

from .helpers import echo
from .netutil import running_server
from .proxy_server import ConnectProxy

pytestmark = pytest.mark.network

FAST = {"ping_interval": None, "close_timeout": 2, "open_timeout": 10}


@pytest.fixture(autouse=True)
def sockets(monkeypatch: pytest.MonkeyPatch) -> list[trio.socket.SocketType]:
    """Every socket trio's TCP and Unix openers make during the test."""
    made: list[trio.socket.SocketType] = []

    def recording(*args: Any, **kwargs: Any) -> trio.socket.SocketType:
        sock = trio.socket.socket(*args, **kwargs)
        made.append(sock)
        return sock

    for module in ("_highlevel_open_tcp_stream", "_highlevel_open_unix_stream"):
        monkeypatch.setattr(getattr(trio, module), "socket", recording)
    return made


@contextmanager
def cancelled_after(steps: int) -> Iterator[trio.CancelScope]:
    """A cancel scope that is cancelled after the current task's next ``steps`` steps."""
    with trio.CancelScope() as scope:
        instrument = CancelAfter(trio.lowlevel.current_task(), scope, steps)
        if steps == 0:
            scope.cancel()
        trio.lowlevel.add_instrument(instrument)
        try:
            yield scope
        finally:
            trio.lowlevel.remove_instrument(instrument)


def peer_port(sock: trio.socket.SocketType) -> int | None:
    try:
        return int(sock.getpeername()[1])
    except (OSError, IndexError, TypeError):
        return None  # not connected (or a Unix socket)


class CancelAfter(trio.abc.Instrument):
    """Cancel ``scope`` after ``task`` has run ``steps`` steps."""

    def __init__(self, task: trio.lowlevel.Task, scope: trio.CancelScope, steps: int) -> None:
        self.task = task
        self.scope = scope
        self.left = steps

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.left -= 1
            if self.left == 0:
                self.scope.cancel()


async def cancel_at_every_step(
    open_: Callable[[], AbstractAsyncContextManager[Any]],
    sockets: list[trio.socket.SocketType],
    not_ours: int | None = None,
) -> int:
    """Open with a cancellation after 0, 1, 2... steps; return the steps an opening takes.

    ``not_ours``: a port whose connections are someone else's (a proxy's, to the origin).
    """
    for steps in range(1000):
        opened = False
        before = len(sockets)
        with cancelled_after(steps) as scope:
            try:
                async with open_() as ws:
                    opened = True
                    await ws.send("hello")
                    assert await ws.receive() == "hello"
            except trio_ws.ConnectionClosed:
                pass  # cancelled inside the closing handshake of a connection that opened
        ours = sockets[before:]
        assert ours or not opened, "an opening made no socket: the watch is broken"
        left_open = [sock for sock in ours if sock.fileno() != -1 and peer_port(sock) != not_ours]
        # The server's accepted sockets are not made by these openers; the client's are all
        # closed by the time open_websocket returns or raises.
        assert not left_open, f"cancelled after {steps} steps: {left_open} left open"
        if opened and not scope.cancelled_caught:
            return steps
    raise AssertionError("the opening never completed")


async def test_tcp(sockets: list[trio.socket.SocketType]) -> None:
    async with running_server(echo) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        steps = await cancel_at_every_step(lambda: trio_ws.open_websocket(url, **FAST), sockets)
    assert steps > 3  # the opening has checkpoints to land on


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_tls(ca: trustme.CA, sockets: list[trio.socket.SocketType]) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with running_server(echo, ssl_context=server_context) as server:
        url = f"wss://localhost:{server.port}/"

        def open_() -> AbstractAsyncContextManager[Any]:
            return trio_ws.open_websocket(url, ssl_context=client_context, **FAST)

        steps = await cancel_at_every_step(open_, sockets)
    assert steps > 3


async def test_through_a_proxy(sockets: list[trio.socket.SocketType]) -> None:
    async with running_server(echo) as server, trio.open_nursery() as nursery:
        proxy = await nursery.start(ConnectProxy().run)
        url = f"ws://127.0.0.1:{server.port}/"
        proxy_url = f"http://127.0.0.1:{proxy.port}"

        def open_() -> AbstractAsyncContextManager[Any]:
            return trio_ws.open_websocket(url, proxy=proxy_url, **FAST)

        # The proxy's own connections to the origin are the proxy's to close.
        steps = await cancel_at_every_step(open_, sockets, not_ours=server.port)
        nursery.cancel_scope.cancel()
    assert steps > 3


async def test_unix_socket(tmp_path: Any, sockets: list[trio.socket.SocketType]) -> None:
    path = str(tmp_path / "ws.sock")
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: trio_ws.serve_unix(
                echo, path, ping_interval=None, task_status=task_status
            )
        )

        def open_() -> AbstractAsyncContextManager[Any]:
            return trio_ws.open_websocket("ws://localhost/", unix_socket_path=path, **FAST)

        steps = await cancel_at_every_step(open_, sockets)
        await server.aclose()
        nursery.cancel_scope.cancel()
    assert steps > 3


async def test_server_side_cancelled_at_every_step(autojump_clock: Any) -> None:
    """serve_stream() cancelled after each step of the server's opening (reading the
    request, answering 101, starting the connection, the handler) closes its stream."""

    async def accept_only(request: trio_ws.WebSocketRequest) -> None:
        await request.accept()  # then the server closes (1000), and waits for the client

    request = (
        b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    options = trio_ws.Options(ping_interval=None, compression=None)
    for steps in range(1000):
        client, server = trio.testing.memory_stream_pair()
        await client.send_all(request)
        answered = False
        with cancelled_after(steps) as scope:
            await trio_ws.serve_stream(accept_only, server, options=options)
        # The server's stream is closed: the client reads the end (after any answer).
        data = b""
        with trio.fail_after(5):  # a hang only
            while chunk := await client.receive_some(65536):
                data += chunk
        answered = data.startswith(b"HTTP/1.1 101 ")
        await client.aclose()
        if not scope.cancelled_caught:
            assert answered
            return
    raise AssertionError("serve_stream never finished")
