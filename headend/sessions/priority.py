"""A lock granted by priority, then arrival order: one outstanding request per terminal or bus, with control
ahead of on-demand reads, ahead of scheduled polls, ahead of backfill (DESIGN.md "sessions"; zigpy's
PriorityDynamicBoundedSemaphore)."""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Priority(enum.IntEnum):
    """Lower value = served first."""

    CONTROL = 0
    ON_DEMAND = 1
    SCHEDULED = 2
    BACKFILL = 3


class PriorityLock:
    def __init__(self) -> None:
        self._locked = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    @property
    def locked(self) -> bool:
        return self._locked

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, fut in self._waiters if not fut.done())

    async def acquire(self, priority: Priority) -> None:
        if not self._locked and not self.waiting:
            self._locked = True
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._counter), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # granted and cancelled in the same breath: pass the lock on
                self.release()
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)  # ownership passes directly; _locked stays True
                return
        self._locked = False

    @asynccontextmanager
    async def hold(self, priority: Priority) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()
