"""trio-websocket's WebSocketConnection, over a trio-ws connection."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import final

import trio

from ... import _connection as _native
from ..._exceptions import ConnectionClosed as _NativeClosed
from ._exceptions import CloseReason, ConnectionClosed
from ._options import bytes_headers
from ._stream import CompatStream, Endpoint, endpoint_of

__all__ = ["WebSocketConnection", "translate_closed"]

# The headers of the 101 response that wsproto consumes and trio-websocket does not show.
_HANDSHAKE_FIELDS = frozenset(
    (
        b"connection",
        b"sec-websocket-accept",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"upgrade",
    )
)
_ids = itertools.count()


@final
class WebSocketConnection(trio.abc.AsyncResource):
    """A WebSocket connection, client or server, with trio-websocket's methods.

    Built by this module's functions, not directly. It wraps a
    :class:`trio_ws.WebSocketConnection`, available as :attr:`connection`.
    """

    def __init__(self, connection: _native.WebSocketConnection, stream: CompatStream) -> None:
        self._ws = connection
        self._stream = stream
        self._closed_locally = False
        self._id = next(_ids)

    def __str__(self) -> str:
        return f"{'client' if self._ws.is_client else 'server'}-{self._id}"

    def __repr__(self) -> str:
        return f"<compat {self._ws!r}>"

    @property
    def connection(self) -> _native.WebSocketConnection:
        """The trio-ws connection underneath."""
        return self._ws

    @property
    def closed(self) -> CloseReason | None:
        """Why the connection is closed or closing, or ``None`` while it is open (read-only).

        Set as soon as a close frame is sent or received.
        """
        ws = self._ws
        if not ws.closed:
            return None
        frame = ws.close_received or ws.close_sent
        if frame is None:
            return CloseReason(1006, None)
        return CloseReason(1005 if frame.code is None else frame.code, frame.reason or None)

    @property
    def is_client(self) -> bool:
        """``True`` for a client connection (read-only)."""
        return self._ws.is_client

    @property
    def is_server(self) -> bool:
        """``True`` for a server connection (read-only)."""
        return not self._ws.is_client

    @property
    def local(self) -> Endpoint | str:
        """The local endpoint (or the stream's ``repr()`` when it has no TCP socket)."""
        return endpoint_of(self._stream, local=True)

    @property
    def remote(self) -> Endpoint | str:
        """The remote endpoint (or the stream's ``repr()`` when it has no TCP socket)."""
        return endpoint_of(self._stream, local=False)

    @property
    def path(self) -> str | None:
        """The requested URL path (and query) of the opening handshake."""
        request = self._ws.request
        return request.target if request is not None else None

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or ``None`` (read-only)."""
        return self._ws.subprotocol

    @property
    def handshake_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The header fields the peer sent in the opening handshake, names lower-cased.

        On a client, those of the ``101`` response, in the server's order, without the ones
        the handshake itself uses (``Upgrade``, ``Connection``, ``Sec-WebSocket-*``), as
        trio-websocket gives them; on a server, those of the request.
        """
        if self._ws.is_client:
            return tuple(
                (name.lower(), value)
                for name, value in self.response_headers
                if name.lower() not in _HANDSHAKE_FIELDS
            )
        request = self._ws.request
        return bytes_headers(request.headers) if request is not None else ()

    @property
    def response_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """Every header field of the ``101`` response (not in trio-websocket)."""
        response = self._ws.response
        return bytes_headers(response.headers) if response is not None else ()

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
        with translate_closed(), self._stream.demand():
            return await self._ws.receive()

    async def send_message(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ValueError: ``message`` is neither ``str`` nor bytes-like.
        """
        if not isinstance(message, str | bytes | bytearray | memoryview):
            raise ValueError("message must be str or bytes")
        with translate_closed():
            await self._ws.send(message)

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong.

        A pong answers its ping and every ping sent before it.

        Args:
            payload: Up to 125 bytes, unique among pings in flight; random by default.

        Raises:
            ConnectionClosed: the connection is closed.
            ValueError: a ping with the same payload is in flight.
        """
        with translate_closed(), self._stream.demand():
            await self._ws.ping(payload)

    async def pong(self, payload: bytes | None = None) -> None:
        """Send an unsolicited pong.

        Args:
            payload: The pong's payload (none by default).

        Raises:
            ConnectionClosed: the connection is closed.
        """
        with translate_closed():
            await self._ws.pong(payload or b"")

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection: closing handshake, then the transport. Safe to repeat.

        Afterwards :meth:`get_message` and :meth:`send_message` raise
        :exc:`ConnectionClosed`.

        Args:
            code: The close code.
            reason: An optional reason.
        """
        self._closed_locally = True
        self._stream.open_for_good()
        await self._ws.aclose(code, reason or "")


@contextmanager
def translate_closed() -> Iterator[None]:
    """Turn trio-ws's :exc:`trio_ws.ConnectionClosed` into trio-websocket's."""
    try:
        yield
    except _NativeClosed as exc:
        raise ConnectionClosed(CloseReason(exc.code, exc.reason or None)) from None
