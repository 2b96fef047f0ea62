"""The client's HTTP/2: a WebSocket opened by an extended CONNECT (RFC 8441).

Theory of operation. A WebSocket over HTTP/2 is one stream of an HTTP/2 connection
(:class:`~trio_ws._h2_session.Session`). Its opening handshake is a request header block
(``:method = CONNECT``, ``:protocol = websocket``, RFC 8441 §4) answered by ``200``; there is no
``Sec-WebSocket-Key``, ``Upgrade`` or ``101``. After it the stream carries frames exactly as a
TCP connection would, so the connection runs over a :class:`~trio_ws._h2_channel.Channel` with
a core made by :meth:`Connection.opened() <trio_ws.protocol.Connection.opened>`.

Two ways to get the HTTP/2 connection:

* ``open_websocket(url, http2=True)``: TLS offers ``h2`` and ``http/1.1`` (ALPN). On ``h2``,
  if the server's SETTINGS allow extended CONNECT, the WebSocket is a stream of a connection
  of its own, which ends with it; otherwise the client falls back to HTTP/1.1.
* :func:`open_http2_connection`: one HTTP/2 connection that several WebSockets to the same
  origin share (``open_websocket(url, http2=connection)``), each a stream of it.

This module imports ``h2`` (through the session) only when HTTP/2 is used: it is an extra.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, final

import trio

from ._connection import WebSocketConnection, start_connection
from ._exceptions import HandshakeRejected, InvalidHandshake
from ._groups import reraise_single
from ._h2_fields import outgoing_fields, split_header_block
from ._options import DEFAULT_OPEN_TIMEOUT, Options
from ._url import WebSocketURI, parse_uri
from .protocol import (
    AcceptConnection,
    Connection,
    ProtocolError,
    Request,
    Role,
    accept_extension_answer,
    offer_extensions,
)

if TYPE_CHECKING:
    from ._h2_session import Session

__all__ = [
    "HTTP2Connection",
    "NoExtendedConnect",
    "connect_over_http2",
    "connect_stream_over_http2",
    "open_http2_connection",
    "run_alone",
    "session_class",
]

#: The most response body kept from a refused extended CONNECT (for HandshakeRejected).
MAX_REFUSAL_BODY = 65536


class NoExtendedConnect(InvalidHandshake):
    """The server speaks HTTP/2 but does not allow extended CONNECT (RFC 8441 §3)."""


@final
class HTTP2Connection:
    """An HTTP/2 connection to one origin that WebSockets share, one stream each.

    You get one from :func:`open_http2_connection` and pass it to
    :func:`~trio_ws.open_websocket` as ``http2=``; it is valid inside that ``async with``
    block.
    """

    __slots__ = ("_session", "_uri")

    def __init__(self, session: Session, uri: WebSocketURI) -> None:
        self._session = session
        self._uri = uri

    def __repr__(self) -> str:
        return f"<HTTP2Connection {self._uri.host}:{self._uri.port} streams={self.streams}>"

    @property
    def session(self) -> Session:
        """The HTTP/2 session (internal)."""
        return self._session

    @property
    def origin(self) -> tuple[bool, str, int]:
        """``(secure, host, port)`` of the server."""
        return self._uri.secure, self._uri.host, self._uri.port

    @property
    def accepts_websockets(self) -> bool:
        """Whether the server allows WebSockets over this connection (RFC 8441 §3)."""
        return self._session.accepts_websockets

    @property
    def streams(self) -> int:
        """Streams open on the connection (WebSockets, and requests being answered)."""
        return self._session.streams


@asynccontextmanager
async def open_http2_connection(
    url: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
) -> AsyncIterator[HTTP2Connection]:
    """Open one HTTP/2 connection for WebSockets to share; close it when the block ends.

    ::

        async with trio_ws.open_http2_connection("wss://example.com") as h2:
            async with trio_ws.open_websocket("wss://example.com/a", http2=h2) as a:
                async with trio_ws.open_websocket("wss://example.com/b", http2=h2) as b:
                    ...

    Args:
        url: Where to connect: ``wss://`` (TLS, ALPN ``h2``), or ``ws://`` for cleartext
            HTTP/2 with prior knowledge (servers that know they speak h2c).
        ssl_context: TLS settings; it must offer ``h2`` by ALPN
            (``ssl_context.set_alpn_protocols(["h2"])``). A default context otherwise.
        open_timeout: Seconds for TCP, TLS and the server's first SETTINGS.

    Raises:
        InvalidHandshake: the server did not agree on HTTP/2, or does not allow
            WebSockets over it (``SETTINGS_ENABLE_CONNECT_PROTOCOL``).
        OSError: the TCP connection failed.
    """
    Session = session_class()
    uri = parse_uri(url)
    try:
        async with trio.open_nursery() as nursery:
            with trio.fail_after(float("inf") if open_timeout is None else open_timeout):
                stream: trio.abc.Stream = await trio.open_tcp_stream(uri.host, uri.port)
                if uri.secure:
                    context = ssl_context or alpn_context(["h2"])
                    tls = trio.SSLStream(stream, context, server_hostname=uri.host)
                    stream = tls
                    try:
                        await tls.do_handshake()
                    except BaseException:
                        await trio.aclose_forcefully(tls)
                        raise
                    if tls.selected_alpn_protocol() != "h2":
                        await trio.aclose_forcefully(tls)
                        raise InvalidHandshake(f"{uri.host}:{uri.port} does not speak HTTP/2")
                session = Session(stream, client=True)
                await nursery.start(session.run)
                await session.wait_settings()
                if not session.accepts_websockets:
                    raise InvalidHandshake(
                        f"{uri.host}:{uri.port} speaks HTTP/2 but does not allow WebSockets "
                        "over it (no SETTINGS_ENABLE_CONNECT_PROTOCOL)"
                    )
            try:
                yield HTTP2Connection(session, uri)
            finally:
                session.going_away()
                with trio.move_on_after(1.0):
                    await session.wait_drained()
                await session.goodbye()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        reraise_single(group)


def session_class() -> type[Session]:
    """The HTTP/2 session class, or a clear error when the optional ``h2`` is missing."""
    try:
        from ._h2_session import Session  # h2 is an optional extra
    except ImportError:
        raise RuntimeError("HTTP/2 needs the h2 package: pip install 'trio-ws[http2]'") from None
    return Session


def alpn_context(protocols: list[str]) -> ssl.SSLContext:
    """A default client TLS context that offers ``protocols`` by ALPN."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(protocols)
    return context


async def run_alone(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
    """Run a session that carries one WebSocket: it ends (GOAWAY) when that stream does."""
    async with trio.open_nursery() as running:
        await running.start(session.run)
        task_status.started()
        await session.wait_drained()  # going away once the stream is open: then it ends
        await session.goodbye()
        running.cancel_scope.cancel()


async def connect_stream_over_http2(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    *,
    host: str,
    target: str = "/",
    subprotocols: Sequence[str] = (),
    headers: Sequence[tuple[str, str]] = (),
    options: Options | None = None,
) -> WebSocketConnection:
    """Open a WebSocket on an HTTP/2 connection of its own over ``stream`` (prior knowledge).

    The session runs in ``nursery`` and ends (GOAWAY) when the WebSocket's stream does.

    Raises:
        InvalidHandshake: the server does not allow extended CONNECT, or refused it.
    """
    Session = session_class()
    options = options or Options()
    scheme = "wss" if isinstance(stream, trio.SSLStream) else "ws"
    uri = parse_uri(f"{scheme}://{host}{target}")
    session = Session(stream, client=True)
    await nursery.start(run_alone, session)
    try:
        await session.wait_settings()
        if not session.accepts_websockets:
            raise NoExtendedConnect(
                "the server speaks HTTP/2 but does not allow WebSockets over it "
                "(no SETTINGS_ENABLE_CONNECT_PROTOCOL)"
            )
        return await connect_over_http2(
            nursery, session, uri, subprotocols=subprotocols, headers=headers, options=options
        )
    finally:
        session.going_away()  # no other stream: end with this one


async def connect_over_http2(
    nursery: trio.Nursery,
    session: Session,
    uri: WebSocketURI,
    *,
    subprotocols: Sequence[str],
    headers: Sequence[tuple[str, str]],
    options: Options,
) -> WebSocketConnection:
    """Open a WebSocket as a stream of ``session`` (RFC 8441); its tasks run in ``nursery``.

    Raises:
        HandshakeRejected: the server answered with another status than 200.
        InvalidHandshake: the answer broke the protocol, or the stream was reset.
    """
    extensions = options.extensions()
    request = Request(
        host=uri.host_header,
        target=uri.target,
        subprotocols=tuple(subprotocols),
        headers=tuple(headers),
    )
    fields = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https" if uri.secure else "http"),
        (":path", uri.target),
        (":authority", uri.host_header),
        ("sec-websocket-version", "13"),
    ]
    if subprotocols:
        fields.append(("sec-websocket-protocol", ", ".join(subprotocols)))
    offer = offer_extensions(extensions)
    if offer is not None:
        fields.append(("sec-websocket-extensions", offer))
    fields += outgoing_fields(headers)
    try:
        channel = await session.open_stream(fields)
    except (trio.BrokenResourceError, trio.BusyResourceError) as exc:
        raise InvalidHandshake(f"could not open an HTTP/2 stream: {exc}") from None
    try:
        try:
            answer = await session.response(channel)
        except trio.BrokenResourceError as exc:
            raise InvalidHandshake(f"the server ended the extended CONNECT: {exc}") from None
        pseudo, response = split_header_block(answer)
        status = pseudo.get(":status", "")
        if status != "200":
            body = await _read_body(channel)
            raise HandshakeRejected(int(status) if status.isdigit() else 0, tuple(response), body)
        values = [value for name, value in response if name == "sec-websocket-extensions"]
        try:
            accepted = accept_extension_answer(values, extensions)
        except ProtocolError as exc:
            raise InvalidHandshake(f"invalid opening handshake: {exc}") from None
        subprotocol = next((v for k, v in response if k == "sec-websocket-protocol"), None)
        if subprotocol is not None and subprotocol not in subprotocols:
            raise InvalidHandshake(f"the server chose subprotocol {subprotocol!r}, not offered")
        protocol = Connection.opened(
            Role.CLIENT,
            extensions=accepted,
            limits=options.limits(),
            defer_failure=True,
            request=request,
            response=AcceptConnection(
                subprotocol=subprotocol, extensions=tuple(values), headers=tuple(response)
            ),
        )
        return await start_connection(channel, protocol, options, nursery, events=[])
    except BaseException:
        await trio.aclose_forcefully(channel)
        raise


async def _read_body(channel: trio.abc.ReceiveStream) -> bytes:
    """A refusal's body, up to :data:`MAX_REFUSAL_BODY` and one second."""
    body = bytearray()
    with trio.move_on_after(1.0):
        try:
            while len(body) < MAX_REFUSAL_BODY:
                data = await channel.receive_some(MAX_REFUSAL_BODY - len(body))
                if not data:
                    break
                body += data
        except trio.BrokenResourceError:
            pass
    return bytes(body)
