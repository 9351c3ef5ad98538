"""Turn decoded data units into :class:`~headend.readings.Reading` records.

The device's clock is local time without a zone (Q/GDW 376.1 附录A.15 has none); it is read in the configured
zone (default Asia/Shanghai) and stored as an aware timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from headend.readings import Quality, Reading, ReadingKind
from protocols.gdw376.units import DataUnit
from protocols.gdw376.units.afn0d import DENSITY_MINUTES

#: (AFN, Fn) → (register, unit) for energy indications with total + tariffs (EnergyIndication values)
ENERGY_REGISTERS: dict[tuple[int, int], tuple[str, str]] = {
    (0x0C, 129): ("energy.active.forward", "kWh"),  # F129 当前正向有功电能示值（总、费率1～M）
    (0x0C, 130): ("energy.reactive.forward", "kvarh"),  # F130 当前正向无功（组合无功1）电能示值
}


def meter_id(terminal: str, pn: int) -> str:
    """Meter identity until the archive (AFN04 F10) maps points to meter addresses."""
    return f"{terminal}/p{pn}"


def readings_from_units(
    afn: int,
    units: Iterable[DataUnit],
    *,
    terminal: str,
    zone: ZoneInfo,
    received_at: datetime,
) -> list[Reading]:
    readings: list[Reading] = []
    for unit in units:
        register = ENERGY_REGISTERS.get((afn, unit.fn))
        if register is None:
            continue
        name, measure = register
        value = unit.value
        read_time: datetime = value.read_time  # type: ignore[attr-defined]
        ts = read_time.replace(tzinfo=zone)
        values = [value.total, *value.tariffs]  # type: ignore[attr-defined]
        for tariff, amount in enumerate(values):
            readings.append(
                Reading(
                    meter=meter_id(terminal, unit.pn),
                    register=name,
                    tariff=tariff,
                    ts=ts,
                    value=amount,
                    unit=measure,
                    quality=Quality.OK if amount is not None else Quality.INVALID,
                    source=f"gdw376.1 AFN{afn:02X} F{unit.fn}",
                    terminal=terminal,
                    pn=unit.pn,
                    received_at=received_at,
                )
            )
    return readings


#: AFN0D frozen indications (Q/GDW 376.1-2009 §5.1.3.14, bodies = AFN0C F129…: 终端抄表时间 + M + values):
#: Fn → (kind, quantity, unit). F161–F164 日冻结, F169–F172 抄表日冻结 (settlement), F177–F180 月冻结.
_INDICATION_QUANTITIES = (
    ("energy.active.forward", "kWh"),  # 正向有功电能示值
    ("energy.reactive.forward", "kvarh"),  # 正向无功（组合无功1）电能示值
    ("energy.active.reverse", "kWh"),  # 反向有功电能示值
    ("energy.reactive.reverse", "kvarh"),  # 反向无功（组合无功2）电能示值
)
FROZEN_REGISTERS: dict[int, tuple[ReadingKind, str, str]] = {
    first + i: (kind, quantity, unit)
    for first, kind in ((161, ReadingKind.DAILY), (169, ReadingKind.SETTLEMENT), (177, ReadingKind.MONTHLY))
    for i, (quantity, unit) in enumerate(_INDICATION_QUANTITIES)
}
#: AFN0D curves (曲线, Td_c): Fn → (quantity, unit); the register is ``curve.<quantity>``.
CURVE_REGISTERS: dict[int, tuple[str, str]] = {
    81: ("power.active", "kW"),  # F81 有功功率曲线 (总)
    85: ("power.reactive", "kvar"),  # F85 无功功率曲线 (总)
    89: ("voltage.a", "V"),
    90: ("voltage.b", "V"),
    91: ("voltage.c", "V"),
    92: ("current.a", "A"),
    93: ("current.b", "A"),
    94: ("current.c", "A"),
    101: ("energy.active.forward", "kWh"),  # F101 正向有功总电能示值曲线
    102: ("energy.reactive.forward", "kvarh"),
    103: ("energy.active.reverse", "kWh"),
    104: ("energy.reactive.reverse", "kvarh"),
}


def frozen_ts(kind: ReadingKind, record: Mapping[str, Any], zone: ZoneInfo) -> datetime:
    """The freeze instant of an AFN0D unit: a Td_d (附录A.20) labels the day the freeze closes, so the instant is
    the local midnight ending it; a Td_m (附录A.21) month's freeze is the midnight starting the next month
    (docs/schema.md "Frozen registers: ts")."""
    if kind is ReadingKind.MONTHLY:
        month = record["td_m"]
        year, number = (month.year + 1, 1) if month.month == 12 else (month.year, month.month + 1)
        return datetime(year, number, 1, tzinfo=zone)
    day: date = record["td_d"]
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def history_readings(
    units: Iterable[DataUnit],
    *,
    terminal: str,
    zone: ZoneInfo,
    received_at: datetime,
    quality: Quality = Quality.OK,
) -> list[Reading]:
    """Readings from AFN0D units: frozen indications (:data:`FROZEN_REGISTERS`, one reading per tariff, ``ts`` =
    the freeze instant) and curves (:data:`CURVE_REGISTERS`, one reading per point, ``ts`` = the point time
    start + i × density). Units of other Fn are skipped. ``quality`` is OK for a first read, BACKFILLED for 补抄;
    a value the device sent as EE is INVALID."""
    readings: list[Reading] = []

    def add(meter_pn: int, register: str, tariff: int, ts: datetime, value: Decimal | None, unit: str, fn: int) -> None:
        readings.append(
            Reading(
                meter=meter_id(terminal, meter_pn),
                register=register,
                tariff=tariff,
                ts=ts,
                value=value,
                unit=unit,
                quality=quality if value is not None else Quality.INVALID,
                source=f"gdw376.1 AFN0D F{fn}",
                terminal=terminal,
                pn=meter_pn,
                received_at=received_at,
            )
        )

    for unit in units:
        record = unit.value
        if not isinstance(record, Mapping):
            continue
        frozen = FROZEN_REGISTERS.get(unit.fn)
        if frozen is not None:
            kind, quantity, measure = frozen
            ts = frozen_ts(kind, record, zone)
            for tariff, amount in enumerate(record["values"]):
                add(unit.pn, kind.register(quantity), tariff, ts, amount, measure, unit.fn)
            continue
        curve = CURVE_REGISTERS.get(unit.fn)
        minutes = DENSITY_MINUTES.get(record.get("density", 0)) if curve is not None else None
        if curve is None or minutes is None:
            continue
        quantity, measure = curve
        start = record["start"].replace(tzinfo=zone)
        for i, point in enumerate(record["values"]):
            ts = start + timedelta(minutes=minutes * i)
            value = point["value"] if isinstance(point, Mapping) else point  # one field: plain values (layout)
            add(unit.pn, ReadingKind.CURVE.register(quantity), 0, ts, value, measure, unit.fn)
    return readings
