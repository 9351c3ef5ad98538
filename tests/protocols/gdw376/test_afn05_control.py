"""AFN05 控制命令 and AFN01 复位命令: bodies written by hand from Q/GDW 376.1-2009 §5.6 / §5.2, with their decoding;
a whole F31 对时 frame assembled by hand against messages.command."""

from __future__ import annotations

from datetime import datetime

import pytest

from protocols.gdw376.formats import FloatCoefficient
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Afn, Dir, parse_frame
from protocols.gdw376.messages import command, time_sync
from protocols.gdw376.units import DataUnit, decode_units, lookup

from .unit_tables import check_table

R = Record


@pytest.mark.parametrize(
    ("fn", "pn", "body", "expected"),
    [
        # F1 遥控跳闸 (pn = 轮次): 告警延时 2 min in D7..D4, 限电时间 5 × 0.5 h in D3..D0
        (1, 1, "25", R({"trip": R({"limit_half_hours": 5, "alarm_delay_min": 2})})),
        # F9 时段功控投入 (pn = 总加组): 时段 1–3, 方案 1 (= 第2套)
        (9, 1, "07 01", R({"periods": (1, 2, 3), "scheme": 1})),
        # F12 当前功率下浮控投入: 滑差 5 min, 下浮 20 % (A.4 A0H), 冻结延时 2 min, 控制 4 × 0.5 h, 告警 1–4 min
        (
            12,
            1,
            "05 A0 02 04 01 02 03 04",
            R(
                {
                    "slide_min": 5,
                    "coefficient": FloatCoefficient(20, down=True),
                    "freeze_delay_min": 2,
                    "duration": 4,
                    "alarm_min": (1, 2, 3, 4),
                }
            ),
        ),
        (25, 0, "00", R({"duration": 0})),  # 保电投入, 无限期
        (31, 0, "00 30 08 23 31 26", R({"clock": datetime(2026, 11, 23, 8, 30)})),  # Monday: 001 1 0001 = 31H
        # F32 中文信息: 编号 1, 种类 1 (重要), 4 bytes GB2312 "中文"
        (
            32,
            0,
            "11 04 D6 D0 CE C4",
            R({"info": R({"number": 1, "kind": 1}), "length": 4, "text": "中文".encode("gb2312")}),
        ),
        (41, 1, "03 00", R({"capacitors": (1, 2)})),
        (42, 1, "00 80", R({"capacitors": (16,)})),
        (49, 0, "02", R({"port": 2})),
        (53, 0, "1F", R({"port": 31})),
    ],
)
def test_control_bodies(fn: int, pn: int, body: str, expected: Record) -> None:
    check_table(Afn.CONTROL, fn, Dir.DOWN, body, expected, pn)


@pytest.mark.parametrize("fn", [2, 10, 11, 15, 16, 17, 18, 19, 20, 23, 24, 26, 27, 28, 29, 33, 34, 35, 36, 37, 38, 39])
def test_commands_without_body(fn: int) -> None:
    codec = lookup(Afn.CONTROL, fn, Dir.DOWN)
    assert codec is not None and not codec.has_body


def test_no_control_is_registered_uplink() -> None:
    assert all(lookup(Afn.CONTROL, fn, Dir.UP) is None for fn in range(1, 249))


def test_several_rounds_share_one_identifier_for_allow_close() -> None:
    units = decode_units(Afn.CONTROL, bytes.fromhex("03 01 02 00"), Dir.DOWN)  # p1 p2, F2 允许合闸
    assert units == [DataUnit(1, 2), DataUnit(2, 2)]


def test_time_sync_frame_by_hand() -> None:
    frame = command(
        Address("4403", 18, msa=1),
        Afn.CONTROL,
        [DataUnit(0, 31, R({"clock": datetime(2026, 11, 23, 8, 30)}))],
        pseq=1,
    )
    expected = bytes.fromhex(
        "68 8A 00 8A 00 68"  # L = 34 bytes << 2 | 10B
        "4A"  # DIR=0 PRM=1 FC=10
        "03 44 12 00 02"  # A1 4403, A2 18, MSA 1
        "05 61"  # AFN05, SEQ FIR FIN PSEQ 1
        "00 00 40 03"  # p0 F31
        "00 30 08 23 31 26"  # 2026-11-23 08:30:00 Monday
        + "00" * 16  # PW (security off)
        + "00 16"  # CS: the user-data bytes sum to 200H
    )
    assert frame == expected
    assert time_sync(Address("4403", 18, msa=1), datetime(2026, 11, 23, 8, 30, 0, 250_000), pseq=1) == expected
    parsed = parse_frame(frame)
    assert decode_units(parsed.afn, parsed.data, parsed.dir) == [
        DataUnit(0, 31, R({"clock": datetime(2026, 11, 23, 8, 30)}))
    ]


@pytest.mark.parametrize(
    ("fn", "name"), [(1, "硬件初始化"), (2, "数据区初始化"), (3, "参数及全体数据区初始化（即恢复至出厂配置）")]
)
def test_afn01_resets_have_no_body(fn: int, name: str) -> None:
    codec = lookup(Afn.RESET, fn, Dir.DOWN)
    assert codec is not None and codec.name == name and not codec.has_body


def test_afn01_identifiers_expand() -> None:
    units = decode_units(Afn.RESET, bytes.fromhex("00 00 0F 00"), Dir.DOWN)  # p0 F1–F4 in one DT
    assert units == [DataUnit(0, 1), DataUnit(0, 2), DataUnit(0, 3), DataUnit(0, 4)]
