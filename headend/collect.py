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


#: AFN0C F33 / F34 (当前正/反向有功、无功电能示值，一/四、二/三象限无功): record field → (register, unit), each a
#: tuple of total + M tariffs (docs/schema.md "Registers").
INDICATION_FIELDS: dict[int, dict[str, tuple[str, str]]] = {
    33: {
        "forward_active": ("energy.active.forward", "kWh"),
        "forward_reactive": ("energy.reactive.forward", "kvarh"),
        "q1_reactive": ("energy.reactive.q1", "kvarh"),
        "q4_reactive": ("energy.reactive.q4", "kvarh"),
    },
    34: {
        "reverse_active": ("energy.active.reverse", "kWh"),
        "reverse_reactive": ("energy.reactive.reverse", "kvarh"),
        "q2_reactive": ("energy.reactive.q2", "kvarh"),
        "q3_reactive": ("energy.reactive.q3", "kvarh"),
    },
}

#: AFN0C F25 (当前三相及总有/无功功率、功率因数，三相电压、电流…): record field → (register, unit, scale). The power
#: factor is sent in percent (附录A.5) and stored as a ratio, as DL/T 645 gives it (02060000, X.XXX).
INSTANTANEOUS_FIELDS: dict[str, tuple[str, str, int]] = {
    "p_total": ("power.active", "kW", 0),
    "q_total": ("power.reactive", "kvar", 0),
    "pf_total": ("power_factor", "", -2),
    "u_a": ("voltage.a", "V", 0),
    "u_b": ("voltage.b", "V", 0),
    "u_c": ("voltage.c", "V", 0),
    "i_a": ("current.a", "A", 0),
    "i_b": ("current.b", "A", 0),
    "i_c": ("current.c", "A", 0),
}


def _record_readings(afn: int, unit: DataUnit, terminal: str, zone: ZoneInfo, received_at: datetime) -> list[Reading]:
    """Readings of the record-valued real-time Fn (F25, F33, F34); other Fn give none."""
    record = unit.value
    if not isinstance(record, Mapping) or afn != 0x0C or not isinstance(record.get("read_time"), datetime):
        return []
    ts = record["read_time"].replace(tzinfo=zone)
    rows: list[tuple[str, int, Decimal | None, str]] = []
    if unit.fn == 25:
        for field, (name, measure, scale) in INSTANTANEOUS_FIELDS.items():
            value = record.get(field)
            rows.append((name, 0, value.scaleb(scale) if isinstance(value, Decimal) and scale else value, measure))
    elif unit.fn in INDICATION_FIELDS:
        for field, (name, measure) in INDICATION_FIELDS[unit.fn].items():
            rows.extend((name, tariff, amount, measure) for tariff, amount in enumerate(record.get(field, ())))
    return _readings(afn, unit, terminal, ts, rows, received_at)


def _readings(
    afn: int,
    unit: DataUnit,
    terminal: str,
    ts: datetime,
    rows: Iterable[tuple[str, int, Decimal | None, str]],
    received_at: datetime,
) -> list[Reading]:
    """One Reading per (register, tariff, value, unit) row of one data unit; "no value" (EE) → quality invalid."""
    return [
        Reading(
            meter=meter_id(terminal, unit.pn),
            register=name,
            tariff=tariff,
            ts=ts,
            value=value,
            unit=measure,
            quality=Quality.OK if value is not None else Quality.INVALID,
            source=f"gdw376.1 AFN{afn:02X} F{unit.fn}",
            terminal=terminal,
            pn=unit.pn,
            received_at=received_at,
        )
        for name, tariff, value, measure in rows
    ]


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
            readings.extend(_record_readings(afn, unit, terminal, zone, received_at))
            continue
        name, measure = register
        value = unit.value
        ts = value.read_time.replace(tzinfo=zone)  # type: ignore[attr-defined]
        values = [value.total, *value.tariffs]  # type: ignore[attr-defined]
        rows = [(name, tariff, amount, measure) for tariff, amount in enumerate(values)]
        readings.extend(_readings(afn, unit, terminal, ts, rows, received_at))
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
