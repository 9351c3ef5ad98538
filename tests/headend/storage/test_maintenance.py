"""The periodic upkeep loop (headend/storage/maintenance.py) on the SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from headend.storage.base import MaintenanceResult
from headend.storage.maintenance import maintain_periodically
from headend.storage.sqlite_store import SqliteStore
from tests.headend.storage.helpers import TZ, reading, wait_until


async def test_refreshes_and_applies_retention_every_interval(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    await store.write([reading(1, Decimal("1.0"), ts=datetime(2001, 1, 1, tzinfo=TZ)), reading(2, Decimal("2.0"))])
    done: list[MaintenanceResult] = []
    task = asyncio.create_task(
        maintain_periodically(store, keep_readings=timedelta(days=3650), interval_s=0.01, on_done=done.append)
    )
    try:
        await wait_until(lambda: len(done) >= 3, what="three rounds")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        status = await store.status()
        await store.close()
    assert done[0] == MaintenanceResult(refreshed=True, dropped=1)
    assert done[1] == MaintenanceResult(refreshed=True, dropped=0)
    assert status["readings"] == 1


class Broken:
    """A store whose upkeep fails: the database is away."""

    calls = 0

    async def maintain(self, *, keep_readings: timedelta | None) -> MaintenanceResult:
        self.calls += 1
        raise ConnectionRefusedError("database is down")


async def test_a_failure_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    store = Broken()
    with caplog.at_level(logging.WARNING, logger="headend.storage.maintenance"):
        task = asyncio.create_task(maintain_periodically(store, keep_readings=None, interval_s=0.01))  # type: ignore[arg-type]
        try:
            await wait_until(lambda: store.calls >= 2, what="a second try")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert "storage maintenance failed" in caplog.text and "database is down" in caplog.text


async def test_the_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        await maintain_periodically(Broken(), keep_readings=None, interval_s=0)  # type: ignore[arg-type]
