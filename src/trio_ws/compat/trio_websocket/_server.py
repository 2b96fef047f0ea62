"""trio-websocket's server: serve_websocket, WebSocketServer and wrap_server_stream.

Theory of operation: the compat server accepts with :func:`trio.serve_listeners` and runs
each connection with trio-ws's :func:`trio_ws.serve_stream`, so its tasks and nurseries are
trio-websocket's: a nursery for the server, one for the listeners (or ``handler_nursery``),
which holds one task per connection, and one per connection. trio-ws's own server logs a
handler's exception and goes on; trio-websocket's, and so this one, lets it out: the
connection is closed (1011, or 500 before an answer) and the exception leaves the
connection's nursery, crashing the listeners' nursery and the server.
"""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, final

import trio

from ... import _request as _native_request
from ... import _server
from ._exceptions import HandshakeError
from ._options import (
    CONN_TIMEOUT,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    RECEIVE_BYTES,
    options,
)
from ._request import WebSocketRequest
from ._stream import CompatStream, Endpoint, close_now

__all__ = ["Handler", "WebSocketServer", "serve_websocket", "wrap_server_stream"]

#: A handler for :func:`serve_websocket`.
Handler = Callable[[WebSocketRequest], Awaitable[object]]

_BAD_REQUEST = "Bad Request: a WebSocket handshake was expected\n"
# accept() errors that say "out of resources for now" (trio.serve_listeners' list).
_CAPACITY_ERRORS = frozenset(
    getattr(errno, name)
    for name in ("EMFILE", "ENFILE", "ENOMEM", "ENOBUFS")
    if hasattr(errno, name)
)
logger = logging.getLogger("trio_ws")


@final
class WebSocketServer:
    """A WebSocket server on one or more listeners.

    Usually obtained from ``await nursery.start(serve_websocket, ...)``. With ``host=None``
    and port 0 there may be several listeners, on different ports.

    Args:
        handler: Called with a :class:`WebSocketRequest` for each connection.
        listeners: The listeners to accept on (at least one).
        handler_nursery: Where connection tasks run (a nursery of the server's otherwise).
        message_queue_size: Incoming messages buffered per connection before reading pauses.
        max_message_size: Largest incoming message.
        receive_buffer_size: The most bytes read from the network at once, or ``None``.
        connect_timeout: Seconds a client has for the opening handshake.
        disconnect_timeout: Seconds for the closing handshake.

    Raises:
        ValueError: ``listeners`` is empty.
    """

    def __init__(
        self,
        handler: Handler,
        listeners: Sequence[trio.abc.Listener[Any]],
        *,
        handler_nursery: trio.Nursery | None = None,
        message_queue_size: int = MESSAGE_QUEUE_SIZE,
        max_message_size: int = MAX_MESSAGE_SIZE,
        receive_buffer_size: int | None = RECEIVE_BYTES,
        connect_timeout: float = CONN_TIMEOUT,
        disconnect_timeout: float = CONN_TIMEOUT,
    ) -> None:
        if not listeners:
            raise ValueError("Listeners must contain at least one item.")
        self._handler = handler
        self._listeners = list(listeners)
        self._handler_nursery = handler_nursery
        self._unbuffered = message_queue_size == 0
        self._receive_size = receive_buffer_size
        self._options = options(
            message_queue_size, max_message_size, connect_timeout, disconnect_timeout
        )
        self._requests: set[WebSocketRequest] = set()
        self._scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        # Transports of connections whose handler raised before answering: closed when the
        # exception leaves run(), so that the client sees the crash, not a dropped handshake.
        self._held: list[trio.abc.Stream] = []

    @property
    def port(self) -> int:
        """The bound TCP port (handy with port 0).

        Raises:
            RuntimeError: several listeners, or one without a TCP socket.
        """
        if len(self._listeners) > 1:
            raise RuntimeError("Cannot get port because this server has more than 1 listener.")
        endpoint = self.listeners[0]
        if not isinstance(endpoint, Endpoint):
            raise RuntimeError(f"This socket does not have a port: {endpoint}")
        return endpoint.port

    @property
    def listeners(self) -> list[Endpoint | str]:
        """An :class:`Endpoint` for each TCP listener, and the ``repr()`` of other listeners."""
        result: list[Endpoint | str] = []
        for listener in self._listeners:
            is_ssl = isinstance(listener, trio.SSLListener)
            inner = (
                listener.transport_listener if isinstance(listener, trio.SSLListener) else listener
            )
            sock: Any = getattr(inner, "socket", None)
            try:
                address, port, *_ = sock.getsockname()
                result.append(Endpoint(address, port, is_ssl))
            except (AttributeError, OSError, TypeError, ValueError):
                result.append(repr(listener))
        return result

    async def run(
        self, *, task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until cancelled (or until :meth:`aclose`); supports ``nursery.start``.

        Args:
            task_status: For ``nursery.start``, which then returns this server.
        """
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                await nursery.start(self._serve_listeners)
                task_status.started(self)
        finally:
            held, self._held = self._held, []
            for stream in held:
                if not close_now(stream):
                    with trio.CancelScope(shield=True):
                        await trio.aclose_forcefully(stream)
            self._stopped.set()

    async def aclose(self) -> None:
        """Close the connections with 1001, stop serving and return when :meth:`run` has.

        Not in trio-websocket, whose servers stop only when cancelled.
        """
        async with trio.open_nursery() as nursery:
            for request in list(self._requests):
                connection = request._connection
                if connection is not None:
                    nursery.start_soon(connection.aclose, 1001, "server shutting down")
        if self._scope is not None:
            self._scope.cancel()
            await self._stopped.wait()

    async def _serve_listeners(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Accept on every listener, as :func:`trio.serve_listeners` does.

        Its own loop rather than trio's, whose handler wrapper closes each stream when the
        handler ends: a connection whose handler raised keeps its transport (see run()).
        """
        async with trio.open_nursery() as nursery:
            for listener in self._listeners:
                nursery.start_soon(self._accept_loop, listener, self._handler_nursery or nursery)
            task_status.started()

    async def _accept_loop(self, listener: trio.abc.Listener[Any], nursery: trio.Nursery) -> None:
        async with listener:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:
                    if exc.errno not in _CAPACITY_ERRORS:
                        raise
                    # Out of file descriptors or memory: wait for some to be freed.
                    logger.error("accept() failed (%s); retrying in 100 ms", exc)
                    await trio.sleep(0.1)
                    continue
                nursery.start_soon(self._handle_connection, stream)

    async def _handle_connection(self, stream: trio.abc.Stream) -> None:
        compat = CompatStream(
            stream, receive_size=self._receive_size, unbuffered=self._unbuffered, client=False
        )
        error: Exception | None = None
        serving = trio.CancelScope()

        async def handler(native: _native_request.WebSocketRequest) -> None:
            nonlocal error
            request = _request(native, compat)
            if request is None:
                await native.respond(400, body=_BAD_REQUEST)
                return
            self._requests.add(request)
            try:
                error = await _run_handler(self._handler, request)
            finally:
                self._requests.discard(request)
            if error is not None and not native.answered:
                # As trio-websocket: no answer, and the exception goes first. trio-ws would
                # answer 403 after the handler: stop it, and keep the transport open until
                # the exception leaves the server (or close it now, with a handler_nursery).
                if self._handler_nursery is None:
                    compat.hold()
                    self._held.append(stream)
                serving.cancel()

        # The connection's nursery: trio-websocket runs each connection in one, so its
        # handler's exception comes out of the server wrapped in the same groups.
        try:
            async with trio.open_nursery():
                with serving:
                    await _server.serve_stream(handler, compat, options=self._options)
                if error is not None:
                    raise error
        finally:
            if not compat.held:
                await trio.aclose_forcefully(stream)


def _request(
    native: _native_request.WebSocketRequest, stream: CompatStream
) -> WebSocketRequest | None:
    """The compat request for ``native``, or ``None`` for a plain HTTP request."""
    if not native.is_websocket:
        return None
    stream.handshake_done()  # the request is read; an unbuffered stream now reads on demand
    return WebSocketRequest(native, stream)


async def _run_handler(handler: Handler, request: WebSocketRequest) -> Exception | None:
    """Run ``handler``; return what it raised (after closing its connection with 1011)."""
    try:
        await handler(request)
    except Exception as exc:
        await request._fail()
        return exc
    finally:
        request._stream.open_for_good()  # trio-ws's closing handshake reads on to the end
    return None


async def serve_websocket(
    handler: Handler,
    host: str | bytes | None,
    port: int,
    ssl_context: ssl.SSLContext | None,
    *,
    handler_nursery: trio.Nursery | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
    task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSocket connections on a TCP port until cancelled.

    ``server = await nursery.start(serve_websocket, handler, host, 0, None)`` returns the
    :class:`WebSocketServer` once it listens. A connection closes when its handler returns.
    With ``host=None`` and port 0 the listeners may have different ports.

    Args:
        handler: Called with a :class:`WebSocketRequest` for each connection.
        host: The interface to bind: an address, a name that resolves to one, a wildcard
            such as ``0.0.0.0`` or ``::``, or ``None`` for every interface.
        port: The port (0 picks a free one).
        ssl_context: TLS settings, or ``None`` for plain TCP.
        handler_nursery: Where connection tasks run (a nursery of the server's otherwise).
        message_queue_size: Incoming messages buffered per connection before reading pauses.
        max_message_size: Largest incoming message.
        receive_buffer_size: The most bytes read from the network at once, or ``None``.
        connect_timeout: Seconds a client has for the opening handshake.
        disconnect_timeout: Seconds for the closing handshake.
        task_status: For ``nursery.start``.
    """
    listeners: list[trio.abc.Listener[Any]]
    if ssl_context is None:
        listeners = list(await trio.open_tcp_listeners(port, host=host))
    else:
        listeners = list(
            await trio.open_ssl_over_tcp_listeners(
                port, ssl_context, host=host, https_compatible=True
            )
        )
    server = WebSocketServer(
        handler,
        listeners,
        handler_nursery=handler_nursery,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )
    await server.run(task_status=task_status)


async def wrap_server_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> WebSocketRequest:
    """Run the server side over a stream you accepted; return the client's request.

    The connection's tasks run in ``nursery``. Accept or reject the request; an accepted
    connection lives until it is closed.

    Args:
        nursery: Where the connection's background tasks run.
        stream: A connected :class:`trio.abc.Stream`.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.
        receive_buffer_size: The most bytes read from the network at once, or ``None``.

    Raises:
        HandshakeError: the stream ended or did not carry a valid opening handshake.
    """
    opts = options(message_queue_size, max_message_size, CONN_TIMEOUT, CONN_TIMEOUT)
    compat = CompatStream(
        stream, receive_size=receive_buffer_size, unbuffered=message_queue_size == 0, client=False
    )
    send, receive = trio.open_memory_channel[WebSocketRequest](1)

    async def handler(native: _native_request.WebSocketRequest) -> None:
        request = _request(native, compat)
        if request is None:
            await native.respond(400, body=_BAD_REQUEST)
            return
        await send.send(request)
        await request._wait_finished()

    async def serve() -> None:
        async with send:
            await _server.serve_stream(handler, compat, options=opts)

    nursery.start_soon(serve)
    async with receive:
        try:
            return await receive.receive()
        except trio.EndOfChannel:
            raise HandshakeError("no valid WebSocket opening handshake on the stream") from None
