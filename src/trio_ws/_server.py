"""The server: serve() on TCP (or TLS), serve_listeners() on any listener, serve_stream()."""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Collection, Sequence
from typing import Any, final

import trio

from ._connection import WebSocketConnection
from ._h2_client import session_class
from ._keepalive import Keepalive
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
from ._serving import Handler, serve_connection
from ._tracking import Tracker
from .protocol._limits import DEFAULT_MAX_MESSAGE_SIZE

__all__ = ["Handler", "Server", "serve", "serve_listeners", "serve_stream"]

logger = logging.getLogger("trio_ws")


#: When :func:`serve` is cancelled (its scope cancelled, Ctrl+C), each open connection is
#: closed with 1001 "going away" within this many seconds (or ``close_timeout`` if shorter),
#: shielded from the cancellation; handlers still running then are cancelled.
GOING_AWAY_TIMEOUT = 1.0

# Accept errors that mean "out of resources for now": wait and retry instead of crashing,
# as trio.serve_listeners does.
_TRANSIENT_ACCEPT_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}


@final
class Server:
    """A running WebSocket server: its listeners, its connections, and a graceful close.

    Returned by ``await nursery.start(trio_ws.serve, handler, host, port)``.
    """

    def __init__(
        self,
        handler: Handler,
        listeners: Sequence[trio.abc.Listener[Any]],
        options: Options,
        origins: Collection[str | None] | None,
    ) -> None:
        self._handler = handler
        self._listeners = list(listeners)
        self._options = options
        self._origins = None if origins is None else frozenset(origins)
        self._active = 0
        self._idle = trio.Event()
        self._idle.set()
        self._closing = False
        self._closed = trio.Event()
        self._ports = _tcp_ports(self._listeners)
        # One task schedules the keepalive pings of every connection (see _keepalive.py).
        interval = options.ping_interval
        keepalive = Keepalive(interval, options.ping_timeout) if interval is not None else None
        # Shared with each request, whose accept() registers its connection there.
        self._tracker = Tracker(keepalive)

    def __repr__(self) -> str:
        return f"<Server ports={self.ports} connections={len(self._tracker.connections)}>"

    @property
    def listeners(self) -> list[trio.abc.Listener[Any]]:
        """The listeners the server accepts on."""
        return list(self._listeners)

    @property
    def ports(self) -> list[int]:
        """The TCP ports bound, one per TCP listener (none for Unix sockets).

        Read when the server starts, so they stay available after :meth:`aclose`.
        """
        return list(self._ports)

    @property
    def port(self) -> int:
        """The first bound TCP port (handy with ``port=0``)."""
        return self.ports[0]

    @property
    def connections(self) -> list[WebSocketConnection]:
        """The open WebSocket connections."""
        return list(self._tracker.connections)

    async def aclose(self) -> None:
        """Stop accepting, close every connection with 1001, and wait for the handlers.

        Handlers still running after ``close_timeout`` are cancelled. Cancelling
        :func:`serve` does the same within a second (or ``close_timeout`` if shorter).
        """
        await self._shutdown(self._options.close_timeout)

    async def _shutdown(self, timeout: float | None) -> None:
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            for listener in self._listeners:
                await trio.aclose_forcefully(listener)
            for session in list(self._tracker.sessions):
                session.going_away()  # HTTP/2: no new stream; GOAWAY after the last one
            # One deadline for closing the connections and for the handlers to finish.
            with trio.move_on_after(float("inf") if timeout is None else timeout):
                async with trio.open_nursery() as nursery:
                    for connection in list(self._tracker.connections):
                        nursery.start_soon(connection.aclose, 1001, "server shutting down")
                await self._idle.wait()
            for scope in list(self._tracker.handler_scopes):
                scope.cancel()
            await self._idle.wait()
        finally:
            # Even a cancelled aclose() ends serve(), whose nursery then cancels what is left.
            self._closed.set()

    async def _run(self, handler_nursery: trio.Nursery | None, task_status: Any) -> None:
        try:
            async with trio.open_nursery() as watching:
                async with trio.open_nursery() as nursery:
                    # Shielded, so that the cancellation of serve() does not reach the
                    # connections (their reader tasks run here) before they are told 1001:
                    # _going_away() below sees it instead, closes them, then ends this.
                    nursery.cancel_scope.shield = True
                    watching.start_soon(self._going_away)
                    keepalive = self._tracker.keepalive
                    if keepalive is not None:
                        nursery.start_soon(keepalive.run)
                    for listener in self._listeners:
                        nursery.start_soon(self._accept_loop, listener, handler_nursery or nursery)
                    task_status.started(self)
                    try:
                        await self._closed.wait()
                    except KeyboardInterrupt:
                        # Ctrl+C delivered to this task (trio.run(trio_ws.serve, ...)): the
                        # shield kept the connections alive, so they can be told 1001.
                        await self._shut_down_now()
                        raise
                    nursery.cancel_scope.cancel()  # the keepalive scheduler runs until told
                watching.cancel_scope.cancel()  # closed, not cancelled: the watch is over
        finally:
            # Cancelled or closed, the listening sockets never outlive serve().
            with trio.CancelScope(shield=True):
                for listener in self._listeners:
                    await trio.aclose_forcefully(listener)

    async def _going_away(self) -> None:
        """Wait for serve() to be cancelled, then close every connection with 1001.

        Runs outside the shielded nursery of :meth:`_run`, so it is the one task that sees
        the cancellation (the scope of ``serve()`` cancelled, Ctrl+C in ``trio.run``). It
        then does what :meth:`aclose` does within a short, shielded deadline
        (:data:`GOING_AWAY_TIMEOUT`, or ``close_timeout`` if shorter), which also ends the
        shielded nursery.
        """
        try:
            await trio.sleep_forever()
        finally:
            if not self._closed.is_set():
                await self._shut_down_now()

    async def _shut_down_now(self) -> None:
        """The shutdown of :meth:`aclose`, shielded and within :data:`GOING_AWAY_TIMEOUT`."""
        timeout = GOING_AWAY_TIMEOUT
        if self._options.close_timeout is not None:
            timeout = min(timeout, self._options.close_timeout)
        # Twice the timeout: one for the close handshakes and the handlers, one for the
        # handlers cancelled after it to finish.
        with trio.CancelScope(shield=True, deadline=trio.current_time() + 2 * timeout):
            await self._shutdown(timeout)
        self._closed.set()  # even if the deadline cut _shutdown() short

    async def _accept_loop(self, listener: trio.abc.Listener[Any], nursery: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except OSError as exc:
                if exc.errno not in _TRANSIENT_ACCEPT_ERRORS:
                    raise
                logger.warning("accept() failed (%s); retrying in 100 ms", exc)
                await trio.sleep(0.1)
                continue
            self._active += 1
            self._idle = trio.Event()
            nursery.start_soon(self._handle, stream)

    async def _handle(self, stream: trio.abc.Stream) -> None:
        try:
            await _serve_one(self._handler, stream, self._options, self._origins, self._tracker)
        except Exception:
            logger.exception("error while serving a connection")
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()


async def serve(
    handler: Handler,
    host: str | None,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    handler_nursery: trio.Nursery | None = None,
    origins: Collection[str | None] | None = None,
    compression: Compression = DEFAULT_COMPRESSION,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    max_queue: int = DEFAULT_MAX_QUEUE,
    ping_interval: float | None = DEFAULT_PING_INTERVAL,
    ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
    http2: bool = False,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSocket connections (and plain HTTP GETs) on a TCP port, until closed.

    ::

        async def handler(request):
            ws = await request.accept()
            async for message in ws:
                await ws.send(message)

        await trio_ws.serve(handler, "127.0.0.1", 8765)

    With ``server = await nursery.start(trio_ws.serve, handler, host, port)`` you get the
    :class:`Server` (its ports, a graceful ``aclose()``) once it listens.

    Args:
        handler: Called with a :class:`WebSocketRequest` for each incoming request, in a task
            of its own. The connection closes when it returns (1011 if it raised; the error
            is logged on the ``trio_ws`` logger and the server goes on).
        host: The address to bind (``None`` binds every interface).
        port: The port (0 picks a free one).
        ssl_context: Serve ``wss://`` with these TLS settings.
        handler_nursery: Where to run handlers (the server's own nursery otherwise).
        origins: If given, only requests whose Origin header is in it are served (use
            ``None`` inside it to allow clients that send no Origin); others get 403.
        compression: ``"deflate"`` accepts permessage-deflate offers; ``None`` declines them.
        max_message_size: Largest incoming message in bytes (``None``: no limit).
        max_queue: Incoming messages buffered per connection before reading pauses.
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a keepalive pong before closing with 1011.
        close_timeout: Seconds to wait for closing handshakes (and handlers, on ``aclose``).
        open_timeout: Seconds a client has to complete the opening handshake.
        http2: Also serve HTTP/2 (needs ``ssl_context`` and the ``h2`` package: ``pip install
            'trio-ws[http2]'``). ALPN then offers ``h2`` and ``http/1.1`` (this sets them on
            ``ssl_context``); on ``h2``, WebSockets arrive as extended CONNECT (RFC 8441) and
            plain requests as HTTP/2 requests, all for the same ``handler``.
        task_status: For ``nursery.start``.
    """
    if http2:
        if ssl_context is None:
            raise ValueError("http2=True needs an ssl_context: browsers speak HTTP/2 over TLS")
        session_class()  # a clear error now if h2 is missing
        ssl_context.set_alpn_protocols(["h2", "http/1.1"])
    listeners: list[trio.abc.Listener[Any]] = list(await trio.open_tcp_listeners(port, host=host))
    if ssl_context is not None:
        listeners = [
            trio.SSLListener(listener, ssl_context, https_compatible=True)
            for listener in listeners
        ]
    options = Options(
        compression=compression,
        max_message_size=max_message_size,
        max_queue=max_queue,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=close_timeout,
        open_timeout=open_timeout,
        http2=http2,
    )
    await serve_listeners(
        handler,
        listeners,
        handler_nursery=handler_nursery,
        origins=origins,
        options=options,
        task_status=task_status,
    )


async def serve_listeners(
    handler: Handler,
    listeners: Sequence[trio.abc.Listener[Any]],
    *,
    handler_nursery: trio.Nursery | None = None,
    origins: Collection[str | None] | None = None,
    options: Options | None = None,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on listeners you opened (Unix sockets, custom transports); see :func:`serve`."""
    server = Server(handler, listeners, options or Options(), origins)
    await server._run(handler_nursery, task_status)


async def serve_stream(
    handler: Handler,
    stream: trio.abc.Stream,
    *,
    origins: Collection[str | None] | None = None,
    options: Options | None = None,
    http2: bool = False,
) -> None:
    """Serve one connection over an already accepted stream; return when it is over.

    With ``http2=True`` the stream speaks HTTP/2 from its first byte (prior knowledge, as
    after ALPN ``h2``; ``options.http2`` instead lets a TLS stream's ALPN decide).
    """
    options = options or Options()
    if http2:
        session_class()  # a clear error now if h2 is missing
        from ._h2_server import serve_http2  # h2 is an optional extra

        await serve_http2(handler, stream, options, origins, tracker=None)
        await trio.aclose_forcefully(stream)
        return
    await _serve_one(handler, stream, options, origins, None)


async def _serve_one(
    handler: Handler,
    stream: trio.abc.Stream,
    options: Options,
    origins: Collection[str | None] | None,
    tracker: Tracker | None,
) -> None:
    """Serve one accepted stream: HTTP/2 if TLS's ALPN chose ``h2``, HTTP/1.1 otherwise."""
    if options.http2 and isinstance(stream, trio.SSLStream):
        timeout = options.open_timeout
        with trio.move_on_after(float("inf") if timeout is None else timeout) as scope:
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError:
                scope.cancel()  # a failed TLS handshake: nobody to answer
        if scope.cancel_called:
            await trio.aclose_forcefully(stream)
            return
        if stream.selected_alpn_protocol() == "h2":
            from ._h2_server import serve_http2  # h2 is an optional extra

            await serve_http2(handler, stream, options, origins, tracker)
            return
    await serve_connection(handler, stream, options, origins, tracker=tracker)


def _tcp_ports(listeners: Sequence[trio.abc.Listener[Any]]) -> list[int]:
    ports = []
    for listener in listeners:
        inner = getattr(listener, "transport_listener", listener)
        sock = getattr(inner, "socket", None)
        address = sock.getsockname() if sock is not None else None
        if isinstance(address, tuple):  # (host, port) or (host, port, flow, scope); not a path
            ports.append(address[1])
    return ports
