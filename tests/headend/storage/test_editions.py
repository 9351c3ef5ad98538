"""What depends on the TimescaleDB edition (headend/storage/editions.py), the upgrade from schema version 1,
and the database roles (headend/storage/sql/roles.sql).

The test server is the Apache edition: the Apache and plain-PostgreSQL paths run for real; the Community
statements are run up to TimescaleDB's licence check, which comes after PostgreSQL has parsed each statement and
resolved its functions, argument names and relations (see the editions module docstring).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from headend.readings import ReadingKind
from headend.storage import editions
from headend.storage.base import Edition, WriteResult
from headend.storage.migrations import load_migrations
from headend.storage.roles import apply_roles, roles_script
from headend.storage.sqlite_store import SqliteStore
from headend.storage.timescale import TimescaleStore
from tests.headend.storage.conftest import Backend
from tests.headend.storage.helpers import TZ, reading
from tests.pg_server import PgServer

DAILY = ReadingKind.DAILY.register("energy.active.forward")


async def _migrated(dsn: str) -> TimescaleStore:
    store = TimescaleStore(dsn, tz=TZ)
    await store.open()
    await store.migrate()
    return store


# -- Community --------------------------------------------------------------------------------------------------


async def test_community_statements_pass_everything_but_the_licence_check(fresh_db_dsn: str) -> None:
    store = await _migrated(fresh_db_dsn)
    await store.close()
    statements = [*editions.community_statements(TZ.key), editions.retention_statement(timedelta(days=90)),
                  editions.retention_statement(None)]  # fmt: skip
    with psycopg.connect(fresh_db_dsn, autocommit=True) as conn:
        if store.edition is Edition.COMMUNITY:  # HEADEND_TEST_DSN names a Community server: they ran for real
            assert conn.execute("SELECT count(*) FROM timescaledb_information.continuous_aggregates").fetchone() == (1,)
            return
        assert store.edition is Edition.APACHE
        for statement in statements:
            with pytest.raises(psycopg.errors.FeatureNotSupported, match='under the current "apache" license'):
                conn.execute(statement)
        # the check is real: a misspelt argument is caught before it
        with pytest.raises(psycopg.errors.UndefinedFunction):
            conn.execute("SELECT add_retention_policy('readings', drop_afterx => INTERVAL '1 day')")


# -- Apache edition and plain PostgreSQL ---------------------------------------------------------------------------


async def _check_apache_like(dsn: str, edition: Edition) -> None:
    store = TimescaleStore(dsn, tz=TZ)
    await store.open()
    try:
        await store.migrate()
        assert store.edition is edition
        old, recent = datetime(2000, 1, 1, tzinfo=TZ), datetime.now(TZ).replace(second=0, microsecond=0)
        await store.write([reading(1, Decimal("1.5"), ts=old), reading(2, Decimal("2.5"), ts=recent),
                           dataclasses.replace(reading(3, register=DAILY), ts=old)])  # fmt: skip
        first = await store.maintain(keep_readings=timedelta(days=365 * 50))
        second = await store.maintain(keep_readings=timedelta(days=365))
        assert await store.migrate() == len(load_migrations("postgres"))  # the objects are not created twice
    finally:
        await store.close()
    assert (first.refreshed, first.dropped) == (True, 0)
    assert second.refreshed and second.dropped == 1  # one chunk (Apache) or one row (PostgreSQL)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass('energy_daily_agg') IS NOT NULL").fetchone() == (True,)
        assert conn.execute("SELECT meter FROM readings").fetchall() == [("000000000002",)]
        assert conn.execute("SELECT meter FROM frozen_readings").fetchall() == [("000000000003",)]
        assert conn.execute("SELECT meter, CAST(used AS TEXT) FROM daily_energy ORDER BY meter").fetchall() == [
            ("000000000001", "0.0"),  # the day stays after retention dropped its reading
            ("000000000002", "0.0"),
        ]


async def test_apache_edition_aggregate_table_and_chunk_retention(fresh_db_dsn: str) -> None:
    await _check_apache_like(fresh_db_dsn, Edition.APACHE)
    with psycopg.connect(fresh_db_dsn) as conn:
        hypertables = conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables ORDER BY 1"
        ).fetchall()
    assert hypertables == [("frozen_readings", False), ("readings", False)]


async def test_plain_postgresql_aggregate_table_and_row_retention(plain_dsn: str) -> None:
    await _check_apache_like(plain_dsn, Edition.POSTGRESQL)


# -- the upgrade from version 1 ------------------------------------------------------------------------------------


async def test_upgrade_from_version_1_keeps_the_rows(backend: Backend) -> None:
    """A database migrated and written by the previous headend (schema version 1) is upgraded in place: its rows
    stay, they belong to ingest batch 0, and new writes get batches from 1 on."""
    store = backend.store
    full = store._migrations
    store._migrations = full[:1]
    assert await store.migrate() == 1
    await store.close()
    stamp = "'2024-05-01T00:00:00+08:00'"  # valid text for timestamptz and for the SQLite store alike
    backend.execute(
        "INSERT INTO readings (meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at,"
        f" ingested_at) VALUES ('000000000001', 'energy.active.forward', 0, {stamp}, '1.5', 'kWh', 'ok', 's', '', 0,"
        f" {stamp}, {stamp}), ('000000000002', 'energy.active.forward', 0, {stamp}, '123456.7891', 'kWh', 'ok',"
        f" 'gdw376.1 AFN0C F129', '4403:00012', 2, {stamp}, {stamp})"
    )

    upgraded = TimescaleStore(backend.dsn, tz=TZ) if backend.kind == "timescale" else SqliteStore(store.path, tz=TZ)
    backend.store = upgraded
    await upgraded.open()
    # no explicit migrate: the first write brings the schema up to date (the daemon started with the db down)
    assert await upgraded.write([reading(2), reading(3)]) == WriteResult(inserted=1, duplicates=1, conflicts=0)
    assert await upgraded.schema_version() == len(full)
    assert backend.query("SELECT meter, ingest_batch FROM readings ORDER BY meter") == [
        ("000000000001", 0), ("000000000002", 0), ("000000000003", 1),
    ]  # fmt: skip


async def test_success_tables_made_on_first_use_by_an_earlier_headend_are_adopted(backend: Backend) -> None:
    """Before migration 0003 the success tables were created when first used: such a database migrates to the
    current version with its rows kept."""
    store = backend.store
    full = store._migrations
    store._migrations = full[:2]
    assert await store.migrate() == 2
    text, day = ("text", "date") if backend.kind == "timescale" else ("TEXT", "TEXT")
    backend.execute(
        f"CREATE TABLE collection_success (day {day} NOT NULL, terminal {text} NOT NULL, expected integer NOT NULL,"
        f" complete_first_pass integer NOT NULL, complete integer NOT NULL, computed_at {text} NOT NULL,"
        " PRIMARY KEY (day, terminal))"
    )
    backend.execute("INSERT INTO collection_success VALUES ('2024-05-01', '', 4, 3, 4, '2024-05-01T10:00:00+08:00')")
    store._migrations = full
    assert await store.migrate() == len(full) >= 3
    assert backend.query("SELECT terminal, expected, complete FROM collection_success") == [("", 4, 4)]


# -- roles ------------------------------------------------------------------------------------------------------


@pytest.fixture
def logins(pg_server: PgServer, fresh_db_dsn: str) -> Iterator[tuple[str, str]]:
    """DSNs of two new login roles: a member of headend_writer and a member of headend_billing."""
    suffix = uuid.uuid4().hex[:10]
    names = {"headend_writer": f"writer_{suffix}", "headend_billing": f"billing_{suffix}"}
    yield (
        make_conninfo(fresh_db_dsn, user=names["headend_writer"]),
        make_conninfo(fresh_db_dsn, user=names["headend_billing"]),
    )
    pg_server.ensure_running()
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


async def test_roles_writer_writes_and_billing_only_reads(fresh_db_dsn: str, logins: tuple[str, str]) -> None:
    writer_dsn, billing_dsn = logins
    store = await _migrated(fresh_db_dsn)  # as the superuser, as a DBA might
    await store.close()
    await apply_roles(fresh_db_dsn)
    await apply_roles(fresh_db_dsn)  # idempotent
    with psycopg.connect(fresh_db_dsn, autocommit=True) as conn:
        for group, dsn in (("headend_writer", writer_dsn), ("headend_billing", billing_dsn)):
            user = psycopg.conninfo.conninfo_to_dict(dsn)["user"]
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(str(user)), sql.Identifier(group))
            )

    # the daemon, as a member of headend_writer: migrate (nothing to do), write, refresh, drop chunks
    daemon = await _migrated(writer_dsn)
    try:
        original = reading(1, Decimal("5.00"), register=DAILY)
        await daemon.write([original, reading(2)])
        assert (await daemon.write([dataclasses.replace(original, value=Decimal("5.01"))])).conflicts == 1
        assert (await daemon.maintain(keep_readings=timedelta(days=30))).refreshed
    finally:
        await daemon.close()

    with psycopg.connect(billing_dsn, autocommit=True) as conn:
        for view in (
            "billing_daily_frozen",
            "billing_monthly_frozen",
            "billing_consumption",
            "ingest_watermark",
            "daily_energy",
            "terminal_status",
            "readings",
            "frozen_readings",
            "reading_conflicts",
            "events",
        ):
            conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(view))).fetchall()  # fmt: skip
        assert conn.execute("SELECT count(*) FROM billing_daily_frozen").fetchone() == (1,)
        for statement in (
            "INSERT INTO frozen_readings SELECT * FROM frozen_readings",
            "UPDATE frozen_readings SET value = 0",
            "DELETE FROM readings",
            "TRUNCATE reading_conflicts",
            "INSERT INTO events (origin, code, severity, terminal, pn, meter, ts, detail, source, event_key,"
            " received_at, ingest_batch) VALUES ('headend', 'x', 'info', '', 0, '', now(), '{}', '', 'k', now(), 0)",
            "DELETE FROM energy_daily_agg",
            "CREATE TABLE billing_scratch (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.encode())


def test_the_roles_script_is_shipped_and_idempotent_by_construction() -> None:
    script = roles_script()
    assert "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'headend_writer')" in script
    assert "GRANT SELECT ON ALL TABLES IN SCHEMA public TO headend_billing" in script
    assert Path(__file__).parents[3].joinpath("headend", "storage", "sql", "roles.sql").read_text() == script
