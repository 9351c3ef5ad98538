"""The store contract (headend/storage/base.py, docs/schema.md), run against TimescaleDB and the SQLite store."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headend.readings import Quality
from headend.storage.base import WriteResult
from headend.storage.errors import MigrationError
from headend.storage.sqlite_store import SqliteStore
from headend.storage.timescale import TimescaleStore
from tests.headend.storage.conftest import Backend
from tests.headend.storage.helpers import T0, TZ, batch, reading

MIGRATIONS = Path(__file__).parents[3] / "headend" / "storage" / "migrations"


def _migration_files(kind: str) -> int:
    return len(
        list((MIGRATIONS / ("postgres" if kind == "timescale" else "sqlite")).glob("[0-9][0-9][0-9][0-9]_*.sql"))
    )


async def test_empty_database_has_schema_version_0(backend: Backend) -> None:
    assert await backend.store.schema_version() == 0


async def test_migrate_twice_is_a_no_op(backend: Backend) -> None:
    expected = _migration_files(backend.kind)
    assert expected >= 1
    assert await backend.store.migrate() == expected
    applied = backend.query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    await backend.store.write([reading(1)])

    assert await backend.store.migrate() == expected
    assert await backend.store.schema_version() == expected
    assert backend.query("SELECT version, applied_at FROM schema_migrations ORDER BY version") == applied
    assert [v for v, _ in applied] == list(range(1, expected + 1))
    assert await backend.store.count_readings() == 1


async def test_concurrent_migrations_apply_each_step_once(backend: Backend, tmp_path: Path) -> None:
    """Two instances starting together (advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite)."""
    if isinstance(backend.store, TimescaleStore):
        other: TimescaleStore | SqliteStore = TimescaleStore(backend.dsn, tz=TZ)
    else:
        other = SqliteStore(backend.store.path, tz=TZ)
    await other.open()
    try:
        versions = await asyncio.gather(backend.store.migrate(), other.migrate())
    finally:
        await other.close()
    expected = _migration_files(backend.kind)
    assert list(versions) == [expected, expected]
    assert backend.query("SELECT count(*) FROM schema_migrations") == [(expected,)]


async def test_a_newer_schema_is_refused(migrated: Backend) -> None:
    version = _migration_files(migrated.kind) + 1
    if migrated.kind == "timescale":
        with psycopg.connect(migrated.dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, 'future')", (version,))
    else:
        assert migrated.path is not None
        with sqlite3.connect(migrated.path) as conn:
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', '')", (version,)
            )
    with pytest.raises(MigrationError, match=f"schema version {version} is newer"):
        await migrated.store.migrate()


EXACT_VALUES = ["123456.7891", "0.0001", "99999999.9999", "-12.34", "1.20", "0", "1000"]


async def test_values_are_stored_exactly(migrated: Backend) -> None:
    written = [reading(n, Decimal(text)) for n, text in enumerate(EXACT_VALUES, start=1)]
    written.append(reading(len(EXACT_VALUES) + 1, None))  # the device answered "no value" (EE)

    result = await migrated.store.write(written)

    assert result == WriteResult(inserted=len(written), duplicates=0, conflicts=0)
    assert migrated.readings() == written
    assert migrated.value_texts() == [*EXACT_VALUES, None]  # digits and scale as the meter gave them
    assert await migrated.store.count_readings() == len(written)


async def test_timestamps_keep_the_instant(migrated: Backend) -> None:
    """A read time given in another zone is the same instant; its key is the same key."""
    local = reading(1, ts=T0)
    same_instant = dataclasses.replace(local, ts=T0.astimezone(timezone(timedelta(hours=-5))))

    assert await migrated.store.write([local]) == WriteResult(inserted=1, duplicates=0, conflicts=0)
    assert await migrated.store.write([same_instant]) == WriteResult(inserted=0, duplicates=1, conflicts=0)
    (stored,) = migrated.readings()
    assert stored.ts == T0
    assert stored.received_at == local.received_at


async def test_same_batch_twice_is_all_duplicates(migrated: Backend) -> None:
    rows = batch(0, 50)
    assert await migrated.store.write(rows) == WriteResult(inserted=50, duplicates=0, conflicts=0)
    assert await migrated.store.write(rows) == WriteResult(inserted=0, duplicates=50, conflicts=0)
    assert await migrated.store.count_readings() == 50
    assert migrated.conflicts() == []


async def test_changed_value_is_a_conflict_and_the_original_stays(migrated: Backend) -> None:
    original = reading(1, Decimal("100.00"))
    changed = dataclasses.replace(original, value=Decimal("100.01"), source="gdw376.1 AFN0D F161")
    await migrated.store.write([original, reading(2)])

    result = await migrated.store.write([changed, reading(3)])

    assert result == WriteResult(inserted=1, duplicates=0, conflicts=1)
    assert migrated.readings()[0] == original
    assert migrated.conflicts() == [(original.meter, 0, Decimal("100.00"), Decimal("100.01"), "ok", "kWh")]


async def test_replaying_a_conflict_records_it_once(migrated: Backend) -> None:
    original = reading(1, Decimal("5"))
    changed = dataclasses.replace(original, value=Decimal("6"))
    await migrated.store.write([original])
    assert await migrated.store.write([changed]) == WriteResult(inserted=0, duplicates=0, conflicts=1)

    assert await migrated.store.write([changed]) == WriteResult(inserted=0, duplicates=1, conflicts=0)

    assert len(migrated.conflicts()) == 1
    assert migrated.readings() == [original]


@pytest.mark.parametrize(
    ("change", "expected_conflicts"),
    [
        pytest.param({"quality": Quality.ESTIMATED}, 1, id="quality"),
        pytest.param({"unit": "Wh"}, 1, id="unit"),
        pytest.param({"value": None, "quality": Quality.INVALID}, 1, id="now-invalid"),
        pytest.param({"value": Decimal("100.0")}, 0, id="same-number-other-scale"),
        pytest.param({"source": "dlt645-2007 00010000", "terminal": "", "pn": 0}, 0, id="other-source"),
        pytest.param({"received_at": T0 + timedelta(days=1)}, 0, id="received-later"),
    ],
)
async def test_what_counts_as_a_conflict(migrated: Backend, change: dict[str, Any], expected_conflicts: int) -> None:
    """Value (compared as a number), unit and quality decide; where and when it came from does not."""
    original = reading(1, Decimal("100.00"))
    await migrated.store.write([original])

    result = await migrated.store.write([dataclasses.replace(original, **change)])

    assert result == WriteResult(inserted=0, duplicates=1 - expected_conflicts, conflicts=expected_conflicts)
    assert migrated.readings() == [original]
    assert len(migrated.conflicts()) == expected_conflicts


async def test_duplicates_and_conflicts_within_one_batch(migrated: Backend) -> None:
    """The first reading of a key wins; later ones in the same batch are duplicates or conflicts of it."""
    first = reading(1, Decimal("7.5"))
    other = dataclasses.replace(first, value=Decimal("8.5"))
    rows = [first, reading(2), first, other, other, reading(3)]

    assert await migrated.store.write(rows) == WriteResult(inserted=3, duplicates=2, conflicts=1)

    assert [r.value for r in migrated.readings()] == [Decimal("7.5"), reading(2).value, reading(3).value]
    assert migrated.conflicts() == [(first.meter, 0, Decimal("7.5"), Decimal("8.5"), "ok", "kWh")]


async def test_keys_differ_by_register_tariff_and_time(migrated: Backend) -> None:
    base = reading(1)
    rows = [
        base,
        dataclasses.replace(base, register="energy.reactive.forward", unit="kvarh"),
        dataclasses.replace(base, tariff=1),
        dataclasses.replace(base, ts=T0 + timedelta(minutes=15)),
        reading(2),
    ]
    assert await migrated.store.write(rows) == WriteResult(inserted=5, duplicates=0, conflicts=0)
    assert sorted(migrated.readings(), key=lambda r: r.key) == sorted(rows, key=lambda r: r.key)


async def test_empty_batch_writes_nothing(migrated: Backend) -> None:
    assert await migrated.store.write([]) == WriteResult(inserted=0, duplicates=0, conflicts=0)
    assert await migrated.store.count_readings() == 0


async def test_a_rejected_reading_fails_the_whole_batch(migrated: Backend) -> None:
    naive = dataclasses.replace(reading(2), ts=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        await migrated.store.write([reading(1), naive])
    assert await migrated.store.count_readings() == 0


async def test_a_large_batch(migrated: Backend) -> None:
    rows = [r for i in range(4) for r in batch(i, 1000)]
    assert await migrated.store.write(rows) == WriteResult(inserted=4000, duplicates=0, conflicts=0)
    assert await migrated.store.count_readings() == 4000
    assert migrated.readings() == sorted(rows, key=lambda r: r.key)
