"""HTTP/2 sessions joined in memory, for tests of the channel and of WebSockets over HTTP/2."""

from __future__ import annotations

import trio
import trio.testing

from trio_ws._h2_channel import Channel
from trio_ws._h2_session import Header, Session

CONNECT = [
    (":method", "CONNECT"),
    (":protocol", "websocket"),
    (":scheme", "https"),
    (":path", "/"),
    (":authority", "example.com"),
    ("sec-websocket-version", "13"),
]


class SessionPair:
    """A client session and a server session over a memory stream pair."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.arrived: trio.MemorySendChannel[tuple[Channel, list[Header], bool]]
        self.arrived, self.requests = trio.open_memory_channel(100)
        left, right = trio.testing.memory_stream_pair()
        self.client = Session(left, client=True)
        self.server = Session(
            right, client=False, on_request=lambda *request: self.arrived.send_nowait(request)
        )

    async def start(self) -> SessionPair:
        await self.nursery.start(self.server.run)
        await self.nursery.start(self.client.run)
        await self.client.wait_settings()
        return self

    async def channels(self) -> tuple[Channel, Channel]:
        """One stream, opened by the client and answered 200 by the server."""
        ours = await self.client.open_stream(CONNECT)
        theirs, _headers, _ended = await self.requests.receive()
        await self.server.send_headers(theirs.stream_id, [(":status", "200")])
        await self.client.response(ours)
        return ours, theirs
