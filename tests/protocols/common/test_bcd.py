"""protocols.common.bcd: packed BCD, low byte first, sign-and-magnitude, EE fillers (Q/GDW 376.1 附录A,
DL/T 645-2007 §5.1). Expected bytes are written by hand from the standards' worked examples."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.common.bcd import (
    bcd_byte,
    bcd_to_int,
    decode_decimal,
    encode_decimal,
    int_to_bcd,
    is_no_value,
    to_bcd_byte,
)
from protocols.errors import DecodeError, LocalProtocolError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EE", True),
        ("EEEE", True),
        ("EFEF", True),  # vendor filler
        ("FFFFFF", True),  # vendor filler, also "unsupported phase" in 645 blocks
        ("", False),
        ("EEEF", False),  # mixed fillers are not a filler
        ("EE01", False),
        ("00", False),
    ],
)
def test_is_no_value(raw: str, expected: bool) -> None:
    assert is_no_value(bytes.fromhex(raw)) is expected
    assert is_no_value(bytearray.fromhex(raw)) is expected
    assert is_no_value(memoryview(bytes.fromhex(raw))) is expected


@pytest.mark.parametrize(("byte", "value"), [(0x00, 0), (0x09, 9), (0x10, 10), (0x59, 59), (0x99, 99)])
def test_bcd_byte_both_ways(byte: int, value: int) -> None:
    assert bcd_byte(byte) == value
    assert to_bcd_byte(value) == byte


@pytest.mark.parametrize("byte", [0x0A, 0xA0, 0x1F, 0xF1, 0xEE, 0xFF])
def test_bcd_byte_refuses_non_bcd_nibbles(byte: int) -> None:
    with pytest.raises(DecodeError, match="not BCD") as info:
        bcd_byte(byte)
    assert info.value.raw == bytes((byte,))


@pytest.mark.parametrize("value", [-1, 100])
def test_to_bcd_byte_range(value: int) -> None:
    with pytest.raises(LocalProtocolError):
        to_bcd_byte(value)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("3412", 1234),
        ("785634120000", 12345678),
        ("610100000000", 161),  # DL/T 645 address 000000000161
        ("", 0),
    ],
)
def test_little_endian_bcd_int(raw: str, value: int) -> None:
    assert bcd_to_int(bytes.fromhex(raw)) == value
    assert int_to_bcd(value, len(raw) // 2) == bytes.fromhex(raw)


@pytest.mark.parametrize(("value", "size"), [(-1, 2), (10000, 2), (1, 0)])
def test_int_to_bcd_range(value: int, size: int) -> None:
    with pytest.raises(LocalProtocolError):
        int_to_bcd(value, size)


@pytest.mark.parametrize(
    ("raw", "decimals", "signed", "value"),
    [
        ("0110", 1, False, "100.1"),  # DL/T 645 voltage XXX.X (PROTOCOLS.md B.5)
        ("994900", 3, True, "4.999"),  # current XXX.XXX
        ("994980", 3, True, "-4.999"),  # same, sign bit D23 set
        ("122500", 4, True, "0.2512"),  # active power XX.XXXX kW
        ("0105", 3, True, "0.501"),  # power factor X.XXX
        ("56341200", 2, False, "1234.56"),  # energy XXXXXX.XX kWh
        ("0000340012", 4, False, "120034.0000"),  # 376.1 A.14
        ("128092", 4, True, "-12.8012"),  # 376.1 A.9
        ("00", 0, False, "0"),
    ],
)
def test_decode_and_encode_decimal(raw: str, decimals: int, signed: bool, value: str) -> None:
    assert decode_decimal(bytes.fromhex(raw), decimals, signed=signed) == Decimal(value)
    assert encode_decimal(Decimal(value), len(raw) // 2, decimals, signed=signed) == bytes.fromhex(raw)


def test_decode_keeps_the_formats_decimals() -> None:
    assert str(decode_decimal(bytes.fromhex("00120000"), 2)) == "12.00"


@pytest.mark.parametrize("raw", ["EEEE", "FFFF", "EFEF"])
def test_fillers_decode_as_none(raw: str) -> None:
    assert decode_decimal(bytes.fromhex(raw), 1) is None
    assert decode_decimal(bytes.fromhex(raw), 1, signed=True) is None


def test_none_encodes_as_ee() -> None:
    assert encode_decimal(None, 3, 1) == b"\xee\xee\xee"


@pytest.mark.parametrize("signed", [False, True])
def test_decode_empty_is_a_decode_error(signed: bool) -> None:
    with pytest.raises(DecodeError):
        decode_decimal(b"", 0, signed=signed)


@pytest.mark.parametrize(
    ("value", "size", "decimals", "signed"),
    [
        ("1.234", 2, 2, False),  # more decimals than the format
        ("-1", 2, 0, False),  # negative in an unsigned field
        ("10000", 2, 0, False),  # too many digits
        ("8000", 2, 0, True),  # signed: the top digit gives up D7
        ("-8000", 2, 0, True),
        ("Infinity", 2, 0, False),
        ("-Infinity", 2, 0, True),
        ("NaN", 2, 0, False),
        ("sNaN", 2, 0, False),
    ],
)
def test_encode_decimal_refuses(value: str, size: int, decimals: int, signed: bool) -> None:
    with pytest.raises(LocalProtocolError):
        encode_decimal(Decimal(value), size, decimals, signed=signed)


def test_signed_limit_is_inclusive_of_7999() -> None:
    assert encode_decimal(Decimal("7999"), 2, 0, signed=True) == bytes.fromhex("9979")
    assert encode_decimal(Decimal("-7999"), 2, 0, signed=True) == bytes.fromhex("99F9")


@st.composite
def bcd_fields(draw: st.DrawFn) -> tuple[Decimal, int, int, bool]:
    size = draw(st.integers(min_value=1, max_value=8))
    decimals = draw(st.integers(min_value=0, max_value=2 * size))
    signed = draw(st.booleans())
    limit = 8 * 10 ** (2 * size - 1) if signed else 100**size
    magnitude = draw(st.integers(min_value=-(limit - 1) if signed else 0, max_value=limit - 1))
    return Decimal(magnitude).scaleb(-decimals), size, decimals, signed


@given(bcd_fields())
def test_decimal_round_trip(fields: tuple[Decimal, int, int, bool]) -> None:
    value, size, decimals, signed = fields
    raw = encode_decimal(value, size, decimals, signed=signed)
    assert len(raw) == size
    decoded = decode_decimal(raw, decimals, signed=signed)
    assert decoded == value
    assert decoded is not None and decoded.as_tuple().exponent == -decimals


@given(st.integers(min_value=1, max_value=8).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, 100**n - 1))))
def test_int_round_trip(size_value: tuple[int, int]) -> None:
    size, value = size_value
    assert bcd_to_int(int_to_bcd(value, size)) == value


@given(st.binary(max_size=8), st.integers(min_value=0, max_value=16), st.booleans())
def test_decode_random_bytes_raises_only_decode_error(raw: bytes, decimals: int, signed: bool) -> None:
    try:
        value = decode_decimal(raw, decimals, signed=signed)
    except DecodeError:
        return
    assert value is None or value.is_finite()
