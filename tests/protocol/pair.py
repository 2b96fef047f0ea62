"""ConnectionPair: a client and a server core wired back to back, for tests."""

from __future__ import annotations

from collections.abc import Sequence

from trio_ws.protocol import (
    AcceptConnection,
    BytesMessage,
    Connection,
    Event,
    Limits,
    Request,
    Role,
    TextMessage,
)
from trio_ws.protocol.extensions import Extension


def chunked(data: bytes, sizes: Sequence[int] | None) -> list[bytes]:
    """Split ``data`` into chunks of the given sizes (cycled)."""
    if not sizes:
        return [data] if data else []
    out = []
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        out.append(data[pos : pos + size])
        pos += size
        i += 1
    return out


class ConnectionPair:
    """A client and a server, with helpers to move bytes between them."""

    def __init__(
        self,
        *,
        client_extensions: Sequence[Extension] = (),
        server_extensions: Sequence[Extension] = (),
        client_limits: Limits | None = None,
        server_limits: Limits | None = None,
    ) -> None:
        self.client = Connection(Role.CLIENT, extensions=client_extensions, limits=client_limits)
        self.server = Connection(Role.SERVER, extensions=server_extensions, limits=server_limits)

    def other(self, conn: Connection) -> Connection:
        """The peer of ``conn``."""
        return self.server if conn is self.client else self.client

    def pump(self, sender: Connection, sizes: Sequence[int] | None = None) -> list[Event]:
        """Move everything ``sender`` has queued to its peer; return the peer's events."""
        receiver = self.other(sender)
        for chunk in chunked(sender.data_to_send(), sizes):
            receiver.receive_data(chunk)
        return receiver.events()

    def handshake(self, *, subprotocols: Sequence[str] = (), choose: str | None = None) -> None:
        """Run the opening handshake and check both sides agree."""
        self.client.send(Request(host="example.com", target="/ws", subprotocols=subprotocols))
        (request,) = self.pump(self.client)
        assert isinstance(request, Request)
        self.server.send(AcceptConnection(subprotocol=choose))
        (accept,) = self.pump(self.server)
        assert isinstance(accept, AcceptConnection)
        assert accept.subprotocol == choose


def assemble(events: Sequence[Event]) -> list[Event]:
    """Join message pieces into whole messages; other events pass through."""
    out: list[Event] = []
    parts: list[str] | list[bytes] = []
    for event in events:
        if isinstance(event, TextMessage | BytesMessage):
            parts.append(event.data)  # type: ignore[arg-type]
            if event.message_finished:
                if isinstance(event, TextMessage):
                    out.append(TextMessage(data="".join(parts)))  # type: ignore[arg-type]
                else:
                    out.append(BytesMessage(data=b"".join(parts)))  # type: ignore[arg-type]
                parts = []
        else:
            out.append(event)
    assert not parts, "a message was left unfinished"
    return out
