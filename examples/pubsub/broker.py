"""Pluggable brokers for the pub/sub example: where topics live.

A broker knows, for each topic, the *local* subscribers (the WebSocket connections of this
process) and hands them every message published on the topic, from this process or, with
:class:`RedisBroker`, from any process sharing the same Redis server.

Messages are opaque text here: the server encodes each published message once and the
broker hands the same string to every subscriber. Delivering never waits: a subscriber's
:meth:`Subscriber.deliver` must return at once (the server queues the message, or drops a
subscriber whose queue is over its hard limit). Backpressure happens before: ``publish``
first awaits :meth:`Subscriber.wait_for_room` of each local subscriber of the topic, which
returns once that subscriber can take more, or once it was dropped for being too slow.

* :class:`InMemoryBroker` (the default): one process, no dependencies.
* :class:`RedisBroker` (``--redis redis://HOST:PORT``): several processes, on one host or
  many, serve one topic space. Each process keeps its own per-topic fan-out and subscribes
  to a Redis channel only while it has a local subscriber for that topic, so Redis carries
  each message once per process, not once per WebSocket client.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import trio


class Subscriber(Protocol):
    """What a broker delivers messages to (one WebSocket connection, in the server)."""

    def deliver(self, message: str) -> None:
        """Take one message; must not block (queue it, or drop the subscriber)."""

    async def wait_for_room(self) -> None:
        """Return once the subscriber can take more messages (bounded in time)."""


class Broker(abc.ABC):
    """Topics, subscriptions and publishing, for the subscribers of this process."""

    @abc.abstractmethod
    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Deliver the messages published on ``topic`` from now on to ``subscriber``."""

    @abc.abstractmethod
    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Stop delivering ``topic`` to ``subscriber`` (no error if it was not subscribed)."""

    @abc.abstractmethod
    async def publish(self, topic: str, message: str) -> None:
        """Deliver ``message`` to every subscriber of ``topic``, in every process.

        Waits first while a subscriber of ``topic`` in this process cannot take more.
        """

    @abc.abstractmethod
    def topic_count(self) -> int:
        """Return the number of topics with at least one subscriber in this process."""


class InMemoryBroker(Broker):
    """Topics inside one process: publishing calls each subscriber's ``deliver`` directly."""

    def __init__(self) -> None:
        self._topics: dict[str, set[Subscriber]] = {}

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Add ``subscriber`` to the topic's subscribers."""
        self._topics.setdefault(topic, set()).add(subscriber)
        await trio.lowlevel.checkpoint()

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Remove ``subscriber`` from the topic's subscribers."""
        self.remove(topic, subscriber)
        await trio.lowlevel.checkpoint()

    async def publish(self, topic: str, message: str) -> None:
        """Hand ``message`` to the topic's subscribers, once they all have room for it."""
        await self.wait_for_room(topic)
        self.fan_out(topic, message)
        await trio.lowlevel.checkpoint()

    async def wait_for_room(self, topic: str) -> None:
        """Wait until every subscriber of ``topic`` can take more (see Subscriber)."""
        for subscriber in list(self._topics.get(topic, ())):
            await subscriber.wait_for_room()

    def topic_count(self) -> int:
        """Return the number of topics with a subscriber."""
        return len(self._topics)

    # Synchronous halves, shared with RedisBroker, which keeps its local fan-out here.

    def has_subscribers(self, topic: str) -> bool:
        """Return whether ``topic`` has a local subscriber."""
        return topic in self._topics

    def remove(self, topic: str, subscriber: Subscriber) -> None:
        """Remove one subscription; forget the topic when its last subscriber leaves."""
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._topics[topic]

    def fan_out(self, topic: str, message: str) -> None:
        """Hand ``message`` to every local subscriber of ``topic``; never blocks."""
        for subscriber in self._topics.get(topic, ()):
            subscriber.deliver(message)


class RedisBroker(Broker):
    """Topics shared by every process connected to one Redis server, via Redis pub/sub.

    Build it with :func:`open_broker`, which also runs the task that reads from Redis.
    Topic ``T`` travels on the Redis channel ``{prefix}T``.
    """

    def __init__(self, client: Any, pubsub: Any, prefix: str) -> None:
        self._client = client  # a coredis.Redis, for PUBLISH
        self._pubsub = pubsub  # a coredis PubSub: one connection in subscriber mode
        self._prefix = prefix
        self._local = InMemoryBroker()
        self._channels: set[str] = set()  # topics this process listens to on Redis
        # Serializes SUBSCRIBE / UNSUBSCRIBE, so that when subscribe() returns, Redis
        # already sends us the topic (another client may be subscribing it concurrently).
        self._lock = trio.Lock()

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Subscribe locally, and to the topic's Redis channel if this is the first one."""
        await self._local.subscribe(topic, subscriber)
        await self._sync(topic)

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        """Unsubscribe locally, and from the Redis channel if this was the last one."""
        await self._local.unsubscribe(topic, subscriber)
        await self._sync(topic)

    async def publish(self, topic: str, message: str) -> None:
        """Publish on the topic's Redis channel, for every process (this one included).

        Waits first for room in the topic's subscribers of this process; subscribers in
        other processes do not slow this publisher down (each server drops its own).
        """
        await self._local.wait_for_room(topic)
        # Local subscribers get it back from Redis too: one path, one order for everybody.
        await self._client.publish(self._prefix + topic, message)

    def topic_count(self) -> int:
        """Return the number of topics with a subscriber in this process."""
        return self._local.topic_count()

    async def _sync(self, topic: str) -> None:
        """Listen to the topic's Redis channel exactly while it has local subscribers."""
        async with self._lock:
            wanted = self._local.has_subscribers(topic)
            if wanted and topic not in self._channels:
                await self._pubsub.subscribe(self._prefix + topic)
                self._channels.add(topic)
            elif not wanted and topic in self._channels:
                self._channels.discard(topic)
                await self._pubsub.unsubscribe(self._prefix + topic)

    async def run(self) -> None:
        """Read messages from Redis forever and fan them out locally."""
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True)
            if message is not None and message["type"] == "message":
                topic = message["channel"].removeprefix(self._prefix)
                self._local.fan_out(topic, message["data"])


@asynccontextmanager
async def open_broker(
    redis_url: str | None = None, *, prefix: str = "trio-ws-pubsub:"
) -> AsyncIterator[Broker]:
    """Open the in-memory broker, or a Redis broker when ``redis_url`` is given."""
    if redis_url is None:
        yield InMemoryBroker()
        return
    import coredis  # only needed with --redis: ``uv sync --group examples`` installs it

    # coredis runs on Trio through anyio; its pub/sub object owns one Redis connection and
    # a reader of its own, and reconnects (and resubscribes) when the connection drops.
    async with (
        coredis.Redis.from_url(redis_url, decode_responses=True) as client,
        client.pubsub() as pubsub,
        trio.open_nursery() as nursery,
    ):
        broker = RedisBroker(client, pubsub, prefix)
        nursery.start_soon(broker.run)
        yield broker
        nursery.cancel_scope.cancel()
