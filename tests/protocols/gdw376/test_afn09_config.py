"""AFN09 请求终端配置及信息: reply bodies written by hand from Q/GDW 376.1-2009 §5.10, with their decoding."""

from __future__ import annotations

from datetime import date

import pytest

from protocols.errors import DecodeError
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units import DataUnit, decode_units, lookup

from .unit_tables import check_table, decode_one

CONFIG = Afn.REQUEST_CONFIG


def R(**fields: object) -> Record:
    return Record(fields)


def test_f1_version_information_41_bytes() -> None:
    body = (
        "41 42 43 44"  # 厂商代号 "ABCD"
        "31 32 33 34 35 36 37 38"  # 设备编号 "12345678"
        "56 31 2E 30"  # 软件版本 "V1.0"
        "01 05 24"  # 软件发布日期 2024-05-01 (A.20)
        + "30"
        * 11  # 配置容量信息码 "00000000000"
        + "33 37 36 31"  # 协议版本 "3761"
        "48 57 30 31"  # 硬件版本 "HW01"
        "31 12 23"  # 硬件发布日期 2023-12-31
    )
    assert len(bytes.fromhex(body)) == 41
    expected = R(
        vendor="ABCD",
        device="12345678",
        software="V1.0",
        software_date=date(2024, 5, 1),
        capacity="00000000000",
        protocol="3761",
        hardware="HW01",
        hardware_date=date(2023, 12, 31),
    )
    check_table(CONFIG, 1, Dir.UP, body, expected)


def test_f1_trailing_nul_padding_is_dropped() -> None:
    body = "41 42 00 00" + "31" * 8 + "56 31 2E 3001 05 24" + "30" * 11 + "33 37 36 3148 57 30 3131 12 23"
    value = decode_one(CONFIG, 1, Dir.UP, body)
    assert isinstance(value, Record) and value["vendor"] == "AB"


def test_f2_io_and_ports() -> None:
    body = (
        "02 04 00 02"  # 脉冲 2, 开关量输入 4, 直流模拟量 0, 开关量输出 2
        "00 04"  # 最多 1024 块表
        "00 08 00 08"  # 上行接收/发送缓存 2048
        "00 11 22 33 44 55"  # MAC
        "01"  # n = 1 port
        "02 02"  # port 2, RS485 (0), standard; 用途 byte 2 (台区低压集抄)
        "80 25 00 00"  # 9600 bps
        "00 04"  # 1024 devices
        "00 01 00 01"  # 256-byte buffers
    )
    port = R(word=R(port=2, channel=0, nonstandard=0, use=2), max_baud=9600, devices=1024, rx_buffer=256, tx_buffer=256)
    expected = R(
        pulse_inputs=2,
        switch_inputs=4,
        dc_inputs=0,
        switch_outputs=2,
        max_meters=1024,
        rx_buffer=2048,
        tx_buffer=2048,
        mac=bytes.fromhex("001122334455"),
        n=1,
        ports=(port,),
    )
    check_table(CONFIG, 2, Dir.UP, body, expected)


def test_f3_other_configuration_lists_minor_classes_for_all_16_major_classes() -> None:
    body = (
        "F8 07"  # 2040 测量点
        "08 40 08 04"  # 8 总加组, 64 任务, 8 差动组, 4 费率
        "01 01 01 01 01"  # 冻结密度 (15 min)
        "1F 0C 03 13 10 14"  # 31 天, 12 月, 3 方案, 19 次谐波, 16 电容器组, 20 重点户
        "03 00"  # 用户大类 0 and 1 supported
        "10 10" + "00" * 14  # 16 小类 each for 大类 0 and 1, none for 2..15
    )
    expected = R(
        points=2040,
        groups=8,
        tasks=64,
        differentials=8,
        tariffs=4,
        point_density=1,
        p_density=1,
        q_density=1,
        ep_density=1,
        eq_density=1,
        days=31,
        months=12,
        power_schemes=3,
        harmonics=19,
        capacitors=16,
        key_users=20,
        user_classes=(0, 1),
        minor_counts=(16, 16) + (0,) * 14,
    )
    check_table(CONFIG, 3, Dir.UP, body, expected)


def test_f3_without_the_full_minor_class_table_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):  # only one count per set bit, as one firmware sends it
        decode_one(CONFIG, 3, Dir.UP, "F8 07 08 40 08 04 01 01 01 01 01 1F 0C 03 13 10 14 03 00 10 10")


@pytest.mark.parametrize("fn", [4, 5])
def test_f4_f5_supported_fn_groups(fn: int) -> None:
    # 2 groups: F1–F8 all, then F9 and F10
    check_table(CONFIG, fn, Dir.UP, "02 FF 03", R(n=2, groups=(tuple(range(1, 9)), (1, 2))))


@pytest.mark.parametrize("fn", [6, 7])
def test_f6_f7_supported_fn_per_user_class(fn: int) -> None:
    body = "01 0001 02"  # 大类 0 only; 1 group: F2
    check_table(CONFIG, fn, Dir.UP, body, R(user_classes=1, classes=(R(n=1, groups=((2,),)),)))


def test_f8_supported_events() -> None:
    check_table(CONFIG, 8, Dir.UP, "07 20 00 00 00 00 00 00", R(ercs=(1, 2, 3, 14)))


def test_requests_are_identifiers_only() -> None:
    units = decode_units(CONFIG, bytes.fromhex("00 00 FF 00"), Dir.DOWN)  # p0 F1–F8
    assert units == [DataUnit(0, fn) for fn in range(1, 9)]
    assert all(not lookup(CONFIG, fn, Dir.DOWN).has_body for fn in range(1, 9))  # type: ignore[union-attr]
