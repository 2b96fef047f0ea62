"""The connection's two synchronization primitives, smaller and cheaper than Trio's own.

An idle server may hold tens of thousands of connections, and a busy one takes the send lock
for every message; Trio's general primitives (a ParkingLot with an ordered dict of waiters
each, owner bookkeeping in Lock) cost memory and time that these narrow uses do not need.
"""

from __future__ import annotations

from typing import Any

import trio

__all__ = ["SendLock", "Waiters", "Wakeup"]


class Wakeup:
    """Where one task waits until another wakes it: a ParkingLot for a single waiter.

    A connection has two (a receiver waiting for the reader's read, a reader waiting to
    start), and only one task can wait on each.
    """

    __slots__ = ("_task",)

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None

    async def wait(self) -> None:
        """Sleep until :meth:`wake` (a checkpoint: it can be cancelled)."""
        assert self._task is None, "only one task may wait"
        self._task = trio.lowlevel.current_task()

        def abort(_: Any) -> trio.lowlevel.Abort:
            self._task = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def wake(self) -> None:
        """Wake the waiting task, if any."""
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task)


class Waiters:
    """Tasks waiting for their turn, served first come, first served (the send locks' queue)."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: list[trio.lowlevel.Task] = []

    async def wait(self) -> None:
        """Sleep until :meth:`wake_first` picks this task (a checkpoint: it can be cancelled)."""
        tasks = self._tasks
        task = trio.lowlevel.current_task()
        tasks.append(task)

        def abort(_: Any) -> trio.lowlevel.Abort:
            tasks.remove(task)
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def wake_first(self) -> bool:
        """Wake the task that has waited longest; tell whether there was one."""
        if not self._tasks:
            return False
        trio.lowlevel.reschedule(self._tasks.pop(0))
        return True


class SendLock:
    """A fair (first come, first served) lock, as :class:`trio.Lock` for the connection's writes.

    The differences: no record of the owner (only trio_ws's own code takes it, and always
    releases it in the task that took it), and a list of waiters made only when a task has
    to wait. Releasing hands the lock straight to the first waiter.
    """

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        self._waiters: Waiters | None = None

    def locked(self) -> bool:
        """Whether a task holds the lock."""
        return self._held

    def acquire_nowait(self) -> None:
        """Take the lock if it is free (not a checkpoint).

        Raises:
            trio.WouldBlock: another task holds it.
        """
        if self._held:
            raise trio.WouldBlock
        self._held = True

    async def acquire(self) -> None:
        """Take the lock, waiting for it if needed (a checkpoint, like trio.Lock's)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if not self._held:
            self._held = True
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if self._waiters is None:
            self._waiters = Waiters()
        await self._waiters.wait()  # release() handed it to us

    def release(self) -> None:
        """Release the lock, or hand it to the task that has waited longest."""
        if self._waiters is None or not self._waiters.wake_first():
            self._held = False  # (handed over, it stays held, by that task now)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()
