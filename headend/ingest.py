"""Group commit into the durable spool.

Sessions hand over readings with ``await ingest.submit(readings)`` and events (AFN0E records, head-end events)
with ``await ingest.submit((), events)``; the call returns once they are on disk (one SQLite transaction with
synchronous=FULL for everything submitted meanwhile, so a burst of responses costs one fsync, not hundreds). Only
then is a reading or event *acknowledged* (and a pushed report confirmed to its terminal). The spool writer then
drains the spool into the store.

A group commit takes at most ``max_batch`` entries (a bounded transaction: the spool's lock is held for one
bounded commit at a time, and the spool writer's release, queued first-come-first-served, goes next).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from headend.metrics import Metrics
from headend.readings import Reading
from headend.storage.errors import SpoolFull
from headend.storage.records import Event
from headend.storage.spool import Spool

_LOGGER = logging.getLogger(__name__)


class Ingest:
    def __init__(
        self, spool: Spool, metrics: Metrics, *, on_durable: Callable[[], None], max_batch: int = 20_000
    ) -> None:
        self._spool = spool
        self._metrics = metrics
        self._on_durable = on_durable
        self._max_batch = max_batch
        self._queue: list[tuple[Sequence[Reading], Sequence[Event], asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.spool_full = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="ingest")

    async def stop(self) -> None:
        """Commit what was already submitted, then stop.

        The commit loop ends by itself once the queue is empty: cancelling it could leave a group commit running
        in its worker thread (a thread cannot be cancelled), which then lands in the spool after the writer's
        final drain — durable, but not acknowledged and not written until the next start.
        """
        if self._task is None:
            return
        self._stopping = True
        self._wakeup.set()
        await self._task
        self._task = None

    async def submit(self, readings: Sequence[Reading], events: Sequence[Event] = ()) -> None:
        """Return when ``readings`` and ``events`` are durable in the spool; raises SpoolFull when the spool is at
        its limit, and ``ValueError`` when an entry of the group commit is one no store could keep: in both cases
        nothing of the group commit was kept."""
        if not readings and not events:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((readings, events, future))
        self._wakeup.set()
        await future

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._commit_some()
            if self._stopping:
                return

    async def _commit_some(self) -> None:
        batch: list[tuple[Sequence[Reading], Sequence[Event], asyncio.Future[None]]] = []
        count = taken = 0
        queue = self._queue
        while taken < len(queue):
            size = len(queue[taken][0]) + len(queue[taken][1])
            if batch and count + size > self._max_batch:
                break
            batch.append(queue[taken])
            count += size
            taken += 1
        del queue[:taken]  # one slice: popping the head one by one is quadratic in a burst of thousands
        rows = [reading for readings, _, _ in batch for reading in readings]
        events = [event for _, some, _ in batch for event in some]
        try:
            await asyncio.to_thread(self._spool.append, rows, events)
        except SpoolFull as exc:
            self._metrics.spool_full.inc()
            if not self.spool_full:
                _LOGGER.error("spool full: refusing %d readings (%s); collection continues", len(rows), exc)
            self.spool_full = True
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except Exception as exc:
            _LOGGER.exception("spool append failed")
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.spool_full = False
        self._metrics.readings_spooled.inc(len(rows))
        for _, _, future in batch:
            if not future.done():
                future.set_result(None)
        self._on_durable()
