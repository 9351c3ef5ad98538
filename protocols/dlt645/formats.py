"""Value formats of DL/T 645 data (数据格式): one :class:`Field` per value, decoded to exact Python values.

DL/T 645-2007 §5 / 附录A write every value as a format string; all fields are packed BCD sent low byte first
(§4.3 "多字节数据先传低位字节"), except bit fields (状态字, 特征字) and ASCII text. The kinds:

=========== ============================================= =====================================================
kind        formats                                        Python value
=========== ============================================= =====================================================
NUMBER      ``XXXXXX.XX``, ``XX.XXXX``, ``X.XXX`` …           exact :class:`~decimal.Decimal`; signed items use
                                                           sign-and-magnitude (D7 of the last byte)
BITS        ``XXXX`` of a status/feature word (状态字)      :class:`~decimal.Decimal` of the little-endian integer
                                                           (shown as hex)
DIGITS      ``NN…NN`` (addresses, operator codes, ratios),  :class:`~decimal.Decimal` of the digit string (shown
            ``MMDDhhmm``, ``DDhh``, ``hhmmNN``, ``MMDDNN``    zero-padded): values without a full date
DATE        ``YYMMDDWW`` (WW: 0 = Sunday, 附录A 04000101)    :class:`datetime.date`; WW is recomputed on encode
TIME        ``hhmmss``                                      :class:`datetime.time`
DATETIME    ``YYMMDDhhmm``, ``YYMMDDhhmmss`` (the wire order  :class:`datetime.datetime` (naive: meters keep local
            of ``mmhhDDMMYY`` / ``ssmmhhDDMMYY``)             time); years are 20YY
TEXT        ``ASCII`` (资产管理编码, 电表型号 …)               :class:`str`; sent low byte first like every other
                                                           field, so the string is reversed on the wire
=========== ============================================= =====================================================

A field whose bytes are all one filler (EE, vendor EF/FF: :func:`~protocols.common.bcd.is_no_value`) decodes to
``None`` ("no value", e.g. a phase the meter does not have); an all-zero date or timestamp does too (event
records that never happened are zero-filled). Encoding ``None`` writes the ``EE`` filler.

Fields are shared: :func:`field_of` caches them, so the catalogue's tens of thousands of items hold a few dozen
field objects, each with its decimals computed once (the benchmark showed re-parsing ``fmt`` per value costing
~15 % of :func:`~protocols.dlt645.apdu.parse_reply`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Protocol, TypeAlias

from protocols.common.bcd import bcd_byte, decode_decimal, encode_decimal, is_no_value, to_bcd_byte
from protocols.errors import DecodeError, LocalProtocolError

#: A decoded value. ``None`` (separately) is the "no value" filler.
Scalar: TypeAlias = Decimal | datetime | date | time | str


class Kind(enum.Enum):
    """How a field's bytes become a value (see the module table)."""

    NUMBER = "number"
    BITS = "bits"
    DIGITS = "digits"
    DATE = "date"
    TIME = "time"
    DATETIME = "datetime"
    TEXT = "text"


_DATETIME_FORMATS = {"YYMMDDhhmm", "YYMMDDhhmmss"}


@dataclass(frozen=True, slots=True)
class Field:
    """One value's layout: the standard's ``fmt``, unit, byte size, sign, kind and decimals.

    ``suffix`` names the value inside a record (数据块 of different items, e.g. a maximum demand and its time):
    the value is called ``<item or part name><suffix>``. Make fields with :func:`field_of`.
    """

    fmt: str
    unit: str
    size: int
    signed: bool
    kind: Kind
    decimals: int
    suffix: str = ""

    def decode(self, raw: bytes) -> Scalar | None:
        """Decode exactly :attr:`size` bytes (33H already removed).

        >>> field_of("XX.XXXX", "kW", signed=True).decode(bytes.fromhex("122580"))
        Decimal('-0.2512')
        >>> field_of("YYMMDDhhmm").decode(bytes.fromhex("3012050124"))
        datetime.datetime(2024, 1, 5, 12, 30)
        """
        kind = self.kind
        if kind is Kind.NUMBER or kind is Kind.DIGITS:
            return decode_decimal(raw, self.decimals, signed=self.signed)
        if kind is Kind.BITS:
            return Decimal(int.from_bytes(raw, "little"))
        if is_no_value(raw):
            return None
        if kind is Kind.TEXT:
            return _decode_text(raw)
        if kind is Kind.TIME:
            hh, mm, ss = _bcd_digits(raw)
            return _checked(time, raw, hh, mm, ss)
        if not any(raw):
            return None  # a zero-filled date: the event has not happened
        if kind is Kind.DATE:
            yy, mo, dd, _weekday = _bcd_digits(raw)
            return _checked(date, raw, 2000 + yy, mo, dd)
        year, month, day, *clock = _bcd_digits(raw)
        return _checked(datetime, raw, 2000 + year, month, day, *clock)

    def encode(self, value: Scalar | None) -> bytes:
        """Inverse of :meth:`decode`; ``None`` becomes the ``EE`` filler.

        >>> field_of("YYMMDDWW").encode(date(2016, 1, 11)).hex()
        '01110116'
        """
        if value is None:
            return b"\xee" * self.size
        kind = self.kind
        if kind is Kind.NUMBER or kind is Kind.DIGITS:
            return encode_decimal(_decimal(value, self), self.size, self.decimals, signed=self.signed)
        if kind is Kind.BITS:
            number = _decimal(value, self)
            if number != number.to_integral_value() or not 0 <= number < 256**self.size:
                raise LocalProtocolError(f"{value!r} is not a {self.size}-byte bit field")
            return int(number).to_bytes(self.size, "little")
        if kind is Kind.TEXT:
            return _encode_text(value, self.size)
        if kind is Kind.TIME:
            if not isinstance(value, time):
                raise LocalProtocolError(f"{value!r} is not a time of day ({self.fmt})")
            return _bcd_bytes(value.hour, value.minute, value.second)
        if kind is Kind.DATE:
            if not isinstance(value, date):
                raise LocalProtocolError(f"{value!r} is not a date ({self.fmt})")
            day = value.date() if isinstance(value, datetime) else value
            return _bcd_bytes(day.year - 2000, day.month, day.day, day.isoweekday() % 7)
        if not isinstance(value, datetime):
            raise LocalProtocolError(f"{value!r} is not a date and time ({self.fmt})")
        parts = [value.year - 2000, value.month, value.day, value.hour, value.minute]
        if self.size == 6:
            parts.append(value.second)
        elif value.second or value.microsecond:
            raise LocalProtocolError(f"{value} has seconds, {self.fmt} does not")
        return _bcd_bytes(*parts)

    def format(self, value: Scalar | None) -> str | None:
        """Render a value as text for ``decode --json``: numbers as they are (``"12.00"``), digit strings
        zero-padded (``"000000000161"``), bit fields as hex (``"0010"``), dates and times in ISO 8601.

        >>> field_of("XXXX", binary=True).format(Decimal(16))
        '0010'
        """
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, date | time):
            return value.isoformat()
        if self.kind is Kind.BITS:
            return f"{int(value):0{2 * self.size}X}"
        if self.kind is Kind.DIGITS:
            return f"{int(value):0{sum(ch != '.' for ch in self.fmt)}d}"
        return str(value)


@cache
def field_of(
    fmt: str,
    unit: str = "",
    *,
    size: int = 0,
    signed: bool = False,
    binary: bool = False,
    text: bool = False,
    suffix: str = "",
) -> Field:
    """The (shared) field for a format string of 附录A.

    ``size`` defaults to two digits per byte; ``binary`` marks a bit field, ``text`` an ASCII field (give its
    ``size``).

    >>> field_of("XXXXXX.XX", "kWh").size, field_of("XXXXXX.XX", "kWh").decimals
    (4, 2)
    """
    digits = sum(ch != "." for ch in fmt)
    if binary:
        kind = Kind.BITS
    elif text:
        kind = Kind.TEXT
    elif fmt == "YYMMDDWW":
        kind = Kind.DATE
    elif fmt == "hhmmss":
        kind = Kind.TIME
    elif fmt in _DATETIME_FORMATS:
        kind = Kind.DATETIME
    elif set(fmt) <= {"X", "."}:
        kind = Kind.NUMBER
    else:
        kind = Kind.DIGITS
    if kind is Kind.TEXT and not size:
        raise LocalProtocolError(f"text field {fmt!r} needs a size")
    _, dot, after = fmt.partition(".")
    return Field(
        fmt=fmt,
        unit=unit,
        size=size or (digits + 1) // 2,
        signed=signed,
        kind=kind,
        decimals=len(after) if dot else 0,
        suffix=suffix,
    )


#: A decoded value with its name and field: what a layout produces.
Named: TypeAlias = tuple[str, Field, Scalar | None]


class Layout(Protocol):
    """A value layout that is not "fixed-size records" — load-profile records (负荷记录, 附录A 表A.7) and
    curves; :mod:`protocols.dlt645.load_profile` has the two the catalogue uses."""

    def decode(self, name: str, raw: bytes) -> list[Named]:
        """Decode the bytes after the DI into named values."""
        ...

    def encode(self, name: str, values: Sequence[Scalar | None]) -> bytes:
        """Encode values in the order :meth:`decode` produces them."""
        ...

    def fields(self, name: str, count: int) -> list[tuple[str, Field]]:
        """Names and fields of the first ``count`` values."""
        ...


def _decimal(value: Scalar, field: Field) -> Decimal:
    if not isinstance(value, Decimal):
        raise LocalProtocolError(f"{value!r} is not a number ({field.fmt})")
    return value


def _bcd_digits(raw: bytes) -> list[int]:
    """Two-digit BCD groups, most significant first (the wire sends the low byte first)."""
    return [bcd_byte(b) for b in reversed(raw)]


def _bcd_bytes(*groups: int) -> bytes:
    """Inverse of :func:`_bcd_digits`."""
    return bytes(to_bcd_byte(g) for g in reversed(groups))


def _checked(make: Callable[..., date | time], raw: bytes, *parts: int) -> date | time:
    try:
        return make(*parts)
    except ValueError as exc:
        raise DecodeError(f"{bytes(raw)[::-1].hex()} is not a valid date or time ({exc})", raw=raw) from exc


def _decode_text(raw: bytes) -> str:
    try:
        text = bytes(raw)[::-1].decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{raw.hex()} is not ASCII text", raw=raw) from exc
    return text.strip("\x00 ")


def _encode_text(value: Scalar, size: int) -> bytes:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{value!r} is not text")
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"{value!r} is not ASCII") from exc
    if len(data) > size:
        raise LocalProtocolError(f"{value!r} is longer than {size} bytes")
    return (data + b"\x00" * (size - len(data)))[::-1]
