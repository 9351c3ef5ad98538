"""DL/T 645 data-identifier catalogue (DL/T 645-2007 附录A; 1997 DIs per PROTOCOLS.md Part C).

Expected bytes are written by hand from the 附录A layouts (BCD, low byte first), not produced by our encoder.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import DATA_ITEMS, DATA_ITEMS_1997, DataItem, by_name, format_di, lookup
from protocols.dlt645.formats import Kind, Scalar
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
        (0x0009000C, "ENERGY_FORWARD_APPARENT_TOTAL_LAST12", "XXXXXX.XX", "kVAh", 4, False, False),
        (0x00150000, "ENERGY_FORWARD_ACTIVE_A", "XXXXXX.XX", "kWh", 4, False, False),  # A相正向有功
        (0x00290000, "ENERGY_FORWARD_ACTIVE_B", "XXXXXX.XX", "kWh", 4, False, False),
        (0x00460000, "ENERGY_REVERSE_APPARENT_C", "XXXXXX.XX", "kVAh", 4, False, False),  # C相反向视在
        (0x00170001, "ENERGY_COMBINED_REACTIVE_1_A_LAST1", "XXXXXX.XX", "kvarh", 4, True, False),
        (0x00900100, "REMAINING_ENERGY", "XXXXXX.XX", "kWh", 4, False, False),  # 剩余电量
        (0x00900201, "OVERDRAFT_MONEY", "XXXXXX.XX", "元", 4, False, False),  # 透支金额
        (0x01010000, "MAX_DEMAND_FORWARD_ACTIVE_TOTAL", "XX.XXXX YYMMDDhhmm", "kW", 8, False, False),
        (0x0103FF00, "MAX_DEMAND_COMBINED_REACTIVE_1_BLOCK", "XX.XXXX YYMMDDhhmm", "kvar", 8, True, True),
        (0x02010100, "VOLTAGE_A", "XXX.X", "V", 2, False, False),
        (0x02010200, "VOLTAGE_B", "XXX.X", "V", 2, False, False),
        (0x02010300, "VOLTAGE_C", "XXX.X", "V", 2, False, False),
        (0x0201FF00, "VOLTAGE_BLOCK", "XXX.X", "V", 2, False, True),
        (0x02020100, "CURRENT_A", "XXX.XXX", "A", 3, True, False),
        (0x02020200, "CURRENT_B", "XXX.XXX", "A", 3, True, False),
        (0x02020300, "CURRENT_C", "XXX.XXX", "A", 3, True, False),
        (0x02030000, "ACTIVE_POWER_TOTAL", "XX.XXXX", "kW", 3, True, False),
        (0x02060000, "POWER_FACTOR_TOTAL", "X.XXX", "", 2, True, False),
        (0x02070100, "PHASE_ANGLE_A", "XXX.X", "°", 2, False, False),
        (0x02800002, "FREQUENCY", "XX.XX", "Hz", 2, False, False),
        (0x02800007, "METER_TEMPERATURE", "XXX.X", "℃", 2, True, False),
        (0x02800008, "CLOCK_BATTERY_VOLTAGE", "XX.XX", "V", 2, False, False),
        (0x03110000, "POWER_DOWN_COUNT", "XXXXXX", "", 3, False, False),  # 掉电总次数
        (0x03110001, "POWER_DOWN_RECORD_LAST1", "YYMMDDhhmmss YYMMDDhhmmss", "", 12, False, False),
        (0x03300D00, "METER_COVER_OPEN_COUNT", "XXXXXX", "", 3, False, False),
        (0x1D000001, "TRIP_COUNT", "XXXXXX", "", 3, False, False),
        (0x04000101, "DATE", "YYMMDDWW", "", 4, False, False),
        (0x04000102, "TIME", "hhmmss", "", 3, False, False),
        (0x04000401, "COMM_ADDRESS", "NNNNNNNNNNNN", "", 6, False, False),
        (0x04000403, "ASSET_NUMBER", "ASCII", "", 32, False, False),
        (0x04000409, "ACTIVE_CONSTANT", "XXXXXX", "imp/kWh", 3, False, False),
        (0x040005FF, "RUN_STATUS_WORD_BLOCK", "XXXX", "", 2, False, True),
        (0x04000703, "BAUD_WORD_PORT_1", "XX", "", 1, False, False),
        (0x04000B01, "SETTLEMENT_DAY_1", "DDhh", "", 2, False, False),
        (0x04010000, "ZONE_TABLE_1", "MMDDNN", "", 3, False, True),
        (0x04020008, "DAILY_TABLE_2_8", "hhmmNN", "", 3, False, True),
        (0x05060001, "DAILY_FREEZE_TIME_LAST1", "YYMMDDhhmm", "", 5, False, False),
        (0x05060101, "DAILY_FROZEN_FORWARD_ACTIVE_BLOCK_LAST1", "XXXXXX.XX", "kWh", 4, False, True),
        (0x0500010C, "TIMED_FROZEN_FORWARD_ACTIVE_BLOCK_LAST12", "XXXXXX.XX", "kWh", 4, False, True),
        (0x05010203, "INSTANT_FROZEN_REVERSE_ACTIVE_BLOCK_LAST3", "XXXXXX.XX", "kWh", 4, False, True),
        (0x050401FE, "HOURLY_FROZEN_FORWARD_ACTIVE_TOTAL_LAST254", "XXXXXX.XX", "kWh", 4, False, False),
        (0x05070001, "STEP_SWITCH_FREEZE_TIME_LAST1", "YYMMDDhhmm", "", 5, False, False),
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
    assert by_name(name) is item


D = Decimal


@pytest.mark.parametrize(
    ("di", "raw", "values"),
    [
        (0x02010100, "0110", [D("100.1")]),  # PROTOCOLS.md B.5 worked example
        (0x02020100, "994900", [D("4.999")]),  # current is XXX.XXX
        (0x02020100, "994980", [D("-4.999")]),  # sign bit D23
        (0x02030000, "122500", [D("0.2512")]),  # kW
        (0x02060000, "0105", [D("0.501")]),  # power factor
        (0x00010000, "56341200", [D("1234.56")]),
        (0x00000000, "56341280", [D("-1234.56")]),  # combined active energy can be negative
        (0x00010000, "EEEEEEEE", [None]),
        (0x0201FF00, "0122 FFFF 9922", [D("220.1"), None, D("229.9")]),  # FF FF: phase not supported
        (0x0203FF00, "122500 000000 122580 000000", [D("0.2512"), D("0.0000"), D("-0.2512"), D("0.0000")]),
        (0x0001FF00, "56341200 00010000 00020000", [D("1234.56"), D("1.00"), D("2.00")]),
        (0x04000101, "01110116", [date(2016, 1, 11)]),  # 2016-01-11, WW 01 = Monday
        (0x04000102, "563412", [time(12, 34, 56)]),  # 12:34:56
        (0x04000102, "000000", [time(0, 0, 0)]),  # midnight is a time, not "no value"
        (0x04000503, "1000", [D(16)]),  # run status word 3, D4 = relay open: a bit field, not BCD
        # 正向有功最大需量 1.2345 kW at 2024-01-05 12:30: XX.XXXX then YYMMDDhhmm, each low byte first.
        (0x01010000, "452301 3012050124", [D("1.2345"), datetime(2024, 1, 5, 12, 30)]),
        # 组合无功1 maximum demand may be negative (sign bit in its top byte).
        (0x01030000, "452381 3012050124", [D("-1.2345"), datetime(2024, 1, 5, 12, 30)]),
        # Power down from 2024-01-05 12:30:45 to 12:31:00; the zero-filled record of an event that never happened.
        (0x03110001, "453012050124 003112050124", [datetime(2024, 1, 5, 12, 30, 45), datetime(2024, 1, 5, 12, 31)]),
        (0x03110001, "000000000000 000000000000", [None, None]),
        (0x04000403, "00000000" * 7 + "33323130", ["0123"]),  # ASCII, sent low byte first (reversed)
        (0x04000B01, "0001", [D(100)]),  # 1st settlement day: day 01, hour 00 → DDhh "0100"
        (0x04010000, "010101 021207", [D(10101), D(71202)]),  # zones: 01-01 table 01, 07-12 table 02
    ],
)
def test_decode_hand_written(di: int, raw: str, values: list[Scalar | None]) -> None:
    item = lookup(di)
    decoded = item.decode(bytes.fromhex(raw))
    assert decoded == tuple(values)
    # Fillers re-encode as EE, zero-filled dates as EE too: compare on decoded values after a second pass.
    assert item.decode(item.encode(decoded)) == decoded
    if "FF" not in raw and di != 0x03110001:
        assert item.encode(decoded) == bytes.fromhex(raw)


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


def test_record_value_names_add_the_field_suffix() -> None:
    assert lookup(0x01010000).value_names(2) == (
        "MAX_DEMAND_FORWARD_ACTIVE_TOTAL",
        "MAX_DEMAND_FORWARD_ACTIVE_TOTAL_TIME",
    )
    assert lookup(0x0101FF01).value_names(4) == (
        "MAX_DEMAND_FORWARD_ACTIVE_TOTAL_LAST1",
        "MAX_DEMAND_FORWARD_ACTIVE_TOTAL_LAST1_TIME",
        "MAX_DEMAND_FORWARD_ACTIVE_T1_LAST1",
        "MAX_DEMAND_FORWARD_ACTIVE_T1_LAST1_TIME",
    )
    cover = lookup(0x03300D01)
    names = cover.value_names(14)
    assert names[:3] == (
        "METER_COVER_OPEN_RECORD_LAST1_START",
        "METER_COVER_OPEN_RECORD_LAST1_END",
        "METER_COVER_OPEN_RECORD_LAST1_FORWARD_ACTIVE_BEFORE",
    )
    assert names[-1] == "METER_COVER_OPEN_RECORD_LAST1_REACTIVE_Q4_AFTER"
    with pytest.raises(DecodeError):
        cover.value_names(15)


@pytest.mark.parametrize(
    ("di", "size", "first", "last"),
    [
        # (上1次)开表盖: start, end, then 正向有功/反向有功/Q1..Q4 before and after — 12 + 12 × 4 = 60 bytes.
        (0x03300D01, 60, "METER_COVER_OPEN_RECORD_LAST1_START", "METER_COVER_OPEN_RECORD_LAST1_REACTIVE_Q4_AFTER"),
        # 跳闸记录: time, operator code, six energies — 6 + 4 + 6 × 4 = 34 bytes.
        (0x1D000101, 34, "TRIP_RECORD_LAST1_TIME", "TRIP_RECORD_LAST1_REACTIVE_Q4"),
        (0x1E00010A, 34, "CLOSE_RECORD_LAST10_TIME", "CLOSE_RECORD_LAST10_REACTIVE_Q4"),
        # 编程记录: time, operator, the first ten DIs programmed — 6 + 4 + 40.
        (0x03300001, 50, "PROGRAMMING_RECORD_LAST1_TIME", "PROGRAMMING_RECORD_LAST1_DI10"),
        # 电表清零: time, operator, 24 energies (total, A, B, C × 6) — 6 + 4 + 96.
        (0x03300101, 106, "METER_CLEAR_RECORD_LAST1_TIME", "METER_CLEAR_RECORD_LAST1_REACTIVE_Q4_C"),
        # 需量清零: time, operator, 24 demands with their times — 6 + 4 + 24 × 8.
        (0x03300201, 202, "DEMAND_CLEAR_RECORD_LAST1_TIME", "DEMAND_CLEAR_RECORD_LAST1_REACTIVE_Q4_C_TIME"),
        (0x03300301, 14, "EVENT_CLEAR_RECORD_LAST1_TIME", "EVENT_CLEAR_RECORD_LAST1_DI"),
        (0x03300401, 16, "TIME_SET_RECORD_LAST1_OPERATOR", "TIME_SET_RECORD_LAST1_AFTER"),
        # 日冻结 powers (DI1 = 10): active then reactive, total/A/B/C, XX.XXXX each.
        (0x05061001, 24, "DAILY_FROZEN_LAST1_ACTIVE_POWER_TOTAL", "DAILY_FROZEN_LAST1_REACTIVE_POWER_C"),
    ],
)
def test_record_layouts(di: int, size: int, first: str, last: str) -> None:
    item = lookup(di)
    assert item.size == size == sum(f.size for f in item.fields)
    names = item.value_names(len(item.fields))
    assert (names[0], names[-1]) == (first, last)


def test_trip_record_hand_written() -> None:
    # 2024-03-01 08:00:00, operator 12345678, forward 100.00 kWh, reverse 0, Q1..Q4 1.00..4.00 kvarh.
    raw = bytes.fromhex("000008010324 78563412 00000100 00000000 00010000 00020000 00030000 00040000")
    values = lookup(0x1D000101).decode(raw)
    assert values == (
        datetime(2024, 3, 1, 8, 0, 0),
        D(12345678),
        D("100.00"),
        D("0.00"),
        D("1.00"),
        D("2.00"),
        D("3.00"),
        D("4.00"),
    )
    assert lookup(0x1D000101).value_fields(2)[1][1].format(values[1]) == "12345678"


def test_catalogue_blocks_have_registered_members_where_the_standard_has_them() -> None:
    for catalogue in (DATA_ITEMS, DATA_ITEMS_1997):
        by = {item.name: item for item in catalogue.values()}
        for block in catalogue.values():
            if not block.repeat:
                continue
            members = [by[name] for name in block.parts if name in by]
            assert all(
                (m.fmt, m.unit, m.signed, m.repeat) == (block.fmt, block.unit, block.signed, False) for m in members
            ), block.name
            tables = ("_FROZEN_", "ZONE_TABLE", "DAILY_TABLE")
            if not any(t in block.name for t in tables):
                assert members, block.name


@pytest.mark.parametrize(
    ("di", "value", "text"),
    [
        (0x00010000, D("12.00"), "12.00"),
        (0x04000401, D(161), "000000000161"),
        (0x04000102, time(0, 0, 5), "00:00:05"),
        (0x04000101, date(2016, 1, 11), "2016-01-11"),
        (0x05060001, datetime(2024, 1, 5, 0, 0), "2024-01-05T00:00:00"),
        (0x04000501, D(16), "0010"),
        (0x03300000, D(7), "7"),
        (0x04000B01, D(100), "0100"),
        (0x04000403, "0123", "0123"),
        (0x00010000, None, None),
    ],
)
def test_format_value(di: int, value: Scalar | None, text: str | None) -> None:
    assert lookup(di).format_value(value) == text


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
    assert lookup(0xB611, edition=Edition.V1997).decode(bytes.fromhex("2002")) == (D(220),)
    assert lookup(0xB621, edition=Edition.V1997).decode(bytes.fromhex("9901")) == (D("1.99"),)
    with pytest.raises(UnknownDataItem, match="9010"):
        lookup(0x9010)  # a 1997 DI is not a 2007 one


@pytest.mark.parametrize(
    ("di", "name", "fmt", "size"),
    [
        (0x9410, "ENERGY_FORWARD_ACTIVE_TOTAL_LAST1", "XXXXXX.XX", 4),  # 上月正向有功总
        (0x981F, "ENERGY_FORWARD_ACTIVE_BLOCK_LAST2", "XXXXXX.XX", 4),  # 上上月
        (0x9130, "ENERGY_REACTIVE_Q1_TOTAL", "XXXXXX.XX", 4),  # 一象限无功
        (0xA010, "MAX_DEMAND_FORWARD_ACTIVE_TOTAL", "XX.XXXX", 3),  # 正向有功最大需量
        (0xB010, "MAX_DEMAND_FORWARD_ACTIVE_TOTAL_TIME", "MMDDhhmm", 4),  # its time, no year
        (0xB212, "PROGRAMMING_COUNT", "NNNN", 2),
        (0xB214, "BATTERY_WORK_TIME", "NNNNNN", 3),
        (0xC020, "RUN_STATUS_WORD", "XX", 1),
        (0xC030, "ACTIVE_CONSTANT", "NNNNNN", 3),
        (0xC032, "METER_NUMBER", "NNNNNNNNNNNN", 6),
        (0xC033, "USER_NUMBER", "NNNNNNNNNNNN", 6),
        (0xC313, "TARIFF_COUNT", "NN", 1),
    ],
)
def test_1997_catalogue(di: int, name: str, fmt: str, size: int) -> None:
    item = lookup(di, edition=Edition.V1997)
    assert (item.name, item.fmt, item.size) == (name, fmt, size)


@pytest.mark.parametrize(
    ("di", "edition", "text"), [(0x00010000, Edition.V2007, "00010000"), (0xC010, Edition.V1997, "C010")]
)
def test_format_di(di: int, edition: Edition, text: str) -> None:
    assert format_di(di, edition) == text


def test_lookup_unknown_keeps_the_di() -> None:
    with pytest.raises(UnknownDataItem, match="07020304") as info:
        lookup(0x07020304)
    assert info.value.di == 0x07020304


def test_by_name_unknown() -> None:
    with pytest.raises(LocalProtocolError, match="NOT_A_THING"):
        by_name("NOT_A_THING")


def test_catalogue_is_consistent() -> None:
    for catalogue, edition in ((DATA_ITEMS, Edition.V2007), (DATA_ITEMS_1997, Edition.V1997)):
        assert len({item.name for item in catalogue.values()}) == len(catalogue)
        for di, item in catalogue.items():
            assert item.di == di and item.edition is edition
            if item.layout is not None:
                continue
            assert item.size == sum(f.size for f in item.fields), item
            for f in item.fields:
                digits = sum(ch != "." for ch in f.fmt)
                # Every byte holds two digits; the 1997 voltage leaves its top digit unused (XXX in 2 bytes);
                # text and bit fields have their own sizes.
                assert f.kind in (Kind.TEXT, Kind.BITS) or digits == 2 * f.size or (f.fmt, f.size) == ("XXX", 2), item
            assert not item.repeat or len(item.parts) >= 3, item
            names = item.value_names(len(item.fields))
            assert len(set(names)) == len(names), item


def test_catalogue_size() -> None:
    # Energy and demand × tariffs × 13 periods, per-phase, variables, events, parameters, freezes, load profile.
    assert len(DATA_ITEMS) > 7000
    assert len(DATA_ITEMS_1997) > 300
    assert {di >> 24 for di in DATA_ITEMS} == {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x1D, 0x1E}


@pytest.mark.parametrize(
    ("di", "raw"),
    [
        (0x00010000, "563412"),  # 3 bytes for a 4-byte item
        (0x00010000, "5634120000"),
        (0x0001FF00, "563412"),  # not a whole number of values
        (0x0001FF00, ""),
        (0x0201FF00, "0122 0122 0122 0122"),  # four phases
        (0x02010100, "0A10"),  # not BCD
        (0x04000101, "01011316"),  # month 13
        (0x04000102, "006012"),  # minute 60
        (0x05060001, "0000320124"),  # 2024-01-32
        (0x04000403, "80" + "00" * 31),  # not ASCII
        (0x01010000, "452301"),  # demand without its time
    ],
)
def test_decode_refuses(di: int, raw: str) -> None:
    with pytest.raises(DecodeError):
        lookup(di).decode(bytes.fromhex(raw))


@pytest.mark.parametrize(
    ("di", "values"),
    [
        (0x00010000, []),
        (0x00010000, [D(1), D(2)]),
        (0x00010000, [D("1.234")]),
        (0x00010000, [D(-1)]),
        (0x00010000, [date(2024, 1, 1)]),
        (0x0201FF00, [D(1)] * 4),
        (0x04000501, [D(65536)]),
        (0x04000501, [D("1.5")]),
        (0x04000501, ["text"]),
        (0x04000101, [D(1)]),
        (0x04000102, [datetime(2024, 1, 1)]),  # a datetime is not a time of day
        (0x05060001, [date(2024, 1, 1)]),
        (0x05060001, [datetime(2024, 1, 1, 0, 0, 30)]),  # YYMMDDhhmm has no seconds
        (0x04000403, ["x" * 33]),
        (0x04000403, ["é"]),
        (0x04000403, [D(1)]),
        (0x01010000, [D(1)]),  # a demand record takes two values
    ],
)
def test_encode_refuses(di: int, values: list[Scalar | None]) -> None:
    with pytest.raises(LocalProtocolError):
        lookup(di).encode(values)


@given(item_values())
def test_encode_decode_round_trip(item_and_values: tuple[DataItem, list[Scalar | None]]) -> None:
    item, values = item_and_values
    raw = item.encode(values)
    assert len(raw) == item.size * len(values) // len(item.fields)
    assert item.decode(raw) == tuple(values)


@given(
    st.sampled_from(sorted([*DATA_ITEMS.values(), *DATA_ITEMS_1997.values()], key=lambda i: (i.edition, i.di))),
    st.binary(max_size=120),
)
def test_random_value_bytes_decode_or_raise_a_decode_error(item: DataItem, raw: bytes) -> None:
    try:
        values = item.decode(raw)
    except DecodeError:
        return
    assert len(values) == len(item.value_names(len(values)))
