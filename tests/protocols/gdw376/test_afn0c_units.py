"""AFN0C 请求1类数据: one hand-written body per family of same-shaped Fn, laid out from the standard's tables
(hex grouped by field, one comment per field), with its expected decoding written out by hand. Round trips of
generated values for every Fn come from test_layout.py."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import pytest

from protocols.errors import DecodeError
from protocols.gdw376.formats import A3Amount, FloatCoefficient, MonthDayTime
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Dir
from protocols.gdw376.units import DataUnit, decode_units, lookup

AFN = 0x0C
READ_AT = "00 08 01 05 24"  # 终端抄表时间 A.15: 2024-05-01 08:00
READ = datetime(2024, 5, 1, 8, 0)
EE = None  # a field of EE bytes: no value


def body(*fields: str) -> bytes:
    return bytes.fromhex("".join(fields))


def decoded(fn: int, data: bytes, edition: str | None = None) -> Record:
    """Decode ``data`` as the whole body of AFN0C ``fn`` (UP) and check that it encodes back to the same bytes."""
    codec = lookup(AFN, fn, Dir.UP, edition)
    assert codec is not None and codec.layout is not None
    record, size = codec.layout.decode(data + b"\x99")  # a byte of the next unit must stay unread
    assert size == len(data)
    assert codec.layout.encode(record) == data
    return record


@pytest.mark.parametrize(
    ("fn", "data", "expected"),
    [
        (3, body("0F", "00" * 29, "80"), {"flags": bytes.fromhex("0F" + "00" * 29 + "80")}),  # F1..F4 and F248 set
        (4, body("05"), {"state": b"\x05"}),  # D1D0 = 01 通话允许, D3D2 = 01 主动上报允许
        (7, body("03", "0A"), {"ec1": 3, "ec2": 10}),  # EC1, EC2
        (8, body("01 00 00 00 00 00 00 80"), {"flags": bytes.fromhex("0100000000000080")}),  # ERC1, ERC64
        (9, body("03", "01"), {"state": b"\x03", "changed": b"\x01"}),  # ST, CD
        (10, body("10270000", "40420F00"), {"day": 10_000, "month": 1_000_000}),  # BIN 4 bytes each
    ],
)
def test_terminal_state(fn: int, data: bytes, expected: dict[str, object]) -> None:
    assert decoded(fn, data) == expected


def test_f5_control_settings_one_block_per_valid_group() -> None:
    data = body(
        "01",  # 保电投入
        "05",  # 总加组有效标志位: 总加组1 and 总加组3
        "00 FF 01 02 03 01",  # 组1: 方案号 0, 时段有效 FF, 功控状态 时段控, 电控状态 购电控, 轮次 1–2, 电控轮次 1
        "01 0F 00 01 FF 00",  # 组3
    )
    assert decoded(5, data) == {
        "protect_states": b"\x01",
        "groups_valid": 0b101,
        "groups": (
            {
                "scheme": 0,
                "period_flags": b"\xff",
                "power_control": b"\x01",
                "energy_control": b"\x02",
                "power_rounds": b"\x03",
                "energy_rounds": b"\x01",
            },
            {
                "scheme": 1,
                "period_flags": b"\x0f",
                "power_control": b"\x00",
                "energy_control": b"\x01",
                "power_rounds": b"\xff",
                "energy_rounds": b"\x00",
            },
        ),
    }


def test_f6_current_control_state() -> None:
    data = body(
        "00",  # 遥控跳闸输出状态
        "01",  # 催费告警
        "02",  # 总加组有效标志位: 总加组2
        "25 A1",  # 当前功控定值 A.2: 125 × 10^-1 = 12.5 kW
        "95",  # 下浮控浮动系数 A.4: S0 = 1 下浮, 15 %
        "01 00 00 01 00",  # 功控跳闸, 月电控跳闸, 购电控跳闸, 功控越限告警, 电控越限告警
    )
    assert decoded(6, data) == {
        "remote_trip": b"\x00",
        "arrears_alarm": b"\x01",
        "groups_valid": 2,
        "groups": (
            {
                "power_setting": D("12.5"),
                "float_coefficient": FloatCoefficient(15, down=True),
                "power_trip": b"\x01",
                "monthly_trip": b"\x00",
                "purchase_trip": b"\x00",
                "power_alarm": b"\x01",
                "energy_alarm": b"\x00",
            },
        ),
    }


def test_f11_meter_reading_state_per_port() -> None:
    data = body(
        "02",  # 数据块个数 n
        "01",  # 端口1
        "2C01",  # 要抄电表总数 300
        "03",  # 工作状态标志
        "2A01",  # 抄表成功块数 298
        "05",  # 抄重点表成功块数
        "00 30 00 01 65 24",  # 抄表开始时间 A.1: 2024-05-01 (Wed) 00:30:00
        "20 15 01 01 65 24",  # 抄表结束时间 01:15:20
        "02 0000 00 0000 00",  # 端口2: nothing to read
        "EEEEEEEEEEEE EEEEEEEEEEEE",  # no start, no end
    )
    assert decoded(11, data) == {
        "n": 2,
        "ports": (
            {
                "port": 1,
                "meters": 300,
                "state": b"\x03",
                "read_ok": 298,
                "key_read_ok": 5,
                "start": datetime(2024, 5, 1, 0, 30),
                "end": datetime(2024, 5, 1, 1, 15, 20),
            },
            {"port": 2, "meters": 0, "state": b"\x00", "read_ok": 0, "key_read_ok": 0, "start": EE, "end": EE},
        ),
    }


@pytest.mark.parametrize(
    ("fn", "data", "expected"),
    [
        (17, body("25 A1"), {"power": D("12.5")}),  # A.2: 125 × 10^-1 kW
        (18, body("25 D1"), {"power": D("-1.25")}),  # A.2: G = 110 (10^-2), S = 1
        (24, body("EE EE"), {"power": EE}),
        (73, body("00 D5"), {"value": D("-5.00")}),  # A.2: 500 × 10^-2, S = 1
        (23, body("00 50 00 00"), {"remaining": A3Amount(D(5000))}),  # A.3: 5000 kWh
    ],
)
def test_group_scalars(fn: int, data: bytes, expected: dict[str, object]) -> None:
    assert decoded(fn, data) == expected


@pytest.mark.parametrize("fn", [19, 20, 21, 22])
def test_group_energy_per_tariff(fn: int) -> None:
    data = body(
        "02",  # M
        "67 45 23 01",  # 总: A.3 1234567 kWh
        "00 10 00 40",  # 费率1: 1000, G = 1 (MWh)
        "25 00 00 10",  # 费率2: −25 kWh
    )
    assert decoded(fn, data) == {
        "m": 2,
        "values": (A3Amount(D(1234567)), A3Amount(D(1000), g=1), A3Amount(D(-25))),
    }


def _f26_expected(breaks: tuple[int, int, int, int]) -> dict[str, object]:
    return {
        "read_time": READ,
        **dict(zip(("breaks_total", "breaks_a", "breaks_b", "breaks_c"), map(D, breaks), strict=True)),
        "break_minutes_total": D(130),
        "break_minutes_a": D(0),
        "break_minutes_b": D(50),
        "break_minutes_c": D(80),
        "last_start_total": MonthDayTime(4, 15, 10, 30),
        "last_start_a": EE,
        "last_start_b": MonthDayTime(4, 15, 10, 30),
        "last_start_c": EE,
        "last_end_total": MonthDayTime(4, 15, 11, 20),
        "last_end_a": EE,
        "last_end_b": MonthDayTime(4, 15, 11, 20),
        "last_end_c": EE,
    }


F26_TAIL = (
    "300100 000000 500000 800000",  # 断相时间累计值 A.10 min: 总 130, A 0, B 50, C 80
    "30101504 EEEEEEEE 30101504 EEEEEEEE",  # 最近断相起始时刻 A.17: 04-15 10:30
    "20111504 EEEEEEEE 20111504 EEEEEEEE",  # 最近断相结束时刻 A.17: 04-15 11:20
)


def test_f26_phase_breaks_2009_counts_are_a8() -> None:
    data = body(READ_AT, "1200 0500 0400 0300", *F26_TAIL)  # 断相次数 A.8: 总 12, A 5, B 4, C 3
    assert decoded(26, data) == _f26_expected((12, 5, 4, 3))


def test_f26_phase_breaks_2013_counts_are_a10() -> None:
    data = body(READ_AT, "120000 050000 040000 030000", *F26_TAIL)  # 断相次数 A.10
    assert decoded(26, data, edition="2013") == _f26_expected((12, 5, 4, 3))
    codec_2009 = lookup(AFN, 26, Dir.UP)
    assert codec_2009 is not None and codec_2009.layout is not None
    with pytest.raises(DecodeError, match=r"A\.17"):  # read as 2009, the counts shift every later field
        codec_2009.layout.decode(data)


def test_f27_meter_clock_and_programming() -> None:
    data = body(
        READ_AT,
        "30 59 07 01 65 24",  # 电能表日历时钟 A.1: 2024-05-01 (Wed) 07:59:30
        "00 10 00 00",  # 电池工作时间 A.27: 1000 min
        "050000",  # 编程总次数 A.10
        "00 00 10 20 63 24",  # 最近一次编程 A.1: 2024-03-20 (Wed) 10:00:00
        "010000",  # 电表清零总次数
        "EEEEEEEEEEEE",  # 最近一次清零
        "000000 EEEEEEEEEEEE",  # 需量清零
        "000000 EEEEEEEEEEEE",  # 事件清零
        "120000",  # 校时总次数
        "00 00 00 01 65 24",  # 最近一次校时 2024-05-01 00:00:00
    )
    assert decoded(27, data) == {
        "read_time": READ,
        "meter_clock": datetime(2024, 5, 1, 7, 59, 30),
        "battery_minutes": D(1000),
        "program_count": D(5),
        "last_program": datetime(2024, 3, 20, 10, 0, 0),
        "meter_clear_count": D(1),
        "last_meter_clear": EE,
        "demand_clear_count": D(0),
        "last_demand_clear": EE,
        "event_clear_count": D(0),
        "last_event_clear": EE,
        "clock_sync_count": D(12),
        "last_clock_sync": datetime(2024, 5, 1),
    }


def test_f28_status_words() -> None:
    changed = ("0100", "0000", "0000", "0000", "0000", "0000", "0000")  # 变位标志1: D0
    words = ("0000", "1000", "0000", "0000", "0000", "0000", "0100")  # 状态字2 D4, 状态字7 D0
    assert decoded(28, body(READ_AT, *changed, *words)) == {
        "read_time": READ,
        "changed": tuple(map(bytes.fromhex, changed)),
        "words": tuple(map(bytes.fromhex, words)),
    }


@pytest.mark.parametrize("fn", [31, 32])
def test_phase_indications(fn: int) -> None:
    data = body(
        READ_AT,
        "7856341200 0000000000 78560000 EEEEEEEE",  # A: 正向 1234.5678, 反向 0, 组合无功1 56.78, 组合无功2 —
        "0000000100 EEEEEEEEEE 00010000 00020000",  # B: 100.0000, —, 1.00, 2.00
        "EEEEEEEEEE EEEEEEEEEE EEEEEEEE EEEEEEEE",  # C: no value
    )
    assert decoded(fn, data) == {
        "read_time": READ,
        "forward_active_a": D("1234.5678"),
        "reverse_active_a": D("0.0000"),
        "combined_reactive1_a": D("56.78"),
        "combined_reactive2_a": EE,
        "forward_active_b": D("100.0000"),
        "reverse_active_b": EE,
        "combined_reactive1_b": D("1.00"),
        "combined_reactive2_b": D("2.00"),
        "forward_active_c": EE,
        "reverse_active_c": EE,
        "combined_reactive1_c": EE,
        "combined_reactive2_c": EE,
    }


@pytest.mark.parametrize(
    ("fn", "names"),
    [
        (33, ("forward_active", "forward_reactive", "q1_reactive", "q4_reactive")),
        (34, ("reverse_active", "reverse_reactive", "q2_reactive", "q3_reactive")),
        (37, ("forward_active", "forward_reactive", "q1_reactive", "q4_reactive")),
        (38, ("reverse_active", "reverse_reactive", "q2_reactive", "q3_reactive")),
    ],
)
def test_four_indications(fn: int, names: tuple[str, str, str, str]) -> None:
    data = body(
        READ_AT,
        "01",  # M = 1
        "0000000100 0000500000",  # 有功 A.14: 总 100.0000, 费率1 50.0000
        "00100000 00050000",  # 无功 A.11: 10.00, 5.00
        "00010000 EEEEEEEE",  # 象限 1.00, —
        "00000000 00000000",  # 象限 0.00, 0.00
    )
    active, reactive, first, second = names
    assert decoded(fn, data) == {
        "read_time": READ,
        "m": 1,
        active: (D("100.0000"), D("50.0000")),
        reactive: (D("10.00"), D("5.00")),
        first: (D("1.00"), EE),
        second: (D("0.00"), D("0.00")),
    }


@pytest.mark.parametrize("fn", [35, 36, 39, 40])
def test_demands_grouped(fn: int) -> None:
    data = body(
        READ_AT,
        "01",  # M = 1
        "563412 005001",  # 有功最大需量 A.23: 总 12.3456, 费率1 1.5000 kW
        "15091005 EEEEEEEE",  # 发生时间 A.17: 05-10 09:15, —
        "000002 EEEEEE",  # 无功最大需量: 2.0000, —
        "00121105 EEEEEEEE",  # 发生时间: 05-11 12:00, —
    )
    assert decoded(fn, data) == {
        "read_time": READ,
        "m": 1,
        "active_demand": (D("12.3456"), D("1.5")),
        "active_demand_time": (MonthDayTime(5, 10, 9, 15), EE),
        "reactive_demand": (D(2), EE),
        "reactive_demand_time": (MonthDayTime(5, 11, 12, 0), EE),
    }


def test_f49_phase_angles() -> None:
    data = body("0000", "0012", "0024", "5501", "5213", "5090")  # A.5: 0, 120, 240, 15.5, 135.2, −105.0 度
    assert decoded(49, data) == {
        "angle_ua": D(0),
        "angle_ub": D(120),
        "angle_uc": D(240),
        "angle_ia": D("15.5"),
        "angle_ib": D("135.2"),
        "angle_ic": D(-105),
    }


def test_f57_harmonic_values_orders_2_to_n() -> None:
    data = body(
        "03",  # N = 3: orders 2 and 3
        "2300 1500",  # Ua A.7: 2.3 V, 1.5 V
        "EEEE EEEE",  # Ub
        "1000 0500",  # Uc: 1.0, 0.5
        "2500 1000",  # Ia A.6: 0.25 A, 0.10 A
        "0001 0081",  # Ib: 1.00, −1.00
        "EEEE EEEE",  # Ic
    )
    assert decoded(57, data) == {
        "n": 3,
        "ua": (D("2.3"), D("1.5")),
        "ub": (EE, EE),
        "uc": (D("1.0"), D("0.5")),
        "ia": (D("0.25"), D("0.10")),
        "ib": (D("1.00"), D("-1.00")),
        "ic": (EE, EE),
    }


def test_f58_harmonic_ratios_voltage_has_the_total_first() -> None:
    data = body(
        "02",  # N = 2
        "2500 1200",  # Ua A.5: 总 2.5 %, 2次 1.2 %
        "EEEE EEEE",  # Ub
        "3000 3000",  # Uc: 3.0, 3.0
        "5001",  # Ia: 2次 15.0 % (currents have no total)
        "0000",  # Ib: 0.0
        "0500",  # Ic: 0.5
    )
    assert decoded(58, data) == {
        "n": 2,
        "ua": (D("2.5"), D("1.2")),
        "ub": (EE, EE),
        "uc": (D("3.0"), D("3.0")),
        "ia": (D("15.0"),),
        "ib": (D("0.0"),),
        "ic": (D("0.5"),),
    }


@pytest.mark.parametrize(
    ("fn", "values", "expected"),
    [
        (131, "0000000100 EEEEEEEEEE", (D(100), EE)),  # 反向有功 A.14
        (137, "0000000100 EEEEEEEEEE", (D(100), EE)),  # 上月正向有功
        (139, "0000000100 EEEEEEEEEE", (D(100), EE)),
        *((fn, "0000000100 EEEEEEEEEE", (D(100), EE)) for fn in range(153, 161)),  # 第1–8时区冻结
    ],
)
def test_active_indications(fn: int, values: str, expected: tuple[object, ...]) -> None:
    assert decoded(fn, body(READ_AT, "01", values)) == {"read_time": READ, "m": 1, "values": expected}


@pytest.mark.parametrize("fn", [132, 133, 134, 135, 136, 138, 140, 141, 142, 143, 144])
def test_reactive_indications(fn: int) -> None:
    data = body(READ_AT, "02", "00100000", "00050000", "EEEEEEEE")  # M = 2, A.11: 10.00, 5.00, —
    assert decoded(fn, data) == {"read_time": READ, "m": 2, "values": (D(10), D(5), EE)}


@pytest.mark.parametrize("fn", range(145, 153))
def test_demands_interleaved(fn: int) -> None:
    data = body(
        READ_AT,
        "01",  # M = 1
        "563412 15091005",  # 总: 最大需量 A.23 12.3456, 发生时间 A.17 05-10 09:15
        "EEEEEE EEEEEEEE",  # 费率1: no value
    )
    assert decoded(fn, data) == {
        "read_time": READ,
        "m": 1,
        "demands": ({"demand": D("12.3456"), "time": MonthDayTime(5, 10, 9, 15)}, {"demand": EE, "time": EE}),
    }


def test_f161_remote_control_2009_times_are_a15() -> None:
    data = body(READ_AT, "11", "0009300424", "EEEEEEEEEE")  # 通电 (11H), 最近通电 2024-04-30 09:00, 断电 —
    assert decoded(161, data) == {"read_time": READ, "state": 0x11, "last_on": datetime(2024, 4, 30, 9), "last_off": EE}


def test_f161_remote_control_2013_times_are_a1() -> None:
    data = body(READ_AT, "00", "000009304424", "EEEEEEEEEEEE")  # 断电, 最近合闸 A.1 2024-04-30 (Tue) 09:00:00
    assert decoded(161, data, edition="2013") == {
        "read_time": READ,
        "state": 0,
        "last_on": datetime(2024, 4, 30, 9),
        "last_off": EE,
    }


def test_f162_meter_clock_2013() -> None:
    data = body("05 00 08 01 65 24", "00 58 07 01 65 24")  # 终端抄表时间, 电能表日历时钟 (A.1 both)
    assert decoded(162, data) == {
        "read_time": datetime(2024, 5, 1, 8, 0, 5),
        "meter_clock": datetime(2024, 5, 1, 7, 58),
    }


def test_f165_switch_counts_per_edition() -> None:
    expected = {
        "read_time": READ,
        "program_switch_count": D(3),
        "last_program_switch": datetime(2024, 3, 20, 14, 30),
        "cover_open_count": D(0),
        "last_cover_open": EE,
    }
    # 2009: 次数 A.8, 时间 A.15
    assert decoded(165, body(READ_AT, "0300", "3014200324", "0000", "EEEEEEEEEE")) == expected
    # 2013: 次数 A.10, 时间 A.1 (2024-03-20 is a Wednesday)
    data_2013 = body(READ_AT, "030000", "003014206324", "000000", "EEEEEEEEEEEE")
    assert decoded(165, data_2013, edition="2013") == expected


def test_f166_parameter_changes_2013_has_the_clock_before_and_after() -> None:
    data = body(
        READ_AT,
        "010000",  # 时钟修改次数 A.10
        "00 00 12 01 65 24",  # 修改前时间 A.1 2024-05-01 12:00:00
        "30 00 12 01 65 24",  # 修改后时间 12:00:30
        "000000 EEEEEEEEEEEE",  # 时段参数修改: none
    )
    assert decoded(166, data, edition="2013") == {
        "read_time": READ,
        "clock_change_count": D(1),
        "last_clock_change_before": datetime(2024, 5, 1, 12),
        "last_clock_change_after": datetime(2024, 5, 1, 12, 0, 30),
        "tariff_change_count": D(0),
        "last_tariff_change": EE,
    }
    assert decoded(166, body(READ_AT, "0100", "0012010524", "0000", "EEEEEEEEEE")) == {  # 2009: A.8 + A.15
        "read_time": READ,
        "clock_change_count": D(1),
        "last_clock_change": datetime(2024, 5, 1, 12),  # 00 12 01 05 24: mm hh DD MM YY
        "tariff_change_count": D(0),
        "last_tariff_change": EE,
    }


def test_f167_purchase_and_use() -> None:
    data = body(
        READ_AT,
        "1200",  # 购电次数 A.8: 12
        "0000500200",  # 剩余金额 A.14: 250.0000 元
        "0000001000",  # 累计购电金额: 1000.0000
        "00200100",  # 剩余电量 A.11: 120.00
        "00000000",  # 透支电量
        "00000500",  # 累计购电量 500.00
        "EEEEEEEE",  # 赊欠门限电量
        "00500000",  # 报警电量 50.00
        "00000000",  # 故障电量
    )
    assert decoded(167, data) == {
        "read_time": READ,
        "purchases": D(12),
        "remaining_money": D(250),
        "total_money": D(1000),
        "remaining_energy": D(120),
        "overdraft_energy": D(0),
        "total_energy": D(500),
        "credit_limit_energy": EE,
        "alarm_energy": D(50),
        "fault_energy": D(0),
    }


def test_f168_settlement() -> None:
    data = body(READ_AT, "01", "0000000100 0000500000", "0000100000 EEEEEEEEEE")  # M, 已结 ×2, 未结 ×2 (A.14)
    assert decoded(168, data) == {
        "read_time": READ,
        "m": 1,
        "settled": (D(100), D(50)),
        "unsettled": (D(10), EE),
    }


def test_f169_relay_routes() -> None:
    data = body(
        "02",  # 所属终端通信端口号
        "02",  # 中继路由个数
        "02 010000000000 020000000000",  # 路由1: 2 级, 中继地址 A.12 000000000001, 000000000002
        "00",  # 路由2: direct
    )
    assert decoded(169, data) == {
        "port": 2,
        "n": 2,
        "routes": (
            {"levels": 2, "relays": ("000000000001", "000000000002")},
            {"levels": 0, "relays": ()},
        ),
    }


def test_f170_meter_reading_info() -> None:
    data = body(
        "1F",  # 端口 31 (载波)
        "01",  # 中继路由级数
        "02",  # 通信相位
        "35",  # 信号品质
        "01",  # 最近一次抄表成功
        "00 00 08 01 65 24",  # 最近一次成功 A.1 2024-05-01 08:00:00
        "EEEEEEEEEEEE",  # 最近一次失败: none
        "00",  # 连续失败次数
    )
    assert decoded(170, data) == {
        "port": 31,
        "relay_level": 1,
        "phase": b"\x02",
        "signal_quality": b"\x35",
        "last_result": 1,
        "last_success": READ,
        "last_failure": EE,
        "failures": 0,
    }


def test_requests_are_identifiers_only() -> None:
    # one DA DT (p0; F3, F5, F7) then p1 F26 and F28: no bodies follow in the downlink
    data = bytes.fromhex("0000 5400" + "0101 0A03")
    assert decode_units(AFN, data, Dir.DOWN) == [
        DataUnit(0, 3),
        DataUnit(0, 5),
        DataUnit(0, 7),
        DataUnit(1, 26),
        DataUnit(1, 28),
    ]


def test_units_of_several_fn_follow_each_other() -> None:
    # one identifier p0 F7 + F8: the F7 body (EC1, EC2), then the F8 body (事件标志 ERC3)
    data = bytes.fromhex("0000 C000" + "03 0A" + "04 00 00 00 00 00 00 00")
    assert decode_units(AFN, data, Dir.UP) == [
        DataUnit(0, 7, {"ec1": 3, "ec2": 10}),
        DataUnit(0, 8, {"flags": bytes.fromhex("0400000000000000")}),
    ]
