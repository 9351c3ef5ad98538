"""AFN04 设置参数 / AFN0A 查询参数: bodies written by hand from the standard's layouts (Q/GDW 376.1-2009 §5.5),
field by field, with their expected decoding; each also encodes back to the same bytes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import A3Amount, DayHourMinute, FloatCoefficient, HourMinute, UnitId
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units import DataUnit, decode_units, encode_units, lookup

from .unit_tables import check_table, decode_one, unit_bytes

SET, QUERY = Afn.SET_PARAM, Afn.QUERY_PARAM


def R(**fields: object) -> Record:
    return Record(fields)


def check_both(fn: int, body: str, expected: object, pn: int = 0) -> None:
    """AFN04 set (downlink) and AFN0A reply (uplink) share the body."""
    check_table(SET, fn, Dir.DOWN, body, expected, pn)
    check_table(QUERY, fn, Dir.UP, body, expected, pn)


def test_f1_uplink_communication() -> None:
    body = (
        "05"  # RTS 5 × 20 ms
        "1E"  # 允许传输延时 30 min
        "1E 30"  # timeout 01EH = 30 s (D11..D0), retries 3 (D13..D12)
        "05"  # CON: 1类 (D0) and 3类 (D2)
        "0F"  # heartbeat 15 min
    )
    check_both(
        1,
        body,
        R(
            rts_delay=5,
            master_delay_min=30,
            response=R(timeout_s=30, retries=3),
            con_required=R(class1=1, class2=0, class3=1),
            heartbeat_min=15,
        ),
    )


def test_f2_relay_count_shares_its_byte_with_the_allow_flag() -> None:
    body = "8212 0034 12"  # D7 = 1 允许, n = 2 (D6..D0); A2 0012H, 1234H
    check_both(2, body, R(relay=0x82, addresses=(0x12, 0x1234)))
    check_both(2, "00", R(relay=0, addresses=()))  # forbidden, none


def test_f3_master_ip_port() -> None:
    body = (
        "0A 00 00 01"  # 主用IP 10.0.0.1
        "28 23"  # port 9000
        "C0 A8 01 64"  # 备用IP 192.168.1.100
        "29 23"  # port 9001
        "43 4D 4E 45 54" + "00" * 11  # APN "CMNET", NUL padded
    )
    check_both(3, body, R(main_ip="10.0.0.1", main_port=9000, backup_ip="192.168.1.100", backup_port=9001, apn="CMNET"))


def test_f7_terminal_ip_with_variable_user_and_password() -> None:
    body = (
        "C0 A8 01 0A"  # 终端IP 192.168.1.10
        "FF FF FF 00"  # 子网掩码
        "C0 A8 01 01"  # 网关
        "00"  # 不使用代理
        "00 00 00 00 00 00"  # 代理地址, 端口
        "00"  # 无需验证
        "04 75 73 65 72"  # 用户名长度 4, "user"
        "00"  # 密码长度 0
        "28 23"  # 侦听端口 9000
    )
    expected = R(
        ip="192.168.1.10",
        netmask="255.255.255.0",
        gateway="192.168.1.1",
        proxy_type=0,
        proxy_ip="0.0.0.0",
        proxy_port=0,
        proxy_auth=0,
        user_length=4,
        user=b"user",
        password_length=0,
        password=b"",
        listen_port=9000,
    )
    check_both(7, body, expected)


def test_f8_working_mode() -> None:
    body = (
        "11"  # D1..D0 = 1 永久在线, D5..D4 = 1 客户机, D7 = 0 TCP
        "3C 00"  # 重拨间隔 60 s
        "03"  # 被动激活重拨 3 次
        "1E"  # 30 min 无通信断线
        "00 FF 03"  # 在线时段 8:00–18:00 (D8..D17)
    )
    check_both(
        8,
        body,
        R(
            mode=R(online=1, role=1, udp=0),
            redial_s=60,
            passive_redials=3,
            idle_disconnect_min=30,
            online_hours=tuple(range(8, 18)),
        ),
    )


def test_f8_reserved_mode_bit_is_an_error() -> None:
    with pytest.raises(DecodeError, match="reserved"):
        decode_one(SET, 8, Dir.DOWN, "19 3C 00 03 1E 00 FF 03")  # D3 set


def test_f9_event_configuration() -> None:
    body = "01 20 00 00 00 00 00 0000 20 00 00 00 00 00 00"  # ERC1, ERC14 recorded; ERC14 important
    check_both(9, body, R(recorded=(1, 14), important=(14,)))


def test_f10_meter_archive() -> None:
    body = (
        "01 00"  # n = 1
        "01 00"  # 序号 1
        "01 00"  # 测量点号 1
        "62"  # 011 (2400 bps) | 00010 (port 2)
        "1E"  # 30 = DL/T 645-2007
        "01 00 00 00 00 00"  # 通信地址 000000000001
        "00 00 00 00 00 00"  # 通信密码
        "04"  # 4 费率
        "09"  # D3..D2 = 2 (6 integer digits), D1..D0 = 1 (2 decimals)
        "00 00 00 00 00 00"  # 采集器地址 0 (direct)
        "15"  # 大类 1, 小类 5
    )
    meter = R(
        index=1,
        pn=1,
        port=R(port=2, baud=3),
        protocol=30,
        address="000000000001",
        password=bytes(6),
        tariffs=R(count=4),
        digits=R(decimals=1, integers=2),
        collector="000000000000",
        user_class=R(minor=5, major=1),
    )
    check_both(10, body, R(n=1, meters=(meter,)))
    assert len(bytes.fromhex(body)) == 2 + 27


def test_f10_query_body_lists_indexes() -> None:
    check_table(QUERY, 10, Dir.DOWN, "02 0001 0002 00", R(n=2, indexes=(1, 2)))


@pytest.mark.parametrize("fn", [11, 13, 14, 15, 33, 34])
def test_queries_naming_objects_by_one_byte_numbers(fn: int) -> None:
    check_table(QUERY, fn, Dir.DOWN, "0201 03", R(n=2, ids=(1, 3)))  # n = 2: objects 1 and 3


def test_f11_pulse_configuration() -> None:
    body = "0101 03 00 00 19"  # n=1: port 1, p3, 正向有功, k = 6400
    check_both(11, body, R(n=1, pulses=(R(port=1, pn=3, kind=0, constant=6400),)))


def test_f12_status_inputs() -> None:
    check_both(12, "03 01", R(connected=(1, 2), normally_open=(1,)))


def test_f14_total_add_groups() -> None:
    body = (
        "01"  # n = 1
        "01 02"  # 总加组 1, m = 2
        "00"  # p1 (index 0), 正向, 加
        "C1"  # p2 (index 1), D6 反向, D7 减
    )
    points = (R(pn_index=0, reverse=0, subtract=0), R(pn_index=1, reverse=1, subtract=1))  # one field: plain values
    check_both(14, body, R(n=1, groups=(R(group=1, m=2, points=points),)))


def test_f15_differential_groups() -> None:
    body = "0101 01 02810A00 10 00 00"  # span 1, absolute; 10 %; 1000 kWh (A.3, G=0)
    group = R(
        group=1,
        compared=1,
        reference=2,
        method=R(span=1, absolute=1),
        relative_percent=10,
        absolute=A3Amount(Decimal(1000), 0),
    )
    check_both(15, body, R(n=1, groups=(group,)))


@pytest.mark.parametrize(
    ("fn", "body", "expected"),
    [
        (17, "25 81", R(limit=Decimal(125))),  # A.2: 125 × 10^0
        (19, "90", R(coefficient=FloatCoefficient(10, down=True))),  # A.4 下浮 10 %
        (20, "05", R(coefficient=FloatCoefficient(5))),
        (22, "0200 05 00 0001 00 00 40", R(m=2, rates=(A3Amount(Decimal(500), 0), A3Amount(Decimal(1), 1)))),
        (23, "00 0F 00", R(hours=(8, 9, 10, 11))),
        (28, "00 0950 09", R(pf_limit_1=Decimal("90.0"), pf_limit_2=Decimal("95.0"))),
        (29, "31 32 33 34 35 36 37 38 39 30 31 32", R(display_number="123456789012")),
        (30, "01", R(stopped=1)),
        (36, "00 00 A0 00", R(monthly_limit=0xA00000)),
        (43, "0F", R(slide_min=15)),
        (45, "03", R(rounds=(1, 2))),
        (46, "00 00 05 00", R(limit=A3Amount(Decimal(50000), 0))),
        (48, "81", R(rounds=(1, 8))),
        (49, "0A", R(alarm_min=10)),
        (57, "FF FF FF", R(hours=tuple(range(24)))),
        (58, "48", R(no_comm_hours=72)),
        (59, "15 20 04 05", R(over_tolerance=Decimal("1.5"), flying=Decimal("2.0"), stopped=4, clock_tolerance_min=5)),
        (61, "05", R(ports=(1, 3))),
        (67, "55", R(action=0x55)),
        (68, "AA", R(action=0xAA)),
        (76, "01", R(mode=1)),
        (81, "00 8100 82", R(start=Decimal(100), end=Decimal(200))),  # A.2, G=4
        (83, "02", R(density=2)),
    ],
)
def test_small_parameters(fn: int, body: str, expected: Record) -> None:
    check_both(fn, body, expected)


def test_f18_power_control_periods_are_two_bit_codes() -> None:
    body = (
        "94"  # 94H = 10 01 01 00: 0:00 不控制, 0:30 and 1:00 控制1, 1:30 控制2
        + "00" * 10
        + "02"  # 22:00 控制2, 22:30–24:00 不控制
    )
    check_both(18, body, R(periods=(0, 1, 1, 2) + (0,) * 40 + (2, 0, 0, 0)))


def test_f21_tariff_periods() -> None:
    body = "01" * 16 + "02" * 32 + "02"  # 0:00–8:00 tariff 1, 8:00–24:00 tariff 2; 2 tariffs
    check_both(21, body, R(tariffs=(1,) * 16 + (2,) * 32, tariff_count=2))


def test_f25_measurement_point_basics() -> None:
    body = (
        "01 00"  # PT 1
        "28 00"  # CT 40
        "00 22"  # 额定电压 220.0 V (A.7)
        "15"  # 额定电流 1.5 A (A.22)
        "00 00 30"  # 额定负荷 30.0000 kVA (A.23)
        "02"  # 三相四线
    )
    expected = R(
        pt_ratio=1,
        ct_ratio=40,
        rated_voltage=Decimal("220.0"),
        rated_current=Decimal("1.5"),
        rated_load=Decimal("30.0000"),
        wiring=R(connection=2, phase=0),
    )
    check_both(25, body, expected, pn=1)


def test_f26_measurement_point_limits() -> None:
    body = (
        "54 23"  # 电压合格上限 235.4 V
        "80 19"  # 下限 198.0 V
        "20 13"  # 断相门限 132.0 V
        "40 26"
        "05"
        "50 09"  # 过压 264.0 V, 5 min, 恢复 95.0 %
        "40 15"
        "05"
        "50 10"  # 欠压 154.0 V, 5 min, 恢复 105.0 %
        "00 60 00"
        "01"
        "50 09"  # 过流 6.000 A
        "00 50 00"
        "01"
        "50 09"  # 额定电流门限 5.000 A
        "00 10 00"
        "01"
        "50 09"  # 零序电流 1.000 A
        "00 30 03"
        "01"
        "50 09"  # 视在功率上上限 3.3000 kVA
        "00 00 03"
        "01"
        "50 09"  # 视在功率上限 3.0000 kVA
        "20 00"
        "05"
        "50 09"  # 电压不平衡 2.0 %
        "00 03"
        "05"
        "50 09"  # 电流不平衡 30.0 %
        "05"  # 连续失压 5 min
    )
    assert len(bytes.fromhex(body)) == 57
    r95 = Decimal("95.0")
    expected = R(
        u_upper=Decimal("235.4"),
        u_lower=Decimal("198.0"),
        u_break=Decimal("132.0"),
        u_over=Decimal("264.0"), u_over_min=5, u_over_recovery=r95,
        u_under=Decimal("154.0"), u_under_min=5, u_under_recovery=Decimal("105.0"),
        i_over=Decimal("6.000"), i_over_min=1, i_over_recovery=r95,
        i_rated=Decimal("5.000"), i_rated_min=1, i_rated_recovery=r95,
        i_zero=Decimal("1.000"), i_zero_min=1, i_zero_recovery=r95,
        s_over=Decimal("3.3000"), s_over_min=1, s_over_recovery=r95,
        s_upper=Decimal("3.0000"), s_upper_min=1, s_upper_recovery=r95,
        u_unbalance=Decimal("2.0"), u_unbalance_min=5, u_unbalance_recovery=r95,
        i_unbalance=Decimal("30.0"), i_unbalance_min=5, i_unbalance_recovery=r95,
        u_loss_min=5,
    )  # fmt: skip
    check_both(26, body, expected, pn=1)


def test_f33_meter_reading_parameters() -> None:
    body = (
        "01"  # n = 1
        "02"  # port 2
        "00 00"  # 运行控制字
        "01 00 00 00"  # 抄表日 1日
        "30 00"  # 抄表时间 00:30 (A.19)
        "0F"  # 抄表间隔 15 min
        "00 02 01"  # 广播校时 1日 02:00 (A.18)
        "01"  # m = 1
        "00 00"
        "59 23"  # 00:00–23:59
    )
    port = R(
        port=2,
        control=0,
        read_days=(1,),
        read_time=HourMinute(0, 30),
        interval_min=15,
        broadcast_sync=DayHourMinute(1, 2, 0),
        m=1,
        windows=(R(start=HourMinute(0, 0), end=HourMinute(23, 59)),),
    )
    check_both(33, body, R(n=1, ports=(port,)))


def test_f38_data_configuration_and_its_query() -> None:
    body = "010100 0206 01"  # 大类 1, m=1: 小类 0, 2 groups: {F2, F3}, {F9}
    expected = R(major=1, m=1, minors=(R(minor=0, n=2, groups=((2, 3), (1,))),))
    check_both(38, body, expected)
    check_both(39, body, expected)
    check_table(QUERY, 38, Dir.DOWN, "01 02 00 05", R(major=1, n=2, minors=(0, 5)))


def test_f41_period_power_limits_follow_the_bitmaps() -> None:
    body = (
        "01"  # 方案标志: 第1套 only
        "05"  # 时段号: 第1, 第3时段 → two A.2 values follow
        "25 81"  # 125 kW
        "00 E5"  # 500 × 10^-3 = 0.5 kW
    )
    expected = R(schemes=1, scheme_limits=(R(periods=5, limits=(Decimal(125), Decimal("0.5"))),))
    check_both(41, body, expected, pn=1)


def test_f41_truncated_after_the_bitmap_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode_one(SET, 41, Dir.DOWN, "01 07 25 81 00 E5", pn=1)  # 3 periods announced, 2 values sent


@pytest.mark.parametrize(
    ("fn", "body", "expected"),
    [
        (42, "00 A500 0804C0", R(limit=Decimal(50), start=HourMinute(8, 0), duration=4, weekdays=(6, 7))),
        (44, "01 01 2628 02 2600 81", R(start=date(2026, 1, 1), end=date(2026, 2, 28), limit=Decimal(100))),
        (
            47,
            "01 00 00 005500 10 00 0000 01 00 0000 00 00 00",
            R(
                order=1,
                mode=0x55,
                amount=A3Amount(Decimal(1000), 0),
                alarm=A3Amount(Decimal(100), 0),
                trip=A3Amount(Decimal(0), 0),
            ),
        ),
    ],
)
def test_control_parameters(fn: int, body: str, expected: Record) -> None:
    check_both(fn, body, expected, pn=1)


def test_2013_variants_of_f46_and_f59() -> None:
    f46 = "00 00 05 0050"  # 50000 kWh; 报警门限值系数 80 %
    check_table(SET, 46, Dir.DOWN, f46, R(limit=A3Amount(Decimal(50000), 0), alarm_percent=80), pn=1, edition="2013")
    check_table(QUERY, 46, Dir.UP, f46, R(limit=A3Amount(Decimal(50000), 0), alarm_percent=80), pn=1, edition="2013")
    f59 = "15 20 042C 01"  # 校时阈值 300 s (BIN 2)
    expected = R(over_tolerance=Decimal("1.5"), flying=Decimal("2.0"), stopped=4, clock_tolerance_s=300)
    check_table(SET, 59, Dir.DOWN, f59, expected, edition="2013")
    with pytest.raises(DecodeError):  # a 2013 body read with the 2009 layout leaves a byte: not one unit
        decode_one(SET, 59, Dir.DOWN, f59)


def test_f73_sixteen_capacitor_groups() -> None:
    body = "01 00 81" + "00 EE EE" * 15  # group 1: 共补 01H, 100 kvar (A.2); groups 2–16: no capacity (EE)
    groups = (R(mode=1, capacity=Decimal(100)),) + (R(mode=0, capacity=None),) * 15
    check_both(73, body, R(capacitors=groups), pn=1)


def test_f60_harmonic_limits_count_80_bytes() -> None:
    body = "50 00" * 21 + "00 01" * 19  # every voltage limit 5.0 %, every current limit 1.00 A
    value = decode_one(SET, 60, Dir.DOWN, body)
    assert isinstance(value, Record)
    assert [value[k] for k in ("u_total", "u_odd", "u_even", "u_2", "u_18", "u_3", "u_19")] == [Decimal("5.0")] * 7
    assert [value[k] for k in ("i_total", "i_2", "i_19")] == [Decimal("1.00")] * 3
    assert len(value) == 40


def test_f65_timed_report_task() -> None:
    body = (
        "0F"  # 周期 15, 单位 0 = 分
        "00 00 00 01 81 26"  # 基准时间 2026-01-01 00:00:00, Thursday (4 << 5 | 01)
        "01"  # 抽取倍率 1
        "02"  # n = 2
        "01 01 01 10"  # p1 F129
        "00 00 02 00"  # p0 F2
    )
    expected = R(
        period=R(value=15, unit=0),
        base_time=datetime(2026, 1, 1),
        ratio=1,
        n=2,
        units=(UnitId((1,), (129,)), UnitId((0,), (2,))),
    )
    check_both(65, body, expected, pn=1)
    check_both(66, body, expected, pn=1)


def test_query_without_body_is_identifiers_only() -> None:
    units = decode_units(QUERY, bytes.fromhex("00 00 01 00"), Dir.DOWN)  # p0 F1
    assert units == [DataUnit(0, 1, None)]
    assert lookup(QUERY, 1, Dir.DOWN) is not None and not lookup(QUERY, 1, Dir.DOWN).has_body  # type: ignore[union-attr]


def test_every_parameter_is_set_downlink_and_queried_uplink_only() -> None:
    for fn in (1, 3, 10, 26, 41, 65, 83):
        assert lookup(SET, fn, Dir.DOWN) is lookup(QUERY, fn, Dir.UP)
        assert lookup(SET, fn, Dir.UP) is None  # the terminal answers a set with AFN00


def test_bitfield_encode_needs_exactly_its_fields() -> None:
    value = R(rts_delay=5, master_delay_min=30, response=R(timeout_s=30), con_required=R(), heartbeat_min=15)
    with pytest.raises(LocalProtocolError, match="fields"):
        encode_units(SET, [DataUnit(0, 1, value)], Dir.DOWN)
    too_big = R(
        rts_delay=5,
        master_delay_min=30,
        response=R(timeout_s=4096, retries=0),
        con_required=R(class1=0, class2=0, class3=0),
        heartbeat_min=15,
    )
    with pytest.raises(LocalProtocolError, match="12 bit"):
        encode_units(SET, [DataUnit(0, 1, too_big)], Dir.DOWN)


def test_two_units_in_one_frame_body() -> None:
    data = unit_bytes(0, 43, "0F") + unit_bytes(0, 49, "0A")
    assert decode_units(SET, data, Dir.DOWN) == [DataUnit(0, 43, R(slide_min=15)), DataUnit(0, 49, R(alarm_min=10))]
