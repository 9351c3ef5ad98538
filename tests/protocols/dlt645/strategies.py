"""Hypothesis strategies shared by the DL/T 645 tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import strategies as st

from protocols.dlt645.data_items import DATA_ITEMS, DATA_ITEMS_1997, DI_SIZE, DataItem
from protocols.dlt645.link import MAX_DATA_LENGTH, build_frame

#: 12 printed digits, optionally with leading wildcard bytes (缩位寻址).
addresses = st.builds(
    lambda digits, wild: "AA" * wild + digits[2 * wild :],
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.integers(min_value=0, max_value=6),
)

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


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``stream`` at the (sorted, deduplicated) positions in ``cuts``."""
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


def values_for(item: DataItem) -> st.SearchStrategy[Decimal | None]:
    """Any value the item's format can carry: within its digits and sign, or ``None`` (the EE filler)."""
    if item.binary:
        return st.integers(min_value=0, max_value=256**item.size - 1).map(Decimal)
    limit = 8 * 10 ** (2 * item.size - 1) if item.signed else 100**item.size
    low = -(limit - 1) if item.signed else 0
    numbers = st.integers(min_value=low, max_value=limit - 1).map(lambda n: Decimal(n).scaleb(-item.decimals))
    return st.none() | numbers


#: Every catalogued item of both editions, in a stable order.
ALL_ITEMS = sorted([*DATA_ITEMS.values(), *DATA_ITEMS_1997.values()], key=lambda i: (i.edition, i.di))


@st.composite
def item_values(draw: st.DrawFn) -> tuple[DataItem, list[Decimal | None]]:
    """An item and a list of values for it that fits one frame (a block gets 1..len(parts) values)."""
    item = draw(st.sampled_from(ALL_ITEMS))
    count = 1
    if item.repeat:
        room = (MAX_DATA_LENGTH - DI_SIZE[item.edition]) // item.size
        count = draw(st.integers(min_value=1, max_value=min(len(item.parts), room)))
    return item, draw(st.lists(values_for(item), min_size=count, max_size=count))
