"""The opening handshake's reads, written once for both roles.

The client waits for the server's answer, the server for the client's request; both read the
stream and feed the sans-IO core until it has something to say. A broken or closed stream is
the end of the stream for the core, which turns it into the right event (a failure with a
status for the server to answer, or a closed handshake for the client).
"""

from __future__ import annotations

import trio

from ._options import RECEIVE_SIZE
from .protocol import Connection, Event

__all__ = ["read_handshake_events"]


async def read_handshake_events(stream: trio.abc.Stream, protocol: Connection) -> list[Event]:
    """Read until the core produces events during the opening handshake; return them.

    Returns an empty list only if the stream ended and the core had nothing to say.
    """
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
        if events or not data:
            return events
