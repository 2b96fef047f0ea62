"""trio-websocket's WebSocketRequest: the opening handshake a server handler answers."""

from __future__ import annotations

from typing import final

import trio

from ... import _request as _native
from ._connection import WebSocketConnection, translate_closed
from ._options import ByteHeaders, bytes_headers, str_headers
from ._stream import CompatStream, Endpoint, endpoint_of

__all__ = ["WebSocketRequest"]

# Request fields wsproto consumes and trio-websocket's WebSocketRequest.headers leaves out.
_CONSUMED_FIELDS = frozenset((b"host", b"sec-websocket-extensions", b"sec-websocket-protocol"))


@final
class WebSocketRequest:
    """A client's opening handshake, given to a server handler to accept or reject.

    Built by :func:`serve_websocket` and :func:`wrap_server_stream`. It wraps a
    :class:`trio_ws.WebSocketRequest`, available as :attr:`request`.
    """

    def __init__(self, request: _native.WebSocketRequest, stream: CompatStream) -> None:
        self._request = request
        self._stream = stream
        self._connection: WebSocketConnection | None = None
        self._answered = trio.Event()

    def __repr__(self) -> str:
        return f"<compat {self._request!r}>"

    @property
    def request(self) -> _native.WebSocketRequest:
        """The trio-ws request underneath."""
        return self._request

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The request's header fields as (name, value) bytes, names lower-cased.

        As in trio-websocket, Host, Sec-WebSocket-Extensions and Sec-WebSocket-Protocol are
        left out (see :attr:`proposed_subprotocols`).
        """
        return [
            (name, value)
            for name, value in bytes_headers(self._request.headers)
            if name not in _CONSUMED_FIELDS
        ]

    @property
    def path(self) -> str:
        """The requested URL path (and query)."""
        return self._request.target

    @property
    def proposed_subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the client offered, in its order of preference."""
        return self._request.subprotocols

    @property
    def local(self) -> Endpoint | str:
        """The server's endpoint of the connection (or the stream's ``repr()``)."""
        return endpoint_of(self._stream, local=True)

    @property
    def remote(self) -> Endpoint | str:
        """The client's endpoint of the connection (or the stream's ``repr()``)."""
        return endpoint_of(self._stream, local=False)

    async def accept(
        self, *, subprotocol: str | None = None, extra_headers: ByteHeaders | None = None
    ) -> WebSocketConnection:
        """Accept the handshake and return the connection.

        Args:
            subprotocol: One of :attr:`proposed_subprotocols`, or ``None``.
            extra_headers: Extra header fields for the response, (name, value) bytes.

        Raises:
            ConnectionClosed: the client left first.
        """
        try:
            with translate_closed():
                native = await self._request.accept(
                    subprotocol=subprotocol, headers=str_headers(extra_headers)
                )
            self._connection = WebSocketConnection(native, self._stream)
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
            status_code: The HTTP status (300-599 make sense; not 101).
            extra_headers: Header fields for the response.
            body: The response body, if any.
        """
        try:
            await self._request.reject(
                status_code, headers=str_headers(extra_headers), body=body or b""
            )
        finally:
            self._answered.set()

    async def _fail(self) -> None:
        """The handler raised: close an accepted connection with 1011."""
        if self._connection is not None:
            await self._connection.connection.aclose(1011, "unexpected error")

    async def _wait_finished(self) -> None:
        """Wait until the request is rejected, or accepted and the connection over."""
        await self._answered.wait()
        if self._connection is not None:
            await self._connection.connection.wait_closed()
