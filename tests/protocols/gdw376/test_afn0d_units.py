"""AFN0D 请求2类数据: time tags in both directions and one hand-written body per family of same-shaped Fn
(hex grouped by field, a comment per field, the expected decoding written out by hand)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import DayHourMinute, MonthDayTime, YearMonth
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Dir, parse_frame
from protocols.gdw376.messages import history_request
from protocols.gdw376.units import DataUnit, decode_units, encode_units, lookup
from protocols.gdw376.units.afn0d import CurveTag, DailyTag, MonthlyTag, tag_record

AFN = 0x0D
TD_D = "30 04 24"  # Td_d A.20: 2024-04-30
DAY = {"td_d": date(2024, 4, 30)}
TD_M = "04 24"  # Td_m A.21: 2024-04
MONTH = {"td_m": YearMonth(2024, 4)}
READ_AT = "05 00 01 05 24"  # 终端抄表时间 A.15: 2024-05-01 00:05
READ = datetime(2024, 5, 1, 0, 5)
EE = None


def body(*fields: str) -> bytes:
    return bytes.fromhex("".join(fields))


def decoded(fn: int, data: bytes, direction: Dir = Dir.UP, edition: str | None = None) -> Record:
    """Decode ``data`` as the whole AFN0D ``fn`` body and check that it encodes back to the same bytes."""
    codec = lookup(AFN, fn, direction, edition)
    assert codec is not None and codec.layout is not None
    record, size = codec.layout.decode(data + b"\x99")  # the next unit's byte stays unread
    assert size == len(data)
    assert codec.layout.encode(record) == data
    return record


@pytest.mark.parametrize(
    ("fn", "data", "expected"),
    [
        (1, body(TD_D), DAY),  # 日冻结
        (161, body(TD_D), DAY),
        (169, body(TD_D), DAY),  # 抄表日冻结
        (17, body(TD_M), MONTH),  # 月冻结
        (177, body(TD_M), MONTH),
        (54, body(TD_M), MONTH),
        # Td_c: 起始时间 2024-05-01 00:00, 密度 2 (30 min), 点数 48
        (81, body("00 00 01 05 24", "02", "30"), {"start": datetime(2024, 5, 1), "density": 2, "points": 48}),
        (110, body("00 00 01 05 24", "FF", "03"), {"start": datetime(2024, 5, 1), "density": 255, "points": 3}),
    ],
)
def test_requests_carry_the_time_tag(fn: int, data: bytes, expected: dict[str, object]) -> None:
    assert decoded(fn, data, Dir.DOWN) == expected


def test_typed_tags_give_the_request_bodies() -> None:
    units = [
        DataUnit(1, 161, tag_record(DailyTag(date(2024, 4, 30)))),
        DataUnit(1, 177, tag_record(MonthlyTag(2024, 4))),
        DataUnit(2, 81, tag_record(CurveTag(datetime(2024, 5, 1), 2, 48))),
    ]
    data = encode_units(AFN, units, Dir.DOWN)
    assert data == body(
        "0101 0114",  # p1 F161
        TD_D,
        "0101 0116",  # p1 F177
        TD_M,
        "0201 010A",  # p2 F81
        "00 00 01 05 24 02 30",
    )
    assert decode_units(AFN, data, Dir.DOWN) == units


def test_curve_tag_density() -> None:
    assert [CurveTag(datetime(2024, 5, 1), d, 1).interval_minutes for d in (1, 2, 3, 254, 255, 0, 7)] == [
        15,
        30,
        60,
        5,
        1,
        None,
        None,
    ]
    with pytest.raises(LocalProtocolError, match="do not fit"):
        tag_record(CurveTag(datetime(2024, 5, 1), 1, 256))


FORWARD = body(
    READ_AT,
    "01",  # M
    "0000000100 0000500000",  # 正向有功 A.14: 100.0000, 50.0000
    "00100000 00050000",  # 正向无功 A.11: 10.00, 5.00
    "00010000 EEEEEEEE",  # 一象限: 1.00, —
    "00000000 00000000",  # 四象限
)
FORWARD_EXPECTED = {
    "read_time": READ,
    "m": 1,
    "forward_active": (D(100), D(50)),
    "forward_reactive": (D(10), D(5)),
    "q1_reactive": (D(1), EE),
    "q4_reactive": (D(0), D(0)),
}


@pytest.mark.parametrize(("fn", "tag", "tag_value"), [(1, TD_D, DAY), (9, TD_D, DAY), (17, TD_M, MONTH)])
def test_frozen_forward_indications(fn: int, tag: str, tag_value: dict[str, object]) -> None:
    assert decoded(fn, body(tag, FORWARD.hex())) == {**tag_value, **FORWARD_EXPECTED}


@pytest.mark.parametrize(("fn", "tag", "tag_value"), [(4, TD_D, DAY), (12, TD_D, DAY), (20, TD_M, MONTH)])
def test_frozen_reverse_demands(fn: int, tag: str, tag_value: dict[str, object]) -> None:
    data = body(
        tag,
        READ_AT,
        "00",  # M = 0: the totals only
        "563412",  # 反向有功最大需量 A.23: 12.3456 kW
        "15091004",  # 发生时间 A.17: 04-10 09:15
        "EEEEEE",  # 反向无功最大需量: —
        "EEEEEEEE",  # 发生时间: —
    )
    assert decoded(fn, data) == {
        **tag_value,
        "read_time": READ,
        "m": 0,
        "active_demand": (D("12.3456"),),
        "active_demand_time": (MonthDayTime(4, 10, 9, 15),),
        "reactive_demand": (EE,),
        "reactive_demand_time": (EE,),
    }


@pytest.mark.parametrize(
    ("fn", "tag", "tag_value"), [(5, TD_D, DAY), (8, TD_D, DAY), (21, TD_M, MONTH), (24, TD_M, MONTH)]
)
def test_frozen_energy_amounts_have_no_read_time(fn: int, tag: str, tag_value: dict[str, object]) -> None:
    data = body(tag, "02", "00500000", "00200000", "00300000")  # M = 2, A.13: 0.5000, 0.2000, 0.3000 kWh
    assert decoded(fn, data) == {**tag_value, "m": 2, "values": (D("0.5"), D("0.2"), D("0.3"))}


def test_f25_daily_max_power() -> None:
    data = body(
        TD_D,
        "563412 301410",  # 总: 12.3456 kW at DD 10 14:30 (A.23 + A.18)
        "000001 301410",  # A: 1.0000
        "EEEEEE EEEEEE",  # B: —
        "000000 000010",  # C: 0.0000 at 10 00:00
        "0000 1E00 0000 0500",  # 有功功率为零时间 BIN min: 总 0, A 30, B 0, C 5
    )
    record = decoded(25, data)
    assert record == {
        **DAY,
        "max_power_total": D("12.3456"),
        "max_power_total_time": DayHourMinute(10, 14, 30),
        "max_power_a": D(1),
        "max_power_a_time": DayHourMinute(10, 14, 30),
        "max_power_b": EE,
        "max_power_b_time": EE,
        "max_power_c": D(0),
        "max_power_c_time": DayHourMinute(10, 0, 0),
        "zero_power_minutes_total": 0,
        "zero_power_minutes_a": 30,
        "zero_power_minutes_b": 0,
        "zero_power_minutes_c": 5,
    }


def test_f26_daily_max_demand() -> None:
    data = body(TD_D, "563412 301410", "EEEEEE EEEEEE", "000002 000912", "000000 EEEEEE")
    assert decoded(26, data) == {
        **DAY,
        "max_demand_total": D("12.3456"),
        "max_demand_total_time": DayHourMinute(10, 14, 30),
        "max_demand_a": EE,
        "max_demand_a_time": EE,
        "max_demand_b": D(2),
        "max_demand_b_time": DayHourMinute(12, 9, 0),
        "max_demand_c": D(0),
        "max_demand_c_time": EE,
    }


MINUTE_NAMES = ("over_upper_upper", "under_lower_lower", "over_upper", "under_lower", "qualified")


def test_f27_daily_voltage_statistics_2009_and_2013() -> None:
    head = (
        TD_D,
        "0000 0000 0A00 0500 9B05",  # A: 越上上限 0, 越下下限 0, 越上限 10, 越下限 5, 合格 1435 min
        "0000 0000 0000 0000 A005",  # B: 合格 1440
        "0000 0000 0000 0000 0000",  # C
        "5023 301410 2021 000403",  # A: 最大 235.0 V at DD 10 14:30, 最小 212.0 V at DD 03 04:00
        "0022 000110 0022 000110",  # B: 最大 220.0 at 10 01:00, 最小 220.0 at 10 01:00
        "EEEE EEEEEE EEEE EEEEEE",  # C: —
        "0022 0022 EEEE",  # 平均电压 A 220.0, B 220.0, C —
    )
    expected = {
        **DAY,
        **{f"{n}_minutes_a": v for n, v in zip(MINUTE_NAMES, (0, 0, 10, 5, 1435), strict=True)},
        **{f"{n}_minutes_b": v for n, v in zip(MINUTE_NAMES, (0, 0, 0, 0, 1440), strict=True)},
        **{f"{n}_minutes_c": 0 for n in MINUTE_NAMES},
        "max_voltage_a": D("235.0"),
        "max_voltage_a_time": DayHourMinute(10, 14, 30),
        "min_voltage_a": D("212.0"),
        "min_voltage_a_time": DayHourMinute(3, 4, 0),
        "max_voltage_b": D(220),
        "max_voltage_b_time": DayHourMinute(10, 1, 0),
        "min_voltage_b": D(220),
        "min_voltage_b_time": DayHourMinute(10, 1, 0),
        "max_voltage_c": EE,
        "max_voltage_c_time": EE,
        "min_voltage_c": EE,
        "min_voltage_c_time": EE,
        "average_voltage_a": D(220),
        "average_voltage_b": D(220),
        "average_voltage_c": EE,
    }
    assert decoded(27, body(*head)) == expected
    rates = (
        "000000 000000 000010",  # A: 越上限率 0.000, 越下限率 0.000, 合格率 100.000 % (A.25)
        "EEEEEE EEEEEE EEEEEE",  # B
        "500000 000000 009509",  # C: 0.050, 0.000, 99.500
    )
    assert decoded(27, body(*head, *rates), edition="2013") == {
        **expected,
        "over_upper_rate_a": D(0),
        "under_lower_rate_a": D(0),
        "qualified_rate_a": D(100),
        "over_upper_rate_b": EE,
        "under_lower_rate_b": EE,
        "qualified_rate_b": EE,
        "over_upper_rate_c": D("0.05"),
        "under_lower_rate_c": D(0),
        "qualified_rate_c": D("99.5"),
    }


def test_f28_to_f31_daily_statistics() -> None:
    assert decoded(28, body(TD_D, "0A00 0000", "2500 301410", "EEEE EEEEEE")) == {
        **DAY,
        "current_unbalance_minutes": 10,
        "voltage_unbalance_minutes": 0,
        "max_current_unbalance": D("2.5"),  # A.5 %
        "max_current_unbalance_time": DayHourMinute(10, 14, 30),
        "max_voltage_unbalance": EE,
        "max_voltage_unbalance_time": EE,
    }
    f29 = decoded(
        29,
        body(
            TD_D,
            "0000 0500",  # A: 越上上限 0, 越上限 5 min
            "0000 0000",  # B
            "0100 0200",  # C: 1, 2
            "0000",  # 零序越上限
            "000501 301410",  # Ia 最大 10.500 A (A.25) at 10 14:30
            "000000 EEEEEE",  # Ib 0.000
            "EEEEEE EEEEEE",  # Ic
            "500000 000010",  # I0 0.050 at 10 00:00
        ),
    )
    assert f29["over_upper_minutes_a"] == 5 and f29["over_upper_upper_minutes_c"] == 1
    assert f29["over_upper_minutes_c"] == 2 and f29["over_upper_minutes_0"] == 0
    assert f29["max_current_a"] == D("10.5") and f29["max_current_a_time"] == DayHourMinute(10, 14, 30)
    assert (f29["max_current_b"], f29["max_current_c"], f29["max_current_0"]) == (D(0), EE, D("0.05"))
    assert decoded(30, body(TD_D, "0000", "3C00")) == {**DAY, "over_upper_upper_minutes": 0, "over_upper_minutes": 60}
    assert decoded(31, body(TD_D, "5008 301410", "0500 000310")) == {
        **DAY,
        "max_load_rate": D("85.0"),  # A.5 %
        "max_load_rate_time": DayHourMinute(10, 14, 30),
        "min_load_rate": D("0.5"),
        "min_load_rate_time": DayHourMinute(10, 3, 0),
    }


def test_f32_daily_phase_breaks_per_edition() -> None:
    tail = (
        "000000 000000 000000 000000",  # 断相时间累计值 A.10
        "EEEEEEEE EEEEEEEE EEEEEEEE EEEEEEEE",  # 最近断相起始时刻 A.17
        "EEEEEEEE EEEEEEEE EEEEEEEE EEEEEEEE",  # 结束时刻
    )
    record_2009 = decoded(32, body(TD_D, READ_AT, "0100 0000 0100 0000", *tail))  # 次数 A.8
    record_2013 = decoded(32, body(TD_D, READ_AT, "010000 000000 010000 000000", *tail), edition="2013")  # A.10
    assert record_2009 == record_2013
    assert (record_2009["breaks_total"], record_2009["breaks_b"], record_2009["last_end_c"]) == (D(1), D(1), EE)


@pytest.mark.parametrize(
    ("fn", "tag", "tag_value", "data", "expected"),
    [
        (49, TD_D, DAY, "A005 0200", {"supply_minutes": 1440, "resets": 2}),  # 供电时间 min, 复位次数
        (51, TD_M, MONTH, "60A8 0300", {"supply_minutes": 43104, "resets": 3}),
        # 月电控, 购电控, 功控, 遥控跳闸累计次数
        (
            50,
            TD_D,
            DAY,
            "00 01 02 03",
            {"monthly_energy_trips": 0, "purchase_trips": 1, "power_trips": 2, "remote_trips": 3},
        ),
        (
            52,
            TD_M,
            MONTH,
            "01 00 00 00",
            {"monthly_energy_trips": 1, "purchase_trips": 0, "power_trips": 0, "remote_trips": 0},
        ),
        (53, TD_D, DAY, "00100000", {"traffic": 4096}),  # 通信流量 BIN 4 bytes
        (54, TD_M, MONTH, "00000100", {"traffic": 65536}),
    ],
)
def test_terminal_statistics(
    fn: int, tag: str, tag_value: dict[str, object], data: str, expected: dict[str, object]
) -> None:
    assert decoded(fn, body(tag, data)) == {**tag_value, **expected}


CURVE_TAG = "00 00 01 05 24 01 03"  # Td_c: from 2024-05-01 00:00, density 1 (15 min), 3 points
CURVE_TAG_VALUE = {"start": datetime(2024, 5, 1), "density": 1, "points": 3}


@pytest.mark.parametrize(
    ("fns", "points", "values"),
    [
        (range(81, 89), "563412 000081 EEEEEE", (D("12.3456"), D(-1), EE)),  # A.9 kW/kvar
        (range(89, 92), "0022 5023 EEEE", (D(220), D("235.0"), EE)),  # A.7 V
        (range(92, 96), "000501 000000 000581", (D("10.5"), D(0), D("-10.5"))),  # A.25 A
        (range(97, 101), "00500000 00000000 EEEEEEEE", (D("0.5"), D(0), EE)),  # A.13 kWh
        (range(101, 105), "00100000 00100000 00110000", (D(10), D(10), D(11))),  # A.11 kvarh
        (range(105, 109), "0010 5009 0089", (D(100), D("95.0"), D("-90.0"))),  # A.5 %
    ],
)
def test_curves_hold_the_points_the_tag_announces(fns: range, points: str, values: tuple[object, ...]) -> None:
    for fn in fns:
        assert decoded(fn, body(CURVE_TAG, points)) == {**CURVE_TAG_VALUE, "values": values}


def test_phase_angle_curves_have_three_angles_per_point() -> None:
    data = body("00 00 01 05 24 03 02", "0000 0012 0024", "EEEE EEEE EEEE")  # 60 min, 2 points
    expected = {
        "start": datetime(2024, 5, 1),
        "density": 3,
        "points": 2,
    }
    assert decoded(109, data) == {
        **expected,
        "values": ({"ua": D(0), "ub": D(120), "uc": D(240)}, {"ua": EE, "ub": EE, "uc": EE}),
    }
    assert decoded(110, data) == {
        **expected,
        "values": ({"ia": D(0), "ib": D(120), "ic": D(240)}, {"ia": EE, "ib": EE, "ic": EE}),
    }


def test_a_curve_shorter_than_its_count_is_an_error() -> None:
    codec = lookup(AFN, 89, Dir.UP)
    assert codec is not None and codec.layout is not None
    with pytest.raises(DecodeError):
        codec.layout.decode(body(CURVE_TAG, "0022 5023"))  # 3 points announced, 2 sent


@pytest.mark.parametrize(
    ("fn", "tag", "tag_value", "active"),
    [
        *((fn, TD_D, DAY, fn in (161, 163)) for fn in range(161, 169)),
        *((fn, TD_D, DAY, fn in (169, 171)) for fn in range(169, 177)),
        *((fn, TD_M, MONTH, fn in (177, 179)) for fn in range(177, 185)),
    ],
)
def test_frozen_indications(fn: int, tag: str, tag_value: dict[str, object], active: bool) -> None:
    if active:  # A.14
        data, values = body(tag, READ_AT, "01", "7856341200 EEEEEEEEEE"), (D("1234.5678"), EE)
    else:  # A.11
        data, values = body(tag, READ_AT, "01", "78563412 EEEEEEEE"), (D("123456.78"), EE)
    assert decoded(fn, data) == {**tag_value, "read_time": READ, "m": 1, "values": values}


@pytest.mark.parametrize(
    ("fn", "tag", "tag_value"),
    [*((fn, TD_D, DAY) for fn in range(185, 193)), *((fn, TD_M, MONTH) for fn in range(193, 197))],
)
def test_frozen_demands(fn: int, tag: str, tag_value: dict[str, object]) -> None:
    data = body(tag, READ_AT, "01", "563412 15091004", "000000 EEEEEEEE")  # (A.23 + A.17) × (M+1)
    assert decoded(fn, data) == {
        **tag_value,
        "read_time": READ,
        "m": 1,
        "demands": (
            {"demand": D("12.3456"), "time": MonthDayTime(4, 10, 9, 15)},
            {"demand": D(0), "time": EE},
        ),
    }


def test_a_response_with_two_points_and_two_fn() -> None:
    # p1 F161 + F162 in one identifier: two bodies, each after its own repeated Td_d
    data = body(
        "0101 0314",
        TD_D,
        READ_AT,
        "00",
        "0000000100",  # F161: 100.0000 kWh
        TD_D,
        READ_AT,
        "00",
        "00100000",  # F162: 10.00 kvarh
    )
    assert decode_units(AFN, data, Dir.UP) == [
        DataUnit(1, 161, {**DAY, "read_time": READ, "m": 0, "values": (D(100),)}),
        DataUnit(1, 162, {**DAY, "read_time": READ, "m": 0, "values": (D(10),)}),
    ]


def test_history_request_frame() -> None:
    address = Address("4403", 18, msa=2)
    raw = history_request(
        address,
        [(1, 161, DailyTag(date(2024, 4, 30))), (1, 89, CurveTag(datetime(2024, 5, 1), 3, 24))],
        pseq=5,
    )
    frame = parse_frame(raw)
    assert (frame.control.to_byte(), frame.afn, frame.seq.seq, frame.seq.fir, frame.seq.fin) == (0x4B, AFN, 5, 1, 1)
    assert frame.aux.pw is None  # AFN0D requests carry no PW
    assert frame.data == body(
        "0101 0114",  # p1 F161
        TD_D,  # Td_d 2024-04-30
        "0101 010B",  # p1 F89
        "00 00 01 05 24 03 18",  # Td_c: 2024-05-01 00:00, 60 min, 24 points
    )
    with pytest.raises(LocalProtocolError, match="td_m"):  # a monthly Fn needs a MonthlyTag
        history_request(address, [(1, 177, DailyTag(date(2024, 4, 30)))], pseq=5)
