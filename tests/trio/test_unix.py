"""Unix domain sockets: serve_unix() and open_websocket(unix_socket_path=...)."""

from __future__ import annotations

import os
import socket
import ssl
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme

import trio_ws

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets"),
]

FAST: dict[str, Any] = {"ping_interval": None, "close_timeout": 2.0, "open_timeout": 5.0}


async def echo(request: trio_ws.WebSocketRequest) -> None:
    ws = await request.accept()
    await ws.send(f"{request.header('host')} {request.target}")
    async for message in ws:
        await ws.send(message)


async def test_echo_over_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "ws.sock"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(partial(trio_ws.serve_unix, **FAST), echo, path)
            assert path.is_socket()
            async with trio_ws.open_websocket(
                "ws://app.local/chat?room=1", unix_socket_path=path, **FAST
            ) as ws:
                assert await ws.receive() == "app.local /chat?room=1"
                await ws.send(b"\x00binary")
                assert await ws.receive() == b"\x00binary"
            await server.aclose()
    assert not path.exists()


async def test_socket_file_removed_on_cancellation(tmp_path: Path) -> None:
    path = tmp_path / "ws.sock"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(trio_ws.serve_unix, **FAST), echo, str(path))
            assert path.is_socket()
            nursery.cancel_scope.cancel()
    assert not path.exists()


async def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ws.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # a server that died without cleaning up
    assert path.is_socket()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(partial(trio_ws.serve_unix, **FAST), echo, path)
            async with trio_ws.open_websocket(
                "ws://localhost/", unix_socket_path=path, **FAST
            ) as ws:
                assert await ws.receive() == "localhost /"
            await server.aclose()
    assert not path.exists()


async def test_refuses_to_replace_another_kind_of_file(tmp_path: Path) -> None:
    path = tmp_path / "important.txt"
    path.write_text("keep me")
    with pytest.raises(OSError, match=r"exists and is not a socket"):
        await trio_ws.serve_unix(echo, path)
    assert path.read_text() == "keep me"


async def test_leaves_a_replacing_servers_socket_alone(tmp_path: Path) -> None:
    path = tmp_path / "ws.sock"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            first = await nursery.start(partial(trio_ws.serve_unix, **FAST), echo, path)
            # An operator removes the file and a second server binds the path again (a
            # server never takes the socket of one that still answers).
            path.unlink()
            second = await nursery.start(partial(trio_ws.serve_unix, **FAST), echo, path)
            await first.aclose()
            assert path.is_socket()  # still the second server's
            async with trio_ws.open_websocket(
                "ws://localhost/", unix_socket_path=path, **FAST
            ) as ws:
                assert await ws.receive() == "localhost /"
            await second.aclose()
    assert not path.exists()


async def test_wss_over_a_unix_socket(tmp_path: Path) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("app.local").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    path = tmp_path / "wss.sock"
    listen = trio.socket.socket(trio.socket.AF_UNIX)
    await listen.bind(str(path))
    listen.listen()
    listener = trio.SSLListener(trio.SocketListener(listen), server_context)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            serve = partial(trio_ws.serve_listeners, options=trio_ws.Options(**FAST))
            server = await nursery.start(serve, echo, [listener])
            async with trio_ws.open_websocket(
                "wss://app.local/", unix_socket_path=path, ssl_context=client_context, **FAST
            ) as ws:
                assert await ws.receive() == "app.local /"
            await server.aclose()


async def test_missing_socket_is_an_os_error(tmp_path: Path) -> None:
    with trio.fail_after(10), pytest.raises(OSError):
        async with trio_ws.open_websocket(
            "ws://localhost/", unix_socket_path=tmp_path / "nobody.sock", **FAST
        ):
            pass  # pragma: no cover


async def test_redirects_stay_on_the_socket_within_the_origin(tmp_path: Path) -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        if request.path == "/old":
            await request.reject(301, headers=[("Location", "/new")])
        elif request.path == "/away":
            await request.reject(302, headers=[("Location", "ws://elsewhere.example/")])
        else:
            await echo(request)

    path = tmp_path / "ws.sock"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(partial(trio_ws.serve_unix, **FAST), handler, path)
            async with trio_ws.open_websocket(
                "ws://localhost/old", unix_socket_path=os.fspath(path), **FAST
            ) as ws:
                assert await ws.receive() == "localhost /new"
            with pytest.raises(trio_ws.InvalidHandshake, match=r"another origin"):
                async with trio_ws.open_websocket(
                    "ws://localhost/away", unix_socket_path=path, **FAST
                ):
                    pass  # pragma: no cover
            await server.aclose()


async def test_unix_server_has_no_tcp_ports(tmp_path) -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        await request.reject(404)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_ws.serve_unix, handler, str(tmp_path / "s.sock"))
            assert server.ports == []
            await server.aclose()


async def test_serve_unix_refuses_the_socket_of_a_live_server(tmp_path) -> None:
    async def handler(request: trio_ws.WebSocketRequest) -> None:
        await request.reject(404)

    path = str(tmp_path / "live.sock")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            first = await nursery.start(trio_ws.serve_unix, handler, path)
            with pytest.raises(OSError, match="already listening"):
                await nursery.start(trio_ws.serve_unix, handler, path)
            await first.aclose()
