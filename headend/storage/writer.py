"""The spool writer: moves readings from the durable spool to the store, in batches, exactly once in effect.

For each batch: peek the oldest entries, ``store.write`` them (one transaction), and only after it returned
release them from the spool. If the store fails, nothing is released; the same batch is retried after a capped
exponential backoff with jitter, for as long as it takes. A crash after the store committed but before the
release replays that batch on the next start; the store counts it as duplicates, so nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from headend.storage.base import Store, WriteResult
from headend.storage.spool import Spool

_LOGGER = logging.getLogger(__name__)


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
        self._wake = asyncio.Event()
        self._wake.set()  # what a previous run left in the spool is written first
        self._batch_lock = asyncio.Lock()
        self._random = random.Random()
        self._healthy = True
        self._last_success: float | None = None

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
        """Write the oldest batch, retrying until it is committed; False if the spool was empty."""
        async with self._batch_lock:
            attempt = 0
            while True:
                try:
                    last_id, batch = await asyncio.to_thread(self._spool.peek, self._batch_size)
                    if not batch:
                        return False
                    result = await self._store.write(batch)
                    await asyncio.to_thread(self._spool.release, last_id)
                    depth = await asyncio.to_thread(self._spool.depth)
                except Exception as exc:  # noqa: BLE001 - the writer loop survives any store error and retries
                    attempt += 1
                    await self._failed(exc, attempt)
                    continue
                break
        self._healthy = True
        self._last_success = time.monotonic()
        _LOGGER.debug(
            "wrote %d readings: %d new, %d duplicate, %d conflicts; %d left in the spool",
            len(batch), result.inserted, result.duplicates, result.conflicts, depth,
        )  # fmt: skip
        if result.conflicts:
            _LOGGER.warning("%d readings conflict with stored values (see reading_conflicts)", result.conflicts)
        if self._on_written is not None:
            _callback(self._on_written, result, depth)
        return True

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
