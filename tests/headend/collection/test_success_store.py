"""The collection queries of both stores (headend/storage/collection.py) against real databases: frozen days by
local freeze date and first pass, the stored archive, success rows and missing meters replaced per day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from headend.readings import Quality
from headend.storage.collection import MissingMeter, SuccessRow
from headend.storage.records import MeasurementPoint, MeterInfo, MeterRatio, TerminalInfo
from tests.headend.storage import conftest as storage_fixtures
from tests.headend.storage.conftest import Backend
from tests.headend.storage.helpers import TZ, reading

DAILY = "daily.energy.active.forward"
#: the store fixtures of tests/headend/storage (each store, migrated, on a fresh database)
backend = storage_fixtures.backend
migrated = storage_fixtures.migrated


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ)


async def test_frozen_days_by_local_date_and_first_pass(migrated: Backend) -> None:
    may2, may3 = date(2024, 5, 2), date(2024, 5, 3)
    await migrated.store.write(
        [
            reading(1, register=DAILY, ts=_midnight(may2)),  # 00:00+08 = 16:00 UTC the day before
            reading(1, register=DAILY, ts=_midnight(may3), quality=Quality.BACKFILLED),
            reading(2, register=DAILY, ts=_midnight(may2), quality=Quality.BACKFILLED),
            reading(3, register=DAILY, ts=_midnight(may2), tariff=1),  # a tariff only: not complete
            reading(4, None, register=DAILY, ts=_midnight(may2)),  # no value (EE): not complete
            reading(5, register="energy.active.forward", ts=_midnight(may2)),  # instantaneous: not frozen
            reading(6, register=DAILY, ts=_midnight(may2) - timedelta(minutes=1)),  # 1 May local
        ]
    )
    days = await migrated.store.frozen_days(may2, date(2024, 5, 4))
    assert days == {
        ("000000000001", may2): True,
        ("000000000001", may3): False,
        ("000000000002", may2): False,
    }
    assert await migrated.store.frozen_days(date(2024, 5, 1), may2) == {("000000000006", date(2024, 5, 1)): True}


async def test_archive_round_trip(migrated: Backend) -> None:
    await migrated.store.save_archive(
        terminals=[TerminalInfo("4403:00012")],
        meters=[MeterInfo("000000000001", "000000000001", "dlt645-2007", 4)],
        points=[MeasurementPoint("4403:00012", 1, "000000000001", 2, 2400)],
        ratios=[MeterRatio("000000000001", _midnight(date(2024, 1, 1)), Decimal("200.0"), Decimal("1"))],
    )
    stored = await migrated.store.load_archive()
    assert [(r.meter, r.valid_from, r.ct_ratio, r.pt_ratio) for r in stored.ratios] == [
        ("000000000001", _midnight(date(2024, 1, 1)), Decimal("200.0"), Decimal("1"))
    ]
    assert stored.terminals == (TerminalInfo("4403:00012", "concentrator", "gdw376.1", ""),)
    assert stored.meters == (MeterInfo("000000000001", "000000000001", "dlt645-2007", 4),)
    assert stored.points == (MeasurementPoint("4403:00012", 1, "000000000001", 2, 2400),)


async def test_success_rows_replaced_per_day_and_terminal(migrated: Backend) -> None:
    day = date(2024, 5, 2)
    at = datetime(2024, 5, 2, 3, 0, tzinfo=TZ)
    first = [SuccessRow(day, "", 3, 1, 1, at), SuccessRow(day, "4403:00012", 2, 1, 1, at)]
    gone = [MissingMeter(day, "4403:00012", 2, "000000000002", "terminal_offline", "no login")]
    await migrated.store.save_success(first, gone)
    rows, missing = await migrated.store.load_success(day)
    assert [(r.terminal, r.expected, r.complete_first_pass, r.complete) for r in rows] == [
        ("", 3, 1, 1),
        ("4403:00012", 2, 1, 1),
    ]
    assert rows[0].computed_at == at
    assert missing == gone
    later = at + timedelta(hours=1)
    await migrated.store.save_success([SuccessRow(day, "4403:00012", 2, 1, 2, later)], [])
    rows, missing = await migrated.store.load_success(day, terminal="4403:00012")
    assert [(r.terminal, r.complete, r.ratio) for r in rows] == [("", 1, 1 / 3), ("4403:00012", 2, 1.0)]
    assert missing == []
    assert await migrated.store.load_success(day + timedelta(days=1)) == ([], [])
