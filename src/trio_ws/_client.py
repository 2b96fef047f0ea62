"""The client: open_websocket() for ws:// and wss:// URIs, or over any trio stream."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio

from ._connection import WebSocketConnection
from ._exceptions import HandshakeRejected, HandshakeTimeout, InvalidHandshake
from ._groups import reraise_single
from ._options import RECEIVE_SIZE, Compression, Options
from ._url import parse_uri
from .protocol import (
    AcceptConnection,
    Connection,
    ConnectionFailed,
    RejectConnection,
    Request,
    Role,
)
from .protocol._limits import DEFAULT_MAX_MESSAGE_SIZE

__all__ = ["connect_stream", "open_websocket", "open_websocket_stream"]

HeaderList = Sequence[tuple[str, str]]


@asynccontextmanager
async def open_websocket(
    url: str,
    *,
    subprotocols: Sequence[str] = (),
    headers: HeaderList = (),
    origin: str | None = None,
    compression: Compression = "deflate",
    ssl_context: ssl.SSLContext | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    max_queue: int = 16,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float | None = 10.0,
    open_timeout: float | None = 10.0,
) -> AsyncIterator[WebSocketConnection]:
    """Connect to a WebSocket server; close the connection when the block ends.

    ::

        async with trio_ws.open_websocket("wss://example.com/chat") as ws:
            await ws.send("hello")
            print(await ws.receive())

    Leaving the block closes with 1000 (1011 if it raised), waits up to ``close_timeout``
    for the server, and closes the TCP connection. Exceptions raised in the block come out
    as themselves.

    Args:
        url: A ``ws://`` or ``wss://`` URI.
        subprotocols: Subprotocols to offer, in order of preference.
        headers: Extra header fields for the handshake request (``Authorization``, ...).
        origin: The Origin header to send, if any.
        compression: ``"deflate"`` to offer permessage-deflate, ``None`` for no compression.
        ssl_context: TLS settings for ``wss://`` (a default context otherwise).
        max_message_size: Largest incoming message in bytes (``None``: no limit).
        max_queue: Incoming messages buffered before reading pauses.
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a keepalive pong before closing with 1011.
        close_timeout: Seconds to wait for the closing handshake.
        open_timeout: Seconds for TCP connect, TLS and the opening handshake.

    Raises:
        InvalidURI: ``url`` is not a valid WebSocket URI.
        HandshakeRejected: the server answered with another status than 101.
        InvalidHandshake: the server's answer broke the protocol.
        HandshakeTimeout: ``open_timeout`` ran out.
        OSError: the TCP connection failed.
    """
    uri = parse_uri(url)
    options = Options(
        compression=compression,
        max_message_size=max_message_size,
        max_queue=max_queue,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=close_timeout,
        open_timeout=open_timeout,
    )
    request_headers = list(headers)
    if origin is not None:
        request_headers.append(("Origin", origin))
    try:
        async with trio.open_nursery() as nursery:
            with _open_timer(options, f"{uri.host}:{uri.port}"):
                stream: trio.abc.Stream = await trio.open_tcp_stream(uri.host, uri.port)
                try:
                    if uri.secure:
                        context = ssl_context or ssl.create_default_context()
                        stream = trio.SSLStream(
                            stream, context, server_hostname=uri.host, https_compatible=True
                        )
                        await stream.do_handshake()
                    ws = await connect_stream(
                        nursery,
                        stream,
                        host=uri.host_header,
                        target=uri.target,
                        subprotocols=subprotocols,
                        headers=request_headers,
                        options=options,
                    )
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
            async with _closing(ws):
                yield ws
    except BaseExceptionGroup as group:
        reraise_single(group)


@asynccontextmanager
async def open_websocket_stream(
    stream: trio.abc.Stream,
    *,
    host: str,
    target: str = "/",
    subprotocols: Sequence[str] = (),
    headers: HeaderList = (),
    options: Options | None = None,
) -> AsyncIterator[WebSocketConnection]:
    """Run the client side over a stream you already have (a custom transport, a test pair).

    Like :func:`open_websocket`, but the transport is yours: no TCP or TLS is opened, and
    ``open_timeout`` covers the handshake only. The stream is closed when the block ends.

    Args:
        stream: A connected :class:`trio.abc.Stream`.
        host: The Host header.
        target: The request target (path and query).
        subprotocols: Subprotocols to offer.
        headers: Extra header fields.
        options: Connection settings (defaults otherwise).
    """
    options = options or Options()
    try:
        async with trio.open_nursery() as nursery:
            with _open_timer(options, host):
                try:
                    ws = await connect_stream(
                        nursery,
                        stream,
                        host=host,
                        target=target,
                        subprotocols=subprotocols,
                        headers=headers,
                        options=options,
                    )
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
            async with _closing(ws):
                yield ws
    except BaseExceptionGroup as group:
        reraise_single(group)


async def connect_stream(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    *,
    host: str,
    target: str = "/",
    subprotocols: Sequence[str] = (),
    headers: HeaderList = (),
    options: Options | None = None,
) -> WebSocketConnection:
    """Run the client handshake over ``stream``; the connection's tasks run in ``nursery``.

    The lower-level building block of :func:`open_websocket_stream`: closing the connection
    (``await ws.aclose()``) is up to you, and must happen before ``nursery`` can finish.

    Raises:
        HandshakeRejected: the server answered with another status than 101.
        InvalidHandshake: the server's answer broke the protocol, or the stream ended.
    """
    options = options or Options()
    protocol = Connection(Role.CLIENT, extensions=options.extensions(), limits=options.limits())
    protocol.send(
        Request(host=host, target=target, subprotocols=tuple(subprotocols), headers=tuple(headers))
    )
    try:
        await stream.send_all(protocol.data_to_send())
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise InvalidHandshake(f"the connection broke while sending the request: {exc}") from None
    while True:
        try:
            data = await stream.receive_some(RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        events = protocol.events()
        for index, event in enumerate(events):
            if isinstance(event, AcceptConnection):
                ws = WebSocketConnection(stream, protocol, options, nursery)
                ws._queue.extend(ws._handle_events(events[index + 1 :]))
                ws._start_background()
                return ws
            if isinstance(event, RejectConnection):
                raise HandshakeRejected(event.status_code, event.headers, event.body)
            if isinstance(event, ConnectionFailed):
                raise InvalidHandshake(f"invalid opening handshake: {event.error}")
        if not data:  # pragma: no cover - the core reports EOF as ConnectionFailed
            raise InvalidHandshake("connection closed during the opening handshake")


class _open_timer:
    """``fail_after(open_timeout)`` that raises :class:`HandshakeTimeout` instead."""

    def __init__(self, options: Options, where: str) -> None:
        self._timeout = options.open_timeout
        self._where = where
        self._scope = trio.CancelScope()

    def __enter__(self) -> None:
        if self._timeout is not None:
            self._scope.deadline = trio.current_time() + self._timeout
        self._scope.__enter__()

    def __exit__(self, *exc_info: object) -> bool:
        handled = self._scope.__exit__(*exc_info)  # type: ignore[arg-type]
        if self._scope.cancelled_caught:
            raise HandshakeTimeout(
                f"opening handshake with {self._where} timed out after {self._timeout} s"
            )
        return bool(handled)


@asynccontextmanager
async def _closing(ws: WebSocketConnection) -> AsyncIterator[None]:
    """Close ``ws`` when the block ends: 1000 normally, 1011 if the block raised."""
    try:
        yield
    except BaseException:
        await ws.aclose(1011, "unexpected error")
        raise
    await ws.aclose(1000)
