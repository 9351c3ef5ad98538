"""附录A data formats: hand-written byte tables, "no value" fillers, invalid dates, round trips."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import (
    A5,
    A7,
    A9,
    A11,
    A13,
    A14,
    A25,
    DecimalFormat,
    decode_a1,
    decode_a15,
    decode_a20,
    encode_a1,
    encode_a15,
    encode_a20,
)


@pytest.mark.parametrize(
    ("fmt", "raw", "value"),
    [
        (A14, "78 56 34 12 00", "1234.5678"),  # XXXXXX.XXXX
        (A14, "99 99 99 99 99", "999999.9999"),
        (A11, "45 23 01 00", "123.45"),  # XXXXXX.XX
        (A13, "78 56 34 12", "1234.5678"),  # XXXX.XXXX
        (A7, "05 22", "220.5"),  # XXX.X V
        (A5, "01 10", "100.1"),  # ±XXX.X: B2 = S | hundreds(3 bits) | tens
        (A5, "55 89", "-95.5"),
        (A9, "00 50 12", "12.5000"),  # ±XX.XXXX, sign in D7 of B3
        (A9, "34 12 81", "-1.1234"),
        (A25, "00 25 00", "2.500"),  # ±XXX.XXX
        (A25, "01 00 80", "-0.001"),
    ],
)
def test_decimal_table(fmt: DecimalFormat, raw: str, value: str) -> None:
    assert fmt.decode(bytes.fromhex(raw)) == Decimal(value)
    assert fmt.encode(Decimal(value)) == bytes.fromhex(raw)


@pytest.mark.parametrize("filler", [0xEE, 0xEF, 0xFF])
def test_no_value(filler: int) -> None:
    assert A14.decode(bytes([filler]) * 5) is None
    assert decode_a1(bytes([filler]) * 6) is None
    assert decode_a15(bytes([filler]) * 5) is None
    assert decode_a20(bytes([filler]) * 3) is None


def test_none_encodes_as_ee() -> None:
    assert A14.encode(None) == b"\xee" * 5
    assert encode_a1(None) == b"\xee" * 6
    assert encode_a15(None) == b"\xee" * 5
    assert encode_a20(None) == b"\xee" * 3


def test_decimal_errors() -> None:
    with pytest.raises(DecodeError, match=r"A\.14"):
        A14.decode(bytes.fromhex("7A 56 34 12 00"))  # 7AH is not BCD
    with pytest.raises(DecodeError, match="needs 5 bytes"):
        A14.decode(b"\x00" * 4)
    with pytest.raises(LocalProtocolError):
        A14.encode(Decimal("1.00001"))
    with pytest.raises(LocalProtocolError):
        A7.encode(Decimal("-1"))


def test_a1_table() -> None:
    # 2024-05-01 08:00:30 is a Wednesday: week 3 in D7..D5 of the month byte (011 0 0101 = 65H).
    raw = bytes.fromhex("30 00 08 01 65 24")
    assert decode_a1(raw) == datetime(2024, 5, 1, 8, 0, 30)
    assert encode_a1(datetime(2024, 5, 1, 8, 0, 30)) == raw
    assert encode_a1(datetime(2024, 5, 1, 8, 0, 30), week=False) == bytes.fromhex("30 00 08 01 05 24")
    # December (month tens bit D4) on a Sunday (7): 111 1 0010 = F2H.
    assert decode_a1(bytes.fromhex("59 59 23 31 F2 23")) == datetime(2023, 12, 31, 23, 59, 59)
    assert encode_a1(datetime(2023, 12, 31, 23, 59, 59, 999)) == bytes.fromhex("59 59 23 31 F2 23")


def test_a1_week_is_not_checked() -> None:
    assert decode_a1(bytes.fromhex("30 00 08 01 25 24")) == datetime(2024, 5, 1, 8, 0, 30)  # "Monday"


def test_a15_and_a20_tables() -> None:
    assert decode_a15(bytes.fromhex("00 08 01 05 24")) == datetime(2024, 5, 1, 8, 0)
    assert encode_a15(datetime(2024, 5, 1, 8, 0)) == bytes.fromhex("00 08 01 05 24")
    assert decode_a20(bytes.fromhex("29 02 24")) == date(2024, 2, 29)
    assert encode_a20(date(2024, 2, 29)) == bytes.fromhex("29 02 24")


@pytest.mark.parametrize(
    ("decode", "raw"),
    [
        (decode_a1, "30 00 08 32 05 24"),  # day 32
        (decode_a1, "60 00 08 01 05 24"),  # second 60
        (decode_a1, "30 00 08 01 13 24"),  # month 13
        (decode_a15, "00 08 29 02 23"),  # 2023-02-29
        (decode_a15, "00 0A 01 05 24"),  # 0AH is not BCD
        (decode_a20, "00 01 24"),  # day 0
        (decode_a1, "30 00 08 01 05"),  # too short
    ],
)
def test_invalid_dates_raise_decode_error(decode: object, raw: str) -> None:
    assert callable(decode)
    with pytest.raises(DecodeError):
        decode(bytes.fromhex(raw))


def test_encode_date_errors() -> None:
    with pytest.raises(LocalProtocolError, match="year"):
        encode_a15(datetime(1999, 12, 31, 23, 59))
    with pytest.raises(LocalProtocolError, match="seconds"):
        encode_a15(datetime(2024, 1, 1, 0, 0, 1))


times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59))


@given(times)
def test_a1_round_trip(value: datetime) -> None:
    value = value.replace(microsecond=0)
    assert decode_a1(encode_a1(value)) == value


@given(times)
def test_a15_round_trip(value: datetime) -> None:
    value = value.replace(second=0, microsecond=0)
    assert decode_a15(encode_a15(value)) == value


@given(times)
def test_a20_round_trip(value: datetime) -> None:
    assert decode_a20(encode_a20(value.date())) == value.date()


def decimals_for(fmt: DecimalFormat) -> st.SearchStrategy[Decimal]:
    digits = 2 * fmt.size - (1 if fmt.signed else 0)
    top = 8 * 10 ** (digits - 1) - 1 if fmt.signed else 10**digits - 1
    low = -top if fmt.signed else 0
    return st.integers(low, top).map(lambda n: Decimal(n).scaleb(-fmt.decimals))


@pytest.mark.parametrize("fmt", [A5, A7, A9, A11, A13, A14, A25], ids=lambda f: f.name)
@given(data=st.data())
def test_decimal_round_trip(fmt: DecimalFormat, data: st.DataObject) -> None:
    value = data.draw(decimals_for(fmt))
    assert fmt.decode(fmt.encode(value)) == value
