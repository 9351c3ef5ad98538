"""AFN0E F1/F2 events and the ERC1–ERC41 record bodies: one hand-written body per ERC from the layouts
(Q/GDW 376.1-2009 附录B, 1376.1-2013 ERC36–41; sources in protocols/gdw376/units/erc.py) with its decoding
written out by hand, the PROTOCOLS.md worked examples (ERC14, ERC24) in whole frames, lenient/strict handling
of unknown and mis-sized records, Pm/Pn arithmetic, and property tests.

Fields below: T = 发生时间 30 08 01 05 24 (2024-05-01 08:30, A.15); P5+ = 05 80 (p5, D15 起 = 1)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError, ProtocolError
from protocols.gdw376.describe import describe_frame
from protocols.gdw376.formats import BIN1, A3Amount, UnitId
from protocols.gdw376.layout import Field, Record
from protocols.gdw376.link import Address, Afn, Dir, parse_frame
from protocols.gdw376.messages import command, event_request
from protocols.gdw376.units import DataUnit, decode_units, encode_units
from protocols.gdw376.units.afn0e import EventReport, record_count
from protocols.gdw376.units.erc import ERCS, EventRecord, decode_event, encode_event, erc_layouts, event_record

from .layout_strategies import records
from .samples import framed

D, U = Dir.DOWN, Dir.UP
T = "3008010524"
AT = datetime(2024, 5, 1, 8, 30)
P5 = {"pn": 5, "start": 1}
ENERGY = "7856341200"  # A.14 1234.5678 kWh
KWH = Decimal("1234.5678")


def r(**kw: Any) -> dict[str, Any]:
    return kw


def flags(**kw: int) -> dict[str, int]:
    return kw


PHASE = {"a": 1, "b": 0, "c": 0}
ZERO_I = Decimal("0.000")

# (ERC, body hex grouped by field, expected value)
TABLE: list[tuple[int, str, dict[str, Any]]] = [
    (
        1,
        f"{T} 02 56312E30 56312E31",  # 版本变更 (D1), "V1.0" → "V1.1"
        r(time=AT, flags=flags(init=0, version_change=1), old_version="V1.0", new_version="V1.1"),
    ),
    (2, f"{T} 01", r(time=AT, flags=flags(terminal=1, point=0))),  # 终端参数丢失
    (
        3,
        f"{T} 02 0000 0100 0101 0103",  # MSA 2; p0 F1 and p1 F25 changed
        r(time=AT, msa=2, ids=(UnitId((0,), (1,)), UnitId((1,), (25,)))),
    ),
    (4, f"{T} 05 04", r(time=AT, changed=(1, 3), state=(3,))),  # 状态量1、3 变位, 3 now on
    (
        5,
        f"{T} 03 2381 50C1",  # rounds 1,2; 123 kW (G=100: ×10^0); 1.50 kW (G=110: ×10^-2)
        r(time=AT, rounds=(1, 2), power=Decimal(123), power_2min=Decimal("1.50")),
    ),
    (
        6,
        f"{T} 01 03 01 2381 50C1 0081",  # group 1, rounds 1,2, 时段控, …, setting 100 kW
        r(
            time=AT,
            group=1,
            rounds=(1, 2),
            kind=flags(period=1, rest_day=0, shutdown=0, down_float=0),
            power=Decimal(123),
            power_2min=Decimal("1.50"),
            setting=Decimal(100),
        ),
    ),
    (
        7,
        f"{T} 01 01 02 34120000 00200000",  # 购电控, 1234 kWh, setting 2000 kWh (A.3, G=0)
        r(
            time=AT,
            group=1,
            rounds=(1,),
            kind=flags(monthly=0, purchase=1),
            energy=A3Amount(Decimal(1234), 0),
            setting=A3Amount(Decimal(2000), 0),
        ),
    ),
    (
        8,
        f"{T} 0500 21",  # p5; 费率时段 (D0) and 需量清零 (D5)
        r(
            time=AT,
            point={"pn": 5},
            flags=flags(
                tariff_periods=1,
                programming_time=0,
                reading_day=0,
                pulse_constant=0,
                transformer_ratio=0,
                demand_reset=1,
            ),
        ),
    ),
    (
        9,
        f"{T} 0580 41 0122 0222 0322 005000 000000 000000 {ENERGY}",  # A 相, kind 1 短路; U 220.1/.2/.3; Ia 5 A
        r(
            time=AT,
            point=P5,
            flags={**PHASE, "kind": 1},
            u_a=Decimal("220.1"),
            u_b=Decimal("220.2"),
            u_c=Decimal("220.3"),
            i_a=Decimal("5.000"),
            i_b=ZERO_I,
            i_c=ZERO_I,
            energy=KWH,
        ),
    ),
    (
        10,
        f"{T} 0500 82 0122 0000 0322 005000 000000 005000 {ENERGY}",  # restored; B 相 kind 2 失压
        r(
            time=AT,
            point={"pn": 5, "start": 0},
            flags={"a": 0, "b": 1, "c": 0, "kind": 2},
            u_a=Decimal("220.1"),
            u_b=Decimal(0),
            u_c=Decimal("220.3"),
            i_a=Decimal("5.000"),
            i_b=ZERO_I,
            i_c=Decimal("5.000"),
            energy=KWH,
        ),
    ),
    (
        11,
        f"{T} 0580 0000 0012 0024 0083 0012 0024 {ENERGY}",  # ∠U 0/120/240, ∠I −30/120/240 (A.5 sign D7)
        r(
            time=AT,
            point=P5,
            angle_u_a=Decimal(0),
            angle_u_b=Decimal(120),
            angle_u_c=Decimal(240),
            angle_i_a=Decimal(-30),
            angle_i_b=Decimal(120),
            angle_i_c=Decimal(240),
            energy=KWH,
        ),
    ),
    (12, f"{T} 0580", r(time=AT, point=P5)),
    (
        13,
        f"{T} 0580 10",  # 电池欠压 (D4)
        r(
            time=AT,
            point=P5,
            flags=flags(program_or_demand_reset=0, phase_break=0, voltage_loss=0, power_cut=0, battery_low=1),
        ),
    ),
    # PROTOCOLS.md A.9: ERC14 = 停电时间 A.15 + 上电时间 A.15 (Le=10)
    (14, f"{T} 1509010524", r(power_off=AT, power_on=datetime(2024, 5, 1, 9, 15))),
    (
        14,
        f"03 {T} 1509010524",  # 2013 form (Le=11): 事件属性 正常 + 有效 first
        r(attribute=flags(normal=1, valid=1), power_off=AT, power_on=datetime(2024, 5, 1, 9, 15)),
    ),
    (
        15,
        f"{T} 0580 01 030000 5200 3100" + " 0000" * 17,  # A 相电压; 总畸变率 5.2 %, 2 次 3.1 %
        r(
            time=AT,
            point=P5,
            anomaly=flags(a=1, b=0, c=0, current=0),
            over=(1, 2),
            values=(Decimal("5.2"), Decimal("3.1"), *(Decimal(0),) * 17),
        ),
    ),
    (
        15,
        f"{T} 0580 81 020000 0000 2501" + " 0000" * 17,  # A 相电流 (D7); 2 次 1.25 A (A.6)
        r(
            time=AT,
            point=P5,
            anomaly=flags(a=1, b=0, c=0, current=1),
            over=(2,),
            values=(Decimal(0), Decimal("1.25"), *(Decimal(0),) * 17),
        ),
    ),
    (
        16,
        f"{T} 83 01 2381",  # port 3 起; 越上限; 123 (A.2)
        r(time=AT, point={"pn": 3, "start": 1}, flags=flags(upper=1, lower=0), value=Decimal(123)),
    ),
    (
        17,
        f"{T} 0580 01 2501 3000 0122 0222 0322 005000 000000 000000",  # 电压不平衡 12.5 %, 电流 3.0 %
        r(
            time=AT,
            point=P5,
            flags=flags(voltage=1, current=0),
            unbalance_u=Decimal("12.5"),
            unbalance_i=Decimal("3.0"),
            u_a=Decimal("220.1"),
            u_b=Decimal("220.2"),
            u_c=Decimal("220.3"),
            i_a=Decimal("5.000"),
            i_b=ZERO_I,
            i_c=ZERO_I,
        ),
    ),
    (
        18,
        f"{T} 0580 01 0300 5008 005001 0122",  # 过压; groups 1,2; PF 85.0 %; 1.5000 kvar; 220.1 V
        r(
            time=AT,
            point=P5,
            causes=flags(overvoltage=1, device_fault=0, circuit_fault=0),
            capacitors=(1, 2),
            power_factor=Decimal("85.0"),
            reactive_power=Decimal("1.5000"),
            voltage=Decimal("220.1"),
        ),
    ),
    (
        19,
        f"{T} 01 78563412 55 00100000 00020000 00010000 00050000 00150000",  # order 12345678H, 追加
        r(
            time=AT,
            group=1,
            order=0x12345678,
            mode=0x55,
            amount=A3Amount(Decimal(1000), 0),
            alarm=A3Amount(Decimal(200), 0),
            trip=A3Amount(Decimal(100), 0),
            before=A3Amount(Decimal(500), 0),
            after=A3Amount(Decimal(1500), 0),
        ),
    ),
    (20, f"{T} 000102030405060708090A0B0C0D0E0F 02", r(time=AT, pw=bytes(range(16)), msa=2)),
    (21, f"{T} 04", r(time=AT, code=4)),  # 485抄表故障
    (
        22,
        f"{T} 81 00100000 00090000 0B 00010000 02 {ENERGY} 0000000100 01 0000000200",
        r(
            time=AT,
            group={"pn": 1, "start": 1},
            compared=A3Amount(Decimal(1000), 0),
            reference=A3Amount(Decimal(900), 0),
            relative=11,
            absolute=A3Amount(Decimal(100), 0),
            n=2,
            compared_readings=(KWH, Decimal(100)),
            m=1,
            reference_readings=(Decimal(200),),
        ),
    ),
    (
        23,
        f"{T} 01 01 01 34120000 00200000",  # 月电控 告警
        r(
            time=AT,
            group=1,
            rounds=(1,),
            kind=flags(monthly=1, purchase=0),
            energy=A3Amount(Decimal(1234), 0),
            setting=A3Amount(Decimal(2000), 0),
        ),
    ),
    # PROTOCOLS.md A.9: ERC24 = time A.15 + pn/D15 + 越限标志 + Ua Ub Uc (A.7) (Le=14)
    (
        24,
        f"{T} 0580 41 0124 0224 0324",  # A 相 越上上限; 240.1/240.2/240.3 V
        r(
            time=AT,
            point=P5,
            flags={**PHASE, "kind": 1},
            u_a=Decimal("240.1"),
            u_b=Decimal("240.2"),
            u_c=Decimal("240.3"),
        ),
    ),
    (
        25,
        f"{T} 0580 81 005000 001000 002000",  # A 相 越上限; 5, 1, 2 A
        r(
            time=AT,
            point=P5,
            flags={**PHASE, "kind": 2},
            i_a=Decimal("5.000"),
            i_b=Decimal("1.000"),
            i_c=Decimal("2.000"),
        ),
    ),
    (
        26,
        f"{T} 0580 40 005001 000001",  # 越上上限; 1.5000 kVA, limit 1.0000
        r(
            time=AT,
            point=P5,
            flags=flags(kind=1),
            apparent_power=Decimal("1.5000"),
            limit=Decimal("1.0000"),
        ),
    ),
    (27, f"{T} 0580 {ENERGY} 0000000100", r(time=AT, point=P5, before=KWH, after=Decimal(100))),
    (
        28,
        f"{T} 0580 {ENERGY} 0000000100 15",
        r(time=AT, point=P5, reference=KWH, energy=Decimal(100), threshold=Decimal("1.5")),
    ),
    (
        29,
        f"{T} 0580 0000000100 {ENERGY} 20",
        r(time=AT, point=P5, before=Decimal(100), after=KWH, threshold=Decimal("2.0")),
    ),
    (30, f"{T} 0580 {ENERGY} 04", r(time=AT, point=P5, energy=KWH, threshold=4)),
    (
        31,
        f"{T} 0580 0008010524 {ENERGY} 34120000",  # last read 08:00, 1234.5678 kWh, 12.34 kvarh
        r(
            time=AT,
            point=P5,
            last_read_time=datetime(2024, 5, 1, 8, 0),
            last_active=KWH,
            last_reactive=Decimal("12.34"),
        ),
    ),
    (32, f"{T} 00001000 00000100", r(time=AT, traffic=0x100000, limit=0x10000)),  # 1 MiB > 64 KiB
    (
        33,
        f"{T} 0580 1000 0000 0000 0000 0000 0000 0000 1000 0000 0000 0000 0000 0000 0000",
        r(time=AT, point=P5, changed=(0x10, 0, 0, 0, 0, 0, 0), words=(0x10, 0, 0, 0, 0, 0, 0)),  # word 1 D4
    ),
    (34, f"{T} 0580 41", r(time=AT, point=P5, flags=0x41)),
    (
        35,
        f"{T} 1F 02 010000000000 2F 01 020000000000 C3 00",  # carrier port 31, two meters
        r(
            time=AT,
            port=31,
            n=2,
            meters=(
                {"address": "000000000001", "phase": {"quality": 15, "a": 1, "b": 0, "c": 0}, "protocol": 1},
                {"address": "000000000002", "phase": {"quality": 3, "a": 0, "b": 1, "c": 1}, "protocol": 0},
            ),
        ),
    ),
    (36, f"{T} 01 01", r(time=AT, changed=(1,), state=(1,))),
    (37, f"{T} 0580 050000 003008010524 003508010524 " + "00000100 " * 6 + "00000200 " * 6, {}),  # filled below
    (38, f"{T} 0580 050000 003008010524 003508010524 " + "00000100 " * 6 + "00000200 " * 6, {}),
    (39, f"{T} 0580 0008010524 {ENERGY} EEEEEEEE", {}),  # filled below: 无功 not read (EE)
    (
        40,
        f"{T} 0580 02 010000000000 02",  # 电能表 000000000001, 强磁场
        r(time=AT, point=P5, device_type=2, address="000000000001", kind=2),
    ),
    (
        41,
        "0500 000008016524 300008016524",  # p5; 08:00:00 → 08:00:30 (A.1, Wednesday: week 3 in 65)
        r(point={"pn": 5, "start": 0}, before=datetime(2024, 5, 1, 8, 0), after=datetime(2024, 5, 1, 8, 0, 30)),
    ),
]


def _cover(what: str) -> dict[str, Any]:
    energies = ("forward_active", "reverse_active", "q1", "q2", "q3", "q4")
    out: dict[str, Any] = {
        "time": AT,
        "point": P5,
        "count": Decimal(5),
        "start": datetime(2024, 5, 1, 8, 30),
        "end": datetime(2024, 5, 1, 8, 35),
    }
    out.update({f"before_{e}": Decimal(100) for e in energies})
    out.update({f"after_{e}": Decimal(200) for e in energies})
    return out


EXPECTED_FILL = {
    37: _cover("开表盖"),
    38: _cover("开端钮盒"),
    39: r(time=AT, point=P5, last_read_time=datetime(2024, 5, 1, 8, 0), last_active=KWH, last_reactive=None),
}
TABLE = [(erc, body, value or EXPECTED_FILL[erc]) for erc, body, value in TABLE]


def test_every_erc_has_a_table_row() -> None:
    assert sorted({erc for erc, _, _ in TABLE}) == list(range(1, 42)) == sorted(ERCS)


@pytest.mark.parametrize(("erc", "body", "expected"), TABLE, ids=[f"ERC{e}-{i}" for i, (e, _, _) in enumerate(TABLE)])
def test_erc_table(erc: int, body: str, expected: dict[str, Any]) -> None:
    raw = bytes.fromhex(body)
    record = decode_event(erc, raw, strict=True)
    assert record == EventRecord(erc, ERCS[erc].name, Record(expected), raw)
    assert ERCS[erc].encode(record.value or {}) == raw
    assert event_record(erc, expected) == record


# --- AFN0E in frames ---------------------------------------------------------------------------------------------

ERC14 = "0E 0A 3008010524 1509010524"  # ERC 14, Le 10
ERC24 = "18 0E 3008010524 0580 41 0124 0224 0324"  # ERC 24, Le 14
# AFN0E F1 answer: C=88, MSA 2, SEQ 61; EC1=2 EC2=0; Pm=0 Pn=2 (two records)
F1_ANSWER = framed(f"88 0344 0C00 04 0E 61 0000 0100 02 00 00 02 {ERC14} {ERC24}")


def test_f1_answer_with_the_protocols_md_examples() -> None:
    frame = parse_frame(F1_ANSWER)
    (unit,) = decode_units(frame.afn, frame.data, frame.dir)
    report = unit.value
    assert isinstance(report, EventReport)
    assert (report.ec1, report.ec2, report.pointer_pm, report.pointer_pn, report.warnings) == (2, 0, 0, 2, ())
    assert [(e.erc, e.name) for e in report.records] == [(14, "终端停/上电事件"), (24, "电压越限记录")]
    assert report.records[0].value == {"power_off": AT, "power_on": datetime(2024, 5, 1, 9, 15)}
    assert report.records[1].value["point"] == P5
    assert encode_units(0x0E, [unit], U) == frame.data


def test_unsolicited_report_decodes_the_same() -> None:
    # 主动上报: C=C4 (PRM=1 FC=4), SEQ 70 (CON=1, PSEQ 0), EC1=1, Pm=1 Pn=2, one ERC14
    frame = parse_frame(framed(f"C4 0344 0C00 00 0E 70 0000 0100 01 00 01 02 {ERC14}"))
    (unit,) = decode_units(frame.afn, frame.data, frame.dir)
    assert frame.seq.con and [r.erc for r in unit.value.records] == [14]


def test_request_and_builder() -> None:
    body = bytes.fromhex("0000 0100 00 02")  # p0 F1, Pm 0, Pn 2
    (unit,) = decode_units(0x0E, body, D)
    assert unit.value == {"pointer_pm": 0, "pointer_pn": 2}
    built = event_request(Address("4403", 12, msa=2), 1, 0, 2, 1)
    assert built == framed("4B 0344 0C00 04 0E 61 0000 0100 00 02")  # no PW on AFN0E
    assert built == command(Address("4403", 12, msa=2), Afn.REQUEST_CLASS3, [DataUnit(0, 1, unit.value)], 1)


@pytest.mark.parametrize(("pm", "pn", "y"), [(0, 2, 2), (5, 5, 0), (250, 2, 8), (255, 0, 1), (1, 0, 255)])
def test_record_count(pm: int, pn: int, y: int) -> None:
    assert record_count(pm, pn) == y


def test_pointers_wrap_around_256() -> None:
    data = bytes.fromhex(f"0000 0200 00 03 FF 01 {ERC14} {ERC24}")  # F2 一般事件, Pm 255 Pn 1: two records
    (unit,) = decode_units(0x0E, data, U)
    assert (unit.fn, len(unit.value.records)) == (2, 2)


def test_fewer_records_than_announced_is_a_warning() -> None:
    (unit,) = decode_units(0x0E, bytes.fromhex(f"0000 0100 00 00 00 03 {ERC14}"), U)
    assert len(unit.value.records) == 1
    assert unit.value.warnings == ("Pm=0 Pn=3 announce 3 records, the frame holds 1",)


def test_unknown_erc_and_wrong_le_are_kept_raw() -> None:
    data = bytes.fromhex("0000 0100 00 00 00 03 2A 02 ABCD 0E 09 3008010524 15090105 " + ERC24)
    (unit,) = decode_units(0x0E, data, U)
    unknown, short14, ok24 = unit.value.records
    assert unknown == EventRecord(42, None, None, bytes.fromhex("ABCD"), "ERC42 unknown: 2 bytes kept raw")
    assert (short14.erc, short14.value, short14.raw) == (14, None, bytes.fromhex("3008010524 15090105"))
    assert short14.warning is not None and "Le" in short14.warning
    assert ok24.value is not None and ok24.warning is None
    assert unit.value.warnings == (unknown.warning, short14.warning)
    assert encode_units(0x0E, [unit], U) == data  # raw records re-encode byte for byte


def test_strict_mode_raises() -> None:
    with pytest.raises(DecodeError, match="unknown event code ERC42"):
        decode_event(42, b"\xab", strict=True)
    with pytest.raises(DecodeError, match="ERC14"):
        decode_event(14, bytes.fromhex("3008010524 15090105"), strict=True)
    with pytest.raises(DecodeError, match="ERC24"):
        decode_event(24, bytes.fromhex("3008010524 0580 41 0124 0224 0324 00"), strict=True)  # one byte too many


def test_reserved_bits_keep_the_record_raw() -> None:
    record = decode_event(12, bytes.fromhex(f"{T} 0570"))  # D14..D12 备用 set
    assert record.value is None and record.warning is not None


def test_truncated_record_is_a_frame_error() -> None:
    with pytest.raises(DecodeError, match="AFN0E/F1/p0"):
        decode_units(0x0E, bytes.fromhex("0000 0100 00 00 00 01 0E 0A 3008010524"), U)


@pytest.mark.parametrize(
    "report",
    [
        EventReport(0, 0, 0, 2, ()),  # announces 2
        EventReport(256, 0, 0, 0, ()),
        "not a report",
    ],
)
def test_encode_errors(report: object) -> None:
    with pytest.raises(LocalProtocolError):
        encode_units(0x0E, [DataUnit(0, 1, report)], U)


def test_record_builder_errors() -> None:
    with pytest.raises(LocalProtocolError):
        event_record(42, {})
    with pytest.raises(LocalProtocolError, match="no layout has the fields"):
        event_record(14, {"power_off": AT})
    with pytest.raises(LocalProtocolError):
        encode_event(EventRecord(14, None, None, bytes(256)))


def test_describe_shows_erc_name_and_fields() -> None:
    (unit,) = describe_frame(parse_frame(F1_ANSWER))["units"]
    assert unit["name"] == "请求重要事件"
    assert (unit["pn"], unit["ec1"], unit["pointer_pm"], unit["pointer_pn"]) == (0, 2, 0, 2)
    first, second = unit["records"]
    assert first == {
        "erc": 14,
        "name": "终端停/上电事件",
        "value": {"power_off": "2024-05-01T08:30:00", "power_on": "2024-05-01T09:15:00"},
        "raw": "30080105241509010524",
        "warning": None,
    }
    assert second["value"]["point"] == {"pn": 5, "start": 1}
    assert second["value"]["u_a"] == "240.1"


# --- properties --------------------------------------------------------------------------------------------------

LAYOUT_IDS = [f"ERC{erc}-{i}" for erc, i, _ in erc_layouts()]


@pytest.mark.parametrize(("erc", "variant", "codec"), erc_layouts(), ids=LAYOUT_IDS)
@settings(max_examples=40)
@given(data=st.data())
def test_every_erc_layout_round_trips(erc: int, variant: int, codec: Any, data: st.DataObject) -> None:
    value = data.draw(records(codec.layout))
    if erc == 15:  # the value format follows the 异常标志 current bit: make the drawn bit match this variant
        anomaly = Record({**value["anomaly"], "current": variant})
        value = Record([(k, anomaly if k == "anomaly" else v) for k, v in value.items()])
    raw = ERCS[erc].encode(value)
    assert raw == codec.encode(value)
    assert decode_event(erc, raw, strict=True).value == value
    assert codec.compiled.parse(raw) == codec.interpreted.parse(raw)


@given(ids=st.lists(st.builds(UnitId, st.just((0,)), st.integers(1, 248).map(lambda f: (f,))), max_size=8))
def test_erc3_holds_as_many_identifiers_as_le_allows(ids: list[UnitId]) -> None:
    value = {"time": AT, "msa": 1, "ids": tuple(ids)}
    raw = ERCS[3].encode(value)
    assert len(raw) == 6 + 4 * len(ids)
    assert decode_event(3, raw, strict=True).value == value
    with pytest.raises(DecodeError, match="whole DA DT"):
        decode_event(3, raw + b"\x00", strict=True)


@given(erc=st.integers(0, 255), body=st.binary(max_size=80))
def test_random_bodies_never_raise_in_lenient_mode(erc: int, body: bytes) -> None:
    record = decode_event(erc, body)
    assert record.raw == body and (record.value is None) == (record.warning is not None)
    assert encode_event(record) == bytes((erc, len(body))) + body
    try:
        decode_event(erc, body, strict=True)
    except ProtocolError:
        pass


@given(data=st.binary(max_size=120))
def test_random_f1_uplink_bodies_raise_only_protocol_errors(data: bytes) -> None:
    try:
        decode_units(0x0E, bytes.fromhex("0000 0100") + data, U)
    except ProtocolError:
        pass


@given(bodies=st.lists(st.sampled_from([b for e, b, _ in TABLE if e in (14, 24, 35, 41)]), max_size=5))
def test_report_round_trip(bodies: list[str]) -> None:
    erc_of = {b: e for e, b, _ in TABLE}
    events = tuple(decode_event(erc_of[b], bytes.fromhex(b)) for b in bodies)
    report = EventReport(3, 1, 10, 10 + len(events), events)
    data = encode_units(0x0E, [DataUnit(0, 1, report)], U)
    assert decode_units(0x0E, data, U) == [DataUnit(0, 1, report)]


def test_describe_keeps_a_value_whose_fields_clash_with_the_unit_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from protocols.gdw376.units import REGISTRY
    from protocols.gdw376.units.registry import from_layout

    # AFN07 (备用) F1 for this test only: a body whose field is called "pn", as the Pm/Pn pointers once were
    codec = from_layout("test", (Field("pn", BIN1, "结束指针Pn"),))
    monkeypatch.setitem(REGISTRY, (0x07, 1, U), codec)
    (unit,) = describe_frame(parse_frame(framed("88 0344 0C00 04 07 61 0000 0100 09")))["units"]
    assert unit == {"pn": 0, "fn": 1, "name": "test", "value": {"pn": 9}}
