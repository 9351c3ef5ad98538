"""AFN0D units (frozen indications, curves) become readings with the freeze instant docs/schema.md defines."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from headend.collect import history_readings
from headend.readings import Quality, ReadingKind
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Dir
from protocols.gdw376.units import DataUnit, decode_units, encode_units
from protocols.gdw376.units.afn0d import CurveTag, tag_record

ZONE = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 11, 23, 1, 0, tzinfo=ZONE)


def _wire(units: list[DataUnit]) -> list[DataUnit]:
    """Through the codec, as the session gets them."""
    return decode_units(0x0D, encode_units(0x0D, units, Dir.UP), Dir.UP)


def test_f161_is_a_daily_freeze_at_the_midnight_that_closes_td_d() -> None:
    values = (Decimal("123.4500"), Decimal("100.0000"), None, Decimal("23.4500"), Decimal("0.0000"))
    body = Record({"td_d": date(2026, 11, 22), "read_time": datetime(2026, 11, 23, 0, 2), "m": 4, "values": values})
    readings = history_readings(_wire([DataUnit(3, 161, body)]), terminal="4403:00001", zone=ZONE, received_at=RECEIVED)
    assert [r.tariff for r in readings] == [0, 1, 2, 3, 4]
    assert {r.register for r in readings} == {"daily.energy.active.forward"}
    assert {r.kind for r in readings} == {ReadingKind.DAILY}
    assert {r.ts for r in readings} == {datetime(2026, 11, 23, 0, 0, tzinfo=ZONE)}
    assert [r.value for r in readings] == list(values)
    assert [r.quality for r in readings] == [Quality.OK, Quality.OK, Quality.INVALID, Quality.OK, Quality.OK]
    assert {(r.meter, r.pn, r.unit, r.source) for r in readings} == {("4403:00001/p3", 3, "kWh", "gdw376.1 AFN0D F161")}


def test_backfill_quality_is_carried() -> None:
    body = Record(
        {
            "td_d": date(2026, 11, 1),
            "read_time": datetime(2026, 11, 2, 0, 2),
            "m": 1,
            "values": (Decimal("1.0000"), Decimal("1.0000")),
        }
    )
    readings = history_readings(
        _wire([DataUnit(1, 161, body)]),
        terminal="4403:00001",
        zone=ZONE,
        received_at=RECEIVED,
        quality=Quality.BACKFILLED,
    )
    assert {r.quality for r in readings} == {Quality.BACKFILLED}


def test_f177_is_a_monthly_freeze_at_the_start_of_the_next_month() -> None:
    from protocols.gdw376.formats import YearMonth

    body = Record(
        {"td_m": YearMonth(2025, 12), "read_time": datetime(2026, 1, 1, 0, 3), "m": 0, "values": (Decimal("9.0000"),)}
    )
    (reading,) = history_readings(
        _wire([DataUnit(1, 177, body)]), terminal="4403:00001", zone=ZONE, received_at=RECEIVED
    )
    assert reading.register == "monthly.energy.active.forward"
    assert reading.ts == datetime(2026, 1, 1, tzinfo=ZONE)


def test_curve_points_are_spaced_by_the_density() -> None:
    tag = tag_record(CurveTag(datetime(2026, 11, 22, 0, 0), 2, 3))  # 30-minute points
    points = tuple(Decimal(v) for v in ("1.2340", "2.5000", "0.0000"))
    body = Record({**tag, "values": points})
    readings = history_readings(_wire([DataUnit(2, 81, body)]), terminal="4403:00001", zone=ZONE, received_at=RECEIVED)
    assert [(r.register, r.ts, r.value) for r in readings] == [
        ("curve.power.active", datetime(2026, 11, 22, 0, 0, tzinfo=ZONE), Decimal("1.2340")),
        ("curve.power.active", datetime(2026, 11, 22, 0, 30, tzinfo=ZONE), Decimal("2.5000")),
        ("curve.power.active", datetime(2026, 11, 22, 1, 0, tzinfo=ZONE), Decimal("0.0000")),
    ]


def test_other_fn_are_skipped() -> None:
    body = Record({"td_d": date(2026, 11, 22), "supply_minutes": 1440, "resets": 0})
    assert (
        history_readings(_wire([DataUnit(0, 49, body)]), terminal="4403:00001", zone=ZONE, received_at=RECEIVED) == []
    )
