"""The spool writer: moves readings and events from the durable spool to the store, in batches, exactly once in
effect.

For each batch: peek the oldest entries, ``store.write`` them (one transaction), and only after it returned
release them from the spool. If the store fails, nothing is released; the same batch is retried after a capped
exponential backoff with jitter, for as long as it takes. A crash after the store committed but before the
release replays that batch on the next start; the store counts it as duplicates, so nothing is stored twice.

Throughput (benchmarks/bench_storage.py): a store that takes rows already encoded for binary COPY
(``write_encoded``, the TimescaleDB store) gets them from the spool as they were encoded at append time; and the
spool work overlaps the database work: while batch N is written, batch N+1 is read from the spool and batch N-1
released from it (both in worker threads; SQLite releases the GIL). ``on_written`` is called once a batch is
released.

Events (``spool_events``) go first: before each batch of readings, the events waiting in the spool (up to
``batch_size``) are written with ``Store.write_events`` (one transaction) and released after it returned,
retried like readings. The store skips an event whose key it holds already, so a replay stores nothing twice.
``on_events_written(new, written, depth)`` is called once an event batch is released.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from headend.readings import Reading
from headend.storage.base import Store, WriteResult
from headend.storage.spool import EncodedBatch, Spool

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Batch:
    last_id: int  #: release up to this id once written (0: the spool had nothing)
    size: int
    rows: EncodedBatch | list[Reading]


class SpoolWriter:
    """Drains a :class:`~headend.storage.spool.Spool` into a :class:`~headend.storage.base.Store`.

    ``on_written(result, depth)`` is called after each batch is committed and released, with the spool depth
    left; ``on_error(exc)`` after each failed attempt. Both run in the event loop and must not block.
    """

    def __init__(
        self,
        spool: Spool,
        store: Store,
        *,
        batch_size: int = 5000,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        on_written: Callable[[WriteResult, int], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_events_written: Callable[[int, int, int], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._spool = spool
        self._store = store
        self._batch_size = batch_size
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._on_written = on_written
        self._on_error = on_error
        self._on_events_written = on_events_written
        self._wake = asyncio.Event()
        self._wake.set()  # what a previous run left in the spool is written first
        self._batch_lock = asyncio.Lock()
        self._random = random.Random()
        self._healthy = True
        self._last_success: float | None = None
        write_encoded = getattr(store, "write_encoded", None)
        self._write_encoded: Callable[[EncodedBatch], Awaitable[WriteResult]] | None = (
            write_encoded if callable(write_encoded) else None
        )
        self._prefetch: asyncio.Task[_Batch] | None = None
        #: the release of the last committed batch (running while the next one is written), its size and result
        self._release: tuple[asyncio.Task[int], int, WriteResult] | None = None

    @property
    def healthy(self) -> bool:
        """False from a failed store write until the next successful one."""
        return self._healthy

    @property
    def last_success(self) -> float | None:
        """``time.monotonic()`` of the last committed batch, None before the first."""
        return self._last_success

    def notify(self) -> None:
        """There is new work in the spool (call after ``spool.append``)."""
        self._wake.set()

    async def run(self) -> None:
        """Forever: wait for :meth:`notify`, then write batches until the spool is empty. Cancel to stop."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while await self._write_next_batch():
                pass

    async def drain(self, timeout_s: float) -> bool:
        """On shutdown: write everything in the spool, retrying as :meth:`run` does, for at most ``timeout_s``.

        True if the spool is empty at the end; what is left stays in the spool for the next start.
        """
        try:
            async with asyncio.timeout(timeout_s):
                while await self._write_next_batch():
                    pass
        except TimeoutError:
            _LOGGER.warning("spool not drained within %.1f s", timeout_s)
        return await asyncio.to_thread(self._spool.depth) == 0

    async def _write_next_batch(self) -> bool:
        """Write the oldest events, or else the oldest batch of readings, retrying until committed; False if the
        spool was empty."""
        async with self._batch_lock:
            attempt = 0
            while True:
                try:
                    if await self._write_events():
                        return True
                    batch = await self._next_batch()
                    if not batch.size:
                        return False
                    # overlap: read the following batch from the spool while this one is being written ...
                    self._prefetch = asyncio.create_task(self._read(after_id=batch.last_id))
                    result = await self._store_write(batch.rows)
                except Exception as exc:  # noqa: BLE001 - the writer loop survives any store error and retries
                    self._drop_prefetch()  # the same batch is read again for the retry
                    await self._finish_release()
                    attempt += 1
                    await self._failed(exc, attempt)
                    continue
                except BaseException:
                    self._drop_prefetch()
                    raise
                break
            self._healthy = True
            self._last_success = time.monotonic()
            # ... and release the previous batch while this one was written; this one is released during the next
            await self._finish_release()
            self._release = (
                asyncio.create_task(asyncio.to_thread(self._spool.release, batch.last_id)),
                batch.size,
                result,
            )
        return True

    async def _write_events(self) -> bool:
        """Write and release the oldest events; False if there were none. Raises what the store raised."""
        if not self._spool.events_waiting:
            return False
        last_id, events = await asyncio.to_thread(self._spool.peek_events, self._batch_size)
        if not events:
            return False
        new = await self._store.write_events(events)
        depth = await asyncio.to_thread(self._spool.release_events, last_id)
        self._healthy = True
        self._last_success = time.monotonic()
        _LOGGER.debug("wrote %d events: %d new; %d entries left in the spool", len(events), new, depth)
        if self._on_events_written is not None:
            _callback(self._on_events_written, new, len(events), depth)
        return True

    async def _finish_release(self) -> None:
        """Wait for the release of the last committed batch, then report it (``on_written`` with the depth)."""
        pending, self._release = self._release, None
        if pending is None:
            return
        task, size, result = pending
        try:
            depth = await task
        except Exception:
            _LOGGER.exception("releasing a written batch from the spool failed; it will be written again")
            return
        _LOGGER.debug(
            "wrote %d readings: %d new, %d duplicate, %d conflicts; %d left in the spool",
            size, result.inserted, result.duplicates, result.conflicts, depth,
        )  # fmt: skip
        if result.conflicts:
            _LOGGER.warning("%d readings conflict with stored values (see reading_conflicts)", result.conflicts)
        if self._on_written is not None:
            _callback(self._on_written, result, depth)

    async def _next_batch(self) -> _Batch:
        """The prefetched batch if there is one with rows, else the oldest entries read now."""
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            batch = await prefetch
            if batch.size:
                return batch
        await self._finish_release()  # else the oldest entries could be the batch still being released
        return await self._read(after_id=0)

    async def _read(self, *, after_id: int) -> _Batch:
        if self._write_encoded is not None:
            encoded = await asyncio.to_thread(self._spool.peek_encoded, self._batch_size, after_id=after_id)
            return _Batch(encoded.last_id, len(encoded), encoded)
        last_id, readings = await asyncio.to_thread(self._spool.peek, self._batch_size, after_id=after_id)
        return _Batch(last_id, len(readings), readings)

    async def _store_write(self, rows: EncodedBatch | Sequence[Reading]) -> WriteResult:
        if isinstance(rows, EncodedBatch):
            assert self._write_encoded is not None
            return await self._write_encoded(rows)
        return await self._store.write(rows)

    def _drop_prefetch(self) -> None:
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.cancel()
            # a read that failed or was cancelled: nothing to report, the batch is read again when needed
            prefetch.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def _failed(self, exc: Exception, attempt: int) -> None:
        self._healthy = False
        delay = retry_delay(attempt, self._retry_initial_s, self._retry_max_s, self._random)
        _LOGGER.warning(
            "store write failed (attempt %d), retrying in %.2f s: %s",
            attempt, delay, exc, exc_info=attempt == 1,
        )  # fmt: skip
        if self._on_error is not None:
            _callback(self._on_error, exc)
        await asyncio.sleep(delay)


def retry_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, …): doubling from ``initial_s``, capped at
    ``max_s``, with "equal jitter" (half the delay plus a random half) so that several instances coming back from
    the same outage do not retry in lockstep."""
    delay = min(max_s, initial_s * 2.0 ** min(attempt - 1, 62))
    return delay / 2 + rng.uniform(0, delay / 2)


def _callback(func: Callable[..., None], *args: object) -> None:
    """A failing metrics/alarm hook must not stop the writer."""
    try:
        func(*args)
    except Exception:
        _LOGGER.exception("spool writer callback %r failed", func)
