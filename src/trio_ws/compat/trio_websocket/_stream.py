"""The transport as trio-websocket's reader saw it, and its endpoints.

trio-ws reads the transport in large adaptive chunks, buffers at least one message, and
(as RFC 9110 §15.2 allows) skips an unexpected informational response while it waits for
the answer to its opening handshake. trio-websocket did none of these, and the compat layer
keeps its behaviour by handing trio-ws a :class:`CompatStream` in place of the transport:

* Each read asks for at most ``receive_buffer_size`` bytes (4 KiB by default).
* With ``message_queue_size=0`` (trio-websocket's unbuffered queue) reading is gated: after
  the opening handshake, bytes are read only while the application waits for a message, a
  pong or the closing handshake. So a peer's close is not answered while a message it sent
  before waits unread, as with trio-websocket.
* On the client, the head of the server's answer is parsed as it passes (with h11): an
  informational status other than 101 raises :exc:`InformationalResponse` out of the
  handshake, which the client turns into :exc:`ConnectionRejected` (wsproto rejects it).

Only the transport's public interface is used, and trio-ws's connection only the stream's:
nothing here reaches into either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from typing import Any, final

import h11
import trio

__all__ = ["CompatStream", "Endpoint", "InformationalResponse", "close_now", "endpoint_of"]


class InformationalResponse(Exception):
    """The server answered the opening handshake with a 1xx status other than 101."""

    def __init__(self, status_code: int, headers: tuple[tuple[bytes, bytes], ...]) -> None:
        super().__init__(status_code, headers)
        self.status_code = status_code
        self.headers = headers


@final
class CompatStream(trio.abc.Stream):
    """A transport stream with trio-websocket's reads (see the module's docstring).

    Args:
        stream: The transport.
        receive_size: The most bytes one read asks for, or ``None`` for no limit.
        unbuffered: Gate reading after the opening handshake (a queue of 0).
        client: Watch the server's answer to the opening handshake.
    """

    def __init__(
        self, stream: trio.abc.Stream, *, receive_size: int | None, unbuffered: bool, client: bool
    ) -> None:
        #: The transport underneath (the name trio's own stream wrappers use).
        self.transport_stream = stream
        self._receive_size = receive_size
        self._unbuffered = unbuffered
        self._gated = False
        self._demand = 0
        self._changed = trio.Event()
        self._answer: h11.Connection | None = _answer_parser() if client else None
        self._held = False

    # --- The gate ---------------------------------------------------------------------------

    def handshake_done(self) -> None:
        """The opening handshake is over: from now on, an unbuffered stream reads on demand."""
        self._answer = None
        if self._unbuffered:
            self._gated = True

    def open_for_good(self) -> None:
        """Let every read through from now on (the connection is closing)."""
        self._gated = False
        self._wake()

    @contextmanager
    def demand(self) -> Iterator[None]:
        """Let reads through while the block runs (the application waits for something)."""
        self._demand += 1
        self._wake()
        try:
            yield
        finally:
            self._demand -= 1

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # --- trio.abc.Stream --------------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Read from the transport, past the gate, at most ``receive_size`` bytes."""
        while self._gated and not self._demand:
            await self._changed.wait()
        size = self._receive_size
        if size is not None and (max_bytes is None or max_bytes > size):
            max_bytes = size
        data = await self.transport_stream.receive_some(max_bytes)
        if self._answer is not None:
            self._watch_answer(data)
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write to the transport."""
        await self.transport_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """Wait as the transport does."""
        await self.transport_stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Close the transport (and open the gate, so that no read waits at it).

        Not while :meth:`hold` is in force: then whoever called it closes the transport.
        """
        self.open_for_good()
        if self._held:
            await trio.lowlevel.checkpoint()
        else:
            await self.transport_stream.aclose()

    def hold(self) -> None:
        """Keep the transport open when trio-ws closes this stream (see the server)."""
        self._held = True

    @property
    def held(self) -> bool:
        """Whether :meth:`hold` is in force."""
        return self._held

    def __repr__(self) -> str:
        return f"<CompatStream over {self.transport_stream!r}>"

    def _watch_answer(self, data: bytes | bytearray) -> None:
        answer = self._answer
        assert answer is not None
        try:
            if data:
                answer.receive_data(bytes(data))
            else:
                answer.receive_data(b"")
            while True:
                event = answer.next_event()
                if isinstance(event, h11.InformationalResponse):
                    if event.status_code == 101:
                        self.handshake_done()
                        return
                    headers = tuple((bytes(name), bytes(value)) for name, value in event.headers)
                    self._answer = None
                    raise InformationalResponse(event.status_code, headers)
                if event is h11.NEED_DATA:
                    return
                self._answer = None  # a final response or the end: trio-ws handles it
                return
        except h11.RemoteProtocolError:
            self._answer = None  # not HTTP: trio-ws says so


def close_now(stream: trio.abc.Stream) -> bool:
    """Close the TCP socket under ``stream`` without awaiting; tell whether there was one."""
    while True:
        sock = getattr(stream, "socket", None)
        if sock is not None:
            sock.close()
            return True
        inner = getattr(stream, "transport_stream", None)
        if inner is None:
            return False
        stream = inner


def _answer_parser() -> h11.Connection:
    """An h11 client that has sent an upgrade request, ready to parse the answer's head."""
    parser = h11.Connection(h11.CLIENT)
    parser.send(
        h11.Request(
            method="GET",
            target="/",
            headers=[("Host", "compat"), ("Connection", "Upgrade"), ("Upgrade", "websocket")],
        )
    )
    return parser


@final
class Endpoint:
    """One end of a TCP connection.

    Args:
        address: An IP address.
        port: A TCP port.
        is_ssl: Whether TLS is in use.
    """

    def __init__(self, address: str | int, port: int, is_ssl: bool) -> None:
        #: The IP address (:func:`ipaddress.ip_address`).
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


def endpoint_of(stream: trio.abc.Stream | None, *, local: bool) -> Endpoint | str:
    """The local or remote :class:`Endpoint` of ``stream``, or its ``repr()`` if not TCP."""
    if isinstance(stream, CompatStream):
        stream = stream.transport_stream
    sock: Any = None
    is_ssl = False
    if isinstance(stream, trio.SocketStream):
        sock = stream.socket
    elif isinstance(stream, trio.SSLStream):
        sock = getattr(stream.transport_stream, "socket", None)
        is_ssl = True
    if sock is not None:
        try:
            address, port, *_ = sock.getsockname() if local else sock.getpeername()
            return Endpoint(address, port, is_ssl)
        except (OSError, TypeError, ValueError):
            pass
    return repr(stream)
