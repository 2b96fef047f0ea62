"""The client: open_websocket() for ws:// and wss:// URIs, or over any trio stream.

open_websocket() reaches the server directly, through an HTTP CONNECT proxy (_proxy.py) or
over a Unix socket, follows redirects, and hands the stream to connect_stream(), which runs
the handshake. reconnecting() (_reconnect.py) reuses client_plan() and connect_plan().
"""

from __future__ import annotations

import itertools
import os
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

import trio

from ._connection import WebSocketConnection, start_connection
from ._exceptions import (
    HandshakeRejected,
    HandshakeTimeout,
    InvalidHandshake,
    InvalidURI,
    TLSError,
)
from ._groups import reraise_single
from ._h2_client import (
    HTTP2Connection,
    NoExtendedConnect,
    alpn_context,
    connect_over_http2,
    connect_stream_over_http2,
)
from ._handshake_reader import read_handshake_events
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
from ._proxy import ProxySetting, ProxyURL, choose_proxy, open_tunnel, parse_proxy_url
from ._url import WebSocketURI, parse_uri
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


#: Statuses that redirect (RFC 9110 §15.4), when they come with a Location header.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

#: Header fields of the user's that never follow a redirect to another origin.
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})


@asynccontextmanager
async def open_websocket(
    url: str,
    *,
    subprotocols: Sequence[str] = (),
    headers: HeaderList = (),
    origin: str | None = None,
    compression: Compression = DEFAULT_COMPRESSION,
    ssl_context: ssl.SSLContext | None = None,
    proxy: ProxySetting = None,
    max_redirects: int = 10,
    unix_socket_path: str | os.PathLike[str] | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    max_queue: int = DEFAULT_MAX_QUEUE,
    ping_interval: float | None = DEFAULT_PING_INTERVAL,
    ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
    http2: bool | HTTP2Connection = False,
) -> AsyncIterator[WebSocketConnection]:
    """Connect to a WebSocket server; close the connection when the block ends.

    ::

        async with trio_ws.open_websocket("wss://example.com/chat") as ws:
            await ws.send("hello")
            print(await ws.receive())

    Leaving the block closes with 1000 (1011 if it raised), waits up to ``close_timeout``
    for the server, and closes the TCP connection. Exceptions raised in the block come out
    as themselves.

    Redirects (301, 302, 303, 307, 308 with a ``Location``) are followed, up to
    ``max_redirects``. A relative Location is resolved against the current URL, and
    ``http://``/``https://`` Locations mean ``ws://``/``wss://``. ``ws://`` may redirect to
    ``wss://`` but never the other way. When the origin (scheme, host, port) changes, the
    ``Authorization`` and ``Cookie`` fields of ``headers`` are not sent there.

    Args:
        url: A ``ws://`` or ``wss://`` URI.
        subprotocols: Subprotocols to offer, in order of preference.
        headers: Extra header fields for the handshake request (``Authorization``, ...).
        origin: The Origin header to send, if any.
        compression: ``"deflate"`` to offer permessage-deflate, ``None`` for no compression.
        ssl_context: TLS settings for ``wss://`` (a default context otherwise).
        proxy: An HTTP proxy to tunnel through with ``CONNECT``, as
            ``http://[user:password@]host:port``; ``None`` (the default) takes it from the
            environment (``https_proxy`` for ``wss://``, ``http_proxy`` for ``ws://``, then
            ``all_proxy``, unless ``no_proxy`` lists the host); ``False`` never uses one.
        max_redirects: Redirects to follow before giving up (0: a redirect raises
            :exc:`HandshakeRejected` like any other status).
        unix_socket_path: Connect to this Unix socket instead of the URL's host and port,
            which then only fill the ``Host`` header (and TLS's server name for ``wss://``).
        max_message_size: Largest incoming message in bytes (``None``: no limit).
        max_queue: Incoming messages buffered before reading pauses.
        ping_interval: Seconds between keepalive pings (``None``: no keepalive).
        ping_timeout: Seconds to wait for a keepalive pong before closing with 1011.
        close_timeout: Seconds to wait for the closing handshake.
        open_timeout: Seconds for everything before the connection is open: TCP connect,
            proxy tunnel, TLS, the opening handshake, and redirects.
        http2: ``True`` to use WebSockets over HTTP/2 (RFC 8441) when the server offers them
            (``wss://`` only; needs ``pip install 'trio-ws[http2]'``): TLS offers ``h2`` by
            ALPN, and if the server speaks HTTP/2 and allows extended CONNECT, the WebSocket
            is a stream of its own HTTP/2 connection; otherwise HTTP/1.1 is used, as
            without it. Or an :class:`~trio_ws.HTTP2Connection` from
            :func:`~trio_ws.open_http2_connection`, to share one connection.

    Raises:
        InvalidURI: ``url`` (or ``proxy``) is not a valid URI.
        HandshakeRejected: the server answered with another status than 101 (and not a
            redirect that could be followed).
        InvalidHandshake: the server's answer broke the protocol, or a redirect was refused
            (``wss://`` to ``ws://``, not a WebSocket URL, more than ``max_redirects``).
        ProxyError: the proxy refused to open the tunnel (407: it wants credentials).
        HandshakeTimeout: ``open_timeout`` ran out.
        OSError: the TCP connection failed.
    """
    plan = client_plan(
        url,
        subprotocols=subprotocols,
        headers=headers,
        origin=origin,
        compression=compression,
        ssl_context=ssl_context,
        proxy=proxy,
        max_redirects=max_redirects,
        unix_socket_path=unix_socket_path,
        max_message_size=max_message_size,
        max_queue=max_queue,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=close_timeout,
        open_timeout=open_timeout,
        http2=http2,
    )
    try:
        async with trio.open_nursery() as nursery:
            ws = await connect_plan(nursery, plan)
            async with _closing(ws):
                yield ws
    except BaseExceptionGroup as group:
        reraise_single(group)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientPlan:
    """Everything needed to (re)connect to a URL: what open_websocket() was given, checked."""

    url: str
    uri: WebSocketURI
    subprotocols: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    ssl_context: ssl.SSLContext | None
    proxy: ProxyURL | Literal[False] | None
    max_redirects: int
    unix_socket_path: str | os.PathLike[str] | None
    options: Options
    http2: bool | HTTP2Connection = False


def client_plan(
    url: str,
    *,
    subprotocols: Sequence[str],
    headers: HeaderList,
    origin: str | None,
    compression: Compression,
    ssl_context: ssl.SSLContext | None,
    proxy: ProxySetting,
    max_redirects: int,
    unix_socket_path: str | os.PathLike[str] | None,
    max_message_size: int | None,
    max_queue: int,
    ping_interval: float | None,
    ping_timeout: float | None,
    close_timeout: float | None,
    open_timeout: float | None,
    http2: bool | HTTP2Connection = False,
) -> ClientPlan:
    """Check the client's arguments once and gather them.

    Raises:
        InvalidURI: ``url`` or ``proxy`` is not valid.
        ValueError: an argument is out of range, or ``proxy`` and ``unix_socket_path`` are
            both given.
    """
    uri = parse_uri(url)
    if max_redirects < 0:
        raise ValueError(f"max_redirects must be 0 or more, not {max_redirects}")
    if unix_socket_path is not None and proxy not in (None, False):
        raise ValueError("proxy and unix_socket_path cannot be used together")
    options = Options(
        compression=compression,
        max_message_size=max_message_size,
        max_queue=max_queue,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=close_timeout,
        open_timeout=open_timeout,
    )
    request_headers = tuple(headers)
    if origin is not None:
        request_headers += (("Origin", origin),)
    return ClientPlan(
        url=url,
        uri=uri,
        subprotocols=tuple(subprotocols),
        headers=request_headers,
        ssl_context=ssl_context,
        # An explicit proxy URL is parsed now, so a bad one fails before any I/O. The
        # environment is read on every connection (and hop): no_proxy depends on the host.
        proxy=parse_proxy_url(proxy) if isinstance(proxy, str) else proxy,
        max_redirects=max_redirects,
        unix_socket_path=unix_socket_path,
        options=options,
        http2=http2,
    )


async def connect_plan(nursery: trio.Nursery, plan: ClientPlan) -> WebSocketConnection:
    """Open the transport, run the handshake and follow redirects, under ``open_timeout``.

    The connection's tasks run in ``nursery``; closing the connection is the caller's job.
    """
    url, uri, headers = plan.url, plan.uri, plan.headers
    with _open_timer(plan.options, f"{uri.host}:{uri.port}"):
        if isinstance(plan.http2, HTTP2Connection):
            return await _connect_shared(nursery, plan, plan.http2)
        for hop in itertools.count():
            stream = await _open_transport(plan, uri)
            try:
                if _speaks_h2(stream):
                    ws = await _connect_over_own_http2(nursery, plan, uri, stream, headers)
                    if ws is not None:
                        return ws
                    if plan.ssl_context is not None:  # it offers h2: the server would pick it
                        raise NoExtendedConnect(
                            f"{uri.host}:{uri.port} speaks HTTP/2 but does not allow "
                            "WebSockets over it; offer only http/1.1 by ALPN on ssl_context "
                            "to use HTTP/1.1 there"
                        )
                    # HTTP/2 without RFC 8441: again, over HTTP/1.1.
                    stream = await _open_transport(plan, uri, http2=False)
                return await connect_stream(
                    nursery,
                    stream,
                    host=uri.host_header,
                    target=uri.target,
                    subprotocols=plan.subprotocols,
                    headers=headers,
                    options=plan.options,
                )
            except HandshakeRejected as exc:
                await trio.aclose_forcefully(stream)
                location = _location(exc) if plan.max_redirects else None
                if location is None:
                    raise
                if hop >= plan.max_redirects:
                    raise InvalidHandshake(f"too many redirects ({plan.max_redirects})") from exc
                try:
                    new_url, new_uri = _follow(url, uri, location)
                except InvalidHandshake as refused:
                    raise refused from exc  # the response stays reachable as the cause
                if _origin(new_uri) != _origin(uri):
                    if plan.unix_socket_path is not None:
                        raise InvalidHandshake(
                            f"server redirected to another origin ({new_url}), which the "
                            "Unix socket does not lead to"
                        ) from exc
                    headers = tuple(
                        (name, value)
                        for name, value in headers
                        if name.lower() not in _CREDENTIAL_HEADERS
                    )
                url, uri = new_url, new_uri
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _connect_shared(
    nursery: trio.Nursery, plan: ClientPlan, connection: HTTP2Connection
) -> WebSocketConnection:
    """Open the WebSocket as a new stream of a shared HTTP/2 connection."""
    uri = plan.uri
    if connection.origin != (uri.secure, uri.host, uri.port):
        raise InvalidURI(plan.url, "not the origin of the given HTTP/2 connection")
    return await connect_over_http2(
        nursery,
        connection.session,
        uri,
        subprotocols=plan.subprotocols,
        headers=plan.headers,
        options=plan.options,
    )


def _speaks_h2(stream: trio.abc.Stream) -> bool:
    return isinstance(stream, trio.SSLStream) and stream.selected_alpn_protocol() == "h2"


async def _connect_over_own_http2(
    nursery: trio.Nursery,
    plan: ClientPlan,
    uri: WebSocketURI,
    stream: trio.abc.Stream,
    headers: tuple[tuple[str, str], ...],
) -> WebSocketConnection | None:
    """Open the WebSocket on an HTTP/2 connection of its own (``None``: no RFC 8441 there).

    The connection runs in ``nursery`` and ends when the WebSocket's stream does.
    """
    try:
        return await connect_stream_over_http2(
            nursery,
            stream,
            host=uri.host_header,
            target=uri.target,
            subprotocols=plan.subprotocols,
            headers=headers,
            options=plan.options,
        )
    except NoExtendedConnect:
        return None


async def _open_transport(
    plan: ClientPlan, uri: WebSocketURI, *, http2: bool = True
) -> trio.abc.Stream:
    """A stream to the server: over TCP, a proxy tunnel or a Unix socket; TLS for wss://.

    With ``plan.http2`` (and ``http2``), a default TLS context offers ``h2`` by ALPN.
    """
    stream: trio.abc.Stream
    if plan.unix_socket_path is not None:
        stream = await trio.open_unix_socket(plan.unix_socket_path)
    else:
        if plan.proxy is None:  # from the environment
            proxy = choose_proxy(None, secure=uri.secure, host=uri.host, port=uri.port)
        else:
            proxy = plan.proxy or None
        if proxy is None:
            stream = await trio.open_tcp_stream(uri.host, uri.port)
        else:
            stream = await open_tunnel(proxy, uri.host, uri.port)
    if uri.secure:
        try:
            if plan.ssl_context is not None:
                context = plan.ssl_context
            elif plan.http2 is True and http2:
                context = alpn_context(["h2", "http/1.1"])
            else:
                context = ssl.create_default_context()
            stream = trio.SSLStream(
                stream, context, server_hostname=uri.host, https_compatible=True
            )
            await stream.do_handshake()
        except BaseException as exc:
            await trio.aclose_forcefully(stream)
            error = _tls_error(exc, uri.host)
            if error is None:
                raise
            raise error from exc.__cause__ or exc
    return stream


def _tls_error(exc: BaseException, host: str) -> TLSError | None:
    """The one place where a failed TLS handshake becomes a trio-ws exception.

    trio's SSLStream reports the :mod:`ssl` error as the cause of a BrokenResourceError; the
    application gets a :exc:`~trio_ws.TLSError` naming it instead (``None``: anything else,
    a cancellation or a programming error, passes unchanged).
    """
    if isinstance(exc, trio.BrokenResourceError | ssl.SSLError | ssl.CertificateError):
        cause = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
        rejected = isinstance(cause, ssl.SSLCertVerificationError | ssl.CertificateError)
        reason = str(cause or exc) or type(cause or exc).__name__
        return TLSError(
            f"TLS handshake with {host} failed: {reason}", certificate_rejected=rejected
        )
    return None


def _location(exc: HandshakeRejected) -> str | None:
    """The Location of a redirect, or ``None`` if ``exc`` is not one."""
    if exc.status_code not in REDIRECT_STATUSES:
        return None
    for name, value in exc.headers:
        if name.lower() == "location" and value.strip():
            return value.strip()
    return None


def _follow(url: str, uri: WebSocketURI, location: str) -> tuple[str, WebSocketURI]:
    """Resolve a redirect's Location against ``url``, and check it may be followed.

    ``http``/``https`` Locations map to ``ws``/``wss``: servers and frameworks often build
    Locations with the HTTP schemes, and the handshake *is* an HTTP request.

    Raises:
        InvalidHandshake: not a WebSocket (or HTTP) URL, a downgrade from ``wss://`` to
            ``ws://``, or an invalid URI.
    """
    target, _ = urldefrag(urljoin(url, location))  # a fragment has no meaning here
    parts = urlsplit(target)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None:
        raise InvalidHandshake(f"server redirected to {target!r}, which is not a WebSocket URL")
    new_url = parts._replace(scheme=scheme).geturl()
    if uri.secure and scheme == "ws":
        raise InvalidHandshake(
            f"server redirected from {url!r} to {new_url!r}: "
            "refusing to downgrade from wss:// to ws://"
        )
    try:
        return new_url, parse_uri(new_url)
    except InvalidURI as exc:
        raise InvalidHandshake(f"server redirected to an invalid URI: {exc}") from None


def _origin(uri: WebSocketURI) -> tuple[bool, str, int]:
    return uri.secure, uri.host.lower(), uri.port


@asynccontextmanager
async def open_websocket_stream(
    stream: trio.abc.Stream,
    *,
    host: str,
    target: str = "/",
    subprotocols: Sequence[str] = (),
    headers: HeaderList = (),
    options: Options | None = None,
    http2: bool = False,
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
        http2: The stream speaks HTTP/2 from its first byte (after ALPN ``h2``, or cleartext
            with prior knowledge): the WebSocket is an extended CONNECT (RFC 8441) on it.
    """
    options = options or Options()
    try:
        async with trio.open_nursery() as nursery:
            with _open_timer(options, host):
                try:
                    connect = connect_stream_over_http2 if http2 else connect_stream
                    ws = await connect(
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
    (``await ws.aclose()``) is up to you, and should happen before ``nursery`` finishes. (A
    connection whose nursery has finished can start no task to read for it; it then ends,
    with the stream closed, the next time it needs one.)

    Raises:
        HandshakeRejected: the server answered with another status than 101.
        InvalidHandshake: the server's answer broke the protocol, or the stream ended.
    """
    options = options or Options()
    protocol = Connection(
        Role.CLIENT, extensions=options.extensions(), limits=options.limits(), defer_failure=True
    )
    protocol.send(
        Request(host=host, target=target, subprotocols=tuple(subprotocols), headers=tuple(headers))
    )
    try:
        await stream.send_all(protocol.data_to_send())
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise InvalidHandshake(f"the connection broke while sending the request: {exc}") from None
    while events := await read_handshake_events(stream, protocol):
        for index, event in enumerate(events):
            if isinstance(event, AcceptConnection):
                return await start_connection(
                    stream, protocol, options, nursery, events=events[index + 1 :]
                )
            if isinstance(event, RejectConnection):
                raise HandshakeRejected(event.status_code, event.headers, event.body)
            if isinstance(event, ConnectionFailed):
                raise InvalidHandshake(f"invalid opening handshake: {event.error}")
    # (The core reports the end of the stream as ConnectionFailed.)
    raise InvalidHandshake("connection closed during the opening handshake")  # pragma: no cover


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
