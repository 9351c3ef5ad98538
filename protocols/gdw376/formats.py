"""Q/GDW 376.1 附录A 数据格式 (data formats) A.1 … A.28 (PROTOCOLS.md A.10).

Byte 1 is sent first (low byte first); numbers are packed BCD, signed ones sign-and-magnitude with the sign in
D7 of the last byte. A field that is all ``EE`` (vendors: ``EF``/``FF``) means "no value" and decodes to ``None``;
``None`` encodes as ``EE``. Times are naive :class:`~datetime.datetime` in the terminal's local time; years are
20YY. The Tp send time (附录A.16) lives in :class:`protocols.gdw376.link.TimeLabel`.

Layouts of A.1, A.5, A.7, A.9 and A.11 checked against the bit tables in ``xiangruipuzhao/3761``
``qgdw_3761_api.h`` (sMtFmt01_f … sMtFmt11_f: week in D7..D5 of the month byte, 0 = unset, 1..7 = Monday..Sunday;
sign in D7 of the last byte); A.13, A.14, A.15, A.20 and A.25 follow PROTOCOLS.md A.10.

A.2, A.3, A.4, A.12, A.16–A.19, A.21, A.26 and A.27 checked against the same header (数据格式02 … 数据格式27 there
are numbered one below the appendix tables they cite, "数据格式02 对于表A.3"; its A.2 exponent table has a typo
in two rows, so the exponent rule 10^(4−G) is taken from the vendor decoder below) and against a second public
decoder, ``cil_fk.cpp`` by dinglinhui (``plms_fmt_appl_02`` … ``plms_fmt_appl_27``: A.2 G = D7..D5 of B2 with
10^4 … 10^-3 for G = 0 … 7 and the sign in D4; A.3 G = D6, S = D4 of B4, G=1 meaning ×1000; A.4 S0 = D7;
A.24 = hh DD, 2 bytes, listed there as a DL/T 698.41 "增补" format; A.26 = 2 bytes X.XXX; A.27 = 4 bytes
XXXXXXXX). A.24 (hh DD), A.26, A.27 and A.28 also match a public C# 376.1 decoder (methods ``gd24`` … ``gd28``,
found by code search): its ``gd28`` reads 3 bytes as XXXX.XX (B1 = tenths|hundredths, B2 = tens|units,
B3 = thousands|hundreds), and a vendor terminal header lists 电压合格率/电压超限率 (%) as "数据格式28", 3 bytes.
No table of A.28 from the standard itself was seen.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from protocols.common.bcd import (
    BCD_VALUES,
    NO_VALUE_FILLERS,
    NOT_BCD,
    bcd_byte,
    decode_decimal,
    encode_decimal,
    is_no_value,
    to_bcd_byte,
)
from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.da_dt import decode_da, decode_dt, encode_da, encode_dt
from protocols.gdw376.layout import Record

Raw = bytes | bytearray | memoryview


def _check_size(raw: Raw, size: int, name: str) -> bytes:
    data = bytes(raw)
    if len(data) != size:
        raise DecodeError(f"needs {size} bytes, got {len(data)}", raw=data, path=name)
    return data


@dataclass(frozen=True, slots=True)
class DecimalFormat:
    """A BCD number format of 附录A: ``size`` bytes, ``decimals`` digits after the point, optional sign."""

    name: str
    size: int
    decimals: int
    signed: bool = False
    unit: str = ""

    def decode(self, raw: Raw) -> Decimal | None:
        data = raw if type(raw) is bytes and len(raw) == self.size else _check_size(raw, self.size, self.name)
        try:
            return decode_decimal(data, self.decimals, signed=self.signed)
        except DecodeError as exc:
            raise DecodeError(str(exc), raw=data, path=self.name) from exc

    def encode(self, value: Decimal | None) -> bytes:
        return encode_decimal(value, self.size, self.decimals, signed=self.signed)


#: 附录A.5 ±XXX.X (power factor 功率因数 %, unbalance).
A5 = DecimalFormat("A.5", 2, 1, signed=True, unit="%")
#: 附录A.6 ±XX.XX (current limits 电流 A, some percentages).
A6 = DecimalFormat("A.6", 2, 2, signed=True)
#: 附录A.7 XXX.X (voltage 电压 V).
A7 = DecimalFormat("A.7", 2, 1, unit="V")
#: 附录A.8 XXXX (counts, durations in minutes).
A8 = DecimalFormat("A.8", 2, 0)
#: 附录A.9 ±XX.XXXX (active/reactive/apparent power 功率 kW, kvar, kVA).
A9 = DecimalFormat("A.9", 3, 4, signed=True, unit="kW")
#: 附录A.10 XXXXXX (counts 次数, durations).
A10 = DecimalFormat("A.10", 3, 0)
#: 附录A.11 XXXXXX.XX (reactive energy indication 无功电能示值 kvarh; energy amounts in some Fn).
A11 = DecimalFormat("A.11", 4, 2, unit="kvarh")
#: 附录A.13 XXXX.XXXX (energy amount 电能量 kWh).
A13 = DecimalFormat("A.13", 4, 4, unit="kWh")
#: 附录A.14 XXXXXX.XXXX (active energy indication 有功电能示值 kWh).
A14 = DecimalFormat("A.14", 5, 4, unit="kWh")
#: 附录A.22 X.X (1 byte).
A22 = DecimalFormat("A.22", 1, 1)
#: 附录A.23 XX.XXXX (demand 需量 kW).
A23 = DecimalFormat("A.23", 3, 4, unit="kW")
#: 附录A.25 ±XXX.XXX (current 电流 A).
A25 = DecimalFormat("A.25", 3, 3, signed=True, unit="A")
#: 附录A.26 X.XXX (2 bytes; factors 系数, e.g. power-factor thresholds).
A26 = DecimalFormat("A.26", 2, 3)
#: 附录A.27 XXXXXXXX (4 bytes; large counts, durations).
A27 = DecimalFormat("A.27", 4, 0)
#: 附录A.28 XXXX.XX (3 bytes; rates in %, e.g. 电压合格率); see the module docstring for its sources.
A28 = DecimalFormat("A.28", 3, 2, unit="%")


def _bcd_fields(data: bytes, name: str) -> list[int]:
    try:
        return [bcd_byte(b) for b in data]
    except DecodeError as exc:
        raise DecodeError(str(exc), raw=data, path=name) from exc


def _bcd_digits(data: bytes, name: str) -> str:
    """The decimal digits of little-endian BCD ``data``, most significant first."""
    digits = data[::-1].hex()
    if not digits.isdigit():
        _bcd_fields(data, name)  # raises naming the byte that is not BCD
    return digits


def _datetime(name: str, data: bytes, year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    try:
        return datetime(2000 + year, month, day, hour, minute, second)
    except ValueError as exc:
        raise DecodeError(f"invalid date/time: {exc}", raw=data, path=name) from exc


def _year(value: date) -> int:
    if not 2000 <= value.year <= 2099:
        raise LocalProtocolError(f"year {value.year} outside 2000..2099 (two-digit BCD year)")
    return value.year - 2000


def _encode_bcd(values: tuple[int, ...]) -> bytes:
    return bytes(to_bcd_byte(v) for v in values)


def decode_a1(raw: Raw) -> datetime | None:
    """附录A.1 年月日星期时分秒: ss mm hh DD [星期 D7..D5 | month D4..D0] YY; the week is not checked."""
    data = _check_size(raw, 6, "A.1")
    if is_no_value(data):
        return None
    second, minute, hour, day, month, year = _bcd_fields(data[:4] + bytes((data[4] & 0x1F, data[5])), "A.1")
    return _datetime("A.1", data, year, month, day, hour, minute, second)


def encode_a1(value: datetime | None, *, week: bool = True) -> bytes:
    """Inverse of :func:`decode_a1`; the week (1 = Monday … 7 = Sunday) is written unless ``week=False`` (0).
    A.1 has whole seconds: a sub-second part is dropped (clocks are read with ``datetime.now()``)."""
    if value is None:
        return b"\xee" * 6
    out = bytearray(_encode_bcd((value.second, value.minute, value.hour, value.day, value.month, _year(value))))
    if week:
        out[4] |= value.isoweekday() << 5
    return bytes(out)


def _bcd_values(raw: Raw, size: int, name: str) -> bytes | None:
    """The BCD values of a date/time field of ``size`` bytes (one ``translate``), or None for a "no value"
    filler. Raises :class:`DecodeError` for a wrong size or a byte that is not BCD (path ``name``)."""
    data = raw if type(raw) is bytes and len(raw) == size else _check_size(raw, size, name)
    first = data[0]
    if first in NO_VALUE_FILLERS and data.count(first) == size:
        return None
    values = data.translate(BCD_VALUES)
    if NOT_BCD in values:
        _bcd_fields(data, name)  # raises naming the byte that is not BCD
    return values


def decode_a15(raw: Raw) -> datetime | None:
    """附录A.15 年月日时分: mm hh DD MM YY."""
    values = _bcd_values(raw, 5, "A.15")
    if values is None:
        return None
    minute, hour, day, month, year = values
    try:
        return datetime(2000 + year, month, day, hour, minute)
    except ValueError:
        return _datetime("A.15", bytes(raw), year, month, day, hour, minute, 0)  # raises the DecodeError


def encode_a15(value: datetime | None) -> bytes:
    """Inverse of :func:`decode_a15`; seconds must be zero (the format has none)."""
    if value is None:
        return b"\xee" * 5
    if value.second or value.microsecond:
        raise LocalProtocolError(f"A.15 has no seconds: {value.isoformat()}")
    # a datetime's minute, hour, day and month are 0..59, 0..23, 1..31, 1..12: two digits each, as BCD bytes
    return bytes.fromhex(f"{value.minute:02d}{value.hour:02d}{value.day:02d}{value.month:02d}{_year(value):02d}")


def decode_a20(raw: Raw) -> date | None:
    """附录A.20 年月日: DD MM YY (日冻结类数据时标 Td_d, version dates)."""
    values = _bcd_values(raw, 3, "A.20")
    if values is None:
        return None
    day, month, year = values
    try:
        return date(2000 + year, month, day)
    except ValueError:
        return _datetime("A.20", bytes(raw), year, month, day, 0, 0, 0).date()  # raises the DecodeError


def encode_a20(value: date | None) -> bytes:
    """Inverse of :func:`decode_a20`."""
    if value is None:
        return b"\xee" * 3
    return bytes.fromhex(f"{value.day:02d}{value.month:02d}{_year(value):02d}")


# --- format objects for declarative layouts (protocols.gdw376.layout.Format) -------------------------------------


@dataclass(frozen=True, slots=True)
class CodedFormat:
    """A format given by a decode/encode pair (dates and times)."""

    name: str
    size: int
    decode_fn: Callable[[Raw], Any]
    encode_fn: Callable[[Any], bytes]

    def decode(self, raw: Raw) -> Any:
        return self.decode_fn(raw)

    def encode(self, value: Any) -> bytes:
        return self.encode_fn(value)


@dataclass(frozen=True, slots=True)
class BinFormat:
    """BIN: an unsigned little-endian binary integer of ``size`` bytes (§5 "BIN" fields: counts, ports, ids)."""

    size: int

    @property
    def name(self) -> str:
        return f"BIN{self.size}"

    def decode(self, raw: Raw) -> int:
        return int.from_bytes(_check_size(raw, self.size, self.name), "little")

    def encode(self, value: int) -> bytes:
        if not 0 <= value < 1 << (8 * self.size):
            raise LocalProtocolError(f"{value} does not fit {self.name}")
        return value.to_bytes(self.size, "little")


@dataclass(frozen=True, slots=True)
class AsciiFormat:
    """ASCII text of fixed ``size`` (AFN09 F1 vendor code, versions); trailing NUL/space padding is dropped on
    decode and ``pad`` (space by default; NUL for AFN04 F3 APN and F16 VPN names, as terminals send them) is added
    on encode."""

    size: int
    pad: bytes = b" "

    @property
    def name(self) -> str:
        return f"ASCII{self.size}"

    def decode(self, raw: Raw) -> str:
        data = _check_size(raw, self.size, self.name)
        try:
            return data.rstrip(b"\x00 ").decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not ASCII: {data.hex(' ')}", raw=data, path=self.name) from exc

    def encode(self, value: str) -> bytes:
        data = value.encode("ascii")
        if len(data) > self.size:
            raise LocalProtocolError(f"{value!r} is longer than {self.size}")
        return data.ljust(self.size, self.pad)


@dataclass(frozen=True, slots=True)
class RawFormat:
    """Bytes kept as they are (bit strings, reserved fields, passwords)."""

    size: int

    @property
    def name(self) -> str:
        return f"BS{self.size * 8}"

    def decode(self, raw: Raw) -> bytes:
        return _check_size(raw, self.size, self.name)

    def encode(self, value: bytes) -> bytes:
        if len(value) != self.size:
            raise LocalProtocolError(f"{self.name} needs {self.size} bytes, got {len(value)}")
        return bytes(value)


A1 = CodedFormat("A.1", 6, decode_a1, encode_a1)
A15 = CodedFormat("A.15", 5, decode_a15, encode_a15)
A20 = CodedFormat("A.20", 3, decode_a20, encode_a20)
BIN1, BIN2, BIN4 = BinFormat(1), BinFormat(2), BinFormat(4)


# --- A.2 ±XXX × 10^k ---------------------------------------------------------------------------------------------

_A2_MAX = 999


def decode_a2(raw: Raw) -> Decimal | None:
    """附录A.2 ±XXX×10^k (功率定值 power set-points, kW): B1 = tens|units, B2 = G3 G2 G1 (D7..D5) | S (D4) |
    hundreds (D3..D0); the exponent is 4 − G (G = 000 → 10^4 … 111 → 10^-3)."""
    data = _check_size(raw, 2, "A.2")
    if is_no_value(data):
        return None
    tens_units, hundreds = _bcd_fields(bytes((data[0], data[1] & 0x0F)), "A.2")
    magnitude = Decimal(hundreds * 100 + tens_units).scaleb(4 - (data[1] >> 5))
    return -magnitude if data[1] & 0x10 else magnitude


def encode_a2(value: Decimal | None) -> bytes:
    """Inverse of :func:`decode_a2`: the smallest exponent 10^-3 … 10^4 whose mantissa is a whole 0..999
    (so no precision is lost); a value no exponent can hold exactly is an error, not rounded."""
    if value is None:
        return b"\xee" * 2
    if not value.is_finite():
        raise LocalProtocolError(f"A.2 cannot hold {value}")
    for exponent in range(-3, 5):
        mantissa = abs(value).scaleb(-exponent)
        if mantissa == mantissa.to_integral_value() and mantissa <= _A2_MAX:
            n = int(mantissa)
            b2 = (4 - exponent) << 5 | (0x10 if value < 0 else 0) | n // 100
            return bytes((to_bcd_byte(n % 100), b2))
    raise LocalProtocolError(f"A.2 cannot hold {value} exactly (±999 × 10^-3 … 10^4)")


# --- A.3 ±XXXXXXX with unit flag G ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class A3Amount:
    """附录A.3 ±XXXXXXX (电能量定值 kWh/MWh, 金额 厘/元): the 7-digit signed integer as sent and its unit flag
    ``g`` (0 = kWh or 厘, 1 = MWh or 元 — which pair depends on the Fn). :attr:`base` is the value in the small
    unit (kWh or 厘)."""

    value: Decimal
    g: int = 0

    @property
    def base(self) -> Decimal:
        return self.value * 1000 if self.g else self.value


_A3_LIMIT = 10**7


def decode_a3(raw: Raw) -> A3Amount | None:
    """附录A.3: B1..B3 = digits 1..6 (low first), B4 = 0 | G (D6) | 0 | S (D4) | millions (D3..D0)."""
    data = _check_size(raw, 4, "A.3")
    if is_no_value(data):
        return None
    if data[3] & 0xA0:
        raise DecodeError(f"A.3 reserved bits D7/D5 set in {data[3]:02X}H", raw=data, path="A.3")
    magnitude = Decimal(int(_bcd_digits(data[:3] + bytes((data[3] & 0x0F,)), "A.3")))
    return A3Amount(-magnitude if data[3] & 0x10 else magnitude, (data[3] >> 6) & 1)


def encode_a3(value: A3Amount | None) -> bytes:
    """Inverse of :func:`decode_a3`."""
    if value is None:
        return b"\xee" * 4
    if value.g not in (0, 1):
        raise LocalProtocolError(f"A.3 G is 0 or 1, got {value.g}")
    if value.value != value.value.to_integral_value() or abs(value.value) >= _A3_LIMIT:
        raise LocalProtocolError(f"A.3 holds a whole ±9999999, got {value.value}")
    out = bytearray(encode_decimal(abs(value.value), 4, 0))
    out[3] |= value.g << 6 | (0x10 if value.value < 0 else 0)
    return bytes(out)


# --- A.4 float coefficient ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FloatCoefficient:
    """附录A.4 浮动系数 (%): S0 = 0 上浮 (up), 1 下浮 (down); ``percent`` 0..79."""

    percent: int
    down: bool = False

    @property
    def signed(self) -> int:
        """The coefficient as a signed percentage (down = negative)."""
        return -self.percent if self.down else self.percent


def decode_a4(raw: Raw) -> FloatCoefficient | None:
    """附录A.4: D7 = S0, D6..D4 = tens (0..7), D3..D0 = units."""
    data = _check_size(raw, 1, "A.4")
    if is_no_value(data):
        return None
    (percent,) = _bcd_fields(bytes((data[0] & 0x7F,)), "A.4")
    return FloatCoefficient(percent, bool(data[0] & 0x80))


def encode_a4(value: FloatCoefficient | None) -> bytes:
    """Inverse of :func:`decode_a4`."""
    if value is None:
        return b"\xee"
    if not 0 <= value.percent <= 79:
        raise LocalProtocolError(f"A.4 holds 0..79 %, got {value.percent}")
    return bytes((to_bcd_byte(value.percent) | (0x80 if value.down else 0),))


# --- A.12 address -------------------------------------------------------------------------------------------------


def decode_a12(raw: Raw) -> str | None:
    """附录A.12 12-digit BCD number (通信地址 meter/collector addresses), low byte first on the wire; returned as
    the 12 digits most significant first, as printed on the nameplate (``01 00 00 00 00 00`` → "000000000001")."""
    data = _check_size(raw, 6, "A.12")
    if is_no_value(data):
        return None
    return _bcd_digits(data, "A.12")


def encode_a12(value: str | None) -> bytes:
    """Inverse of :func:`decode_a12`; up to 12 digits, zero-filled on the left."""
    if value is None:
        return b"\xee" * 6
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise LocalProtocolError(f"A.12 holds up to 12 decimal digits, got {value!r}")
    return bytes.fromhex(value.zfill(12))[::-1]


# --- partial times A.16 A.17 A.18 A.19 A.21 A.24 --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayTime:
    """附录A.16 日时分秒 (ss mm hh DD)."""

    day: int
    hour: int
    minute: int
    second: int


@dataclass(frozen=True, slots=True)
class MonthDayTime:
    """附录A.17 月日时分 (mm hh DD MM), e.g. 最大需量发生时间."""

    month: int
    day: int
    hour: int
    minute: int


@dataclass(frozen=True, slots=True)
class DayHourMinute:
    """附录A.18 日时分 (mm hh DD)."""

    day: int
    hour: int
    minute: int


@dataclass(frozen=True, slots=True)
class HourMinute:
    """附录A.19 时分 (mm hh)."""

    hour: int
    minute: int


@dataclass(frozen=True, slots=True)
class YearMonth:
    """附录A.21 年月 (MM YY; 月冻结类数据时标 Td_m); ``year`` is 20YY."""

    year: int
    month: int


@dataclass(frozen=True, slots=True)
class DayHour:
    """附录A.24 日时 (hh DD)."""

    day: int
    hour: int


_RANGES = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}
PartialTime = DayTime | MonthDayTime | DayHourMinute | HourMinute | YearMonth | DayHour


def _check_partial(value: PartialTime) -> str | None:
    """The first field of ``value`` out of range (day checked against its month, February having 29), or None."""
    for f in fields(value):
        v = getattr(value, f.name)
        low, high = (2000, 2099) if f.name == "year" else _RANGES[f.name]
        if not low <= v <= high:
            return f"{f.name} {v} outside {low}..{high}"
    month, day = getattr(value, "month", None), getattr(value, "day", None)
    if month is not None and day is not None and day > calendar.monthrange(2000, month)[1]:
        return f"day {day} is not in month {month}"
    return None


def _partial_time(name: str, cls: type[PartialTime], wire: tuple[str, ...]) -> CodedFormat:
    """A format of BCD bytes, one field each in ``wire`` order (low byte first), decoding to ``cls``."""
    size = len(wire)

    def decode(raw: Raw) -> PartialTime | None:
        data = _check_size(raw, size, name)
        if is_no_value(data):
            return None
        values = dict(zip(wire, _bcd_fields(data, name), strict=True))
        if "year" in values:
            values["year"] += 2000
        value = cls(**values)
        problem = _check_partial(value)
        if problem:
            raise DecodeError(f"invalid {name}: {problem}", raw=data, path=name)
        return value

    def encode(value: PartialTime | None) -> bytes:
        if value is None:
            return b"\xee" * size
        if not isinstance(value, cls):
            raise LocalProtocolError(f"{name} needs a {cls.__name__}, got {value!r}")
        problem = _check_partial(value)
        if problem:
            raise LocalProtocolError(f"invalid {name}: {problem}")
        return _encode_bcd(tuple(getattr(value, f) - (2000 if f == "year" else 0) for f in wire))

    return CodedFormat(name, size, decode, encode)


A2 = CodedFormat("A.2", 2, decode_a2, encode_a2)
A3 = CodedFormat("A.3", 4, decode_a3, encode_a3)
A4 = CodedFormat("A.4", 1, decode_a4, encode_a4)
A12 = CodedFormat("A.12", 6, decode_a12, encode_a12)
A16 = _partial_time("A.16", DayTime, ("second", "minute", "hour", "day"))
A17 = _partial_time("A.17", MonthDayTime, ("minute", "hour", "day", "month"))
A18 = _partial_time("A.18", DayHourMinute, ("minute", "hour", "day"))
A19 = _partial_time("A.19", HourMinute, ("minute", "hour"))
A21 = _partial_time("A.21", YearMonth, ("month", "year"))
A24 = _partial_time("A.24", DayHour, ("hour", "day"))


# --- bit strings (BS8, BS16 …), IP addresses, data-unit identifiers (§5 "BS", "BIN" fields of the Fn tables) ------


def _bits_name(size: int) -> str:
    return f"BS{8 * size}"


@dataclass(frozen=True, slots=True)
class BitFields:
    """A bit string (BS8/BS16) of named unsigned fields ``(name, low bit, width)``, D0 of byte 1 = bit 0; decodes to a
    :class:`~protocols.gdw376.layout.Record` of ints in the order given. Bits no field names are 备用 (reserved):
    a set one is a :class:`DecodeError`, not silently dropped (e.g. AFN04 F10 通信速率及端口号 = port D4..D0,
    baud code D7..D5)."""

    size: int
    fields: tuple[tuple[str, int, int], ...]

    @property
    def name(self) -> str:
        return _bits_name(self.size)

    @property
    def reserved(self) -> int:
        """The mask of bits no field covers."""
        used = 0
        for _, low, width in self.fields:
            used |= ((1 << width) - 1) << low
        return ((1 << (8 * self.size)) - 1) & ~used

    def decode(self, raw: Raw) -> Record:
        data = _check_size(raw, self.size, self.name)
        value = int.from_bytes(data, "little")
        if value & self.reserved:
            raise DecodeError(f"reserved bits set: {data.hex(' ').upper()}", raw=data, path=self.name)
        return Record([(name, value >> low & ((1 << width) - 1)) for name, low, width in self.fields])

    def encode(self, value: Mapping[str, int]) -> bytes:
        names = [name for name, _, _ in self.fields]
        if set(value) != set(names):
            raise LocalProtocolError(f"{self.name} needs the fields {names}, got {sorted(value)}")
        out = 0
        for name, low, width in self.fields:
            v = value[name]
            if not 0 <= v < 1 << width:
                raise LocalProtocolError(f"{self.name} field {name}={v} does not fit {width} bit(s)")
            out |= v << low
        return out.to_bytes(self.size, "little")


@dataclass(frozen=True, slots=True)
class BitSet:
    """A bit string read as the numbers whose bit is 1, ascending: bit i (D0 of byte 1 = bit 0) stands for
    ``first + i`` (AFN04 F9 事件记录有效标志位 bit 0 = ERC1; F23/F57 D0..D23 = hours 0..23; AFN05 F9 时段 1..8)."""

    size: int
    first: int = 1

    @property
    def name(self) -> str:
        return _bits_name(self.size)

    def decode(self, raw: Raw) -> tuple[int, ...]:
        value = int.from_bytes(_check_size(raw, self.size, self.name), "little")
        return tuple(self.first + i for i in range(8 * self.size) if value >> i & 1)

    def encode(self, value: Iterable[int]) -> bytes:
        out = 0
        for number in value:
            bit = number - self.first
            if not 0 <= bit < 8 * self.size:
                raise LocalProtocolError(f"{number} is outside {self.first}..{self.first + 8 * self.size - 1}")
            out |= 1 << bit
        return out.to_bytes(self.size, "little")


@dataclass(frozen=True, slots=True)
class BitCodes:
    """A bit string of equal ``width``-bit codes, D0 side first (AFN04 F18 终端功控时段: 12 bytes = 48 half hours ×
    2 bits, 00 不控制 01 控制1 10 控制2); decodes to the tuple of codes."""

    size: int
    width: int = 2

    @property
    def name(self) -> str:
        return _bits_name(self.size)

    @property
    def count(self) -> int:
        return 8 * self.size // self.width

    def decode(self, raw: Raw) -> tuple[int, ...]:
        value = int.from_bytes(_check_size(raw, self.size, self.name), "little")
        mask = (1 << self.width) - 1
        return tuple(value >> (i * self.width) & mask for i in range(self.count))

    def encode(self, value: Iterable[int]) -> bytes:
        codes = tuple(value)
        if len(codes) != self.count or not all(0 <= c < 1 << self.width for c in codes):
            raise LocalProtocolError(f"{self.name} needs {self.count} codes of {self.width} bits, got {codes!r}")
        return sum(c << (i * self.width) for i, c in enumerate(codes)).to_bytes(self.size, "little")


def decode_ipv4(raw: Raw) -> str:
    """IP 地址 (AFN04 F3/F7): 4 bytes in the order written ("192.168.0.1" is ``C0 A8 00 01``)."""
    return ".".join(str(b) for b in _check_size(raw, 4, "IPv4"))


def encode_ipv4(value: str) -> bytes:
    parts = value.split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts):
        raise LocalProtocolError(f"not a dotted IPv4 address: {value!r}")
    return bytes(int(p) for p in parts)


@dataclass(frozen=True, slots=True)
class UnitId:
    """A 数据单元标识 DA DT carried as data (AFN04 F65/F66 定时上报任务的数据单元标识): its points and Fn."""

    pns: tuple[int, ...]
    fns: tuple[int, ...]


def decode_unit_id(raw: Raw) -> UnitId:
    """DA (2) DT (2), §5.1.1.2/§5.1.1.3 (see :mod:`protocols.gdw376.da_dt`)."""
    data = _check_size(raw, 4, "DADT")
    return UnitId(tuple(decode_da(data[:2])), tuple(decode_dt(data[2:])))


def encode_unit_id(value: UnitId) -> bytes:
    return encode_da(value.pns) + encode_dt(value.fns)


IPV4 = CodedFormat("IPv4", 4, decode_ipv4, encode_ipv4)
DADT = CodedFormat("DADT", 4, decode_unit_id, encode_unit_id)
