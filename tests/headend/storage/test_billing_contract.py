"""The billing contract of schema version 2 (docs/schema.md), on TimescaleDB and on the SQLite store alike:
frozen registers, quality classes, conflicts as events, the ingest watermark, the billing views, events, link
history, the archive, retention and status."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from headend.readings import Quality, Reading, ReadingKind
from headend.storage.base import WriteResult
from headend.storage.records import (
    Event,
    EventOrigin,
    LinkEvent,
    LinkEventKind,
    MeasurementPoint,
    MeterInfo,
    MeterRatio,
    Severity,
    TerminalInfo,
)
from tests.headend.storage.conftest import Backend
from tests.headend.storage.helpers import T0, TZ, reading

DAILY = ReadingKind.DAILY.register("energy.active.forward")
MONTHLY = ReadingKind.MONTHLY.register("energy.active.forward")
DAY = timedelta(days=1)


def frozen(n: int, day: int, value: str | None, *, register: str = DAILY, **extra: Any) -> Reading:
    """A frozen register of meter ``n`` frozen at 00:00 local time of May ``day`` 2024."""
    return reading(n, None if value is None else Decimal(value), register=register, ts=T0 + (day - 1) * DAY, **extra)


# -- routing and keys ----------------------------------------------------------------------------------------


async def test_frozen_registers_have_their_own_table(migrated: Backend) -> None:
    instant = reading(1)
    daily = frozen(1, 1, "100.00")
    monthly = frozen(1, 1, "100.00", register=MONTHLY)  # the same instant: another register, another row

    assert await migrated.store.write([instant, daily, monthly]) == WriteResult(inserted=3, duplicates=0, conflicts=0)

    assert migrated.query("SELECT register FROM readings") == [("energy.active.forward",)]
    assert sorted(migrated.query("SELECT register FROM frozen_readings")) == [(DAILY,), (MONTHLY,)]
    assert await migrated.store.count_readings() == 3
    assert await migrated.store.write([daily]) == WriteResult(inserted=0, duplicates=1, conflicts=0)


@pytest.mark.parametrize(
    ("stored", "again", "value_again", "conflicts"),
    [
        pytest.param(Quality.OK, Quality.BACKFILLED, "100.00", 0, id="backfilled-same-value"),
        pytest.param(Quality.BACKFILLED, Quality.OK, "100.0", 0, id="read-after-backfill"),
        pytest.param(Quality.OK, Quality.BACKFILLED, "100.01", 1, id="backfilled-other-value"),
        pytest.param(Quality.ESTIMATED, Quality.OK, "100.00", 1, id="read-confirms-estimate"),
        pytest.param(Quality.OK, Quality.ESTIMATED, "100.00", 1, id="estimate-over-read"),
    ],
)
async def test_backfilled_and_read_are_the_same_content(
    migrated: Backend, stored: Quality, again: Quality, value_again: str, conflicts: int
) -> None:
    """A 补抄 re-read that finds the stored value is a duplicate; the row keeps its first quality."""
    first = frozen(1, 1, "100.00", quality=stored)
    await migrated.store.write([first])
    later = dataclasses.replace(first, value=Decimal(value_again), quality=again, received_at=T0 + 2 * DAY)

    for _ in range(2):  # the second delivery is a replay: a duplicate either way
        result = await migrated.store.write([later])
        assert result.inserted == 0
        assert result.conflicts == conflicts
        conflicts = 0

    assert migrated.query("SELECT quality, CAST(value AS TEXT) FROM frozen_readings") == [(stored.value, "100.00")]


async def test_a_conflict_is_recorded_with_an_event(migrated: Backend) -> None:
    original = frozen(1, 1, "100.00")
    changed = dataclasses.replace(original, value=Decimal("100.01"), source="dlt645-2007 05060101", pn=7)
    await migrated.store.write([original])

    assert await migrated.store.write([changed]) == WriteResult(inserted=0, duplicates=0, conflicts=1)
    assert await migrated.store.write([changed]) == WriteResult(inserted=0, duplicates=1, conflicts=0)

    (conflict_id,) = migrated.query("SELECT id FROM reading_conflicts")[0]
    events = migrated.plain(
        "SELECT origin, code, severity, meter, terminal, pn, source, event_key, detail, ts FROM events"
    )
    assert len(events) == 1
    origin, code, severity, meter, terminal, pn, source, key, detail, ts = events[0]
    assert (origin, code, severity, meter, terminal, pn, source) == (
        "headend", "reading_conflict", "warning", original.meter, "4403:00012", 7, "headend",
    )  # fmt: skip
    assert key == f"reading_conflict:{conflict_id}"
    assert detail == {
        "conflict_id": conflict_id, "register": DAILY, "tariff": 0, "ts": "2024-05-01T00:00:00+08:00",
        "original_value": "100.00", "original_quality": "ok", "new_value": "100.01", "new_quality": "ok",
        "new_unit": "kWh", "new_source": "dlt645-2007 05060101",
    }  # fmt: skip
    assert ts.tzinfo is not None  # detection time
    assert migrated.query("SELECT CAST(value AS TEXT) FROM frozen_readings") == [("100.00",)]


# -- ingest watermark ----------------------------------------------------------------------------------------


async def test_ingest_batches_are_an_exact_watermark(migrated: Backend) -> None:
    """Each write is a batch; a reader that remembers the last batch it saw gets every later row once,
    late re-reads of old days included."""
    assert migrated.query("SELECT ingest_batch FROM ingest_watermark") == [(0,)]
    await migrated.store.write([frozen(1, 1, "1.00"), frozen(2, 1, "2.00")])
    (seen,) = migrated.query("SELECT ingest_batch FROM ingest_watermark")[0]

    late = frozen(3, 1, "3.00", quality=Quality.BACKFILLED, received_at=T0 + 9 * DAY)  # an old day, read late
    await migrated.store.write([reading(9), late, frozen(1, 1, "1.00")])
    (until,) = migrated.query("SELECT ingest_batch FROM ingest_watermark")[0]

    assert until == seen + 1
    new = migrated.query(
        f"SELECT meter FROM billing_daily_frozen WHERE ingest_batch > {seen} AND ingest_batch <= {until}"
    )
    assert new == [(late.meter,)]
    assert migrated.query(f"SELECT inserted, duplicates, conflicts FROM ingest_batches WHERE batch = {until}") == [
        (2, 1, 0)
    ]
    assert migrated.query(f"SELECT count(*) FROM readings WHERE ingest_batch = {until}") == [(1,)]


# -- billing views -------------------------------------------------------------------------------------------


async def test_daily_and_monthly_frozen_in_local_dates(migrated: Backend) -> None:
    # 00:00 local on 1 May is 16:00 UTC on 30 April: the view must say 1 May
    rows = [frozen(1, 1, "100.00"), frozen(1, 2, "112.50"), frozen(1, 1, "90.00", register=MONTHLY)]
    await migrated.store.write(rows)

    daily = migrated.plain(
        "SELECT meter, register, tariff, CAST(freeze_date AS TEXT), ts, CAST(value AS TEXT), quality"
        " FROM billing_daily_frozen ORDER BY ts"
    )
    assert daily == [
        ("000000000001", "energy.active.forward", 0, "2024-05-01", T0, "100.00", "ok"),
        ("000000000001", "energy.active.forward", 0, "2024-05-02", T0 + DAY, "112.50", "ok"),
    ]
    assert migrated.query("SELECT CAST(freeze_date AS TEXT), CAST(value AS TEXT) FROM billing_monthly_frozen") == [
        ("2024-05-01", "90.00")
    ]


CONSUMPTION = (
    "SELECT meter, kind, CAST(start_date AS TEXT), CAST(end_date AS TEXT), CAST(register_delta AS TEXT),"
    " CAST(multiplier AS TEXT), CAST(consumption AS TEXT), periods, CASE WHEN gap THEN 1 ELSE 0 END,"
    " CASE WHEN estimated THEN 1 ELSE 0 END, CASE WHEN decreased THEN 1 ELSE 0 END,"
    " CASE WHEN ratio_changed THEN 1 ELSE 0 END FROM billing_consumption ORDER BY meter, kind, end_ts"
)


async def test_consumption_between_freezes_times_ct_pt_with_gaps_and_estimates(migrated: Backend) -> None:
    m1, m2 = "000000000001", "000000000002"
    await migrated.store.save_archive(
        meters=[MeterInfo(m1, address=m1, protocol="dlt645-2007"), MeterInfo(m2, address=m2)],
        ratios=[
            MeterRatio(m1, T0 - 30 * DAY, Decimal("40"), Decimal("1")),  # CT 200/5
            MeterRatio(m1, T0 + 4 * DAY + timedelta(hours=12), Decimal("60"), Decimal("1")),  # CT changed on 5 May
        ],
    )
    await migrated.store.write(
        [
            frozen(1, 1, "100.00"),
            frozen(1, 2, "112.50"),
            frozen(1, 3, "125.25"),
            frozen(1, 4, None),  # the meter answered "no value": skipped, so 3 → 5 May spans two days
            frozen(1, 5, "150.00", quality=Quality.ESTIMATED),
            frozen(1, 6, "160.10"),
            frozen(2, 1, "5.5"),
            frozen(2, 2, "5.25"),  # decreased (meter replaced, rolled over…); no ratio in the archive
            frozen(1, 1, "90.00", register=MONTHLY),
            reading(1, Decimal("1.00")),  # instantaneous: not a freeze
        ]
    )

    rows = migrated.query(CONSUMPTION)

    assert rows == [
        (m1, "daily", "2024-05-01", "2024-05-02", "12.50", "40", "500.00", 1, 0, 0, 0, 0),
        (m1, "daily", "2024-05-02", "2024-05-03", "12.75", "40", "510.00", 1, 0, 0, 0, 0),
        (m1, "daily", "2024-05-03", "2024-05-05", "24.75", "40", "990.00", 2, 1, 1, 0, 0),
        (m1, "daily", "2024-05-05", "2024-05-06", "10.10", "40", "404.00", 1, 0, 1, 0, 1),
        (m2, "daily", "2024-05-01", "2024-05-02", "-0.25", None, None, 1, 0, 0, 1, 0),
    ]


async def test_monthly_consumption_counts_months(migrated: Backend) -> None:
    june, august = T0 + 31 * DAY, T0 + 92 * DAY
    rows = [
        frozen(1, 1, "1000.0", register=MONTHLY),
        dataclasses.replace(frozen(1, 1, "1234.5", register=MONTHLY), ts=june),
        dataclasses.replace(frozen(1, 1, "1500.0", register=MONTHLY), ts=august),
    ]
    await migrated.store.write(rows)
    assert [(r[2], r[3], r[4], r[7], r[8]) for r in migrated.query(CONSUMPTION)] == [
        ("2024-05-01", "2024-06-01", "234.5", 1, 0),
        ("2024-06-01", "2024-08-01", "265.5", 2, 1),
    ]


async def test_daily_energy_from_instantaneous_indications(migrated: Backend) -> None:
    day_two = T0 + DAY
    await migrated.store.write(
        [
            reading(1, Decimal("10.0000"), ts=T0 + timedelta(minutes=15)),
            reading(1, Decimal("12.5000"), ts=T0 + timedelta(hours=12)),
            reading(1, Decimal("13.75"), ts=T0 + timedelta(hours=23, minutes=45)),
            reading(1, Decimal("14.00"), ts=day_two),
            reading(1, Decimal("7"), register="power.active", unit="kW", ts=T0 + timedelta(hours=1)),
        ]
    )
    await migrated.store.maintain(keep_readings=None)  # materialized on TimescaleDB Apache / PostgreSQL

    rows = migrated.plain(
        "SELECT CAST(day AS TEXT), first_ts, CAST(first_value AS TEXT), last_ts, CAST(last_value AS TEXT),"
        " CAST(used AS TEXT), samples FROM daily_energy ORDER BY day"
    )
    assert rows == [
        ("2024-05-01", T0 + timedelta(minutes=15), "10.0000", T0 + timedelta(hours=23, minutes=45), "13.75",
         "3.7500", 3),
        ("2024-05-02", day_two, "14.00", day_two, "14.00", "0.00", 1),
    ]  # fmt: skip


# -- retention -----------------------------------------------------------------------------------------------


async def test_retention_drops_old_readings_but_never_frozen_registers(migrated: Backend) -> None:
    old = datetime(2020, 1, 1, tzinfo=TZ)
    recent = datetime.now(TZ).replace(second=0, microsecond=0)
    await migrated.store.write(
        [reading(1, ts=old), reading(2, ts=old), reading(3, ts=recent), frozen(1, 1, "1.00"),
         dataclasses.replace(frozen(2, 1, "2.00"), ts=old)]
    )  # fmt: skip

    assert (await migrated.store.maintain(keep_readings=None)).dropped == 0
    assert await migrated.store.count_readings() == 5

    result = await migrated.store.maintain(keep_readings=timedelta(days=400))

    assert result.dropped >= 1
    assert migrated.query("SELECT meter FROM readings") == [("000000000003",)]
    assert sorted(migrated.query("SELECT meter FROM frozen_readings")) == [("000000000001",), ("000000000002",)]


# -- events, link history, archive ---------------------------------------------------------------------------


def erc14(ts: datetime, raw: bytes) -> Event:
    return Event(
        EventOrigin.TERMINAL, "ERC14", ts, received_at=ts + timedelta(seconds=30), terminal="4403:00012",
        severity=Severity.ALARM, detail={"power_off": ts.isoformat()}, raw=raw, source="gdw376.1 AFN0E F1",
    )  # fmt: skip


async def test_events_are_stored_once_by_their_key(migrated: Backend) -> None:
    first = erc14(T0, bytes.fromhex("0E0A0000010105240000020105"))
    other = erc14(T0, bytes.fromhex("0E0A0000010105240000030105"))  # same time, another record
    keyed = dataclasses.replace(first, key="custom-1", raw=None)

    assert await migrated.store.write_events([first, other]) == 2
    assert await migrated.store.write_events([first, keyed]) == 1  # a re-read of the first is not stored again

    rows = migrated.plain("SELECT code, severity, terminal, ts, detail, event_key FROM events ORDER BY id")
    assert [row[:4] for row in rows] == [("ERC14", "alarm", "4403:00012", T0)] * 3
    assert rows[0][4] == {"power_off": "2024-05-01T00:00:00+08:00"}
    assert rows[2][5] == "custom-1"
    assert migrated.query("SELECT events FROM ingest_batches ORDER BY batch") == [(2,), (1,)]


async def test_link_history_gives_the_terminal_status(migrated: Backend) -> None:
    terminal = "4403:00012"
    await migrated.store.write_link_events(
        [
            LinkEvent(terminal, T0, LinkEventKind.LOGIN, peer="10.0.0.7:40001"),
            LinkEvent(terminal, T0 + timedelta(minutes=1), LinkEventKind.CLOCK_READ, clock_drift_ms=-1500),
            LinkEvent(terminal, T0 + timedelta(hours=1), LinkEventKind.DISCONNECT, detail={"reason": "timeout"}),
            LinkEvent(terminal, T0 + timedelta(hours=2), LinkEventKind.LOGIN, peer="10.0.0.9:40002"),
            LinkEvent("4403:00013", T0, LinkEventKind.LOGIN, peer="10.0.0.8:40003"),
            LinkEvent("4403:00013", T0 + timedelta(hours=3), LinkEventKind.LOGOUT),
        ]
    )
    rows = migrated.plain(
        "SELECT terminal, CASE WHEN online THEN 1 ELSE 0 END, last_login, last_logout, peer, clock_drift_ms,"
        " clock_checked_at FROM terminal_status ORDER BY terminal"
    )
    assert rows == [
        (terminal, 1, T0 + timedelta(hours=2), T0 + timedelta(hours=1), "10.0.0.9:40002", -1500,
         T0 + timedelta(minutes=1)),
        ("4403:00013", 0, T0, T0 + timedelta(hours=3), "10.0.0.8:40003", None, None),
    ]  # fmt: skip


async def test_archive_entries_are_inserted_then_updated(migrated: Backend) -> None:
    meter = MeterInfo("000000000001", address="000000000001", protocol="dlt645-2007", tariff_count=4)
    await migrated.store.save_archive(
        terminals=[TerminalInfo("4403:00012", name="台区 1")],
        meters=[meter],
        points=[MeasurementPoint("4403:00012", 1, meter.meter, port=2, baud=2400)],
        ratios=[MeterRatio(meter.meter, T0, Decimal("1.5"), Decimal("100"))],
    )
    await migrated.store.save_archive(
        meters=[dataclasses.replace(meter, tariff_count=2)],
        ratios=[MeterRatio(meter.meter, T0, Decimal("2.5"), Decimal("100"))],
    )
    assert migrated.query("SELECT terminal, kind, protocol, name FROM terminals") == [
        ("4403:00012", "concentrator", "gdw376.1", "台区 1")
    ]
    assert migrated.query("SELECT meter, protocol, tariff_count FROM meters") == [(meter.meter, "dlt645-2007", 2)]
    assert migrated.query("SELECT terminal, pn, meter, port, baud FROM measurement_points") == [
        ("4403:00012", 1, meter.meter, 2, 2400)
    ]
    assert migrated.query("SELECT CAST(ct_ratio AS TEXT), CAST(pt_ratio AS TEXT) FROM meter_ratios") == [("2.5", "100")]


# -- status --------------------------------------------------------------------------------------------------


async def test_status_reports_schema_counts_and_watermark(migrated: Backend) -> None:
    original = frozen(1, 1, "1.00")
    await migrated.store.write([original, reading(2)])
    await migrated.store.write([dataclasses.replace(original, value=Decimal("1.01"))])

    status = await migrated.store.status()

    assert status["edition"] == migrated.store.edition.value
    assert status["schema_version"] == await migrated.store.schema_version()
    assert status["time_zone"] == TZ.key
    assert (status["readings"], status["frozen_readings"], status["conflicts"], status["events"]) == (1, 1, 1, 1)
    assert status["ingest_batch"] == 2
    assert isinstance(status["last_conflict_at"], datetime | str)
