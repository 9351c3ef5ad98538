"""SQLite store specifics: the on-disk text forms, the recorded time zone."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from headend.storage.errors import MigrationError, StorageError
from headend.storage.sqlite_store import SqliteStore
from tests.headend.storage.helpers import T0, TZ, reading


async def test_values_and_times_are_text_in_the_configured_zone(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path, tz=TZ)
    await store.open()
    try:
        await store.migrate()
        await store.write([reading(1, Decimal("1E+3"), ts=T0.astimezone(ZoneInfo("UTC")))])
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT ts, value, typeof(value), received_at FROM readings").fetchone()
    # fixed-point like PostgreSQL numeric prints it; local time of Asia/Shanghai with its offset
    assert row == ("2024-05-01T00:00:00+08:00", "1000", "text", "2024-05-01T00:00:07+08:00")


async def test_another_zone_is_refused_on_an_existing_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path, tz=TZ)
    await store.open()
    await store.migrate()
    await store.close()

    elsewhere = SqliteStore(path, tz=ZoneInfo("Europe/Berlin"))
    with pytest.raises(MigrationError, match="keeps timestamps in Asia/Shanghai"):
        await elsewhere.open()
    await elsewhere.close()


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    with pytest.raises(StorageError, match="not open"):
        await store.count_readings()
