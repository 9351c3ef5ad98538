"""Issue 6: the spool writer is not starved while collection keeps appending to the spool.

A producer thread appends to the spool in a tight loop (no pause between group commits, as in a burst of a large
fleet) while :meth:`SpoolWriter.run` drains it into a real SQLite store. The writer must keep completing batches
(reads, store commits and spool releases) during the burst, not only after it; and what was appended arrives
exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

from headend.storage.base import WriteResult
from headend.storage.spool import Spool, _FairLock
from headend.storage.sqlite_store import SqliteStore
from headend.storage.writer import SpoolWriter
from tests.headend.storage.helpers import TZ, batch, wait_until

#: batches the writer must complete while the producer is still appending
_PROGRESS = 8


async def test_the_writer_makes_progress_while_appends_run_continuously(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    store = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    stop = threading.Event()
    appended: list[int] = []  # batch indexes, in append order
    during_burst: list[int] = []  # spool depth reported by each batch written while the producer ran

    def produce() -> None:
        index = 0
        while not stop.is_set():
            spool.append(batch(index, 500))
            appended.append(index)
            index += 1

    def written(_: WriteResult, depth: int) -> None:
        if not stop.is_set():
            during_burst.append(depth)

    writer = SpoolWriter(spool, store, batch_size=400, on_written=written)
    producer = threading.Thread(target=produce, name="producer")
    task = asyncio.create_task(writer.run())
    producer.start()
    try:
        await wait_until(lambda: len(appended) >= 2, what="the producer to start")
        writer.notify()
        await wait_until(lambda: len(during_burst) >= _PROGRESS, timeout_s=60, what="batches during the burst")
        assert producer.is_alive()  # the producer was appending the whole time
    finally:
        stop.set()
        await asyncio.to_thread(producer.join)
    try:
        assert await writer.drain(120)
        expected = {r.key for index in appended for r in batch(index, 500)}
        assert await store.count_readings() == len(expected)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
        spool.close()


def test_the_spool_write_lock_is_granted_in_the_order_asked() -> None:
    """Whoever waits first goes first (a waiting release is not overtaken by appends that come after it)."""
    lock = _FairLock()
    order: list[int] = []

    def take(n: int) -> None:
        with lock:
            order.append(n)

    threads = []
    with lock:  # an append in progress; eight more callers queue up behind it, one after the other
        for n in range(8):
            thread = threading.Thread(target=take, args=(n,))
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 30
            while lock._next_ticket < n + 2:  # this caller holds its ticket: the next one asks after it
                assert time.monotonic() < deadline, "a caller never asked for the lock"
                time.sleep(0.001)
    for thread in threads:
        thread.join(30)
    assert order == list(range(8))
