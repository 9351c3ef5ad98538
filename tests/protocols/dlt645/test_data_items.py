"""DL/T 645 data-identifier catalogue (DL/T 645-2007 附录A; 1997 DIs per PROTOCOLS.md Part C)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given

from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import DATA_ITEMS, DATA_ITEMS_1997, DataItem, format_di, lookup
from protocols.errors import DecodeError, LocalProtocolError, UnknownDataItem

from .strategies import item_values


@pytest.mark.parametrize(
    ("di", "name", "fmt", "unit", "size", "signed", "repeat"),
    [
        (0x00000000, "ENERGY_COMBINED_ACTIVE_TOTAL", "XXXXXX.XX", "kWh", 4, True, False),
        (0x00010000, "ENERGY_FORWARD_ACTIVE_TOTAL", "XXXXXX.XX", "kWh", 4, False, False),
        (0x00010100, "ENERGY_FORWARD_ACTIVE_T1", "XXXXXX.XX", "kWh", 4, False, False),
        (0x0001FF00, "ENERGY_FORWARD_ACTIVE_BLOCK", "XXXXXX.XX", "kWh", 4, False, True),
        (0x0001FF01, "ENERGY_FORWARD_ACTIVE_BLOCK_LAST1", "XXXXXX.XX", "kWh", 4, False, True),
        (0x00020000, "ENERGY_REVERSE_ACTIVE_TOTAL", "XXXXXX.XX", "kWh", 4, False, False),
        (0x00030000, "ENERGY_COMBINED_REACTIVE_1_TOTAL", "XXXXXX.XX", "kvarh", 4, True, False),
        (0x02010100, "VOLTAGE_A", "XXX.X", "V", 2, False, False),
        (0x02010200, "VOLTAGE_B", "XXX.X", "V", 2, False, False),
        (0x02010300, "VOLTAGE_C", "XXX.X", "V", 2, False, False),
        (0x0201FF00, "VOLTAGE_BLOCK", "XXX.X", "V", 2, False, True),
        (0x02020100, "CURRENT_A", "XXX.XXX", "A", 3, True, False),
        (0x02020200, "CURRENT_B", "XXX.XXX", "A", 3, True, False),
        (0x02020300, "CURRENT_C", "XXX.XXX", "A", 3, True, False),
        (0x02030000, "ACTIVE_POWER_TOTAL", "XX.XXXX", "kW", 3, True, False),
        (0x02060000, "POWER_FACTOR_TOTAL", "X.XXX", "", 2, True, False),
        (0x02800002, "FREQUENCY", "XX.XX", "Hz", 2, False, False),
        (0x04000101, "DATE", "YYMMDDWW", "", 4, False, False),
        (0x04000102, "TIME", "hhmmss", "", 3, False, False),
        (0x04000401, "COMM_ADDRESS", "NNNNNNNNNNNN", "", 6, False, False),
        (0x05060101, "DAILY_FROZEN_FORWARD_ACTIVE_BLOCK_LAST1", "XXXXXX.XX", "kWh", 4, False, True),
    ],
)
def test_required_items(di: int, name: str, fmt: str, unit: str, size: int, signed: bool, repeat: bool) -> None:
    item = DATA_ITEMS[di]
    assert (item.di, item.name, item.fmt, item.unit, item.size, item.signed, item.repeat) == (
        di,
        name,
        fmt,
        unit,
        size,
        signed,
        repeat,
    )
    assert lookup(di) is item


@pytest.mark.parametrize(
    ("di", "raw", "values"),
    [
        (0x02010100, "0110", ["100.1"]),  # PROTOCOLS.md B.5 worked example
        (0x02020100, "994900", ["4.999"]),  # current is XXX.XXX
        (0x02020100, "994980", ["-4.999"]),  # sign bit D23
        (0x02030000, "122500", ["0.2512"]),  # kW
        (0x02060000, "0105", ["0.501"]),  # power factor
        (0x00010000, "56341200", ["1234.56"]),
        (0x00000000, "56341280", ["-1234.56"]),  # combined active energy can be negative
        (0x00010000, "EEEEEEEE", [None]),
        (0x0201FF00, "0122 FFFF 9922", ["220.1", None, "229.9"]),  # FF FF: phase not supported
        (0x0203FF00, "122500 000000 122580 000000", ["0.2512", "0.0000", "-0.2512", "0.0000"]),
        (0x0001FF00, "56341200 00010000 00020000", ["1234.56", "1.00", "2.00"]),
        (0x04000101, "01110116", ["16011101"]),  # 2016-01-11, WW 01 = Monday
        (0x04000102, "563412", ["123456"]),  # 12:34:56
        (0x04000503, "1000", ["16"]),  # run status word 3, D4 = relay open: a bit field, not BCD
    ],
)
def test_decode_hand_written(di: int, raw: str, values: list[str | None]) -> None:
    item = lookup(di)
    decoded = item.decode(bytes.fromhex(raw))
    assert decoded == tuple(None if v is None else Decimal(v) for v in values)
    assert item.encode(decoded) == bytes.fromhex(raw).replace(b"\xff\xff", b"\xee\xee")


def test_block_value_names_follow_the_members() -> None:
    block = lookup(0x0001FF00)
    assert block.value_names(5) == (
        "ENERGY_FORWARD_ACTIVE_TOTAL",
        "ENERGY_FORWARD_ACTIVE_T1",
        "ENERGY_FORWARD_ACTIVE_T2",
        "ENERGY_FORWARD_ACTIVE_T3",
        "ENERGY_FORWARD_ACTIVE_T4",
    )
    assert lookup(0x0001FF00).value_names(63)[-1] == "ENERGY_FORWARD_ACTIVE_T62"
    assert lookup(0x0001FF03).value_names(2) == ("ENERGY_FORWARD_ACTIVE_TOTAL_LAST3", "ENERGY_FORWARD_ACTIVE_T1_LAST3")
    assert lookup(0x0203FF00).value_names(4) == (
        "ACTIVE_POWER_TOTAL",
        "ACTIVE_POWER_A",
        "ACTIVE_POWER_B",
        "ACTIVE_POWER_C",
    )
    assert lookup(0x0201FF00).value_names(3) == ("VOLTAGE_A", "VOLTAGE_B", "VOLTAGE_C")


def test_every_block_member_name_is_its_single_item() -> None:
    for catalogue in (DATA_ITEMS, DATA_ITEMS_1997):
        by_name = {item.name: item for item in catalogue.values()}
        for block in catalogue.values():
            if block.repeat and not block.name.startswith("DAILY_FROZEN"):
                members = [by_name[name] for name in block.parts if name in by_name]
                assert members, block.name
                assert all(
                    (m.fmt, m.unit, m.signed, m.repeat) == (block.fmt, block.unit, block.signed, False) for m in members
                )


@pytest.mark.parametrize(
    ("di", "value", "text"),
    [
        (0x00010000, "12.00", "12.00"),
        (0x04000401, "161", "000000000161"),
        (0x04000102, "5", "000005"),
        (0x04000501, "16", "0010"),
        (0x03300000, "7", "7"),
        (0x00010000, None, None),
    ],
)
def test_format_value(di: int, value: str | None, text: str | None) -> None:
    assert lookup(di).format_value(None if value is None else Decimal(value)) == text


def test_1997_items() -> None:
    item = lookup(0x9010, edition=Edition.V1997)
    assert (item.name, item.fmt, item.unit, item.size, item.di_text) == (
        "ENERGY_FORWARD_ACTIVE_TOTAL",
        "XXXXXX.XX",
        "kWh",
        4,
        "9010",
    )
    assert lookup(0x901F, edition=Edition.V1997).value_names(5)[-1] == "ENERGY_FORWARD_ACTIVE_T4"
    assert lookup(0xB611, edition=Edition.V1997).decode(bytes.fromhex("2002")) == (Decimal(220),)
    assert lookup(0xB621, edition=Edition.V1997).decode(bytes.fromhex("9901")) == (Decimal("1.99"),)
    with pytest.raises(UnknownDataItem, match="9010"):
        lookup(0x9010)  # a 1997 DI is not a 2007 one


@pytest.mark.parametrize(
    ("di", "edition", "text"), [(0x00010000, Edition.V2007, "00010000"), (0xC010, Edition.V1997, "C010")]
)
def test_format_di(di: int, edition: Edition, text: str) -> None:
    assert format_di(di, edition) == text


def test_lookup_unknown_keeps_the_di() -> None:
    with pytest.raises(UnknownDataItem, match="01020304") as info:
        lookup(0x01020304)
    assert info.value.di == 0x01020304


def test_catalogue_is_consistent() -> None:
    for catalogue, edition in ((DATA_ITEMS, Edition.V2007), (DATA_ITEMS_1997, Edition.V1997)):
        assert len({item.name for item in catalogue.values()}) == len(catalogue)
        for di, item in catalogue.items():
            assert item.di == di and item.edition is edition
            digits = sum(ch != "." for ch in item.fmt)
            # Every byte holds two digits; only the 1997 voltage leaves its top digit unused (XXX in 2 bytes).
            assert digits == 2 * item.size or (item.fmt, item.size) == ("XXX", 2), item
            assert not item.repeat or len(item.parts) >= 3, item


@pytest.mark.parametrize(
    ("di", "raw"),
    [
        (0x00010000, "563412"),  # 3 bytes for a 4-byte item
        (0x00010000, "5634120000"),
        (0x0001FF00, "563412"),  # not a whole number of values
        (0x0001FF00, ""),
        (0x0201FF00, "0122 0122 0122 0122"),  # four phases
        (0x02010100, "0A10"),  # not BCD
    ],
)
def test_decode_refuses(di: int, raw: str) -> None:
    with pytest.raises(DecodeError):
        lookup(di).decode(bytes.fromhex(raw))


@pytest.mark.parametrize(
    ("di", "values"),
    [
        (0x00010000, []),
        (0x00010000, [Decimal(1), Decimal(2)]),
        (0x00010000, [Decimal("1.234")]),
        (0x00010000, [Decimal(-1)]),
        (0x0201FF00, [Decimal(1)] * 4),
        (0x04000501, [Decimal(65536)]),
        (0x04000501, [None]),
        (0x04000501, [Decimal("1.5")]),
    ],
)
def test_encode_refuses(di: int, values: list[Decimal | None]) -> None:
    with pytest.raises(LocalProtocolError):
        lookup(di).encode(values)


@given(item_values())
def test_encode_decode_round_trip(item_and_values: tuple[DataItem, list[Decimal | None]]) -> None:
    item, values = item_and_values
    raw = item.encode(values)
    assert len(raw) == item.size * len(values)
    assert item.decode(raw) == tuple(values)
