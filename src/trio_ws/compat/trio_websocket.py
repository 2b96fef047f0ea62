"""trio-websocket's public API on top of trio-ws.

An application written for `trio-websocket <https://trio-websocket.readthedocs.io/>`_
migrates by changing its import::

    # before
    from trio_websocket import open_websocket_url, serve_websocket, ConnectionClosed
    # after
    from trio_ws.compat.trio_websocket import open_websocket_url, serve_websocket, ConnectionClosed

Every name here wraps a trio-ws object; there is no second protocol implementation. The
defaults are trio-websocket's: a message queue of 1, 1 MiB messages, 60 s connect and
disconnect timeouts, no keepalive pings and no compression. The trio-ws object under each
wrapper is at hand (:attr:`WebSocketConnection.connection`, :attr:`WebSocketRequest.request`,
:attr:`WebSocketServer.server`) for moving to the native API one piece at a time.

Differences from trio-websocket, all deliberate:

* ``message_queue_size`` counts message pieces, and 0 means 1 (trio-ws always buffers at
  least one piece; trio-websocket allowed an unbuffered channel).
* Two tasks may not call :meth:`WebSocketConnection.get_message` at once
  (:exc:`trio.BusyResourceError`); trio-websocket let them share messages.
* A handler that raises is logged (logger ``trio_ws``) and its connection closed with 1011;
  the server goes on. In trio-websocket the exception crashed the server.
* A plain HTTP request (no ``Upgrade: websocket``) to :func:`serve_websocket` gets
  ``400 Bad Request`` without reaching the handler, as with trio-websocket.
* :attr:`WebSocketConnection.handshake_headers` on the server side holds the request's
  headers (trio-websocket gave an empty tuple there); :attr:`WebSocketConnection.response_headers`
  is new. Header names are lower-cased; values are latin-1 bytes.
* ``wss://`` URLs without a port use 443 (some trio-websocket versions used 80).
* :exc:`DisconnectionTimeout` is raised by :func:`open_websocket` and
  :func:`open_websocket_url` only when the block itself did not raise; either way the TCP
  connection is closed.
* The opening handshake is stricter (RFC 6455 checks, 8 KiB head limit), incoming text is
  validated as UTF-8 as it arrives, and :attr:`ConnectionClosed.reason` has code 1006 when
  the connection ended without a closing handshake.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from ipaddress import ip_address
from typing import Any, final

import trio

from .. import _client, _server
from .. import _connection as _native_connection
from .. import _request as _native_request
from .._exceptions import ConnectionClosed as _NativeClosed
from .._exceptions import HandshakeRejected, HandshakeTimeout, InvalidHandshake
from .._groups import reraise_single
from .._options import Options
from .._url import parse_uri

__all__ = [
    "CONN_TIMEOUT",
    "MAX_MESSAGE_SIZE",
    "MESSAGE_QUEUE_SIZE",
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "Endpoint",
    "HandshakeError",
    "WebSocketConnection",
    "WebSocketRequest",
    "WebSocketServer",
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "serve_websocket",
    "wrap_client_stream",
    "wrap_server_stream",
]

#: Default connect and disconnect timeout, in seconds (trio-websocket's).
CONN_TIMEOUT = 60
#: Default size of the incoming message queue (trio-websocket's).
MESSAGE_QUEUE_SIZE = 1
#: Default largest incoming message, in bytes (trio-websocket's).
MAX_MESSAGE_SIZE = 2**20

#: A handler for :func:`serve_websocket`.
Handler = Callable[["WebSocketRequest"], Awaitable[object]]
#: Header fields as trio-websocket takes them: (name, value) pairs of bytes.
ByteHeaders = list[tuple[bytes, bytes]]

# wsproto's names for close codes, which trio-websocket's CloseReason.name reports.
_CLOSE_NAMES = {
    1000: "NORMAL_CLOSURE",
    1001: "GOING_AWAY",
    1002: "PROTOCOL_ERROR",
    1003: "UNSUPPORTED_DATA",
    1005: "NO_STATUS_RCVD",
    1006: "ABNORMAL_CLOSURE",
    1007: "INVALID_FRAME_PAYLOAD_DATA",
    1008: "POLICY_VIOLATION",
    1009: "MESSAGE_TOO_BIG",
    1010: "MANDATORY_EXT",
    1011: "INTERNAL_ERROR",
    1012: "SERVICE_RESTART",
    1013: "TRY_AGAIN_LATER",
    1015: "TLS_HANDSHAKE_FAILED",
}


# --- Exceptions and small value types ---------------------------------------------------------


class HandshakeError(Exception):
    """The opening or closing handshake failed: network error, timeout or rejection."""


class ConnectionTimeout(HandshakeError):
    """Connecting (TCP, TLS and the opening handshake) took longer than ``connect_timeout``."""


class DisconnectionTimeout(HandshakeError):
    """The closing handshake took longer than ``disconnect_timeout``."""


class ConnectionRejected(HandshakeError):
    """The server answered the opening handshake with an HTTP status other than 101.

    Args:
        status_code: The HTTP status.
        headers: The response's header fields as (name, value) bytes, names lower-cased.
        body: The response body, or ``None`` when it was empty.
    """

    def __init__(
        self, status_code: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes | None
    ) -> None:
        super().__init__(status_code, headers, body)
        #: The HTTP status.
        self.status_code = status_code
        #: The response's header fields.
        self.headers = headers
        #: The response body, or ``None``.
        self.body = body

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}<status_code={self.status_code}>"


@final
class CloseReason:
    """Why a connection closed: a close code, its name and the peer's reason.

    Args:
        code: The close code (1006 when there was no closing handshake).
        reason: The reason sent with it, or ``None``.
    """

    def __init__(self, code: int, reason: str | None) -> None:
        self._code = code
        self._reason = reason
        if code in _CLOSE_NAMES:
            self._name = _CLOSE_NAMES[code]
        elif 1000 <= code <= 2999:
            self._name = "RFC_RESERVED"
        elif 3000 <= code <= 3999:
            self._name = "IANA_RESERVED"
        elif 4000 <= code <= 4999:
            self._name = "PRIVATE_RESERVED"
        else:
            self._name = "INVALID_CODE"

    @property
    def code(self) -> int:
        """The numeric close code."""
        return self._code

    @property
    def name(self) -> str:
        """The close code's name, such as ``NORMAL_CLOSURE``."""
        return self._name

    @property
    def reason(self) -> str | None:
        """The reason string, or ``None``."""
        return self._reason

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}<code={self.code}, name={self.name}, reason={self.reason}>"
        )


class ConnectionClosed(Exception):
    """The operation needs an open connection, and this one is closed or closing.

    Args:
        reason: Why the connection closed.
    """

    def __init__(self, reason: CloseReason | None) -> None:
        super().__init__(reason)
        #: Why the connection closed.
        self.reason = reason

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}<{self.reason}>"


@final
class Endpoint:
    """One end of a TCP connection.

    Args:
        address: An IP address.
        port: A TCP port.
        is_ssl: Whether TLS is in use.
    """

    def __init__(self, address: str | int, port: int, is_ssl: bool) -> None:
        #: The IP address.
        self.address = ip_address(address)
        #: The TCP port.
        self.port = port
        #: Whether TLS is in use.
        self.is_ssl = is_ssl

    @property
    def url(self) -> str:
        """The endpoint as a URL, such as ``ws://127.0.0.1:8000``."""
        scheme = "wss" if self.is_ssl else "ws"
        default = 443 if self.is_ssl else 80
        port = "" if self.port == default else f":{self.port}"
        host = str(self.address) if self.address.version == 4 else f"[{self.address}]"
        return f"{scheme}://{host}{port}"

    def __repr__(self) -> str:
        return f'Endpoint(address="{self.address}", port={self.port}, is_ssl={self.is_ssl})'


# --- Connections ------------------------------------------------------------------------------


@final
class WebSocketConnection(trio.abc.AsyncResource):
    """A WebSocket connection, client or server, with trio-websocket's methods.

    Built by this module's functions, not directly. It wraps a
    :class:`trio_ws.WebSocketConnection`, available as :attr:`connection`.
    """

    def __init__(self, connection: _native_connection.WebSocketConnection) -> None:
        self._ws = connection
        self._closed_locally = False

    def __repr__(self) -> str:
        return f"<compat {self._ws!r}>"

    @property
    def connection(self) -> _native_connection.WebSocketConnection:
        """The trio-ws connection underneath."""
        return self._ws

    @property
    def closed(self) -> CloseReason | None:
        """Why the connection is closed or closing, or ``None`` while it is open."""
        ws = self._ws
        if not ws.closed:
            return None
        end = _NativeClosed(ws.close_received, ws.close_sent)
        return CloseReason(end.code, end.reason or None)

    @property
    def is_client(self) -> bool:
        """``True`` for a client connection."""
        return self._ws.is_client

    @property
    def is_server(self) -> bool:
        """``True`` for a server connection."""
        return not self._ws.is_client

    @property
    def local(self) -> Endpoint | str:
        """The local endpoint (or the stream's ``repr()`` when it has no TCP socket)."""
        return _endpoint(self._ws.stream, local=True)

    @property
    def remote(self) -> Endpoint | str:
        """The remote endpoint (or the stream's ``repr()`` when it has no TCP socket)."""
        return _endpoint(self._ws.stream, local=False)

    @property
    def path(self) -> str | None:
        """The request target of the opening handshake (path and query)."""
        request = self._ws.request
        return request.target if request is not None else None

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or ``None``."""
        return self._ws.subprotocol

    @property
    def handshake_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header fields the peer sent in the opening handshake, names lower-cased.

        On a client, the ``101`` response's; on a server, the request's.
        """
        if self._ws.is_client:
            return self.response_headers
        request = self._ws.request
        return _bytes_headers(request.headers) if request is not None else ()

    @property
    def response_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header fields of the ``101`` response (on a server, the extra ones it added)."""
        response = self._ws.response
        return _bytes_headers(response.headers) if response is not None else ()

    async def get_message(self) -> str | bytes:
        """Receive the next message.

        Messages that arrived before the peer closed are still delivered; after a local
        :meth:`aclose` this raises at once.

        Raises:
            ConnectionClosed: the connection is closed.
        """
        if self._closed_locally:
            await trio.lowlevel.checkpoint()
            raise ConnectionClosed(self.closed)
        with _translate_closed():
            return await self._ws.receive()

    async def send_message(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ValueError: ``message`` is neither ``str`` nor bytes-like.
        """
        if not isinstance(message, str | bytes | bytearray | memoryview):
            raise ValueError("message must be str or bytes")
        with _translate_closed():
            await self._ws.send(message)

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong.

        Args:
            payload: Up to 125 bytes, unique among pings in flight; random by default.

        Raises:
            ConnectionClosed: the connection is closed.
            ValueError: a ping with the same payload is in flight.
        """
        with _translate_closed():
            await self._ws.ping(payload)

    async def pong(self, payload: bytes | None = None) -> None:
        """Send an unsolicited pong.

        Raises:
            ConnectionClosed: the connection is closed.
        """
        with _translate_closed():
            await self._ws.pong(payload or b"")

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection: closing handshake, then the transport. Safe to repeat.

        Args:
            code: The close code.
            reason: An optional reason.
        """
        self._closed_locally = True
        await self._ws.aclose(code, reason or "")


@final
class WebSocketRequest:
    """A client's opening handshake, given to a server handler to accept or reject.

    Built by :func:`serve_websocket` and :func:`wrap_server_stream`. It wraps a
    :class:`trio_ws.WebSocketRequest`, available as :attr:`request`.
    """

    def __init__(self, request: _native_request.WebSocketRequest) -> None:
        self._request = request
        self._connection: WebSocketConnection | None = None
        self._answered = trio.Event()

    def __repr__(self) -> str:
        return f"<compat {self._request!r}>"

    @property
    def request(self) -> _native_request.WebSocketRequest:
        """The trio-ws request underneath."""
        return self._request

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The request's header fields as (name, value) bytes, names lower-cased."""
        return list(_bytes_headers(self._request.headers))

    @property
    def path(self) -> str:
        """The request target (path and query)."""
        return self._request.target

    @property
    def proposed_subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the client offered, in its order of preference."""
        return self._request.subprotocols

    @property
    def subprotocols(self) -> tuple[str, ...]:
        """Same as :attr:`proposed_subprotocols` (trio-ws's name)."""
        return self._request.subprotocols

    @property
    def local(self) -> Endpoint | str:
        """The server's endpoint of the connection."""
        return _endpoint(_request_stream(self._request), local=True)

    @property
    def remote(self) -> Endpoint | str:
        """The client's endpoint of the connection."""
        return _endpoint(_request_stream(self._request), local=False)

    async def accept(
        self, *, subprotocol: str | None = None, extra_headers: ByteHeaders | None = None
    ) -> WebSocketConnection:
        """Accept the handshake and return the connection.

        Args:
            subprotocol: One of :attr:`proposed_subprotocols`, or ``None``.
            extra_headers: Extra header fields for the response.

        Raises:
            ConnectionClosed: the client left first.
        """
        try:
            with _translate_closed():
                native = await self._request.accept(
                    subprotocol=subprotocol, headers=_str_headers(extra_headers)
                )
            self._connection = WebSocketConnection(native)
            return self._connection
        finally:
            self._answered.set()

    async def reject(
        self,
        status_code: int,
        *,
        extra_headers: ByteHeaders | None = None,
        body: bytes | None = None,
    ) -> None:
        """Refuse the handshake with an HTTP response; the connection then closes.

        Args:
            status_code: The HTTP status (300-599 make sense).
            extra_headers: Header fields for the response.
            body: The response body, if any.
        """
        try:
            await self._request.reject(
                status_code, headers=_str_headers(extra_headers), body=body or b""
            )
        finally:
            self._answered.set()

    async def _wait_finished(self) -> None:
        """Wait until the request is rejected, or accepted and the connection over."""
        await self._answered.wait()
        if self._connection is not None:
            await self._connection.connection.wait_closed()


# --- Clients ----------------------------------------------------------------------------------


@asynccontextmanager
async def open_websocket(
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ByteHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> AsyncIterator[WebSocketConnection]:
    """Connect to a WebSocket server; close the connection when the block ends.

    Args:
        host: The host to connect to.
        port: The TCP port.
        resource: The request target, such as ``/chat?room=1``.
        use_ssl: ``True`` for TLS with default settings, an :class:`ssl.SSLContext` for
            TLS with those settings, ``False`` for none.
        subprotocols: Subprotocols to offer.
        extra_headers: Extra header fields for the request.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message (larger closes with 1009).
        connect_timeout: Seconds for TCP connect, TLS and the opening handshake.
        disconnect_timeout: Seconds for the closing handshake.

    Raises:
        HandshakeError: a network error while connecting, or a broken handshake.
        ConnectionTimeout: ``connect_timeout`` ran out.
        ConnectionRejected: the server answered with another status than 101.
        DisconnectionTimeout: ``disconnect_timeout`` ran out while closing.
    """
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(connect_timeout):
                    connection = await _connect(
                        nursery,
                        host,
                        port,
                        resource,
                        use_ssl=use_ssl,
                        subprotocols=subprotocols,
                        extra_headers=extra_headers,
                        message_queue_size=message_queue_size,
                        max_message_size=max_message_size,
                        disconnect_timeout=disconnect_timeout,
                    )
            except trio.TooSlowError:
                raise ConnectionTimeout(
                    f"connecting to {host}:{port} took more than {connect_timeout} s"
                ) from None
            except OSError as exc:
                raise HandshakeError(f"cannot connect to {host}:{port}: {exc}") from exc
            try:
                yield connection
            except BaseException:
                await connection.aclose()
                raise
            started = trio.current_time()
            await connection.aclose()
            ws = connection.connection
            if (
                ws.close_received is None
                and ws.close_sent is not None
                and trio.current_time() - started >= disconnect_timeout
            ):
                raise DisconnectionTimeout(
                    f"the closing handshake took more than {disconnect_timeout} s"
                )
    except BaseExceptionGroup as group:
        reraise_single(group)


@asynccontextmanager
async def open_websocket_url(
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ByteHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> AsyncIterator[WebSocketConnection]:
    """Like :func:`open_websocket`, with a ``ws://`` or ``wss://`` URL.

    Args:
        url: The URL.
        ssl_context: TLS settings for ``wss://`` (defaults otherwise; must be ``None`` for
            ``ws://``).
        subprotocols: Subprotocols to offer.
        extra_headers: Extra header fields for the request.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.
        connect_timeout: Seconds for TCP connect, TLS and the opening handshake.
        disconnect_timeout: Seconds for the closing handshake.

    Raises:
        ValueError: not a valid WebSocket URL, or an ``ssl_context`` with ``ws://``.
    """
    host, port, resource, use_ssl = _url_to_host(url, ssl_context)
    async with open_websocket(
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    ) as connection:
        yield connection


async def connect_websocket(
    nursery: trio.Nursery,
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ByteHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
) -> WebSocketConnection:
    """Connect to a WebSocket server; the connection's tasks run in ``nursery``.

    Closing the connection is up to you (``await ws.aclose()``), before ``nursery`` ends.

    Args:
        nursery: Where the connection's background tasks run.
        host: The host to connect to.
        port: The TCP port.
        resource: The request target.
        use_ssl: ``True``, an :class:`ssl.SSLContext`, or ``False``.
        subprotocols: Subprotocols to offer.
        extra_headers: Extra header fields for the request.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.

    Raises:
        OSError: the TCP connection failed.
        ConnectionRejected: the server answered with another status than 101.
        HandshakeError: the handshake broke.
    """
    return await _connect(
        nursery,
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        disconnect_timeout=CONN_TIMEOUT,
    )


async def connect_websocket_url(
    nursery: trio.Nursery,
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ByteHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
) -> WebSocketConnection:
    """Like :func:`connect_websocket`, with a ``ws://`` or ``wss://`` URL.

    Args:
        nursery: Where the connection's background tasks run.
        url: The URL.
        ssl_context: TLS settings for ``wss://``.
        subprotocols: Subprotocols to offer.
        extra_headers: Extra header fields for the request.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.

    Raises:
        ValueError: not a valid WebSocket URL, or an ``ssl_context`` with ``ws://``.
    """
    host, port, resource, use_ssl = _url_to_host(url, ssl_context)
    return await connect_websocket(
        nursery,
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
    )


async def wrap_client_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    host: str,
    resource: str,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ByteHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
) -> WebSocketConnection:
    """Run the client side over a stream you opened; the tasks run in ``nursery``.

    Args:
        nursery: Where the connection's background tasks run.
        stream: A connected :class:`trio.abc.Stream`.
        host: The Host header.
        resource: The request target.
        subprotocols: Subprotocols to offer.
        extra_headers: Extra header fields for the request.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.

    Raises:
        ConnectionRejected: the server answered with another status than 101.
        HandshakeError: the handshake broke.
    """
    return await _wrap_client(
        nursery,
        stream,
        host,
        resource,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        options=_options(message_queue_size, max_message_size, None, CONN_TIMEOUT),
    )


# --- Servers ----------------------------------------------------------------------------------


@final
class WebSocketServer:
    """A WebSocket server on one or more listeners.

    Usually obtained from ``await nursery.start(serve_websocket, ...)``.

    Args:
        handler: Called with a :class:`WebSocketRequest` for each connection.
        listeners: The listeners to accept on (at least one).
        handler_nursery: Where handlers run (the server's own nursery otherwise).
        message_queue_size: Incoming messages buffered per connection before reading pauses.
        max_message_size: Largest incoming message.
        connect_timeout: Seconds a client has for the opening handshake.
        disconnect_timeout: Seconds for the closing handshake.
    """

    def __init__(
        self,
        handler: Handler,
        listeners: Sequence[trio.abc.Listener[Any]],
        *,
        handler_nursery: trio.Nursery | None = None,
        message_queue_size: int = MESSAGE_QUEUE_SIZE,
        max_message_size: int = MAX_MESSAGE_SIZE,
        connect_timeout: float = CONN_TIMEOUT,
        disconnect_timeout: float = CONN_TIMEOUT,
    ) -> None:
        if not listeners:
            raise ValueError("Listeners must contain at least one item.")
        self._handler = handler
        self._listeners = list(listeners)
        self._handler_nursery = handler_nursery
        self._options = _options(
            message_queue_size, max_message_size, connect_timeout, disconnect_timeout
        )
        self._server: _server.Server | None = None

    @property
    def server(self) -> _server.Server | None:
        """The running :class:`trio_ws.Server` underneath (``None`` before :meth:`run`)."""
        return self._server

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
        async with trio.open_nursery() as nursery:
            self._server = await nursery.start(
                partial(
                    _server.serve_listeners,
                    self._handle,
                    self._listeners,
                    handler_nursery=self._handler_nursery,
                    options=self._options,
                )
            )
            task_status.started(self)

    async def aclose(self) -> None:
        """Stop accepting, close the connections with 1001 and wait for the handlers.

        Not in trio-websocket, whose servers stop only when cancelled.
        """
        if self._server is not None:
            await self._server.aclose()

    async def _handle(self, request: _native_request.WebSocketRequest) -> None:
        if not request.is_websocket:
            await request.respond(400, body="Bad Request: a WebSocket handshake was expected\n")
            return
        await self._handler(WebSocketRequest(request))


async def serve_websocket(
    handler: Handler,
    host: str | bytes | None,
    port: int,
    ssl_context: ssl.SSLContext | None,
    *,
    handler_nursery: trio.Nursery | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
    task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSocket connections on a TCP port until cancelled.

    ``server = await nursery.start(serve_websocket, handler, host, 0, None)`` returns the
    :class:`WebSocketServer` once it listens. The connection closes when ``handler`` returns.

    Args:
        handler: Called with a :class:`WebSocketRequest` for each connection.
        host: The address to bind, or ``None`` for every interface.
        port: The port (0 picks a free one).
        ssl_context: TLS settings, or ``None`` for plain TCP.
        handler_nursery: Where handlers run (the server's own nursery otherwise).
        message_queue_size: Incoming messages buffered per connection before reading pauses.
        max_message_size: Largest incoming message.
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
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )
    await server.run(task_status=task_status)


async def wrap_server_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
) -> WebSocketRequest:
    """Run the server side over a stream you accepted; return the client's request.

    The connection's tasks run in ``nursery``. Accept or reject the request; an accepted
    connection lives until it is closed.

    Args:
        nursery: Where the connection's background tasks run.
        stream: A connected :class:`trio.abc.Stream`.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.

    Raises:
        HandshakeError: the stream ended or did not carry a valid opening handshake.
    """
    options = _options(message_queue_size, max_message_size, CONN_TIMEOUT, CONN_TIMEOUT)
    send, receive = trio.open_memory_channel[WebSocketRequest](1)

    async def handler(request: _native_request.WebSocketRequest) -> None:
        if not request.is_websocket:
            await request.respond(400, body="Bad Request: a WebSocket handshake was expected\n")
            return
        compat = WebSocketRequest(request)
        await send.send(compat)
        await compat._wait_finished()

    async def serve() -> None:
        async with send:
            await _server.serve_stream(handler, stream, options=options)

    nursery.start_soon(serve)
    async with receive:
        try:
            return await receive.receive()
        except trio.EndOfChannel:
            raise HandshakeError("no valid WebSocket opening handshake on the stream") from None


# --- Internals --------------------------------------------------------------------------------


def _options(
    message_queue_size: int,
    max_message_size: int,
    connect_timeout: float | None,
    disconnect_timeout: float | None,
) -> Options:
    # trio-websocket has no keepalive and no compression: neither has the compat layer.
    return Options(
        max_queue=max(1, message_queue_size),
        max_message_size=max_message_size,
        open_timeout=connect_timeout,
        close_timeout=disconnect_timeout,
        ping_interval=None,
        compression=None,
    )


async def _connect(
    nursery: trio.Nursery,
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None,
    extra_headers: ByteHeaders | None,
    message_queue_size: int,
    max_message_size: int,
    disconnect_timeout: float,
) -> WebSocketConnection:
    if use_ssl is True:
        context: ssl.SSLContext | None = ssl.create_default_context()
    elif use_ssl is False:
        context = None
    elif isinstance(use_ssl, ssl.SSLContext):
        context = use_ssl
    else:
        raise TypeError("`use_ssl` argument must be bool or ssl.SSLContext")
    stream: trio.abc.Stream
    if context is None:
        stream = await trio.open_tcp_stream(host, port)
    else:
        stream = await trio.open_ssl_over_tcp_stream(
            host, port, ssl_context=context, https_compatible=True
        )
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == (80 if context is None else 443) else f"{bracketed}:{port}"
    try:
        return await _wrap_client(
            nursery,
            stream,
            host_header,
            resource,
            subprotocols=subprotocols,
            extra_headers=extra_headers,
            options=_options(message_queue_size, max_message_size, None, disconnect_timeout),
        )
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def _wrap_client(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    host: str,
    resource: str,
    *,
    subprotocols: Iterable[str] | None,
    extra_headers: ByteHeaders | None,
    options: Options,
) -> WebSocketConnection:
    try:
        native = await _client.connect_stream(
            nursery,
            stream,
            host=host,
            target=resource or "/",
            subprotocols=tuple(subprotocols or ()),
            headers=_str_headers(extra_headers),
            options=options,
        )
    except HandshakeRejected as exc:
        raise ConnectionRejected(
            exc.status_code, _bytes_headers(exc.headers), exc.body or None
        ) from None
    except HandshakeTimeout as exc:  # pragma: no cover - connect_stream has no timer
        raise ConnectionTimeout(str(exc)) from None
    except InvalidHandshake as exc:
        raise HandshakeError(str(exc)) from exc
    return WebSocketConnection(native)


def _url_to_host(
    url: str, ssl_context: ssl.SSLContext | None
) -> tuple[str, int, str, bool | ssl.SSLContext]:
    uri = parse_uri(str(url))  # InvalidURI is a ValueError, as trio-websocket raises
    if ssl_context is not None and not uri.secure:
        raise ValueError("SSL context must be None for ws: URL scheme")
    use_ssl: bool | ssl.SSLContext = ssl_context if ssl_context is not None else uri.secure
    return uri.host, uri.port, uri.target, use_ssl


@contextmanager
def _translate_closed() -> Iterator[None]:
    try:
        yield
    except _NativeClosed as exc:
        raise ConnectionClosed(CloseReason(exc.code, exc.reason or None)) from None


def _bytes_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers)


def _str_headers(
    headers: Iterable[tuple[bytes | str, bytes | str]] | None,
) -> list[tuple[str, str]]:
    return [
        (
            name.decode("latin-1") if isinstance(name, bytes) else name,
            value.decode("latin-1") if isinstance(value, bytes) else value,
        )
        for name, value in headers or ()
    ]


def _request_stream(request: _native_request.WebSocketRequest) -> trio.abc.Stream | None:
    # The request does not expose its stream publicly yet; read it for the endpoints only.
    stream: trio.abc.Stream | None = getattr(request, "_stream", None)
    return stream


def _endpoint(stream: trio.abc.Stream | None, *, local: bool) -> Endpoint | str:
    sock, is_ssl = None, False
    if isinstance(stream, trio.SocketStream):
        sock = stream.socket
    elif isinstance(stream, trio.SSLStream):
        inner = stream.transport_stream
        sock = getattr(inner, "socket", None)
        is_ssl = True
    if sock is not None:
        try:
            address, port, *_ = sock.getsockname() if local else sock.getpeername()
            return Endpoint(address, port, is_ssl)
        except (OSError, TypeError, ValueError):
            pass
    return repr(stream)
