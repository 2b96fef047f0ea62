"""WebSocketRequest: what a server handler receives first, and how it answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, NoReturn, Protocol, final
from urllib.parse import parse_qs, urlsplit

import trio

from ._answer import send_final_answer
from ._connection import WebSocketConnection, start_connection
from ._exceptions import ConnectionClosed, ConnectionClosedError
from ._options import Options
from ._streams import peer_address
from ._tracking import Tracker
from .protocol import (
    AcceptConnection,
    Connection,
    ConnectionState,
    Event,
    Headers,
    LocalProtocolError,
    RejectConnection,
    Request,
)

__all__ = [
    "ORIGIN_NOT_ALLOWED",
    "Exchange",
    "Upgrade",
    "WebSocketRequest",
    "accepted_connection",
    "origin_allowed",
    "run_handler",
]

logger = logging.getLogger("trio_ws")

#: The body of the 403 a WebSocket request from an origin not allowed gets (plus a newline).
ORIGIN_NOT_ALLOWED = "Forbidden: origin not allowed"

#: What a plain HTTP request gets when the handler calls accept() on it.
UPGRADE_REQUIRED_BODY = "Upgrade Required: this is a WebSocket endpoint.\n"


class Exchange(Protocol):
    """How a request is answered: the seam between a request and its HTTP version.

    An HTTP/1.1 upgrade (:class:`Upgrade`, here) or an HTTP/2 stream (``_h2_server``).
    """

    @property
    def stream(self) -> trio.abc.Stream:
        """The stream the WebSocket will run over (for addresses)."""

    @property
    def http_version(self) -> str:
        """``"1.1"`` or ``"2"``."""

    @property
    def waiting(self) -> bool:
        """Whether the request can still be answered (the client is still there)."""

    async def accept(
        self, answer: AcceptConnection
    ) -> tuple[trio.abc.Stream, Connection, list[Event]]:
        """Send the accepting answer; return the stream, the open core, and early events.

        Raises:
            ConnectionClosed: the client left before the answer could be sent.
        """

    async def answer(self, answer: RejectConnection) -> None:
        """Send a final HTTP answer and end the exchange."""


@final
class Upgrade:
    """An HTTP/1.1 request answered by the core's opening handshake."""

    __slots__ = ("_protocol", "_stream")

    http_version = "1.1"

    def __init__(self, stream: trio.abc.Stream, protocol: Connection) -> None:
        self._stream = stream
        self._protocol = protocol

    @property
    def stream(self) -> trio.abc.Stream:
        """The TCP (or TLS) stream."""
        return self._stream

    @property
    def waiting(self) -> bool:
        """Whether the core still waits for the answer."""
        return self._protocol.state is ConnectionState.CONNECTING

    async def accept(
        self, answer: AcceptConnection
    ) -> tuple[trio.abc.Stream, Connection, list[Event]]:
        """Queue the ``101``; the connection writes it (with the frames that follow)."""
        protocol = self._protocol
        protocol.send(answer)
        return self._stream, protocol, protocol.events()

    async def answer(self, answer: RejectConnection) -> None:
        """Write the answer so that it reaches a client that is still sending (_answer.py)."""
        self._protocol.send(answer)
        await send_final_answer(self._stream, self._protocol.data_to_send())


@final
class WebSocketRequest:
    """An incoming HTTP request: a WebSocket opening handshake or a plain GET.

    A server handler receives one and answers it exactly once: :meth:`accept` (WebSocket
    requests only), :meth:`reject`, or :meth:`respond` (plain HTTP). A handler that returns
    without answering gets 403 for a WebSocket request and 404 for a plain one.
    """

    def __init__(
        self,
        exchange: Exchange,
        event: Request,
        options: Options,
        nursery: trio.Nursery,
        tracker: Tracker | None,
    ) -> None:
        self._exchange = exchange
        self._event = event
        self._options = options
        self._nursery = nursery
        self._tracker = tracker
        self._connection: WebSocketConnection | None = None
        self._answered = False
        # The exception accept() raised after answering a plain HTTP request with 426.
        self._upgrade_required: ConnectionClosed | None = None
        split = urlsplit(event.target)
        self._path = split.path
        self._query = split.query

    def __repr__(self) -> str:
        kind = "WebSocket" if self.is_websocket else "HTTP"
        return f"<WebSocketRequest {kind} {self._event.target!r}>"

    @property
    def event(self) -> Request:
        """The core's :class:`~trio_ws.protocol.Request` event."""
        return self._event

    @property
    def is_websocket(self) -> bool:
        """``True`` for an opening handshake, ``False`` for a plain HTTP GET."""
        return self._event.is_websocket

    @property
    def target(self) -> str:
        """The request target (path and query), as sent."""
        return self._event.target

    @property
    def path(self) -> str:
        """The path part of the target."""
        return self._path

    @property
    def query(self) -> str:
        """The query string (without ``?``)."""
        return self._query

    @property
    def query_params(self) -> dict[str, list[str]]:
        """The query string parsed into lists of values."""
        return parse_qs(self._query)

    @property
    def host(self) -> str:
        """The Host header."""
        return self._event.host

    @property
    def headers(self) -> Headers:
        """Every header field, names lower-cased."""
        return self._event.headers

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or ``None``."""
        name = name.lower()
        for key, value in self._event.headers:
            if key == name:
                return value
        return None

    @property
    def origin(self) -> str | None:
        """The Origin header, or ``None`` (non-browser clients usually send none)."""
        return self.header("origin")

    @property
    def subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the client offered, in its order of preference."""
        return self._event.subprotocols

    @property
    def remote_address(self) -> Any:
        """The client's socket address, or ``None`` for a stream without a socket."""
        return peer_address(self._exchange.stream)

    @property
    def http_version(self) -> str:
        """``"1.1"``, or ``"2"`` for a request on an HTTP/2 stream.

        Over HTTP/2 a WebSocket request is an extended CONNECT (RFC 8441).
        """
        return self._exchange.http_version

    @property
    def answered(self) -> bool:
        """Whether the request was accepted, rejected or responded to."""
        return self._answered

    async def accept(
        self, *, subprotocol: str | None = None, headers: Headers | list[tuple[str, str]] = ()
    ) -> WebSocketConnection:
        """Accept the opening handshake and return the connection.

        The connection lives until the handler returns (then it closes with 1000, or 1011 if
        the handler raised) or until it is closed.

        A plain HTTP request (a browser or curl pointed at a WebSocket URL) cannot be
        accepted: it is answered with ``426 Upgrade Required`` and ``Upgrade: websocket``,
        logged at INFO, and :exc:`ConnectionClosed` is raised, which the server lets pass
        without logging an error. A handler that wants to answer plain HTTP checks
        :attr:`is_websocket` first and calls :meth:`respond`.

        Args:
            subprotocol: One of :attr:`subprotocols`, or ``None``.
            headers: Extra header fields for the ``101`` response.

        Raises:
            LocalProtocolError: already answered, or a subprotocol the client did not offer.
            ConnectionClosed: the client left before the answer could be sent, or the
                request was plain HTTP (answered with 426).
        """
        # A cancellation point here; the write of the answer below is the schedule point.
        await trio.lowlevel.checkpoint_if_cancelled()
        if not self.is_websocket:
            await self._refuse_plain_http()
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise LocalProtocolError(f"the client did not offer subprotocol {subprotocol!r}")
        self._claim()
        answer = AcceptConnection(subprotocol=subprotocol, headers=tuple(headers))
        stream, protocol, events = await self._exchange.accept(answer)
        connection = await start_connection(
            stream,
            protocol,
            self._options,
            self._nursery,
            events=events,  # frames sent with the request
            keepalive=self._tracker.keepalive if self._tracker else None,
        )
        self._connection = connection
        if self._tracker is not None:
            self._tracker.track(connection)
        return connection

    async def reject(
        self,
        status_code: int = 403,
        *,
        headers: Headers | list[tuple[str, str]] = (),
        body: bytes | str = b"",
    ) -> None:
        """Refuse the request with an HTTP response; the connection then closes.

        So that the answer reaches a client that is still sending, this shuts down the
        writing side, then reads and discards what the client sends until it closes (at
        most 4 MiB and 2 seconds) before closing.

        Args:
            status_code: 200-599 (403 by default).
            headers: Header fields; ``Content-Length`` and ``Connection: close`` are added.
            body: The body; ``str`` is sent as UTF-8 text/plain unless a Content-Type is given.

        Raises:
            LocalProtocolError: already answered.
        """
        await trio.lowlevel.checkpoint()
        self._claim()
        headers = tuple(headers)
        if isinstance(body, str):
            body = body.encode("utf-8")
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers += (("Content-Type", "text/plain; charset=utf-8"),)
        await self._exchange.answer(
            RejectConnection(status_code=status_code, headers=headers, body=body)
        )

    async def respond(
        self,
        status_code: int = 200,
        *,
        headers: Headers | list[tuple[str, str]] = (),
        body: bytes | str = b"",
    ) -> None:
        """Answer a plain HTTP request (a health check, an app's page) on the same port.

        Same as :meth:`reject` with 200 as the default status.
        """
        await self.reject(status_code, headers=headers, body=body)

    async def _refuse_plain_http(self) -> NoReturn:
        """Answer 426 to a plain HTTP request the handler tried to accept, and raise."""
        logger.info("plain HTTP request for %r answered with 426 Upgrade Required", self.target)
        await self.reject(426, headers=[("Upgrade", "websocket")], body=UPGRADE_REQUIRED_BODY)
        error = ConnectionClosedError(
            None, None, "a plain HTTP request, answered with 426 Upgrade Required"
        )
        self._upgrade_required = error
        raise error

    def _claim(self) -> None:
        if self._answered:
            raise LocalProtocolError("this request was already answered")
        if not self._exchange.waiting:
            raise LocalProtocolError("the client left before the request was answered")
        self._answered = True

    async def _finish(self, error: BaseException | None) -> None:
        """After the handler: close what it left open."""
        if self._connection is not None:
            if error is None:
                await self._connection.aclose(1000)
            else:
                await self._connection.aclose(1011, "unexpected error")
        elif not self._answered and self._exchange.waiting:
            if error is not None:
                await self.reject(500, body="Internal Server Error\n")
            elif self.is_websocket:
                await self.reject(403, body="Forbidden\n")
            else:
                await self.reject(404, body="Not Found\n")


async def run_handler(
    handler: Callable[[WebSocketRequest], Awaitable[object]], request: WebSocketRequest
) -> None:
    """Run the application's handler on ``request``, then close what it left open.

    A handler that raised is logged (except for the 426 that accept() answered to a plain
    HTTP request, logged at INFO already), and its connection closed with 1011, or its
    request answered with 500.
    """
    try:
        await handler(request)
    except Exception as exc:
        if exc is not request._upgrade_required:
            logger.exception("handler raised for %r", request)
        await request._finish(exc)
    else:
        await request._finish(None)


def accepted_connection(request: WebSocketRequest) -> WebSocketConnection | None:
    """The connection ``request`` was accepted into, if it was."""
    return request._connection


def origin_allowed(event: Request, origins: Collection[str | None] | None) -> bool:
    """Whether the server's Origin policy lets ``event`` through (``origins=None``: any).

    Plain HTTP requests are not checked; a WebSocket request without Origin passes only if
    ``None`` is among ``origins``.
    """
    if origins is None or not event.is_websocket:
        return True
    return next((v for k, v in event.headers if k == "origin"), None) in origins
