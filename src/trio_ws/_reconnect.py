"""Reconnecting clients: ``async with reconnecting(url) as connections: async for ws in ...``.

Theory of operation. A connection's background tasks need a nursery that outlives each loop
body, and Trio forbids holding a nursery (or any cancel scope) across the ``yield`` of an
async generator: the generator's scope would cancel whatever code of the caller's happens to
run at the time. So the shape is a context manager, which may hold a nursery across its
``yield`` because its body is lexically inside it, and an iterator object (a plain class, no
async generator) that connects in ``__anext__`` and starts each connection's tasks in that
nursery. ``__anext__`` first closes the previous connection, so at most one is open; the
context manager closes the last one.

Backoff: "full jitter" (a uniform delay between 0 and a cap that grows geometrically up to
``backoff_max``), which spreads out a crowd of clients reconnecting after a server restart.
A connection that stayed open ``backoff_reset`` seconds proves the server healthy: the next
connection starts at once and the cap starts over. One that dropped sooner counts as a failed
attempt. One the loop body moved on from while it was still open is no failure at all.

Which errors are retried is :func:`should_reconnect`'s decision, in one place.
"""

from __future__ import annotations

import logging
import os
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import final

import trio

from ._client import HeaderList, client_plan, connect_plan
from ._connection import WebSocketConnection
from ._exceptions import (
    HandshakeRejected,
    HandshakeTimeout,
    InvalidHandshake,
    ProxyError,
    TLSError,
)
from ._groups import reraise_single
from ._options import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_COMPRESSION,
    DEFAULT_MAX_QUEUE,
    DEFAULT_OPEN_TIMEOUT,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PING_TIMEOUT,
    Compression,
)
from ._proxy import ProxySetting
from .protocol._limits import DEFAULT_MAX_MESSAGE_SIZE

__all__ = ["Reconnector", "reconnecting", "should_reconnect"]

logger = logging.getLogger("trio_ws")

#: HTTP statuses below 500 worth retrying: 408 Request Timeout, 425 Too Early, 429 Too Many
#: Requests. Every 5xx is retried too; any other status means "not like this", and asking
#: again will not change the answer.
RETRY_STATUSES = frozenset({408, 425, 429})

#: A connection function: open one connection whose tasks run in the given nursery.
Connect = Callable[[trio.Nursery], Awaitable[WebSocketConnection]]


def _cause(exc: BaseException) -> str:
    """Why a connection attempt failed, in words: the innermost causes that say something."""
    reasons = [f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__]
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        leaves = cause.exceptions
    else:
        leaves = (cause,) if cause is not None else ()
    details = dict.fromkeys(
        getattr(leaf, "strerror", None) or str(leaf) for leaf in leaves if leaf is not None
    )
    if details:
        reasons.append("; ".join(detail for detail in details if detail))
    return " (".join(reasons) + (")" if len(reasons) > 1 else "")


def should_reconnect(exc: BaseException) -> bool:
    """Whether a failed connection attempt may succeed if tried again later.

    Retried: network errors (refused, reset, unreachable, DNS), :exc:`HandshakeTimeout`,
    :exc:`InvalidHandshake` (a server restarting mid-handshake looks like one), a
    :exc:`TLSError` other than a rejected certificate, and rejections with a 5xx, 408, 425
    or 429 status, from the server or the proxy.

    Not retried: :exc:`InvalidURI`, other rejections (401, 403, 404, a 3xx that could not
    be followed...), a TLS certificate that fails verification, and anything else
    (programming errors are not network weather).
    """
    if isinstance(exc, HandshakeTimeout | InvalidHandshake):
        return True
    if isinstance(exc, TLSError):
        return not exc.certificate_rejected
    if isinstance(exc, HandshakeRejected | ProxyError):
        status = exc.status_code
        return status is None or status >= 500 or status in RETRY_STATUSES
    if isinstance(exc, OSError | trio.BrokenResourceError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ssl.SSLCertVerificationError):
                return False
            cause = cause.__cause__ or cause.__context__
        return True
    return False


@final
class Reconnector:
    """An endless asynchronous iterator of connections to one server; see :func:`reconnecting`.

    Each ``__anext__`` closes the previous connection (code 1000), waits the backoff delay if
    one is due, and connects, retrying until a connection opens or an error that retrying
    cannot fix is raised.
    """

    def __init__(
        self,
        connect: Connect,
        nursery: trio.Nursery,
        *,
        backoff_initial: float,
        backoff_max: float,
        backoff_factor: float,
        backoff_reset: float,
        jitter: bool,
        describe: str = "the server",
    ) -> None:
        if backoff_initial < 0 or backoff_max < 0 or backoff_reset < 0:
            raise ValueError("backoff_initial, backoff_max and backoff_reset must be >= 0")
        if backoff_factor < 1:
            raise ValueError(f"backoff_factor must be at least 1, not {backoff_factor}")
        self._connect = connect
        self._nursery = nursery
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff_factor = backoff_factor
        self._backoff_reset = backoff_reset
        self._jitter = jitter
        self._describe = describe
        self._connection: WebSocketConnection | None = None
        self._opened_at = 0.0
        self._streak = 0  # failed attempts and short-lived connections since the last reset
        self._retry_after = 0.0
        self._finished = False
        self._count = 0

    def __repr__(self) -> str:
        return f"<Reconnector to {self._describe} connections={self._count}>"

    def __aiter__(self) -> Reconnector:
        return self

    async def __anext__(self) -> WebSocketConnection:
        """Close the previous connection and return a new one (after a backoff if due).

        Raises:
            RuntimeError: the ``async with reconnecting(...)`` block has ended.
            Exception: an error :func:`should_reconnect` does not retry, as itself.
        """
        if self._finished:
            raise RuntimeError("the reconnecting() block has ended")
        await self._release()
        while True:
            if self._streak:
                await trio.sleep(self.next_delay())
            else:
                await trio.lowlevel.checkpoint()
            try:
                connection = await self._connect(self._nursery)
            except Exception as exc:
                if not should_reconnect(exc):
                    raise
                self._streak += 1
                self._retry_after = _retry_after(exc)
                # One line per retry, at INFO (it is expected weather, not a fault), with
                # the cause ("Connection refused"), not only trio's "all attempts failed".
                logger.info("connecting to %s failed: %s; retrying", self._describe, _cause(exc))
                continue
            self._connection = connection
            self._opened_at = trio.current_time()
            self._count += 1
            return connection

    @property
    def connection(self) -> WebSocketConnection | None:
        """The connection last returned (maybe closed by now), or ``None``."""
        return self._connection

    @property
    def attempts(self) -> int:
        """Failed attempts and short-lived connections since the backoff last started over."""
        return self._streak

    def next_delay(self) -> float:
        """The delay before the next attempt: full jitter below the current cap.

        The cap is ``backoff_initial * backoff_factor ** (attempts - 1)``, at most
        ``backoff_max``; with ``jitter`` the delay is uniform in ``[0, cap]``, else the cap.
        A ``Retry-After`` (seconds) from a 429 or 503 raises it, up to ``backoff_max``.
        """
        exponent = max(self._streak - 1, 0)
        try:
            cap = min(self._backoff_max, self._backoff_initial * self._backoff_factor**exponent)
        except OverflowError:  # pragma: no cover - only after about a thousand failures
            cap = self._backoff_max
        delay = _uniform(0.0, cap) if self._jitter else cap
        return max(delay, min(self._retry_after, self._backoff_max))

    async def _release(self) -> None:
        """Close the current connection; decide whether the next attempt waits."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        dropped = connection.closed  # else the loop body moved on while it was open
        await connection.aclose()
        lived = trio.current_time() - self._opened_at
        self._retry_after = 0.0
        if dropped and lived < self._backoff_reset:
            self._streak += 1
        else:
            self._streak = 0

    async def _finish(self, failed: bool) -> None:
        self._finished = True
        connection, self._connection = self._connection, None
        if connection is not None:
            if failed:
                await connection.aclose(1011, "unexpected error")
            else:
                await connection.aclose()


@asynccontextmanager
async def reconnecting(
    url: str,
    *,
    backoff_initial: float = 1.0,
    backoff_max: float = 60.0,
    backoff_factor: float = 2.0,
    backoff_reset: float = 60.0,
    jitter: bool = True,
    subprotocols: Sequence[str] = (),
    headers: HeaderList = (),
    origin: str | None = None,
    compression: Compression = DEFAULT_COMPRESSION,
    ssl_context: ssl.SSLContext | None = None,
    proxy: ProxySetting = None,
    max_redirects: int = 10,
    unix_socket_path: str | os.PathLike[str] | None = None,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    max_queue: int = DEFAULT_MAX_QUEUE,
    ping_interval: float | None = DEFAULT_PING_INTERVAL,
    ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
    http2: bool = False,
) -> AsyncIterator[Reconnector]:
    """Connect to a server again and again, with backoff, for as long as the block runs.

    ::

        async with trio_ws.reconnecting("wss://example.com/feed") as connections:
            async for ws in connections:
                try:
                    async for message in ws:
                        handle(message)
                except trio_ws.ConnectionClosed:
                    pass  # dropped: the loop reconnects

    Each iteration gives a new open connection, after closing the previous one. The loop
    never ends by itself: ``break`` out of it (or leave the block) to stop. Attempts that
    fail with an error worth retrying (see :func:`should_reconnect`: refused connections,
    timeouts, 5xx, 429...) are retried after a delay; others (:exc:`InvalidURI`, 401, 403,
    404...) are raised from the ``async for``.

    The delay before the n-th attempt in a row is uniform in ``[0, min(backoff_max,
    backoff_initial * backoff_factor ** (n - 1))]`` ("full jitter"). A connection that ends
    before ``backoff_reset`` seconds counts like a failed attempt, so a server that accepts
    and drops at once is not hammered; one that lived longer restarts the sequence, and the
    next connection is opened at once. So does moving on from a connection that is still
    open (``continue`` in the loop): it is closed with 1000, and that is no failure.

    Why a context manager around the loop: the connections' background tasks need a nursery
    that outlives each loop body, and Trio forbids keeping a nursery open across the
    ``yield`` of an async generator. The ``async with`` block owns that nursery.

    Args:
        url: A ``ws://`` or ``wss://`` URI.
        backoff_initial: Cap on the first delay, in seconds.
        backoff_max: Largest delay, in seconds.
        backoff_factor: Growth of the cap per attempt.
        backoff_reset: Seconds a connection must stay open to restart the backoff.
        jitter: ``False`` waits the cap itself, without randomness.
        subprotocols: As for :func:`open_websocket`, like every argument below.
        headers: Extra header fields for the handshake request.
        origin: The Origin header to send, if any.
        compression: ``"deflate"`` or ``None``.
        ssl_context: TLS settings for ``wss://``.
        proxy: HTTP proxy URL, ``None`` (from the environment) or ``False``.
        max_redirects: Redirects to follow per connection.
        unix_socket_path: Connect over this Unix socket.
        max_message_size: Largest incoming message in bytes.
        max_queue: Incoming messages buffered before reading pauses.
        ping_interval: Seconds between keepalive pings.
        ping_timeout: Seconds to wait for a keepalive pong.
        close_timeout: Seconds to wait for the closing handshake.
        open_timeout: Seconds for each connection attempt.
        http2: Use WebSockets over HTTP/2 where the server allows them, each connection
            on an HTTP/2 connection of its own (a shared one would not survive the drops).

    Raises:
        InvalidURI: ``url`` or ``proxy`` is not valid (at once, before connecting).
        ValueError: a backoff setting is out of range.
    """
    plan = client_plan(
        url,
        subprotocols=subprotocols,
        headers=headers,
        origin=origin,
        compression=compression,
        ssl_context=ssl_context,
        proxy=proxy,
        max_redirects=max_redirects,
        unix_socket_path=unix_socket_path,
        max_message_size=max_message_size,
        max_queue=max_queue,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=close_timeout,
        open_timeout=open_timeout,
        http2=http2,
    )
    async with reconnect_with(
        partial(connect_plan, plan=plan),
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
        backoff_factor=backoff_factor,
        backoff_reset=backoff_reset,
        jitter=jitter,
        describe=url,
    ) as connections:
        yield connections


@asynccontextmanager
async def reconnect_with(
    connect: Connect,
    *,
    backoff_initial: float = 1.0,
    backoff_max: float = 60.0,
    backoff_factor: float = 2.0,
    backoff_reset: float = 60.0,
    jitter: bool = True,
    describe: str = "the server",
) -> AsyncIterator[Reconnector]:
    """:func:`reconnecting` around any connect function (the seam the tests use)."""
    try:
        async with trio.open_nursery() as nursery:
            connections = Reconnector(
                connect,
                nursery,
                backoff_initial=backoff_initial,
                backoff_max=backoff_max,
                backoff_factor=backoff_factor,
                backoff_reset=backoff_reset,
                jitter=jitter,
                describe=describe,
            )
            try:
                yield connections
            except BaseException:
                await connections._finish(failed=True)
                raise
            await connections._finish(failed=False)
    except BaseExceptionGroup as group:
        reraise_single(group)


def _uniform(low: float, high: float) -> float:
    """The jitter's random source (tests replace it)."""
    return random.uniform(low, high)  # spreading retries, not a secret


def _retry_after(exc: Exception) -> float:
    """A ``Retry-After`` in seconds from a 429 or 503 rejection, else 0."""
    if isinstance(exc, HandshakeRejected) and exc.status_code in (429, 503):
        for name, value in exc.headers:
            if name.lower() == "retry-after" and value.strip().isdigit():
                return float(value.strip())
    return 0.0
