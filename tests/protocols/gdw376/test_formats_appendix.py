"""附录A formats A.2–A.4, A.12, A.16–A.19, A.21, A.24, A.26–A.28: hand-written byte tables from the appendix's
bit layouts, "no value" fillers, invalid fields, and hypothesis round trips for every format object."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376 import formats as f
from protocols.gdw376.formats import (
    A3Amount,
    DayHour,
    DayHourMinute,
    DayTime,
    FloatCoefficient,
    HourMinute,
    MonthDayTime,
    YearMonth,
)
from protocols.gdw376.layout import Format

from .layout_strategies import format_values

ALL_FORMATS: list[Format] = [
    f.A1, f.A2, f.A3, f.A4, f.A5, f.A6, f.A7, f.A8, f.A9, f.A10, f.A11, f.A12, f.A13, f.A14, f.A15, f.A16,
    f.A17, f.A18, f.A19, f.A20, f.A21, f.A22, f.A23, f.A24, f.A25, f.A26, f.A27, f.A28,
]  # fmt: skip


def test_every_appendix_format_is_there_once() -> None:
    assert [fmt.name for fmt in ALL_FORMATS] == [f"A.{n}" for n in range(1, 29)]


@pytest.mark.parametrize(
    ("fmt", "raw", "value"),
    [
        # A.2: B1 = tens|units, B2 = G3 G2 G1 | S | hundreds
        (f.A2, "25 81", Decimal("125")),  # 100 0 0001: G=4 → ×10^0, +125
        (f.A2, "50 13", Decimal("-3500000")),  # 000 1 0011: G=0 → ×10^4, −350
        (f.A2, "99 E9", Decimal("0.999")),  # 111 0 1001: G=7 → ×10^-3, +999
        (f.A2, "01 A0", Decimal("0.1")),  # 101 0 0000: G=5 → ×10^-1, +1 (not how we encode 0.1)
        (f.A2, "00 05", Decimal("5000000")),  # 000 0 0101: 500 × 10^4
        # A.3: B4 = 0 | G | 0 | S | millions
        (f.A3, "78 56 34 01", A3Amount(Decimal(1345678), 0)),
        (f.A3, "00 00 10 51", A3Amount(Decimal(-1100000), 1)),  # 0101 0001: G=1 (MWh/元), S=1
        # A.4: S0 | tens(3 bits) | units
        (f.A4, "15", FloatCoefficient(15, down=False)),
        (f.A4, "95", FloatCoefficient(15, down=True)),
        (f.A4, "79", FloatCoefficient(79)),
        (f.A4, "80", FloatCoefficient(0, down=True)),
        # A.12: low byte first, printed most significant first
        (f.A12, "01 00 00 00 00 00", "000000000001"),
        (f.A12, "56 34 12 90 78 00", "007890123456"),
        # A.16 ss mm hh DD; A.17 mm hh DD MM; A.18 mm hh DD; A.19 mm hh; A.21 MM YY; A.24 hh DD
        (f.A16, "30 20 15 31", DayTime(31, 15, 20, 30)),
        (f.A17, "59 23 29 02", MonthDayTime(2, 29, 23, 59)),
        (f.A18, "05 08 01", DayHourMinute(1, 8, 5)),
        (f.A19, "30 23", HourMinute(23, 30)),
        (f.A21, "12 24", YearMonth(2024, 12)),
        (f.A24, "08 15", DayHour(15, 8)),
        # A.26 X.XXX, A.27 XXXXXXXX, A.28 XXXX.XX
        (f.A26, "34 12", Decimal("1.234")),
        (f.A27, "78 56 34 12", Decimal("12345678")),
        (f.A28, "00 00 01", Decimal("100.00")),
    ],
)
def test_table(fmt: Format, raw: str, value: Any) -> None:
    assert fmt.decode(bytes.fromhex(raw)) == value


@pytest.mark.parametrize(
    ("fmt", "value", "raw"),
    [
        (f.A2, Decimal("125"), "25 81"),
        (f.A2, Decimal("0.1"), "00 E1"),  # the smallest exponent that holds it: 100 × 10^-3
        (f.A2, Decimal("-3500000"), "50 13"),
        (f.A2, Decimal("5000000"), "00 05"),
        (f.A3, A3Amount(Decimal(-1100000), 1), "00 00 10 51"),
        (f.A4, FloatCoefficient(15, down=True), "95"),
        (f.A12, "1", "01 00 00 00 00 00"),  # zero-filled on the left
        (f.A17, MonthDayTime(2, 29, 23, 59), "59 23 29 02"),
        (f.A21, YearMonth(2024, 12), "12 24"),
        (f.A24, DayHour(15, 8), "08 15"),
    ],
)
def test_encode_table(fmt: Format, value: Any, raw: str) -> None:
    assert fmt.encode(value) == bytes.fromhex(raw)


def test_a3_base_unit() -> None:
    assert A3Amount(Decimal(-1100000), 1).base == Decimal(-1100000000)
    assert A3Amount(Decimal(25), 0).base == Decimal(25)
    assert FloatCoefficient(15, down=True).signed == -15


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda fmt: fmt.name)
@pytest.mark.parametrize("filler", [0xEE, 0xEF, 0xFF])
def test_no_value(fmt: Format, filler: int) -> None:
    assert fmt.decode(bytes([filler]) * fmt.size) is None
    assert fmt.encode(None) == b"\xee" * fmt.size


@pytest.mark.parametrize(
    ("fmt", "raw"),
    [
        (f.A2, "2A 81"),  # 2AH is not BCD
        (f.A2, "25 8A"),  # hundreds nibble AH
        (f.A3, "00 00 00 80"),  # reserved D7 set
        (f.A3, "00 00 00 20"),  # reserved D5 set
        (f.A3, "0A 00 00 00"),
        (f.A4, "8A"),
        (f.A12, "01 00 00 00 00 0F"),
        (f.A16, "60 00 00 01"),  # second 60
        (f.A16, "00 00 24 01"),  # hour 24
        (f.A16, "00 00 00 00"),  # day 0
        (f.A17, "00 00 30 02"),  # 30 February
        (f.A17, "00 00 31 04"),  # 31 April
        (f.A18, "00 00 32"),
        (f.A19, "60 00"),
        (f.A21, "13 24"),  # month 13
        (f.A21, "00 24"),  # month 0
        (f.A24, "00 00"),  # day 0
        (f.A26, "0A 00"),
        (f.A2, "25"),  # too short
        (f.A21, "12 24 00"),  # too long
    ],
)
def test_invalid_fields_raise_decode_error(fmt: Format, raw: str) -> None:
    with pytest.raises(DecodeError, match=fmt.name.replace(".", r"\.")):
        fmt.decode(bytes.fromhex(raw))


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        (f.A2, Decimal("1234")),  # 1234 is neither ≤ 999 nor a multiple of 10
        (f.A2, Decimal("0.0001")),  # below 10^-3
        (f.A2, Decimal("10000000")),  # 1000 × 10^4
        (f.A2, Decimal("NaN")),
        (f.A3, A3Amount(Decimal(10_000_000), 0)),
        (f.A3, A3Amount(Decimal("1.5"), 0)),
        (f.A3, A3Amount(Decimal(1), 2)),
        (f.A4, FloatCoefficient(80)),
        (f.A12, "1234567890123"),
        (f.A12, "12345a"),
        (f.A16, DayTime(0, 0, 0, 0)),
        (f.A17, MonthDayTime(2, 30, 0, 0)),
        (f.A19, HourMinute(24, 0)),
        (f.A21, YearMonth(1999, 12)),
        (f.A24, DayHourMinute(1, 1, 1)),  # the wrong partial-time class
    ],
)
def test_encode_errors(fmt: Format, value: Any) -> None:
    with pytest.raises(LocalProtocolError):
        fmt.encode(value)


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda fmt: fmt.name)
@given(data=st.data())
def test_round_trip(fmt: Format, data: st.DataObject) -> None:
    value = data.draw(format_values(fmt))
    raw = fmt.encode(value)
    assert len(raw) == fmt.size
    decoded = fmt.decode(raw)
    assert decoded == value
    assert fmt.encode(decoded) == raw


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda fmt: fmt.name)
@given(data=st.data())
def test_random_bytes_decode_or_raise_decode_error(fmt: Format, data: st.DataObject) -> None:
    raw = data.draw(st.binary(min_size=fmt.size, max_size=fmt.size))
    try:
        value = fmt.decode(raw)
    except DecodeError:
        return
    if value is not None:  # whatever decodes re-encodes to something that decodes to the same value
        assert fmt.decode(fmt.encode(value)) == value
