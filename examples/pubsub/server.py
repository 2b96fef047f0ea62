"""A pub/sub server: topics over WebSockets, with a browser page, on one port.

::

    uv run python examples/pubsub/server.py                  # http://127.0.0.1:8000
    uv run python examples/pubsub/server.py --redis redis://127.0.0.1:6379 --port 8001
    uv run python examples/pubsub/server.py --certfile cert.pem --keyfile key.pem  # https

With a certificate, the page and its WebSocket are served over TLS, and over HTTP/2 when the
browser prefers it (and the ``h2`` package is installed): the WebSocket is then a stream of
the page's own connection (RFC 8441), counted as ``websockets_over_http2`` in ``/stats``.

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

Backpressure and slow subscribers. Each connection has an outgoing queue and one task that
writes it to the socket; publishing puts the message in the queue of each subscriber. When a
subscriber's queue holds ``QUEUE_SIZE`` messages, publishing to its topics waits (the
publisher's connection stops being read, so TCP slows the publishing client down) until the
queue has drained to half. A subscriber whose queue does not drain to half within
``SLOW_TIMEOUT`` seconds of filling up is disconnected with close code 1013 (try again later),
and the publishers go on. So a fast publisher runs at the pace of its subscribers, and a
subscriber that stops reading holds them up for ``SLOW_TIMEOUT`` seconds once.

Shutdown. SIGINT (Ctrl+C) and SIGTERM close every client with 1001 (going away).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import ssl
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import trio
from broker import Broker, open_broker

import trio_ws

QUEUE_SIZE = 64  # outgoing messages per connection from which publishers wait (high-water mark)
SLOW_TIMEOUT = 2.0  # seconds a full queue gets to drain to half; else the subscriber gets 1013
HARD_LIMIT = 2  # times QUEUE_SIZE: a queue never holds more (deliveries that do not wait)
CLOSE_GRACE = 5.0  # seconds a dropped subscriber gets to take its close frame
MAX_TOPIC_LENGTH = 128
MAX_SUBSCRIPTIONS = 100  # per connection
MAX_ERRORS = 20  # bad messages tolerated per connection; then close 1008
SHUTDOWN_TIMEOUT = 15.0  # seconds for a graceful shutdown (1001 to every client)
logger = logging.getLogger("pubsub")
INDEX_HTML = Path(__file__).with_name("static") / "index.html"
HTTP2 = find_spec("h2") is not None  # pip install 'trio-ws[http2]'


@dataclass
class Stats:
    """What ``/stats`` shows."""

    connections: int = 0  # open WebSocket connections
    topics: int = 0  # topics with a subscriber in this process
    messages_in: int = 0  # WebSocket messages received from clients
    messages_out: int = 0  # WebSocket messages sent to clients
    slow_dropped: int = 0  # subscribers disconnected with 1013 because their queue was full
    websockets_over_http2: int = 0  # WebSockets opened by an HTTP/2 extended CONNECT


class BadRequest(Exception):
    """A client message we answer with ``{"type": "error"}``."""


class Session:
    """One WebSocket client: its subscriptions and its outgoing queue."""

    def __init__(
        self,
        ws: trio_ws.WebSocketConnection,
        broker: Broker,
        stats: Stats,
        queue_size: int,
        slow_timeout: float,
    ) -> None:
        self.ws = ws
        self.broker = broker
        self.stats = stats
        self.topics: set[str] = set()
        self.errors = 0
        self.queue_size = queue_size  # the high-water mark: publishers wait from here
        self.slow_timeout = slow_timeout
        # How the session ends when the server ends it: (close code, reason), or None.
        self.closing: tuple[int, str] | None = None
        self.gone = False  # the session is over: deliveries are dropped
        # A full queue: when it filled up, and an event set once it drained to half.
        self.full_since: float | None = None
        self._drained = trio.Event()
        # The hard cap (HARD_LIMIT times the mark) is only reached by deliveries that do not
        # wait: from other processes through Redis, or from many publishers at once.
        capacity = queue_size * HARD_LIMIT
        self._outbox, self._outbox_reader = trio.open_memory_channel[str](capacity)
        self._writer_scope = trio.CancelScope()

    def queued(self) -> int:
        """Return the number of messages waiting to be written to the client."""
        return self._outbox.statistics().current_buffer_used

    def deliver(self, message: str) -> None:
        """Queue a message for the client; called by the broker, so it never blocks."""
        if self.closing is not None or self.gone:
            return
        try:
            self._outbox.send_nowait(message)
        except trio.WouldBlock:
            self.drop_slow()  # over the hard cap
            return
        if self.full_since is None and self.queued() >= self.queue_size:
            self.full_since = trio.current_time()
            self._drained = trio.Event()

    async def wait_for_room(self) -> None:
        """Return once the queue is below the high-water mark; called before publishing.

        A queue that filled up must drain to half within ``slow_timeout`` seconds of
        filling up; if it does not, the subscriber is dropped (1013) and this returns.
        """
        if self.full_since is None or self.closing is not None or self.gone:
            await trio.lowlevel.checkpoint()
            return
        with trio.move_on_at(self.full_since + self.slow_timeout):
            await self._drained.wait()
            return
        self.drop_slow()

    def drop_slow(self) -> None:
        """Drop a subscriber that does not keep up: close 1013, discarding its queue."""
        if self.closing is not None or self.gone:
            return
        self.stats.slow_dropped += 1
        self._end(1013, "too slow: outgoing queue full")

    def reply(self, **fields: Any) -> None:
        """Queue a JSON reply (an ack or an error) for the client."""
        self.deliver(json.dumps(fields))

    def _end(self, code: int, reason: str) -> None:
        # The writer stops (1013: after the message it is writing; 1008: once the queue is
        # written), or after CLOSE_GRACE if the client does not take even that.
        self.closing = (code, reason)
        self._outbox.close()
        self._drained.set()  # publishers waiting for room stop waiting
        self._writer_scope.deadline = trio.current_time() + CLOSE_GRACE

    async def run(self) -> None:
        """Serve the client until it leaves, or until the server ends the session."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_loop, nursery.cancel_scope)
                await self._write_loop()  # returns when the session ends or the client left
                nursery.cancel_scope.cancel()
        finally:
            self.gone = True
            self._drained.set()
            with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_GRACE):
                for topic in list(self.topics):
                    await self.broker.unsubscribe(topic, self)
        if self.closing is not None:
            if self._writer_scope.cancelled_caught:
                # Cut in the middle of a frame: no close frame can follow, drop the TCP link.
                await trio.aclose_forcefully(self.ws.stream)
            else:
                with trio.move_on_after(CLOSE_GRACE):  # the close frame may not get through
                    await self.ws.aclose(*self.closing)

    async def _write_loop(self) -> None:
        with self._writer_scope:
            async for message in self._outbox_reader:  # ends once closed and empty
                if self.closing is not None and self.closing[0] == 1013:
                    return  # dropped: the rest of the queue is not sent
                try:
                    await self.ws.send(message)
                except trio_ws.ConnectionClosed:
                    return  # the client is gone
                self.stats.messages_out += 1
                if self.full_since is not None and self.queued() <= self.queue_size // 2:
                    self.full_since = None
                    self._drained.set()  # publishers waiting for room go on

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
                    else:
                        # The error replies already queued go out first, then the close.
                        self._end(1008, f"too many bad messages ({MAX_ERRORS})")
                        return
                if self.closing is not None:
                    return  # dropped while publishing (it did not read its own messages)
        except trio_ws.ConnectionClosed:
            pass  # the client left with an error code or vanished: nothing to do
        session_scope.cancel()

    async def handle(self, message: str | bytes) -> None:
        """Carry out one client message, or raise BadRequest."""
        if isinstance(message, bytes):
            raise BadRequest("binary messages are not supported: send JSON as text")
        request = _parse_json(message)
        if not isinstance(request, dict):
            raise BadRequest("a message must be a JSON object")
        kind = request.get("type")
        if kind not in ("subscribe", "unsubscribe", "publish"):
            shown = (
                repr(kind[:40]) if isinstance(kind, str) else f"of JSON type {_json_type(kind)}"
            )
            raise BadRequest(f"unknown type {shown}: use subscribe, unsubscribe or publish")
        topic = request.get("topic")
        if not isinstance(topic, str) or not topic:
            raise BadRequest("topic must be a non-empty string")
        if len(topic) > MAX_TOPIC_LENGTH:
            raise BadRequest(f"topic is longer than {MAX_TOPIC_LENGTH} characters")
        if not topic.isascii():
            try:
                topic.encode()
            except UnicodeEncodeError:
                raise BadRequest("topic is not valid Unicode (a lone surrogate)") from None

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
            try:
                text = json.dumps({"type": "message", "topic": topic, "data": request["data"]})
            except RecursionError:
                raise BadRequest("data is nested too deeply") from None
            # Waits while a subscriber of the topic has a full queue (see wait_for_room).
            await self.broker.publish(topic, text)


def _parse_json(message: str) -> Any:
    """Decode a client message; every way ``json.loads`` can fail is a BadRequest."""
    try:
        return json.loads(message, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequest("invalid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError as exc:  # out-of-range numbers, ours and the int-string limit's
        message = str(exc).partition(":")[0]  # "Exceeds the limit (4300 digits) ..."
        raise BadRequest(f"invalid JSON: {message[:80]}") from None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number"}
    return "null" if value is None else names.get(type(value), "number")


def _finite_float(text: str) -> float:
    # 1e999 would come back as Infinity, which is not JSON (a browser could not parse it).
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: a browser could not parse them once echoed.
    raise ValueError(f"{name} is not JSON")


class PubSubApp:
    """The HTTP routes and the WebSocket endpoint, around one broker."""

    def __init__(
        self, broker: Broker, queue_size: int = QUEUE_SIZE, slow_timeout: float = SLOW_TIMEOUT
    ) -> None:
        self.broker = broker
        self.queue_size = queue_size
        self.slow_timeout = slow_timeout
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
            if ws.http_version == "2":  # a stream of the page's HTTP/2 connection (RFC 8441)
                self._stats.websockets_over_http2 += 1
            try:
                session = Session(ws, self.broker, self._stats, self.queue_size, self.slow_timeout)
                await session.run()
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
    slow_timeout: float = SLOW_TIMEOUT,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[trio_ws.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the app until cancelled; ``nursery.start(main, ...)`` gives the Server."""
    app = PubSubApp(broker, queue_size, slow_timeout)
    await serve_until_cancelled(
        app.handle, host, port, ssl_context=ssl_context, task_status=task_status
    )


async def serve_until_cancelled(
    handler: trio_ws.Handler,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[trio_ws.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until the caller cancels us, then shut down gracefully.

    The server runs shielded from our caller's cancellation, so that its connections are
    still there to be closed with 1001 (going away) by ``server.aclose()``.
    """
    server_scope = trio.CancelScope(shield=True)

    async def serve(task_status: trio.TaskStatus[trio_ws.Server]) -> None:
        with server_scope:
            await trio_ws.serve(
                handler,
                host,
                port,
                ssl_context=ssl_context,
                http2=ssl_context is not None and HTTP2,  # HTTP/2 needs TLS (and h2)
                task_status=task_status,
            )

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
    """Serve until SIGINT (Ctrl+C) or SIGTERM, then close every client with 1001."""
    # While the receiver is open, the signals are messages here: no KeyboardInterrupt
    # lands in whichever task happens to run (a writer's send, in the middle of a frame).
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        context = None
        if args.certfile:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(args.certfile, args.keyfile)
        async with open_broker(args.redis) as broker, trio.open_nursery() as nursery:
            start = partial(main, args.host, args.port, broker, ssl_context=context)
            server = await nursery.start(start)
            scheme = "https" if context else "http"
            print(f"listening on {scheme}://{args.host}:{server.port}", flush=True)
            async for signum in signals:
                logger.info("%s: closing every connection (1001)", signal.Signals(signum).name)
                break
            with trio.move_on_after(SHUTDOWN_TIMEOUT):
                await server.aclose()  # stop listening, close connections, wait for handlers
            nursery.cancel_scope.cancel()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000; 0 picks a free one)")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share topics with other servers through Redis, e.g. redis://127.0.0.1:6379",
    )
    parser.add_argument("--certfile", metavar="PEM", help="serve https:// with this certificate")
    parser.add_argument("--keyfile", metavar="PEM", help="its private key (if not in --certfile)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    try:
        trio.run(run, parse_args())
    except* KeyboardInterrupt:
        pass  # Ctrl+C while starting, before the signal receiver was open
