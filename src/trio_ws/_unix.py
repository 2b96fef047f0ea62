"""Serving on a Unix domain socket: serve_unix().

The client side is ``open_websocket(url, unix_socket_path=...)`` (in ``_client.py``): the
URL still names the host for the ``Host`` header, the socket is only the transport.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Collection
from typing import Any

import trio

from ._options import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_COMPRESSION,
    DEFAULT_MAX_QUEUE,
    DEFAULT_OPEN_TIMEOUT,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PING_TIMEOUT,
    Compression,
    Options,
)
from ._server import Handler, Server, serve_listeners
from .protocol._limits import DEFAULT_MAX_MESSAGE_SIZE

__all__ = ["serve_unix"]

#: Connections the kernel queues before serve_unix() accepts them (trio's default, too).
_BACKLOG = 128


async def serve_unix(
    handler: Handler,
    path: str | os.PathLike[str],
    *,
    handler_nursery: trio.Nursery | None = None,
    origins: Collection[str | None] | None = None,
    compression: Compression = DEFAULT_COMPRESSION,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    max_queue: int = DEFAULT_MAX_QUEUE,
    ping_interval: float | None = DEFAULT_PING_INTERVAL,
    ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSocket connections on a Unix domain socket, until closed or cancelled.

    ::

        server = await nursery.start(trio_ws.serve_unix, handler, "/run/app/ws.sock")

    A stale socket file left at ``path`` by a server that died is replaced; any other kind
    of file there is an error. The socket file is removed when the server stops (unless
    another server has replaced it meanwhile). Clients connect with
    ``open_websocket("ws://localhost/path", unix_socket_path=path)``; behind nginx, use
    ``proxy_pass http://unix:/run/app/ws.sock;``.

    Args:
        handler: Called with a :class:`WebSocketRequest` for each request (see :func:`serve`).
        path: Where to create the socket.
        handler_nursery: Where to run handlers (the server's own nursery otherwise).
        origins: Allowed Origin header values, as for :func:`serve`.
        compression: ``"deflate"`` accepts permessage-deflate offers; ``None`` declines them.
        max_message_size: Largest incoming message in bytes (``None``: no limit).
        max_queue: Incoming messages buffered per connection before reading pauses.
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a keepalive pong before closing with 1011.
        close_timeout: Seconds to wait for closing handshakes (and handlers, on ``aclose``).
        open_timeout: Seconds a client has to complete the opening handshake.
        task_status: For ``nursery.start``; the :class:`Server` it gives has no ports.

    Raises:
        OSError: the socket could not be created (a non-socket file at ``path``, no
            permission, a path too long for ``sun_path``...).
    """
    options = Options(
        compression=compression,
        max_message_size=max_message_size,
        max_queue=max_queue,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=close_timeout,
        open_timeout=open_timeout,
    )
    path = os.fspath(path)
    _remove_stale_socket(path)
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    try:
        await sock.bind(path)
        identity = _identity(path)
        sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    try:
        listener: trio.abc.Listener[Any] = trio.SocketListener(sock)
        await serve_listeners(
            handler,
            [listener],
            handler_nursery=handler_nursery,
            origins=origins,
            options=options,
            task_status=task_status,
        )
    finally:
        sock.close()
        if identity is not None and _identity(path) == identity:
            os.unlink(path)


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the socket file at ``path``, or ``None`` if there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISSOCK(info.st_mode) else None


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left at ``path``; refuse to touch any other kind of file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a socket", path)
    # Stale only if nobody answers there: never take the socket of a server that runs.
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        pass  # refused: a leftover from a server that is gone
    else:
        raise OSError(errno.EADDRINUSE, f"a server is already listening on {path}", path)
    finally:
        probe.close()
    os.unlink(path)
