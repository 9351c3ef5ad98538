"""TimescaleDB specifics: edition, hypertable, plain-PostgreSQL fallback, reconnection after an outage."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from headend.storage.base import Edition, WriteResult, open_store
from headend.storage.migrations import load_migrations
from headend.storage.sqlite_store import SqliteStore
from headend.storage.timescale import TimescaleStore
from tests.headend.storage.helpers import TZ, batch, reading
from tests.pg_server import PgServer


async def test_edition_and_hypertable(fresh_db_dsn: str) -> None:
    store = TimescaleStore(fresh_db_dsn, tz=TZ)
    await store.open()
    try:
        await store.migrate()
    finally:
        await store.close()
    with psycopg.connect(fresh_db_dsn) as conn:
        license_ = conn.execute("SHOW timescaledb.license").fetchone()
        dimension = conn.execute(
            "SELECT column_name, time_interval FROM timescaledb_information.dimensions"
            " WHERE hypertable_name = 'readings'"
        ).fetchall()
    assert license_ is not None
    assert store.edition.value == license_[0]
    assert store.edition in (Edition.APACHE, Edition.COMMUNITY)
    assert dimension == [("ts", timedelta(days=7))]


async def test_plain_postgresql_gets_the_same_table(plain_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    store = TimescaleStore(plain_dsn, tz=TZ)
    await store.open()
    try:
        with caplog.at_level(logging.WARNING, logger="headend.storage.timescale"):
            assert await store.migrate() == len(load_migrations("postgres"))
        rows = batch(0, 10)
        assert await store.write(rows) == WriteResult(inserted=10, duplicates=0, conflicts=0)
        assert await store.write(rows) == WriteResult(inserted=0, duplicates=10, conflicts=0)
        assert await store.count_readings() == 10
    finally:
        await store.close()
    assert store.edition is Edition.POSTGRESQL
    assert "continuing on plain PostgreSQL" in caplog.text
    with psycopg.connect(plain_dsn) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchall() == []


async def test_reconnects_after_the_server_restarted(pg_server: PgServer, fresh_db_dsn: str) -> None:
    store = TimescaleStore(fresh_db_dsn, tz=TZ)
    await store.open()
    try:
        await store.migrate()
        await store.write(batch(0, 5))
        pg_server.stop("fast")
        with pytest.raises(psycopg.OperationalError):
            await store.write(batch(1, 5))
        with pytest.raises(psycopg.OperationalError):  # still down: the reconnection fails too
            await store.write(batch(1, 5))
        pg_server.start()

        assert await store.write(batch(1, 5)) == WriteResult(inserted=5, duplicates=0, conflicts=0)
        assert await store.count_readings() == 10
    finally:
        await store.close()


async def test_the_write_is_one_transaction(fresh_db_dsn: str) -> None:
    """A batch that fails half-way (a reading the table refuses) leaves nothing behind."""
    store = TimescaleStore(fresh_db_dsn, tz=TZ)
    await store.open()
    try:
        await store.migrate()
        with psycopg.connect(fresh_db_dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE readings ADD CONSTRAINT no_meter_3 CHECK (meter <> '000000000003')")
        with pytest.raises(psycopg.errors.CheckViolation):
            await store.write([reading(1), reading(2), reading(3)])
        assert await store.count_readings() == 0
        # the connection is still usable for the next batch
        assert await store.write([reading(1)]) == WriteResult(inserted=1, duplicates=0, conflicts=0)
    finally:
        await store.close()


def test_open_store_picks_the_store(tmp_path: Path) -> None:
    assert isinstance(open_store("postgresql://localhost/x", tmp_path / "s.sqlite3", tz=TZ), TimescaleStore)
    assert isinstance(open_store(None, tmp_path / "s.sqlite3", tz=TZ), SqliteStore)
    assert isinstance(open_store("", tmp_path / "s.sqlite3", tz=TZ), SqliteStore)
