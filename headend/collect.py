"""Turn decoded data units into :class:`~headend.readings.Reading` records.

The device's clock is local time without a zone (Q/GDW 376.1 附录A.15 has none); it is read in the configured
zone (default Asia/Shanghai) and stored as an aware timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from headend.readings import Quality, Reading
from protocols.gdw376.units import DataUnit

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
