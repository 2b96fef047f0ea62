"""The lifecycle of a connection's transport: in use, finished, closed; and how it ended.

Theory of operation. The sans-IO core says where the *WebSocket* conversation stands (OPEN,
CLOSING, CLOSED). This module says where the *transport* under it stands, in one state with
two transitions, each made once, by whichever task gets there first::

    IN_USE ──finish(detail)──▶ FINISHED ──(the stream is closed)──▶ CLOSED

* ``IN_USE``: the stream may be read and written.
* ``FINISHED``: the connection is over. Nothing reads or writes the stream again; every task
  waiting for the connection has been woken (by the :class:`Watcher`, the inbox: a receiver
  waiting for a read, pings waiting for pongs) and the connection's own background work has been
  cancelled (the cancel scopes registered with :meth:`Lifecycle.own`). The application's
  code is never cancelled: it may run in the same nursery. The stream is being closed.
* ``CLOSED``: the stream is closed. :meth:`Lifecycle.close_stream` closes it exactly once.

It also keeps the close details: the close frame we sent, the one we received, and the first
cause of an ending that no close frame explains (later causes never overwrite it). They build
the :class:`~trio_ws.ConnectionClosed` the application sees.
"""

from __future__ import annotations

import enum
from typing import Protocol

import trio

from ._exceptions import ConnectionClosed, connection_closed
from ._streams import close_forcefully, close_now
from .protocol import CloseConnection

__all__ = ["Lifecycle", "Transport"]


class Watcher(Protocol):
    """Who is told when the connection finishes."""

    def finished(self) -> None:
        """The connection has finished: wake whoever waits (must not raise)."""


class Transport(enum.Enum):
    """Where a connection's transport stands (see the module's theory of operation)."""

    #: The stream may be read and written.
    IN_USE = "in use"
    #: The connection is over: nothing reads or writes the stream; it is being closed.
    FINISHED = "finished"
    #: The stream is closed.
    CLOSED = "closed"


_IN_USE = Transport.IN_USE
_FINISHED = Transport.FINISHED
_CLOSED = Transport.CLOSED


class Lifecycle:
    """The transport's state, the close details, and what ends with the connection."""

    __slots__ = (
        "_finished",
        "_nursery",
        "_scopes",
        "_stream",
        "_watcher",
        "close_received",
        "close_sent",
        "detail",
        "state",
    )

    def __init__(self, stream: trio.abc.Stream, nursery: trio.Nursery) -> None:
        self._stream = stream
        self._nursery = nursery
        #: Where the transport stands. Changed only by finish() and close_stream().
        self.state = _IN_USE
        self._finished: trio.Event | None = None  # made by wait_finished() (memory)
        #: The close frame we sent (or the core echoed), if any.
        self.close_sent: CloseConnection | None = None
        #: The close frame the peer sent, if any.
        self.close_received: CloseConnection | None = None
        #: The first cause of the ending that no close frame explains.
        self.detail = ""
        self._scopes: list[trio.CancelScope] = []
        self._watcher: Watcher | None = None

    # --- Facts ------------------------------------------------------------------------------

    @property
    def in_use(self) -> bool:
        """Whether the stream may still be read and written."""
        return self.state is _IN_USE

    def closed_exception(self) -> ConnectionClosed:
        """The exception that tells the application how the connection ended."""
        return connection_closed(self.close_received, self.close_sent, self.detail)

    def cause(self, detail: str) -> None:
        """Record ``detail`` as the cause of the ending, unless one is known already."""
        if not self.detail:
            self.detail = detail

    # --- Wiring -----------------------------------------------------------------------------

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` when the connection finishes (one watcher: memory)."""
        self._watcher = watcher

    def own(self, scope: trio.CancelScope) -> None:
        """Cancel ``scope`` when the connection finishes (at once if it has already)."""
        if self.state is not _IN_USE:
            scope.cancel()
            return
        self._scopes.append(scope)

    def disown(self, scope: trio.CancelScope) -> None:
        """Forget ``scope`` (its work ended by itself)."""
        try:
            self._scopes.remove(scope)
        except ValueError:
            pass

    # --- Transitions ------------------------------------------------------------------------

    def finish(self, detail: str = "") -> bool:
        """IN_USE → FINISHED: wake every waiter, cancel the background work.

        Returns:
            Whether this call finished the connection (``False`` if it was already).
        """
        if self.state is not _IN_USE:
            return False
        if detail:
            self.cause(detail)
        self.state = _FINISHED
        if self._finished is not None:
            self._finished.set()
        scopes, self._scopes = self._scopes, []
        for scope in scopes:
            scope.cancel()
        if self._watcher is not None:
            self._watcher.finished()
        return True

    async def wait_finished(self) -> None:
        """Wait until the connection has finished (a checkpoint)."""
        if self.state is not _IN_USE:
            await trio.lowlevel.checkpoint()
            return
        if self._finished is None:
            self._finished = trio.Event()
        await self._finished.wait()

    async def close_stream(self) -> None:
        """FINISHED → CLOSED: close the stream, once (finishing the connection if needed).

        Not always a checkpoint (see :func:`~trio_ws._streams.close_forcefully`).
        """
        self.finish()
        if self.state is _FINISHED:
            self.state = _CLOSED
            await close_forcefully(self._stream)

    def close_stream_soon(self) -> None:
        """Close the stream without waiting: at once for a plain socket, else in a task."""
        self.finish()
        if self.state is not _FINISHED:
            return
        if close_now(self._stream):
            self.state = _CLOSED
            return
        try:
            self._nursery.start_soon(self.close_stream)
        except RuntimeError:  # the nursery is over: whoever owns the stream closes it
            pass
