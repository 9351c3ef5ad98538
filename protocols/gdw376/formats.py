"""Q/GDW 376.1 附录A 数据格式 (data formats) used by the data units of this slice (PROTOCOLS.md A.10).

Byte 1 is sent first (low byte first); numbers are packed BCD, signed ones sign-and-magnitude with the sign in
D7 of the last byte. A field that is all ``EE`` (vendors: ``EF``/``FF``) means "no value" and decodes to ``None``;
``None`` encodes as ``EE``. Times are naive :class:`~datetime.datetime` in the terminal's local time; years are
20YY. The Tp send time (附录A.16) lives in :class:`protocols.gdw376.link.TimeLabel`.

Layouts of A.1, A.5, A.7, A.9 and A.11 checked against the bit tables in ``xiangruipuzhao/3761``
``qgdw_3761_api.h`` (sMtFmt01_f … sMtFmt11_f: week in D7..D5 of the month byte, 0 = unset, 1..7 = Monday..Sunday;
sign in D7 of the last byte); A.13, A.14, A.15, A.20 and A.25 follow PROTOCOLS.md A.10.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from protocols.common.bcd import bcd_byte, decode_decimal, encode_decimal, is_no_value, to_bcd_byte
from protocols.errors import DecodeError, LocalProtocolError

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
        data = _check_size(raw, self.size, self.name)
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


def _bcd_fields(data: bytes, name: str) -> list[int]:
    try:
        return [bcd_byte(b) for b in data]
    except DecodeError as exc:
        raise DecodeError(str(exc), raw=data, path=name) from exc


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


def decode_a15(raw: Raw) -> datetime | None:
    """附录A.15 年月日时分: mm hh DD MM YY."""
    data = _check_size(raw, 5, "A.15")
    if is_no_value(data):
        return None
    minute, hour, day, month, year = _bcd_fields(data, "A.15")
    return _datetime("A.15", data, year, month, day, hour, minute, 0)


def encode_a15(value: datetime | None) -> bytes:
    """Inverse of :func:`decode_a15`; seconds must be zero (the format has none)."""
    if value is None:
        return b"\xee" * 5
    if value.second or value.microsecond:
        raise LocalProtocolError(f"A.15 has no seconds: {value.isoformat()}")
    return _encode_bcd((value.minute, value.hour, value.day, value.month, _year(value)))


def decode_a20(raw: Raw) -> date | None:
    """附录A.20 年月日: DD MM YY (日冻结类数据时标 Td_d, version dates)."""
    data = _check_size(raw, 3, "A.20")
    if is_no_value(data):
        return None
    day, month, year = _bcd_fields(data, "A.20")
    return _datetime("A.20", data, year, month, day, 0, 0, 0).date()


def encode_a20(value: date | None) -> bytes:
    """Inverse of :func:`decode_a20`."""
    if value is None:
        return b"\xee" * 3
    return _encode_bcd((value.day, value.month, _year(value)))


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
    decode and added (spaces) on encode."""

    size: int

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
        return data.ljust(self.size, b" ")


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
