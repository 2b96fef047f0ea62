"""A pub/sub server: topics over WebSockets, with a browser page, on one port.

::

    uv run python examples/pubsub/server.py                  # http://127.0.0.1:8000
    uv run python examples/pubsub/server.py --redis redis://127.0.0.1:6379 --port 8001

Routes: ``/`` the page (static/index.html), ``/ws`` the WebSocket, ``/healthz`` "ok",
``/stats`` counters as JSON; anything else is 404.

The protocol is JSON in text messages. A client sends::

    {"type": "subscribe", "topic": "news"}
    {"type": "unsubscribe", "topic": "news"}
    {"type": "publish", "topic": "news", "data": <any JSON value>}

and receives ``{"type": "message", "topic": ..., "data": ...}`` for each message published on
a topic it subscribed to, ``{"type": "subscribed"|"unsubscribed", "topic": ...}`` once a
(un)subscription is in place, and ``{"type": "error", "reason": ...}`` for bad input, which
does not end the connection -- unless the client makes ``MAX_ERRORS`` mistakes: then it is
closed with 1008 (policy violation).

Slow subscribers. Each connection has a bounded outgoing queue (``QUEUE_SIZE`` messages) and
one task that writes it to the socket. Publishing only puts the message in the queue of each
subscriber and never waits, so one subscriber that does not read cannot slow the publisher
or the other subscribers. When a publish finds a subscriber's queue full, that subscriber
is disconnected with close code 1013 (try again later): it gets ``CLOSE_GRACE`` seconds to
take the message being written and the close frame, and then its TCP connection is cut.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio
from broker import Broker, open_broker

import trio_ws

QUEUE_SIZE = 64  # outgoing messages buffered per connection before it is dropped (1013)
CLOSE_GRACE = 5.0  # seconds a dropped subscriber gets to take its close frame
MAX_TOPIC_LENGTH = 128
MAX_SUBSCRIPTIONS = 100  # per connection
MAX_ERRORS = 20  # bad messages tolerated per connection; then close 1008
SHUTDOWN_TIMEOUT = 15.0  # seconds for a graceful shutdown (1001 to every client)
INDEX_HTML = Path(__file__).with_name("static") / "index.html"


@dataclass
class Stats:
    """What ``/stats`` shows."""

    connections: int = 0  # open WebSocket connections
    topics: int = 0  # topics with a subscriber in this process
    messages_in: int = 0  # WebSocket messages received from clients
    messages_out: int = 0  # WebSocket messages sent to clients
    slow_dropped: int = 0  # subscribers disconnected with 1013 because their queue was full


class BadRequest(Exception):
    """A client message we answer with ``{"type": "error"}``."""


class Session:
    """One WebSocket client: its subscriptions and its outgoing queue."""

    def __init__(
        self, ws: trio_ws.WebSocketConnection, broker: Broker, stats: Stats, queue_size: int
    ) -> None:
        self.ws = ws
        self.broker = broker
        self.stats = stats
        self.topics: set[str] = set()
        self.errors = 0
        self.too_slow = False
        self._outbox, self._outbox_reader = trio.open_memory_channel[str](queue_size)
        self._writer_scope = trio.CancelScope()

    def deliver(self, message: str) -> None:
        """Queue a message for the client; called by the broker, so it never blocks."""
        if self.too_slow:
            return
        try:
            self._outbox.send_nowait(message)
        except trio.WouldBlock:
            # Queue full: drop this subscriber. The writer stops after the message it is
            # writing, or after CLOSE_GRACE if the client does not take even that one.
            self.too_slow = True
            self.stats.slow_dropped += 1
            self._outbox.close()
            self._writer_scope.deadline = trio.current_time() + CLOSE_GRACE

    def reply(self, **fields: Any) -> None:
        """Queue a JSON reply (an ack or an error) for the client."""
        self.deliver(json.dumps(fields))

    async def run(self) -> None:
        """Serve the client until it leaves, or until it is dropped for being too slow."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_loop, nursery.cancel_scope)
                await self._write_loop()  # returns when the client is too slow or gone
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_GRACE):
                for topic in list(self.topics):
                    await self.broker.unsubscribe(topic, self)
        if self.too_slow:
            if self._writer_scope.cancelled_caught:
                # Cut in the middle of a frame: no close frame can follow, drop the TCP link.
                await trio.aclose_forcefully(self.ws.stream)
            else:
                with trio.move_on_after(CLOSE_GRACE):  # the close frame may not get through
                    await self.ws.aclose(1013, "too slow: outgoing queue full")

    async def _write_loop(self) -> None:
        with self._writer_scope:
            async for message in self._outbox_reader:
                if self.too_slow:
                    return
                try:
                    await self.ws.send(message)
                except trio_ws.ConnectionClosed:
                    return  # the client is gone
                self.stats.messages_out += 1

    async def _read_loop(self, session_scope: trio.CancelScope) -> None:
        try:
            async for message in self.ws:
                self.stats.messages_in += 1
                try:
                    await self.handle(message)
                except BadRequest as exc:
                    self.errors += 1
                    if self.errors < MAX_ERRORS:
                        self.reply(type="error", reason=str(exc))
                    else:  # then the loop ends, on ConnectionClosed
                        await self.ws.aclose(1008, f"too many bad messages ({MAX_ERRORS})")
        except trio_ws.ConnectionClosed:
            pass  # the client left with an error code or vanished: nothing to do
        session_scope.cancel()

    async def handle(self, message: str | bytes) -> None:
        """Carry out one client message, or raise BadRequest."""
        if isinstance(message, bytes):
            raise BadRequest("binary messages are not supported: send JSON as text")
        try:
            request = json.loads(message, parse_constant=_reject_constant)
        except ValueError:
            raise BadRequest("invalid JSON") from None
        if not isinstance(request, dict):
            raise BadRequest("a message must be a JSON object")
        kind = request.get("type")
        if kind not in ("subscribe", "unsubscribe", "publish"):
            raise BadRequest(f"unknown type {kind!r}: use subscribe, unsubscribe or publish")
        topic = request.get("topic")
        if not isinstance(topic, str) or not topic:
            raise BadRequest("topic must be a non-empty string")
        if len(topic) > MAX_TOPIC_LENGTH:
            raise BadRequest(f"topic is longer than {MAX_TOPIC_LENGTH} characters")

        if kind == "subscribe":
            if topic not in self.topics and len(self.topics) >= MAX_SUBSCRIPTIONS:
                raise BadRequest(f"too many subscriptions (limit {MAX_SUBSCRIPTIONS})")
            self.topics.add(topic)
            await self.broker.subscribe(topic, self)
            self.reply(type="subscribed", topic=topic)
        elif kind == "unsubscribe":
            self.topics.discard(topic)
            await self.broker.unsubscribe(topic, self)
            self.reply(type="unsubscribed", topic=topic)
        else:
            if "data" not in request:
                raise BadRequest("publish needs data")
            # Encoded once, handed as is to every subscriber.
            text = json.dumps({"type": "message", "topic": topic, "data": request["data"]})
            await self.broker.publish(topic, text)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: a browser could not parse them once echoed.
    raise ValueError(f"{name} is not valid JSON")


class PubSubApp:
    """The HTTP routes and the WebSocket endpoint, around one broker."""

    def __init__(self, broker: Broker, queue_size: int = QUEUE_SIZE) -> None:
        self.broker = broker
        self.queue_size = queue_size
        self._stats = Stats()
        self._index = INDEX_HTML.read_bytes()

    def stats(self) -> Stats:
        """Return the counters, up to date."""
        self._stats.topics = self.broker.topic_count()
        return self._stats

    async def handle(self, request: trio_ws.WebSocketRequest) -> None:
        """Route one request: the page, the WebSocket, the health check, the stats."""
        if request.path == "/ws" and request.is_websocket:
            ws = await request.accept()
            self._stats.connections += 1
            try:
                await Session(ws, self.broker, self._stats, self.queue_size).run()
            finally:
                self._stats.connections -= 1
        elif request.is_websocket:
            await request.reject(404, body="WebSockets are served at /ws\n")
        elif request.path == "/":
            html = [("Content-Type", "text/html; charset=utf-8")]
            await request.respond(200, headers=html, body=self._index)
        elif request.path == "/healthz":
            await request.respond(200, body="ok")
        elif request.path == "/stats":
            body = json.dumps(asdict(self.stats()))
            await request.respond(200, headers=[("Content-Type", "application/json")], body=body)
        else:
            await request.respond(404, body="Not Found\n")


async def main(
    host: str,
    port: int,
    broker: Broker,
    *,
    queue_size: int = QUEUE_SIZE,
    task_status: trio.TaskStatus[trio_ws.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the app until cancelled; ``nursery.start(main, ...)`` gives the Server."""
    app = PubSubApp(broker, queue_size)
    await serve_until_cancelled(app.handle, host, port, task_status=task_status)


async def serve_until_cancelled(
    handler: trio_ws.Handler,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[trio_ws.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled (Ctrl+C, or the caller is done), then shut down gracefully.

    The server runs shielded from our caller's cancellation, so that its connections are
    still there to be closed with 1001 (going away) by ``server.aclose()``.
    """
    server_scope = trio.CancelScope(shield=True)

    async def serve(task_status: trio.TaskStatus[trio_ws.Server]) -> None:
        with server_scope:
            await trio_ws.serve(handler, host, port, task_status=task_status)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve)
        task_status.started(server)
        try:
            await trio.sleep_forever()
        finally:
            with trio.move_on_after(SHUTDOWN_TIMEOUT, shield=True):
                await server.aclose()  # stop listening, close connections, wait for handlers
            server_scope.cancel()  # if that took too long


async def run(args: argparse.Namespace) -> None:
    async with open_broker(args.redis) as broker, trio.open_nursery() as nursery:
        server = await nursery.start(partial(main, args.host, args.port, broker))
        print(f"listening on http://{args.host}:{server.port}", flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000; 0 picks a free one)")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share topics with other servers through Redis, e.g. redis://127.0.0.1:6379",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    try:
        trio.run(run, parse_args())
    except* KeyboardInterrupt:
        pass  # Ctrl+C: the server shut down gracefully
