"""Hypothesis strategies shared by the DL/T 645 tests."""

from __future__ import annotations

import itertools
import string
from datetime import date, datetime, time
from decimal import Decimal

from hypothesis import strategies as st

from protocols.dlt645.data_items import DATA_ITEMS, DATA_ITEMS_1997, DI_SIZE, DataItem
from protocols.dlt645.formats import Field, Kind, Scalar
from protocols.dlt645.link import MAX_DATA_LENGTH, build_frame
from protocols.dlt645.load_profile import RECORD_FIELDS, Curve, LoadRecords

#: 12 printed digits, optionally with leading wildcard bytes (缩位寻址).
addresses = st.builds(
    lambda digits, wild: "AA" * wild + digits[2 * wild :],
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.integers(min_value=0, max_value=6),
)
#: Real meter addresses: 12 digits, no wildcard.
meter_addresses = st.text(alphabet="0123456789", min_size=12, max_size=12)

frame_fields = st.fixed_dictionaries(
    {
        "address": addresses,
        "control": st.integers(min_value=0, max_value=0xFF),
        "data": st.binary(max_size=255),
        "preamble": st.integers(min_value=0, max_value=4),
    }
)

#: Whole wire frames built by our own builder (which the link tests pin against hand-written bytes).
frames = frame_fields.map(lambda f: build_frame(f["address"], f["control"], f["data"], preamble=f["preamble"]))

#: Bytes with no 68H start byte and no FEH wake-up byte: they can neither hide a frame nor lengthen its preamble.
garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\x68", b"\x00").replace(b"\xfe", b"\x00"))

#: Anything at all, false start bytes included.
noise = st.binary(max_size=80)

#: Datetimes a 2-digit-year field carries (20YY), whole minutes or seconds.
clock_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``stream`` at the (sorted, deduplicated) positions in ``cuts``."""
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


def largest(field: Field) -> Scalar:
    """The largest value a field can hold (signed numbers: the most negative)."""
    match field.kind:
        case Kind.BITS:
            return Decimal(256**field.size - 1)
        case Kind.DATE:
            return date(2099, 12, 31)
        case Kind.TIME:
            return time(23, 59, 59)
        case Kind.DATETIME:
            return datetime(2099, 12, 31, 23, 59, 59 if field.size == 6 else 0)
        case Kind.TEXT:
            return "~" * field.size
    digits = sum(ch != "." for ch in field.fmt)
    if field.signed:
        return -Decimal(8 * 10 ** (digits - 1) - 1).scaleb(-field.decimals)
    return Decimal(10**digits - 1).scaleb(-field.decimals)


def field_values(field: Field) -> st.SearchStrategy[Scalar | None]:
    """Any value the field can carry, or ``None`` (the EE filler; not for bit fields, which have none)."""
    values: st.SearchStrategy[Scalar]
    match field.kind:
        case Kind.BITS:
            return st.integers(min_value=0, max_value=256**field.size - 1).map(Decimal)
        case Kind.DATE:
            values = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
        case Kind.TIME:
            values = st.times().map(lambda t: t.replace(microsecond=0))
        case Kind.DATETIME:
            values = clock_times if field.size == 6 else clock_times.map(lambda d: d.replace(second=0))
        case Kind.TEXT:
            printable = st.text(alphabet=string.ascii_letters + string.digits + "-./ ", max_size=field.size)
            values = printable.map(lambda s: s.strip())
        case _:
            digits = sum(ch != "." for ch in field.fmt)
            limit = 8 * 10 ** (digits - 1) if field.signed else 10**digits
            low = -(limit - 1) if field.signed else 0
            values = st.integers(min_value=low, max_value=limit - 1).map(lambda n: Decimal(n).scaleb(-field.decimals))
    return st.none() | values


def values_for(item: DataItem) -> st.SearchStrategy[Decimal | None]:
    """Any value of a single-number item (kept for the older tests): within its digits and sign, or ``None``."""
    return field_values(item.fields[0]).map(lambda v: v if v is None or isinstance(v, Decimal) else None)


#: Every catalogued item of both editions with a fixed layout, in a stable order.
ALL_ITEMS = sorted(
    [item for item in [*DATA_ITEMS.values(), *DATA_ITEMS_1997.values()] if item.layout is None],
    key=lambda i: (i.edition, i.di),
)
#: The load-profile and curve items.
LAYOUT_ITEMS = sorted([item for item in DATA_ITEMS.values() if item.layout is not None], key=lambda i: i.di)


@st.composite
def record_values(draw: st.DrawFn, fields: tuple[Field, ...]) -> list[Scalar | None]:
    return [draw(field_values(f)) for f in fields]


@st.composite
def layout_values(draw: st.DrawFn, item: DataItem) -> list[Scalar | None]:
    """Values for a load-profile or curve item that fit one frame."""
    room = MAX_DATA_LENGTH - DI_SIZE[item.edition]
    if isinstance(item.layout, LoadRecords):
        fields = tuple(f for _, f in RECORD_FIELDS)
        # A full record is 5 + 17 + 24 + 8 + 16 + 16 + 6 + 6 separators + 8 framing bytes = 106 bytes.
        records = draw(st.integers(min_value=1, max_value=2))
        return [v for _ in range(records) for v in draw(record_values(fields))]
    assert isinstance(item.layout, Curve)
    point = item.layout.point
    points = draw(st.integers(min_value=0, max_value=(room - 5) // point.size))
    start = draw(clock_times.map(lambda d: d.replace(second=0)))
    return [start, *draw(st.lists(field_values(point), min_size=points, max_size=points))]


@st.composite
def item_values(draw: st.DrawFn) -> tuple[DataItem, list[Scalar | None]]:
    """An item and a list of values for it that fits one frame (a block gets 1..len(parts) records)."""
    item = draw(st.sampled_from(ALL_ITEMS))
    count = 1
    if item.repeat:
        room = (MAX_DATA_LENGTH - DI_SIZE[item.edition]) // item.size
        count = draw(st.integers(min_value=1, max_value=min(len(item.parts), room)))
    return item, [v for _ in range(count) for v in draw(record_values(item.fields))]
