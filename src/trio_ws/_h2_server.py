"""The server's HTTP/2: every stream of a connection is a request for the same handler.

Theory of operation. :func:`serve_http2` runs one HTTP/2 connection (after TLS with ALPN
``h2``, or cleartext with prior knowledge) as a :class:`~trio_ws._h2_session.Session` that
advertises ``SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`` (RFC 8441 §3). Each new stream becomes a
task that reads its request header block into the same :class:`~trio_ws.WebSocketRequest` an
HTTP/1.1 request becomes:

* an extended CONNECT with ``:protocol = websocket`` (RFC 8441 §4) is a WebSocket request:
  ``accept()`` answers ``200`` with the negotiated subprotocol and extensions, and the
  connection runs over the stream (:class:`~trio_ws._h2_channel.Channel`), in a core made by
  :meth:`Connection.opened() <trio_ws.protocol.Connection.opened>`;
* a GET or HEAD is a plain request, for ``respond()``;
* anything else is answered at once (405, 400), as the HTTP/1.1 path does.

The handler's task and its nursery are the same as over HTTP/1.1 (one per request), so a
handler cannot tell the difference except through :attr:`WebSocketRequest.http_version`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import final

import trio

from ._exceptions import ConnectionClosedError
from ._h2_channel import Channel, Direction
from ._h2_fields import Header, outgoing_fields, split_header_block
from ._h2_session import Session
from ._options import Options
from ._request import (
    ORIGIN_NOT_ALLOWED,
    WebSocketRequest,
    accepted_connection,
    origin_allowed,
    run_handler,
)
from ._serving import Handler
from ._tracking import Tracker
from .protocol import (
    AcceptConnection,
    Connection,
    Event,
    LocalProtocolError,
    ProtocolError,
    RejectConnection,
    Request,
    Role,
    answer_extension_offers,
)
from .protocol.extensions import Extension

__all__ = ["Stream", "serve_http2"]


async def serve_http2(
    handler: Handler,
    transport: trio.abc.Stream,
    options: Options,
    origins: Collection[str | None] | None,
    tracker: Tracker | None,
) -> None:
    """Serve one HTTP/2 connection until it ends; each stream runs ``handler`` in a task.

    When the server shuts down (``Tracker.sessions``), or when the connection has had no
    stream for ``open_timeout`` seconds, the session sends GOAWAY and ends once its last
    stream has.
    """
    async with trio.open_nursery() as requests:

        def on_request(channel: Channel, headers: list[Header], ended: bool) -> None:
            requests.start_soon(
                _serve_stream, handler, session, channel, headers, options, origins, tracker
            )

        session = Session(
            transport,
            client=False,
            max_header_list_size=options.max_handshake_size,
            on_request=on_request,
        )
        if tracker is not None:
            tracker.sessions.add(session)
        try:
            async with trio.open_nursery() as running:
                running.start_soon(session.run)
                if options.open_timeout is not None:
                    running.start_soon(_go_away_when_idle, session, options.open_timeout)
                await session.wait_drained()
                await session.goodbye()
                running.cancel_scope.cancel()
        finally:
            if tracker is not None:
                tracker.sessions.discard(session)


async def _go_away_when_idle(session: Session, timeout: float) -> None:
    """GOAWAY once the connection has had no open stream for ``timeout`` seconds.

    So that a client that opens an HTTP/2 connection and never asks anything (or stops
    asking) does not hold it forever: the same bound as ``open_timeout`` over HTTP/1.1.
    """
    idle_since = trio.current_time()
    while True:
        await trio.sleep(timeout / 4)
        now = trio.current_time()
        if session.streams:
            idle_since = now
        elif now - idle_since >= timeout:
            session.going_away()
            return


async def _serve_stream(
    handler: Handler,
    session: Session,
    channel: Channel,
    headers: list[Header],
    options: Options,
    origins: Collection[str | None] | None,
    tracker: Tracker | None,
) -> None:
    try:
        async with trio.open_nursery() as nursery:
            if tracker is not None:
                tracker.handler_scopes.add(nursery.cancel_scope)
            request: WebSocketRequest | None = None
            try:
                stream = Stream(session, channel, options)
                refusal = stream.read_request(headers)
                if refusal is None and not origin_allowed(stream.request, origins):
                    refusal = _refusal(403, ORIGIN_NOT_ALLOWED)
                if refusal is not None:
                    await stream.answer(refusal)
                    return
                request = WebSocketRequest(stream, stream.request, options, nursery, tracker)
                await run_handler(handler, request)
            finally:
                if tracker is not None:
                    tracker.handler_scopes.discard(nursery.cancel_scope)
                    if request is not None:
                        tracker.untrack(accepted_connection(request))
    finally:
        await channel.aclose()


@final
class Stream:
    """One HTTP/2 request stream, answered through :class:`~trio_ws._request.Exchange`."""

    __slots__ = (
        "_answer",
        "_channel",
        "_extensions",
        "_method",
        "_options",
        "_request",
        "_session",
    )

    http_version = "2"

    def __init__(self, session: Session, channel: Channel, options: Options) -> None:
        self._session = session
        self._channel = channel
        self._options = options
        self._request: Request | None = None
        self._extensions: list[Extension] = []
        self._answer: str | None = None
        self._method = ""

    @property
    def request(self) -> Request:
        """The request, once :meth:`read_request` has accepted it."""
        assert self._request is not None
        return self._request

    def read_request(self, headers: list[Header]) -> RejectConnection | None:
        """Read a request header block; return the answer that refuses it, if it must be."""
        pseudo, fields = split_header_block(headers)
        self._method = method = pseudo.get(":method", "")
        protocol = pseudo.get(":protocol")
        is_websocket = method == "CONNECT" and protocol == "websocket"
        if method == "CONNECT" and not is_websocket:
            return _refusal(400, f"Bad Request: CONNECT for {protocol!r} is not served here")
        if not is_websocket and method not in ("GET", "HEAD"):
            return _refusal(405, f"Method Not Allowed: {method!r}", ("allow", "GET"))
        values = [v for k, v in fields if k == "sec-websocket-extensions"]
        subprotocols: list[str] = []
        if is_websocket:
            version = next((v for k, v in fields if k == "sec-websocket-version"), None)
            if version != "13":
                message = f"Bad Request: unsupported Sec-WebSocket-Version {version!r}"
                return _refusal(400, message, ("sec-websocket-version", "13"))
            for value in (v for k, v in fields if k == "sec-websocket-protocol"):
                subprotocols += [item.strip() for item in value.split(",") if item.strip()]
            try:
                self._extensions, self._answer = answer_extension_offers(
                    values, self._options.extensions()
                )
            except ProtocolError as exc:
                return _refusal(400, f"Bad Request: {exc}")
        host = pseudo.get(":authority") or next((v for k, v in fields if k == "host"), "")
        try:
            self._request = Request(
                host=host,
                target=pseudo.get(":path", ""),
                subprotocols=tuple(subprotocols),
                extensions=tuple(values),
                headers=tuple(fields),
                is_websocket=is_websocket,
            )
        except LocalProtocolError as exc:
            return _refusal(400, f"Bad Request: {exc}")
        return None

    # --- Exchange ---------------------------------------------------------------------------

    @property
    def stream(self) -> trio.abc.Stream:
        """The channel the WebSocket runs over."""
        return self._channel

    @property
    def waiting(self) -> bool:
        """Whether the stream can still be answered."""
        return self._channel.sending is Direction.OPEN and not self._channel.why

    async def accept(
        self, answer: AcceptConnection
    ) -> tuple[trio.abc.Stream, Connection, list[Event]]:
        """Answer ``200`` (RFC 8441 §5) and open the core over the stream."""
        headers = [(":status", "200")]
        if answer.subprotocol is not None:
            headers.append(("sec-websocket-protocol", answer.subprotocol))
        if self._answer is not None:
            headers.append(("sec-websocket-extensions", self._answer))
        headers += outgoing_fields(answer.headers)
        try:
            await self._session.send_headers(self._channel.stream_id, headers)
        except trio.BrokenResourceError:
            raise ConnectionClosedError(
                None, None, "the client left before the answer could be sent"
            ) from None
        response = AcceptConnection(
            subprotocol=answer.subprotocol,
            extensions=() if self._answer is None else (self._answer,),
            headers=tuple(headers[1:]),
        )
        protocol = Connection.opened(
            Role.SERVER,
            extensions=self._extensions,
            limits=self._options.limits(),
            defer_failure=True,
            request=self._request,
            response=response,
        )
        return self._channel, protocol, []

    async def answer(self, answer: RejectConnection) -> None:
        """Send a final answer and end the stream (the channel closes after the handler)."""
        body = b"" if self._method == "HEAD" else answer.body
        headers = [(":status", str(answer.status_code)), ("content-length", str(len(body)))]
        headers += [(k, v) for k, v in outgoing_fields(answer.headers) if k != "content-length"]
        channel = self._channel
        try:
            await self._session.send_headers(channel.stream_id, headers, end_stream=not body)
            if body:
                await channel.send_all(body)
                await channel.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client left: nobody to tell


def _refusal(status: int, message: str, *headers: tuple[str, str]) -> RejectConnection:
    body = (message + "\n").encode("utf-8")
    headers += (("content-type", "text/plain; charset=utf-8"),)
    return RejectConnection(status_code=status, headers=headers, body=body)
