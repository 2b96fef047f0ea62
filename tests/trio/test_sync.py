"""The connection's own lock and wake-up: fair, cancellable, checkpoints where Trio's are."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_ws._sync import SendLock, Wakeup


async def test_the_lock_is_first_come_first_served_and_handed_over() -> None:
    lock = SendLock()
    order: list[int] = []

    async def take(n: int) -> None:
        async with lock:
            order.append(n)
            await trio.lowlevel.checkpoint()

    lock.acquire_nowait()
    async with trio.open_nursery() as nursery:
        for n in range(5):
            nursery.start_soon(take, n)
            await trio.testing.wait_all_tasks_blocked()  # each queues in turn
        assert order == []
        lock.release()
    assert order == [0, 1, 2, 3, 4]
    assert not lock.locked()


async def test_a_free_lock_is_taken_without_waiting_and_refused_when_held() -> None:
    lock = SendLock()
    with trio.testing.assert_checkpoints():
        await lock.acquire()
    assert lock.locked()
    with pytest.raises(trio.WouldBlock):
        lock.acquire_nowait()
    lock.release()
    with trio.testing.assert_no_checkpoints():
        lock.acquire_nowait()
    lock.release()


async def test_a_cancelled_waiter_leaves_the_queue(autojump_clock: trio.testing.MockClock) -> None:
    lock = SendLock()
    lock.acquire_nowait()
    got: list[str] = []

    async def wait_then_give_up() -> None:
        with trio.move_on_after(1):
            await lock.acquire()
            got.append("impatient")  # pragma: no cover - cancelled before the release

    async def wait() -> None:
        await lock.acquire()
        got.append("patient")
        lock.release()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_then_give_up)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait)
        await trio.sleep(2)  # the first waiter gave up meanwhile
        lock.release()
    assert got == ["patient"]
    assert not lock.locked()


async def test_acquire_in_a_cancelled_scope_raises_and_leaves_the_lock_free() -> None:
    lock = SendLock()
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await lock.acquire()
    assert not lock.locked()


async def test_wakeup_wakes_its_one_waiter_and_can_be_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wakeup = Wakeup()
    wakeup.wake()  # nobody waits: nothing happens
    woken: list[float] = []

    async def sleeper() -> None:
        await wakeup.wait()
        woken.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper)
        await trio.sleep(3)
        wakeup.wake()
    assert woken == [3]
    with trio.move_on_after(1) as scope:
        await wakeup.wait()
    assert scope.cancelled_caught
    wakeup.wake()  # the cancelled waiter is gone
