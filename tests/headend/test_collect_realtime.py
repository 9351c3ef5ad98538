"""Real-time AFN0C F25 and F33 responses become readings with the schema's register names (docs/schema.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from headend.collect import readings_from_units
from headend.readings import Quality
from protocols.gdw376.link import Dir
from protocols.gdw376.units import decode_units

ZONE = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 11, 23, 8, 31, tzinfo=ZONE)

# AFN0C F25 p1, written by hand from the layout (PROTOCOLS.md A.9): read time 2026-11-23 08:30;
# P total/a/b/c (A.9) 1.2345 kW, Q total/a/b/c (A.9) -0.5000 kvar (sign D7), PF total/a/b/c (A.5) 92.5 %,
# Ua/Ub/Uc (A.7) 220.1 V, Ia/Ib/Ic/I0 (A.25) 5.012 A, S total/a/b/c (A.9) no value (EE).
F25 = bytes.fromhex(
    "0101 0103"  # DA p1, DT F25
    "3008231126"  # A.15 read time
    + "452301" * 4  # A.9 1.2345
    + "005080" * 4  # A.9 -0.5000
    + "2509" * 4  # A.5 92.5
    + "0122" * 3  # A.7 220.1
    + "125000" * 4  # A.25 5.012
    + "EEEEEE" * 4  # A.9 no value
)
# AFN0C F33 p2: read time, M = 1, forward active (A.14) total 1000.0000 / T1 400.0000, forward reactive,
# Q1 and Q4 reactive (A.11) total 10.00 / T1 EE.
F33 = bytes.fromhex(
    "0201 0104"  # DA p2, DT F33
    + "3008231126"  # A.15 read time
    + "01"  # M = 1 tariff
    + "0000001000"  # forward active total 1000.0000 (A.14)
    + "0000000400"  # forward active T1 400.0000
    + "00100000 EEEEEEEE" * 3  # forward reactive, Q1, Q4 (A.11): total 10.00, T1 no value
)


def test_f25_instantaneous_values() -> None:
    units = decode_units(0x0C, F25, Dir.UP)
    readings = readings_from_units(0x0C, units, terminal="4403:00012", zone=ZONE, received_at=RECEIVED)
    by_register = {r.register: r for r in readings}
    assert {name: r.value for name, r in by_register.items()} == {
        "power.active": Decimal("1.2345"),
        "power.reactive": Decimal("-0.5000"),
        "power_factor": Decimal("0.925"),  # 92.5 % as a ratio, exact
        "voltage.a": Decimal("220.1"),
        "voltage.b": Decimal("220.1"),
        "voltage.c": Decimal("220.1"),
        "current.a": Decimal("5.012"),
        "current.b": Decimal("5.012"),
        "current.c": Decimal("5.012"),
    }
    reading = by_register["power.active"]
    assert (reading.meter, reading.ts, reading.unit, reading.source) == (
        "4403:00012/p1",
        datetime(2026, 11, 23, 8, 30, tzinfo=ZONE),
        "kW",
        "gdw376.1 AFN0C F25",
    )


def test_f33_indications_with_tariffs_and_no_value() -> None:
    units = decode_units(0x0C, F33, Dir.UP)
    readings = readings_from_units(0x0C, units, terminal="4403:00012", zone=ZONE, received_at=RECEIVED)
    table = {(r.register, r.tariff): (r.value, r.quality) for r in readings}
    assert table[("energy.active.forward", 0)] == (Decimal("1000.0000"), Quality.OK)
    assert table[("energy.active.forward", 1)] == (Decimal("400.0000"), Quality.OK)
    for register in ("energy.reactive.forward", "energy.reactive.q1", "energy.reactive.q4"):
        assert table[(register, 0)] == (Decimal("10.00"), Quality.OK)
        assert table[(register, 1)] == (None, Quality.INVALID)
    assert len(readings) == 8
