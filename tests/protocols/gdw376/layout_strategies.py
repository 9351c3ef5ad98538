"""Hypothesis strategies that generate valid values for any declarative layout (so every Fn added with a
layout is round-trip tested without writing a strategy by hand)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from protocols.gdw376.formats import (
    A3Amount,
    AsciiFormat,
    BinFormat,
    BitCodes,
    BitFields,
    BitSet,
    CodedFormat,
    DayHour,
    DayHourMinute,
    DayTime,
    DecimalFormat,
    FloatCoefficient,
    HourMinute,
    MonthDayTime,
    RawFormat,
    UnitId,
    YearMonth,
)
from protocols.gdw376.layout import Count, Field, Format, Layout, Octets, Record, Repeat
from protocols.gdw376.units.afn10 import BAUD_RATES, FrameTimeout, SerialSettings

_DATETIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59))
_LEAP_DATETIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2000, 12, 31, 23, 59, 59))


def decimal_values(fmt: DecimalFormat) -> st.SearchStrategy[Decimal | None]:
    digits = 2 * fmt.size - (1 if fmt.signed else 0)
    top = 10**digits - 1
    if fmt.signed:
        top = 8 * 10 ** (2 * fmt.size - 1) - 1
    ints = st.integers(-top if fmt.signed else 0, top)
    return st.none() | ints.map(lambda n: Decimal(n).scaleb(-fmt.decimals))


def format_values(fmt: Format) -> st.SearchStrategy[Any]:
    if isinstance(fmt, DecimalFormat):
        return decimal_values(fmt)
    if isinstance(fmt, BinFormat):
        return st.integers(0, (1 << (8 * fmt.size)) - 1)
    if isinstance(fmt, AsciiFormat):
        return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=fmt.size)
    if isinstance(fmt, RawFormat):
        return st.binary(min_size=fmt.size, max_size=fmt.size)
    if isinstance(fmt, BitFields):
        return st.builds(
            lambda *values: Record(list(zip((f[0] for f in fmt.fields), values, strict=True))),
            *(st.integers(0, (1 << width) - 1) for _, _, width in fmt.fields),
        )
    if isinstance(fmt, BitCodes):
        return st.tuples(*(st.integers(0, (1 << fmt.width) - 1) for _ in range(fmt.count)))
    if isinstance(fmt, BitSet):
        numbers = st.integers(fmt.first, fmt.first + 8 * fmt.size - 1)
        return st.frozensets(numbers).map(lambda s: tuple(sorted(s)))
    if isinstance(fmt, CodedFormat):
        custom = CODED.get(fmt.name)
        if custom is None:
            raise NotImplementedError(f"add a strategy for {fmt.name} to CODED")
        return custom
    raise NotImplementedError(f"no strategy for {fmt!r}")


def _one_group(first: int, groups: int) -> st.SearchStrategy[tuple[int, ...]]:
    """Non-empty sets of 1-based numbers inside one group of 8 (what one DA or DT can name)."""
    return st.tuples(st.integers(0, groups - 1), st.frozensets(st.integers(0, 7), min_size=1)).map(
        lambda gb: tuple(sorted(first + 8 * gb[0] + b for b in gb[1]))
    )


def _unit_points() -> st.SearchStrategy[tuple[int, ...]]:
    return st.just((0,)) | _one_group(1, 255)


def _unit_fns() -> st.SearchStrategy[tuple[int, ...]]:
    return _one_group(1, 31)


#: strategies for CodedFormat instances, by format name; a format module adding one registers it here
CODED: dict[str, st.SearchStrategy[Any]] = {
    "A.1": st.none() | _DATETIMES.map(lambda d: d.replace(microsecond=0)),
    "A.15": st.none() | _DATETIMES.map(lambda d: d.replace(second=0, microsecond=0)),
    "A.20": st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    # 附录A.2: ±999 × 10^-3 … 10^4
    "A.2": st.none() | st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(-999, 999), st.integers(-3, 4)),
    "A.3": st.none() | st.builds(A3Amount, st.integers(-9_999_999, 9_999_999).map(Decimal), st.integers(0, 1)),
    "A.4": st.none() | st.builds(FloatCoefficient, st.integers(0, 79), st.booleans()),
    "A.12": st.none() | st.text("0123456789", min_size=12, max_size=12),
    "A.16": st.none() | _DATETIMES.map(lambda d: DayTime(d.day, d.hour, d.minute, d.second)),
    # month and day from a leap year, so 29 February is generated too
    "A.17": st.none() | _LEAP_DATETIMES.map(lambda d: MonthDayTime(d.month, d.day, d.hour, d.minute)),
    "A.18": st.none() | _DATETIMES.map(lambda d: DayHourMinute(d.day, d.hour, d.minute)),
    "A.19": st.none() | _DATETIMES.map(lambda d: HourMinute(d.hour, d.minute)),
    "A.21": st.none() | _DATETIMES.map(lambda d: YearMonth(d.year, d.month)),
    "A.24": st.none() | _DATETIMES.map(lambda d: DayHour(d.day, d.hour)),
    "IPv4": st.ip_addresses(v=4).map(str),
    "DADT": st.builds(UnitId, _unit_points(), _unit_fns()),
    # AFN10 (units/afn10.py): 透明转发通信控制字, 接收等待报文超时时间, a DL/T 645 DI
    "透明转发通信控制字": st.builds(
        SerialSettings,
        st.sampled_from(BAUD_RATES),
        st.integers(5, 8),
        st.sampled_from(("none", "even", "odd")),
        st.integers(1, 2),
    ),
    "接收等待报文超时时间": st.builds(FrameTimeout, st.integers(0, 0x7F), st.booleans()),
    "DI": st.text("0123456789ABCDEF", min_size=8, max_size=8),
    # ERC37/38 (units/erc.py): a DL/T 645 time YYMMDDhhmmss (A.1 without the week)
    "YYMMDDhhmmss": st.none() | _DATETIMES.map(lambda d: d.replace(microsecond=0)),
}


@st.composite
def records(draw: st.DrawFn, layout: Layout, max_items: int = 6) -> Record:
    out: list[tuple[str, Any]] = []
    counts: dict[str, int] = {}
    repeats = {e.count: e for e in layout if isinstance(e, Repeat | Octets) and isinstance(e.count, str)}
    for element in layout:
        if isinstance(element, Field):
            out.append((element.name, draw(format_values(element.fmt))))
        elif isinstance(element, Count):
            rep = repeats.get(element.name)
            low = max(0, -rep.offset) if rep else 0
            if element.bitmap:  # a bit string announcing one item per 1 bit
                width = 8 * element.size
                ones = draw(st.integers(min(low, width), min(low + max_items, width)))
                bits = draw(st.lists(st.integers(0, width - 1), min_size=ones, max_size=ones, unique=True))
                number = sum(1 << bit for bit in bits)
            else:
                number = draw(st.integers(low, low + max_items))
                if element.mask:  # flags in the bits the count does not use
                    number |= draw(st.integers(0, (1 << (8 * element.size)) - 1)) & ~element.mask
            counts[element.name] = element.items(number)
            out.append((element.name, number))
        elif isinstance(element, Octets):
            n = (element.count if isinstance(element.count, int) else counts[element.count]) + element.offset
            out.append((element.name, draw(st.binary(min_size=n, max_size=n))))
        else:
            n = (element.count if isinstance(element.count, int) else counts[element.count]) + element.offset
            if len(element.fields) == 1 and isinstance(element.fields[0], Field):
                fmt = element.fields[0].fmt
                out.append((element.name, tuple(draw(format_values(fmt)) for _ in range(n))))
            else:
                out.append((element.name, tuple(draw(records(element.fields, max_items)) for _ in range(n))))
    return Record(out)
