"""The spool writer: batches, retries until the store commits, releases only after, exactly once in effect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from headend.readings import Reading
from headend.storage.base import WriteResult
from headend.storage.spool import Spool
from headend.storage.sqlite_store import SqliteStore
from headend.storage.timescale import TimescaleStore
from headend.storage.writer import SpoolWriter, retry_delay
from tests.headend.storage.helpers import TZ, batch, wait_until
from tests.pg_server import PgServer


class FlakyStore:
    """A real SQLite store whose ``write`` fails while ``failures_left`` > 0 (or forever with -1)."""

    def __init__(self, inner: SqliteStore, failures: int) -> None:
        self.inner = inner
        self.failures_left = failures
        self.calls: list[list[Reading]] = []

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def migrate(self) -> int:
        return await self.inner.migrate()

    async def schema_version(self) -> int:
        return await self.inner.schema_version()

    async def count_readings(self) -> int:
        return await self.inner.count_readings()

    async def write(self, readings: Sequence[Reading]) -> WriteResult:
        self.calls.append(list(readings))
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionRefusedError("database is down")
        return await self.inner.write(readings)


class Recorder:
    def __init__(self) -> None:
        self.written: list[tuple[WriteResult, int]] = []
        self.errors: list[BaseException] = []

    def on_written(self, result: WriteResult, depth: int) -> None:
        self.written.append((result, depth))

    def on_error(self, exc: BaseException) -> None:
        self.errors.append(exc)

    @property
    def drained(self) -> bool:
        """The writer reported a batch that left the spool empty (the callback comes after the release)."""
        return bool(self.written) and self.written[-1][1] == 0

    def total(self, field: str) -> int:
        return sum(getattr(result, field) for result, _ in self.written)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    yield store
    await store.close()


@contextlib.asynccontextmanager
async def running(writer: SpoolWriter) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(writer.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_everything_in_the_spool_arrives_once(spool: Spool, sqlite_store: SqliteStore) -> None:
    rows = [r for i in range(3) for r in batch(i, 100)]
    spool.append(rows)
    seen = Recorder()
    writer = SpoolWriter(spool, sqlite_store, batch_size=64, on_written=seen.on_written)

    async with running(writer):
        await wait_until(lambda: seen.drained, what="the spool to drain")

    assert await sqlite_store.count_readings() == 300
    assert [result.inserted for result, _ in seen.written] == [64, 64, 64, 64, 44]
    assert [depth for _, depth in seen.written] == [236, 172, 108, 44, 0]
    assert writer.healthy
    assert writer.last_success is not None


async def test_notify_wakes_the_writer_for_new_work(spool: Spool, sqlite_store: SqliteStore) -> None:
    writer = SpoolWriter(spool, sqlite_store)
    async with running(writer):
        for index in range(5):
            spool.append(batch(index, 10))
            writer.notify()
            await wait_until(lambda: spool.depth() == 0, what="the new batch to be written")
    assert await sqlite_store.count_readings() == 50


async def test_store_failures_are_retried_and_nothing_is_released_before_commit(
    spool: Spool, sqlite_store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    rows = batch(0, 30)
    spool.append(rows)
    store = FlakyStore(sqlite_store, failures=3)
    seen = Recorder()
    depth_at_errors: list[int] = []
    healthy_at_errors: list[bool] = []

    def on_error(exc: BaseException) -> None:
        seen.on_error(exc)
        depth_at_errors.append(spool.depth())
        healthy_at_errors.append(writer.healthy)

    writer = SpoolWriter(
        spool, store, retry_initial_s=0.001, retry_max_s=0.01, on_written=seen.on_written, on_error=on_error
    )
    with caplog.at_level(logging.WARNING, logger="headend.storage.writer"):
        async with running(writer):
            await wait_until(lambda: seen.drained, what="the spool to drain after the failures")

    assert [type(e) for e in seen.errors] == [ConnectionRefusedError] * 3
    assert depth_at_errors == [30, 30, 30]
    assert healthy_at_errors == [False, False, False]
    assert store.calls == [rows] * 4  # the same batch each time
    assert seen.written == [(WriteResult(inserted=30, duplicates=0, conflicts=0), 0)]
    assert writer.healthy
    assert "store write failed (attempt 3)" in caplog.text


async def test_a_batch_committed_but_not_released_is_replayed_as_duplicates(
    spool: Spool, sqlite_store: SqliteStore
) -> None:
    """The crash window: the store committed, the process died before ``release``."""
    rows = batch(0, 40)
    spool.append(rows)
    await sqlite_store.write(rows)  # committed by the previous run
    seen = Recorder()
    writer = SpoolWriter(spool, sqlite_store, on_written=seen.on_written)

    assert await writer.drain(30)

    assert seen.written == [(WriteResult(inserted=0, duplicates=40, conflicts=0), 0)]
    assert await sqlite_store.count_readings() == 40


async def test_drain_writes_everything(spool: Spool, sqlite_store: SqliteStore) -> None:
    spool.append([r for i in range(5) for r in batch(i, 50)])
    writer = SpoolWriter(spool, sqlite_store, batch_size=100)
    assert await writer.drain(30)
    assert spool.depth() == 0
    assert await sqlite_store.count_readings() == 250


async def test_drain_gives_up_after_the_timeout_and_keeps_the_spool(spool: Spool, sqlite_store: SqliteStore) -> None:
    spool.append(batch(0, 20))
    store = FlakyStore(sqlite_store, failures=-1)
    writer = SpoolWriter(spool, store, retry_initial_s=0.01, retry_max_s=0.05)

    assert not await writer.drain(0.3)

    assert spool.peek(100)[1] == batch(0, 20)
    assert len(store.calls) >= 2  # it kept retrying until the deadline
    assert not writer.healthy


async def test_drain_and_run_together_write_each_batch_once(spool: Spool, sqlite_store: SqliteStore) -> None:
    spool.append([r for i in range(10) for r in batch(i, 50)])
    seen = Recorder()
    writer = SpoolWriter(spool, sqlite_store, batch_size=50, on_written=seen.on_written)
    async with running(writer):
        assert await writer.drain(30)
    assert seen.total("inserted") == 500
    assert seen.total("duplicates") == 0


async def test_a_failing_callback_does_not_stop_the_writer(
    spool: Spool, sqlite_store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(result: WriteResult, depth: int) -> None:
        raise RuntimeError("metrics broke")

    spool.append([r for i in range(3) for r in batch(i, 10)])
    writer = SpoolWriter(spool, sqlite_store, batch_size=10, on_written=broken)
    with caplog.at_level(logging.ERROR, logger="headend.storage.writer"):
        assert await writer.drain(30)
    assert await sqlite_store.count_readings() == 30
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RuntimeError] * 3


def test_batch_size_must_be_positive(spool: Spool, sqlite_store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        SpoolWriter(spool, sqlite_store, batch_size=0)


@given(attempt=st.integers(1, 200), initial=st.floats(0.001, 5), maximum=st.floats(0.001, 120), seed=st.integers())
def test_retry_delay_doubles_up_to_the_cap_with_jitter(attempt: int, initial: float, maximum: float, seed: int) -> None:
    cap = min(maximum, initial * 2.0 ** (attempt - 1))
    delay = retry_delay(attempt, initial, maximum, random.Random(seed))
    assert cap / 2 <= delay <= cap


# -- against the real server ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_database_outage_loses_nothing_and_duplicates_nothing(
    pg_server: PgServer, fresh_db_dsn: str, spool: Spool, mode: str
) -> None:
    """Readings keep being appended while the database is stopped (cleanly, or crashed: ``immediate``);
    the writer retries; after the restart every reading is in the database exactly once."""
    store = TimescaleStore(fresh_db_dsn, tz=TZ)
    await store.open()
    await store.migrate()
    seen = Recorder()
    writer = SpoolWriter(
        spool, store, batch_size=40, retry_initial_s=0.05, retry_max_s=0.2,
        on_written=seen.on_written, on_error=seen.on_error,
    )  # fmt: skip
    expected: list[Reading] = []
    try:
        async with running(writer):
            for index in range(3):
                expected += batch(index, 25)
                spool.append(batch(index, 25))
                writer.notify()
            await wait_until(lambda: spool.depth() == 0, what="the first readings")

            await asyncio.to_thread(pg_server.stop, mode)  # type: ignore[arg-type]
            for index in range(3, 10):
                expected += batch(index, 25)
                spool.append(batch(index, 25))
                writer.notify()
            await wait_until(lambda: len(seen.errors) >= 3, what="the writer to retry")
            healthy_during_outage = writer.healthy
            depth_during_outage = spool.depth()

            await asyncio.to_thread(pg_server.start)
            await wait_until(lambda: spool.depth() == 0, timeout_s=60, what="the backlog to drain")
            healthy_after = writer.healthy
    finally:
        await store.close()

    assert not healthy_during_outage
    assert depth_during_outage == 7 * 25  # all held in the spool
    assert healthy_after

    # A commit whose acknowledgement is lost to the outage is written again and then counts as duplicates:
    # the counts may shift from inserted to duplicate, never to conflict; what is in the table is the proof.
    assert seen.total("conflicts") == 0
    assert seen.total("inserted") <= len(expected) <= seen.total("inserted") + seen.total("duplicates")
    with psycopg.connect(fresh_db_dsn) as conn:
        rows = conn.execute(
            "SELECT meter, register, tariff, ts, value FROM readings ORDER BY meter, register, tariff, ts"
        ).fetchall()
    assert rows == sorted((r.meter, r.register, r.tariff, r.ts, r.value) for r in expected)
    assert [str(row[4]) for row in rows] == [str(r.value) for r in sorted(expected, key=lambda r: r.key)]
