"""broadcast(): one message to many connections, where a slow receiver delays nobody.

Design. Every open connection gets the message from a task of its own, so the sends run
concurrently and a receiver that does not read only holds up its own task. Each send is
bounded by ``timeout``: a connection whose send has not completed by then is *dropped*, that
is aborted: its transport is closed at once, without a closing handshake. Waiting longer
would let one peer hold up the whole broadcast; skipping the message for that peer and
carrying on would leave it silently out of date; and a close frame could not reach a peer
that is not reading anyway (and the interrupted frame may be half written, which leaves
nothing valid to send after it). The peer sees the connection end with 1006, and the task
that serves it sees :exc:`~trio_ws.ConnectionClosedError` on its next call.

Connections that are already closed or closing are *skipped* without a task. The summary
lists which connections got the message, which were dropped and which were skipped, so
that a pub/sub hub can forget the dropped and skipped ones.

The frame is encoded once and the same bytes go to every connection that can take them: a
server connection without a negotiated extension (see
:meth:`trio_ws.protocol.Connection.can_share_frames`). A connection with compression (its
own compression context) or a client connection (a fresh mask per frame) encodes the message
itself through :meth:`~trio_ws.WebSocketConnection.send`.

Performance. A task per connection costs more than the write it does, so the frame is first
offered to each plain TCP socket directly, without blocking: when the kernel takes all of it
(the common case) the connection needs no task. Only connections that are busy sending,
whose socket buffer is full, or that took part of the frame (the rest then goes first) get a
task, bounded by the timeout as above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import final

import trio

from ._connection import Data, WebSocketConnection, send_shared, write_shared_now
from ._exceptions import ConnectionClosed
from ._outbox import WriteNow
from .protocol import BytesMessage, TextMessage, serialize_message

__all__ = ["BroadcastResult", "broadcast"]


@final
@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """What :func:`broadcast` did with each connection, in the order they were given."""

    #: Connections whose send completed (the message was handed to their transport).
    delivered: tuple[WebSocketConnection, ...]
    #: Connections whose send did not complete within the timeout; they were aborted.
    dropped: tuple[WebSocketConnection, ...]
    #: Connections that were closed or closing, before or during the send, so not sent to.
    skipped: tuple[WebSocketConnection, ...]


_DELIVERED, _DROPPED, _SKIPPED = 0, 1, 2


async def broadcast(
    connections: Iterable[WebSocketConnection],
    message: Data,
    *,
    timeout: float | None = 5.0,
    compress: bool | None = None,
) -> BroadcastResult:
    """Send one message to many connections at once; a slow receiver only delays itself.

    ::

        result = await trio_ws.broadcast(room.connections, "hello, everyone")
        room.connections.difference_update(result.dropped + result.skipped)

    The frame is encoded once where connections can share it, and written at once to each
    plain TCP socket with room for it; the other sends run concurrently, a task each. A
    send that has not completed ``timeout`` seconds after the broadcast started drops its
    connection: the transport is closed at once, without a closing handshake (a peer that
    does not read could not get a close frame anyway), and the peer sees code 1006. So the
    call returns within ``timeout`` seconds (plus the time to close the dropped transports),
    however many receivers stall. Connections already closed or closing are skipped. A
    connection given more than once gets the message once.

    Args:
        connections: The connections to send to.
        message: Text (``str``) or binary (bytes-like) message.
        timeout: Seconds each send may take, positive, or ``None`` to wait for every
            receiver however slow.
        compress: Passed to :meth:`~trio_ws.WebSocketConnection.send`.

    Returns:
        Which connections got the message, which were dropped and which were skipped.

    Raises:
        TypeError: ``message`` is neither text nor bytes-like.
        ValueError: ``timeout`` is not positive.
    """
    if not isinstance(message, str | bytes | bytearray | memoryview):
        raise TypeError(f"a message is str or bytes-like, not {type(message).__name__}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive or None, not {timeout}")
    if isinstance(message, bytearray | memoryview):
        message = bytes(message)  # one immutable copy, shared by every send
    targets = list(dict.fromkeys(connections))
    outcomes = [_SKIPPED] * len(targets)
    deadline = trio.current_time() + timeout if timeout is not None else float("inf")

    # Encode once: connections whose frames are neither masked nor compressed (servers
    # without a negotiated extension) all get the same bytes.
    shared = serialize_message(
        TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message)
    )

    async def send_one(index: int, ws: WebSocketConnection, frame: bytes | None) -> None:
        with trio.CancelScope(deadline=deadline) as scope:
            try:
                if not await send_shared(ws, frame, len(message)):
                    await ws.send(message, compress=compress)
            except ConnectionClosed:
                return
            outcomes[index] = _DELIVERED
        if scope.cancelled_caught:
            outcomes[index] = _DROPPED
            # The send was cut short, possibly in the middle of a frame: nothing valid can
            # follow it on this transport, so close it. The connection's reader sees the
            # transport gone and ends the connection (1006).
            await trio.aclose_forcefully(ws.stream)

    await trio.lowlevel.checkpoint()
    async with trio.open_nursery() as nursery:
        for index, ws in enumerate(targets):
            if ws.closed:
                continue
            # Performance: most sockets take the frame at once; only the others need a task
            # (a task per connection costs more than the write itself).
            written = write_shared_now(ws, shared, len(message))
            if written is WriteNow.WRITTEN:
                outcomes[index] = _DELIVERED
            else:
                # The rest of a partly written frame, or the whole message.
                frame = None if written is WriteNow.PARTIAL else shared
                nursery.start_soon(send_one, index, ws, frame)
    by_outcome: tuple[list[WebSocketConnection], ...] = ([], [], [])
    for ws, outcome in zip(targets, outcomes, strict=True):
        by_outcome[outcome].append(ws)
    delivered, dropped, skipped = by_outcome
    return BroadcastResult(tuple(delivered), tuple(dropped), tuple(skipped))
