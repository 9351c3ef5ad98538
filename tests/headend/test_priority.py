"""The per-terminal priority lock: one holder, then waiters by priority and arrival."""

from __future__ import annotations

import asyncio

from headend.sessions.priority import Priority, PriorityLock


async def test_waiters_are_served_by_priority_then_arrival() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire(Priority.SCHEDULED)

    async def worker(name: str, priority: Priority) -> None:
        async with lock.hold(priority):
            order.append(name)

    tasks = [
        asyncio.create_task(worker("backfill", Priority.BACKFILL)),
        asyncio.create_task(worker("scheduled-1", Priority.SCHEDULED)),
        asyncio.create_task(worker("control", Priority.CONTROL)),
        asyncio.create_task(worker("scheduled-2", Priority.SCHEDULED)),
        asyncio.create_task(worker("on-demand", Priority.ON_DEMAND)),
    ]
    while lock.waiting < len(tasks):
        await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["control", "on-demand", "scheduled-1", "scheduled-2", "backfill"]
    assert not lock.locked


async def test_cancelled_waiter_does_not_block_the_next() -> None:
    lock = PriorityLock()
    await lock.acquire(Priority.SCHEDULED)
    cancelled = asyncio.create_task(lock.acquire(Priority.CONTROL))
    follower = asyncio.create_task(lock.acquire(Priority.BACKFILL))
    while lock.waiting < 2:
        await asyncio.sleep(0)
    cancelled.cancel()
    lock.release()
    await asyncio.wait_for(follower, 1)
    assert lock.locked
    lock.release()
    assert not lock.locked


async def test_uncontended_acquire_is_immediate() -> None:
    lock = PriorityLock()
    async with lock.hold(Priority.BACKFILL):
        assert lock.locked
    assert not lock.locked
