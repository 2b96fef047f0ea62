"""A chat server: rooms by path, a name in the query, text messages broadcast to the room.

::

    uv run python examples/chat/server.py                    # ws://127.0.0.1:8001
    uv run python -m trio_ws "ws://127.0.0.1:8001/rooms/lobby?name=alice"
    uv run python -m trio_ws "ws://127.0.0.1:8001/rooms/lobby?name=bob"

Everyone in a room sees ``alice: hello`` for each line, and ``* alice joined`` /
``* alice left`` notices. As in the pub/sub example, each member has a small outgoing queue
and a task that writes it, so a member who stops reading is disconnected (1013) instead of
slowing the room down.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
from collections.abc import Sequence
from functools import partial

import trio

import trio_ws

ROOM_PATH = re.compile(r"/rooms/([\w.-]{1,64})")
QUEUE_SIZE = 32  # outgoing messages per member
GRACE = 5.0  # seconds a member dropped for being too slow gets to take its close frame


class Member:
    """One connection in a room, with its outgoing queue."""

    def __init__(self, ws: trio_ws.WebSocketConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.too_slow = False
        self.scope = trio.CancelScope()  # around the member's tasks
        self._outbox, self._outbox_reader = trio.open_memory_channel[str](QUEUE_SIZE)

    def tell(self, text: str) -> None:
        """Queue a message for this member; never waits on the member."""
        if self.too_slow:
            return
        try:
            self._outbox.send_nowait(text)
        except trio.WouldBlock:
            # Queue full: the writer stops after the message it is sending, if that one
            # gets through within GRACE seconds; the member is then disconnected.
            self.too_slow = True
            self._outbox.close()
            self.scope.deadline = trio.current_time() + GRACE

    async def write_loop(self) -> None:
        """Send queued messages; return when the member is too slow or gone."""
        async for text in self._outbox_reader:
            if self.too_slow:
                return
            try:
                await self.ws.send(text)
            except trio_ws.ConnectionClosed:
                return

    async def read_loop(self, rooms: Rooms, room: str, done: trio.CancelScope) -> None:
        """Broadcast what the member says; cancel ``done`` when the member leaves."""
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    rooms.broadcast(room, f"{self.name}: {message}")
        except trio_ws.ConnectionClosed:
            pass  # left without a clean close: nothing more to do
        done.cancel()

    async def serve(self, rooms: Rooms, room: str) -> None:
        """Run the member's two tasks until it leaves or is dropped."""
        with self.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.read_loop, rooms, room, nursery.cancel_scope)
                await self.write_loop()
                nursery.cancel_scope.cancel()
        if self.too_slow:
            if self.scope.cancelled_caught:  # stuck mid-message: no close frame can follow
                await trio.aclose_forcefully(self.ws.stream)
            else:
                with trio.move_on_after(GRACE):
                    await self.ws.aclose(1013, "too slow")


class Rooms:
    """Rooms by name, each a set of members; a room exists while it has members."""

    def __init__(self) -> None:
        self._rooms: dict[str, set[Member]] = {}

    def broadcast(self, room: str, text: str) -> None:
        """Queue ``text`` for every member of ``room``."""
        for member in self._rooms.get(room, ()):
            member.tell(text)

    async def handle(self, request: trio_ws.WebSocketRequest) -> None:
        """Serve one request: ``/rooms/{room}?name={name}``."""
        match = ROOM_PATH.fullmatch(request.path)
        if match is None or not request.is_websocket:
            await request.reject(404, body="Connect a WebSocket to /rooms/{room}?name={name}\n")
            return
        name = request.query_params.get("name", [""])[0].strip()
        if not 1 <= len(name) <= 32:
            await request.reject(400, body="Give a name of 1-32 characters: ?name=alice\n")
            return
        room = match.group(1)
        member = Member(await request.accept(), name)

        self._rooms.setdefault(room, set()).add(member)
        self.broadcast(room, f"* {name} joined")
        try:
            await member.serve(self, room)
        finally:
            self._rooms[room].discard(member)
            if not self._rooms[room]:
                del self._rooms[room]
            self.broadcast(room, f"* {name} left")


async def main(
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[trio_ws.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the chat until cancelled; ``nursery.start(main, ...)`` gives the Server.

    When cancelled, :func:`trio_ws.serve` closes every member's connection with 1001
    (going away) within a second, by itself.
    """
    await trio_ws.serve(Rooms().handle, host, port, task_status=task_status)


async def run(args: argparse.Namespace) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(main, args.host, args.port))
        # SIGINT and SIGTERM as messages, not a KeyboardInterrupt in whichever task runs.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            print(f"listening on ws://{args.host}:{server.port}", flush=True)
            async for signum in signals:
                print(f"{signal.Signals(signum).name}: closing connections", flush=True)
                break
        # Out of the block, a second Ctrl+C stops at once.
        await server.aclose()  # 1001 to every member, then wait for the handlers


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port (8001; 0 picks a free one)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    try:
        trio.run(run, parse_args())
    except* KeyboardInterrupt:
        pass  # a second Ctrl+C during the shutdown
