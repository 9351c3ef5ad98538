"""The DL/T 645-1997 ↔ 2007 mapping (protocols/dlt645/mapping.py) and its copy in docs/dlt645.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import DATA_ITEMS_1997, lookup
from protocols.dlt645.mapping import MAPPINGS, markdown_table, to_1997, to_2007

DOC = Path(__file__).resolve().parents[3] / "docs" / "dlt645.md"


@pytest.mark.parametrize(
    ("di_1997", "di_2007", "part"),
    [
        # The rows cross-checked against a concentrator firmware's IdConvertion table.
        (0x9010, 0x00010000, ""),
        (0x9014, 0x00010400, ""),
        (0x901F, 0x0001FF00, ""),
        (0x9410, 0x00010001, ""),
        (0x941F, 0x0001FF01, ""),
        (0x902F, 0x0002FF00, ""),
        (0x911F, 0x0003FF00, ""),
        (0x912F, 0x0004FF00, ""),
        (0x913F, 0x0005FF00, ""),
        (0x914F, 0x0008FF00, ""),
        (0x915F, 0x0006FF00, ""),
        (0x916F, 0x0007FF00, ""),
        (0x956F, 0x0007FF01, ""),
        (0xB611, 0x02010100, ""),
        (0xB61F, 0x0201FF00, ""),
        (0xB621, 0x02020100, ""),
        (0xB62F, 0x0202FF00, ""),
        (0xB630, 0x02030000, ""),
        (0xB631, 0x02030100, ""),
        (0xB640, 0x02040000, ""),
        (0xC010, 0x04000101, ""),
        (0xC011, 0x04000102, ""),
        (0xB212, 0x03300000, ""),
        (0xB210, 0x03300001, "time"),
        # Maximum demand: the 1997 value and time halves of one 2007 record.
        (0xA010, 0x01010000, "value"),
        (0xB010, 0x01010000, "time"),
    ],
)
def test_rows(di_1997: int, di_2007: int, part: str) -> None:
    row = to_2007(di_1997)
    assert row is not None
    assert (row.di_2007, row.part) == (di_2007, part)
    assert row in to_1997(di_2007)


def test_demand_maps_back_to_two_1997_items() -> None:
    assert [(m.di_1997, m.part) for m in to_1997(0x01010000)] == [(0xA010, "value"), (0xB010, "time")]
    assert to_2007(0xC033) is None  # 用户号 has no 2007 counterpart
    assert to_1997(0x04000403) == ()


def test_every_row_names_catalogued_items() -> None:
    assert len({m.di_1997 for m in MAPPINGS}) == len(MAPPINGS)
    for m in MAPPINGS:
        assert m.di_1997 in DATA_ITEMS_1997, m
        lookup(m.di_2007)


def test_same_quantity_same_name() -> None:
    """Where a row has no note the two editions mean the same thing, and the catalogue names agree."""
    for m in MAPPINGS:
        if m.note:
            continue
        item_2007 = lookup(m.di_2007)
        if m.part and item_2007.repeat:  # a block of demand records: 1997 has a value block and a time block
            assert m.name_1997 == item_2007.name + ("_TIME" if m.part == "time" else ""), m
        elif m.part:
            names = item_2007.value_names(len(item_2007.fields))
            assert m.name_1997 == names[0 if m.part == "value" else 1], m
        else:
            assert m.name_1997 == m.name_2007, m


def test_values_agree_across_editions() -> None:
    """The same reading encoded in 1997 and decoded, then in 2007 and decoded, gives equal Decimals."""
    from decimal import Decimal

    for di_1997, value in ((0x9010, Decimal("12345.67")), (0xB611, Decimal(220)), (0xB621, Decimal("1.50"))):
        row = to_2007(di_1997)
        assert row is not None
        old = lookup(di_1997, edition=Edition.V1997)
        new = lookup(row.di_2007)
        assert old.decode(old.encode([value])) == new.decode(new.encode([value]))


def test_docs_hold_the_generated_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- mapping table: generated, do not edit by hand -->") + len(
        "<!-- mapping table: generated, do not edit by hand -->"
    )
    end = text.index("<!-- end of mapping table -->")
    assert text[start:end].strip() == markdown_table()
