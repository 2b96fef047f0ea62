"""trio-websocket's client functions, over trio-ws's client handshake."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import trio

from ... import _client
from ..._exceptions import HandshakeRejected, InvalidHandshake
from ..._groups import reraise_single
from ..._url import parse_uri
from ._connection import WebSocketConnection
from ._exceptions import (
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
    HandshakeError,
)
from ._options import (
    CONN_TIMEOUT,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    RECEIVE_BYTES,
    ByteHeaders,
    bytes_headers,
    options,
    str_headers,
)
from ._stream import CompatStream, InformationalResponse

__all__ = [
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "wrap_client_stream",
]


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
    receive_buffer_size: int | None = RECEIVE_BYTES,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> AsyncIterator[WebSocketConnection]:
    """Connect to a WebSocket server; close the connection when the block ends.

    Args:
        host: The host to connect to.
        port: The TCP port.
        resource: The resource: the URL's path and query, such as ``/chat?room=1``.
        use_ssl: ``True`` for TLS with default settings, an :class:`ssl.SSLContext` for
            TLS with those settings, ``False`` for none.
        subprotocols: Subprotocols to offer, in order of preference.
        extra_headers: Extra header fields for the request, (name, value) bytes; the fields
            the WebSocket handshake uses are set by the library.
        message_queue_size: Incoming messages buffered before reading pauses (0: none).
        max_message_size: Largest incoming message, by ``len()`` (larger closes with 1009).
        receive_buffer_size: The most bytes read from the network at once, or ``None`` to
            let trio-ws choose.
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
                    connection = await connect_websocket(
                        nursery,
                        host,
                        port,
                        resource,
                        use_ssl=use_ssl,
                        subprotocols=subprotocols,
                        extra_headers=extra_headers,
                        message_queue_size=message_queue_size,
                        max_message_size=max_message_size,
                        receive_buffer_size=receive_buffer_size,
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
                # The block's exception is the one to report: a cancellation that arrives
                # while closing must not replace it (trio#1559). Trio delivers it again at
                # the next checkpoint, so it is not lost.
                try:
                    await _close(connection, disconnect_timeout)
                except (trio.Cancelled, DisconnectionTimeout):
                    pass
                raise
            await _close(connection, disconnect_timeout)
    except BaseExceptionGroup as group:
        # A cancellation reaches the connection's tasks too: what matters is the one other
        # exception (the block's), if there is one, as trio-websocket reports it.
        _, rest = group.split(trio.Cancelled)
        reraise_single(rest if rest is not None else group)


async def _close(connection: WebSocketConnection, disconnect_timeout: float) -> None:
    with trio.move_on_after(disconnect_timeout) as scope:
        await connection.aclose()  # the transport is closed even when this is cut short
    if scope.cancelled_caught:
        raise DisconnectionTimeout(f"the closing handshake took more than {disconnect_timeout} s")


def open_websocket_url(
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ByteHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> AbstractAsyncContextManager[WebSocketConnection]:
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
        receive_buffer_size: The most bytes read from the network at once, or ``None``.

    Returns:
        An async context manager that yields the :class:`WebSocketConnection`.

    Raises:
        ValueError: not a valid WebSocket URL, or an ``ssl_context`` with ``ws://``.
    """
    host, port, resource, use_ssl = _url_to_host(url, ssl_context)
    return open_websocket(
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )


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
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> WebSocketConnection:
    """Connect to a WebSocket server; the connection's tasks run in ``nursery``.

    Closing the connection is up to you (``await ws.aclose()``), before ``nursery`` ends.

    Args:
        nursery: Where the connection's background tasks run.
        host: The host to connect to.
        port: The TCP port.
        resource: The resource (path and query).
        use_ssl: ``True``, an :class:`ssl.SSLContext`, or ``False``.
        subprotocols: Subprotocols to offer.
        extra_headers: Extra header fields for the request.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.
        receive_buffer_size: The most bytes read from the network at once, or ``None``.

    Raises:
        OSError: the TCP connection failed.
        TypeError: ``use_ssl`` is neither a bool nor an :class:`ssl.SSLContext`.
        ConnectionRejected: the server answered with another status than 101.
        HandshakeError: the handshake broke.
    """
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
        return await wrap_client_stream(
            nursery,
            stream,
            host_header,
            resource,
            subprotocols=subprotocols,
            extra_headers=extra_headers,
            message_queue_size=message_queue_size,
            max_message_size=max_message_size,
            receive_buffer_size=receive_buffer_size,
        )
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise


async def connect_websocket_url(
    nursery: trio.Nursery,
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: ByteHeaders | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = RECEIVE_BYTES,
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
        receive_buffer_size: The most bytes read from the network at once, or ``None``.

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
        receive_buffer_size=receive_buffer_size,
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
    receive_buffer_size: int | None = RECEIVE_BYTES,
) -> WebSocketConnection:
    """Run the client side over a stream you opened; the tasks run in ``nursery``.

    Args:
        nursery: Where the connection's background tasks run.
        stream: A connected :class:`trio.abc.Stream`.
        host: The Host header.
        resource: The resource (path and query).
        subprotocols: Subprotocols to offer.
        extra_headers: Extra header fields for the request.
        message_queue_size: Incoming messages buffered before reading pauses.
        max_message_size: Largest incoming message.
        receive_buffer_size: The most bytes read from the network at once, or ``None``.

    Raises:
        ConnectionRejected: the server answered with another status than 101.
        HandshakeError: the handshake broke.
    """
    compat = CompatStream(
        stream,
        receive_size=receive_buffer_size,
        unbuffered=message_queue_size == 0,
        client=True,
    )
    try:
        native = await _client.connect_stream(
            nursery,
            compat,
            host=host,
            target=resource or "/",
            subprotocols=tuple(subprotocols or ()),
            headers=str_headers(extra_headers),
            options=options(message_queue_size, max_message_size, None, CONN_TIMEOUT),
        )
    except InformationalResponse as exc:
        # wsproto, under trio-websocket, rejects any 1xx but 101; such a response has no body.
        raise ConnectionRejected(exc.status_code, exc.headers, None) from None
    except HandshakeRejected as exc:
        raise ConnectionRejected(exc.status_code, bytes_headers(exc.headers), exc.body) from None
    except InvalidHandshake as exc:
        raise HandshakeError(str(exc)) from exc
    compat.handshake_done()
    return WebSocketConnection(native, compat)


def _url_to_host(
    url: str, ssl_context: ssl.SSLContext | None
) -> tuple[str, int, str, bool | ssl.SSLContext]:
    uri = parse_uri(str(url))  # InvalidURI is a ValueError, as trio-websocket raises
    if ssl_context is not None and not uri.secure:
        raise ValueError("SSL context must be None for ws: URL scheme")
    use_ssl: bool | ssl.SSLContext = ssl_context if ssl_context is not None else uri.secure
    return uri.host, uri.port, uri.target, use_ssl
