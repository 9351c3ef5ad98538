"""AFN0C 请求1类数据 (Q/GDW 376.1-2009 §5.1.3.13 / Q/GDW 1376.1-2013 §5.13; PROTOCOLS.md A.9). Requests
(downlink) are identifiers only; every Fn below is registered DOWN without a body and UP with its body.

Typed codecs (the head-end uses them): F2 终端日历时钟 (附录A.1) → :class:`TerminalClock`; F129 当前正向有功电能示值
and F130 当前正向无功（组合无功1）电能示值 (A.15 抄表时间 + M 费率数 + A.14/A.11 × (M+1)) → :class:`EnergyIndication`.
Every other Fn is a declarative layout (values are Records, "总、费率1～M" a tuple total first):

- F3–F11 terminal state (p0): 参数状态 BS248, 上行通信状态 BS8, 控制设置状态 / 当前控制状态 (a block per valid
  总加组: a bitmap count), 事件计数器 EC1 EC2, 事件标志 BS64, 状态量及变位 ST CD, 通信流量 BIN 4 + BIN 4,
  集中抄表状态 n × 19-byte blocks (A.1 start/end).
- F17–F24 总加组 (pn = 总加组号): powers A.2, energy amounts M + A.3 × (M+1), 剩余电量(费) A.3.
- F26–F28, F31–F40 per measurement point: 断相统计, meter clock and programming counts (A.1, A.27, A.10),
  7 运行状态字 + 7 变位标志 (BS16), per-phase indications (A.14/A.11), indications and demands (A.23 + A.17,
  grouped: all demands, then all times).
- F49 phase angles A.5 ×6; F57 harmonics N + (N−1) × A.7 (U) / A.6 (I) per phase; F58 含有率 N + for U
  (total + 2..N) × A.5, for I 2..N × A.5; F73 直流模拟量 A.2.
- F131–F160 indications (A.14 active, A.11 reactive/quadrant; F137–F144 上月, F153–F160 第1–8时区冻结) and
  F145–F152 demands (A.23 + A.17 interleaved per tariff); F161–F170 meter control, counts, purchase, settlement,
  relay routes and reading info.

Checked against (layouts read, no code copied): ``xiangruipuzhao/3761`` ``qgdw_3761_api.h`` (2009 frame structs
sMtAfn0cF03..F170_f), ``guyingzhi/learngit`` ``decode_AFN0C_FN1_8.c``, ``FN9_16.c``, ``FN25_32.c``,
``FN57_64.c``, ``FN145_152.c``, ``FN161_168.c`` and the 2013 field tables quoted in ``gdgly/NUC97X_JS``
``STM32F4xx/Head/AFN0C.h``. Where they disagree:

- F26 counts: A.8 in the 2009 header, A.10 in the 2013 table → 2013 variant. F161 last on/off times: A.15
  (2009 header) vs A.1 (2013 table and guyingzhi) → 2013 variant; F162 电能表日历时钟 (A.1 + A.1) is 2013 only.
  F165/F166: A.8 counts + A.15 times (2009) vs A.10 counts + A.1 times, F166 with the time before and after
  the clock change (2013) → 2013 variants.
- F168 电能表结算信息: the 2013 table reads "费率数M 见附录A.8 BIN 2" and the 2009 header a 16-bit M, and a third,
  documentation-derived description agrees with them (``liangminhua/qgdw376.1.ksy`` ``afn12_f168``: M as A.8,
  2 bytes); but both implementations that met terminals — a terminal firmware (NUC97X: storage 6 + 10 × (M+1), sent
  as stored) and a master-side decoder (guyingzhi ``decode_afn0D_F216`` for the frozen twin: one M byte, then the
  settled and unsettled A.14 × (M+1)) — use a 1-byte M. All sources agree on the rest: settled total and per
  tariff, unsettled total and per tariff, no 故障电量 (that one ends the AFN0D F216 table only). Registered: the
  1-byte M of the implementations, because that is what terminals are seen to send. A body with the 2-byte M is
  one byte longer than its M announces, so the frame fails at the next identifier (one byte left over) instead of
  passing silently. **Still uncertain**: no capture.
- F162 is 2013 only: the 2009 list (``qgdw_3761_api.h``) has "F162～F164 备用". F163/F164 are 备用 there and no
  2013 source defines them (the 2013 field tables in ``NUC97X_JS`` ``AFN0C.h`` go F162 → F165): registered as
  reserved in both editions (the 2013 reservation is inferred from that absence, not read in the standard text).
- F5/F6 have one block per 1 bit of 总加组有效标志位 (guyingzhi); F11 blocks are 19 bytes (NUC97X: 1 + 19 × n).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from protocols.errors import LocalProtocolError
from protocols.gdw376.formats import (
    A1,
    A2,
    A3,
    A4,
    A5,
    A6,
    A7,
    A8,
    A9,
    A10,
    A11,
    A12,
    A14,
    A15,
    A17,
    A23,
    A25,
    A27,
    BIN1,
    BIN2,
    BIN4,
    DecimalFormat,
    RawFormat,
    decode_a1,
    decode_a15,
    encode_a1,
    encode_a15,
)
from protocols.gdw376.layout import Count, Field, Format, Layout, Repeat
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import UnitCodec, UnitReader, from_layout, no_body, register, reserve

F2_TERMINAL_CLOCK = 2
F129_FORWARD_ACTIVE = 129
F130_FORWARD_REACTIVE = 130


@dataclass(frozen=True, slots=True)
class TerminalClock:
    """AFN0C F2 终端日历时钟 (terminal local time)."""

    clock: datetime


@dataclass(frozen=True, slots=True)
class EnergyIndication:
    """AFN0C F129/F130 电能示值: 终端抄表时间, total (总) and per-tariff (费率1～M) indications;
    ``None`` where the terminal sent EE (no value)."""

    read_time: datetime
    total: Decimal | None
    tariffs: tuple[Decimal | None, ...]


def _decode_clock(reader: UnitReader) -> TerminalClock:
    clock = reader.field(decode_a1, 6)
    if clock is None:
        raise reader.error("terminal clock is EE (no value)")
    return TerminalClock(clock)


def _encode_clock(value: object) -> bytes:
    if not isinstance(value, TerminalClock):
        raise LocalProtocolError(f"AFN0C F2 needs a TerminalClock, got {value!r}")
    return encode_a1(value.clock)


def _indication_codec(name: str, fmt: DecimalFormat) -> UnitCodec:
    """A.15 read time + M + ``fmt`` × (M+1): the shape shared by F129..F136."""

    def decode(reader: UnitReader) -> EnergyIndication:
        read_time = reader.field(decode_a15, 5)
        if read_time is None:
            raise reader.error("read time is EE (no value)")
        count = reader.byte()
        values = reader.fields(fmt.decode, fmt.size, count + 1)
        return EnergyIndication(read_time, values[0], tuple(values[1:]))

    def encode(value: object) -> bytes:
        if not isinstance(value, EnergyIndication):
            raise LocalProtocolError(f"{name} needs an EnergyIndication, got {value!r}")
        if len(value.tariffs) > 0xFF:
            raise LocalProtocolError(f"{len(value.tariffs)} tariffs do not fit M (1 byte)")
        values = (value.total, *value.tariffs)
        return encode_a15(value.read_time) + bytes((len(value.tariffs),)) + b"".join(map(fmt.encode, values))

    return UnitCodec(name, decode, encode)


register(Afn.REQUEST_CLASS1, F2_TERMINAL_CLOCK, (Dir.DOWN,), no_body("终端日历时钟"))
register(Afn.REQUEST_CLASS1, F2_TERMINAL_CLOCK, (Dir.UP,), UnitCodec("终端日历时钟", _decode_clock, _encode_clock))
for _fn, _name, _fmt in (
    (F129_FORWARD_ACTIVE, "当前正向有功电能示值（总、费率1～M）", A14),
    (F130_FORWARD_REACTIVE, "当前正向无功（组合无功1）电能示值（总、费率1～M）", A11),
):
    register(Afn.REQUEST_CLASS1, _fn, (Dir.DOWN,), no_body(_name))
    register(Afn.REQUEST_CLASS1, _fn, (Dir.UP,), _indication_codec(_name, _fmt))


# --- declarative codecs (protocols.gdw376.layout) -----------------------------------------------------------

AFN = Afn.REQUEST_CLASS1
PHASES = ("a", "b", "c")
#: 终端抄表时间 (附录A.15), first field of every per-meter Fn.
READ_TIME = Field("read_time", A15, "终端抄表时间")
#: 费率数M: the tariffs that follow the total ("总、费率1～M" = M + 1 values).
TARIFFS = Count("m", 1, "费率数M")
BS8, BS16 = RawFormat(1), RawFormat(2)


def per_tariff(name: str, fmt: Format, title: str) -> Repeat:
    """``fmt`` × (M+1): the total, then tariffs 1..M, as a tuple of values."""
    return Repeat(name, "m", (Field("value", fmt, title),), offset=1, title=title)


def indication(fmt: Format, title: str) -> Layout:
    """终端抄表时间 + M + ``fmt`` × (M+1): F129–F160 (and the body of AFN0D F161–F184)."""
    return (READ_TIME, TARIFFS, per_tariff("values", fmt, title))


def demand_pairs(title: str) -> Layout:
    """终端抄表时间 + M + (A.23 最大需量 + A.17 发生时间) × (M+1), interleaved: F145–F152 (AFN0D F185–F196)."""
    pair = (Field("demand", A23, f"{title}最大需量"), Field("time", A17, f"{title}最大需量发生时间"))
    return (READ_TIME, TARIFFS, Repeat("demands", "m", pair, offset=1, title=title))


def demand_groups(active: str, reactive: str) -> Layout:
    """终端抄表时间 + M + active demands, their times, reactive demands, their times (each × (M+1)): F35/F36,
    F39/F40 (AFN0D F3/F4, F11/F12, F19/F20)."""
    return (
        READ_TIME,
        TARIFFS,
        per_tariff("active_demand", A23, f"{active}最大需量"),
        per_tariff("active_demand_time", A17, f"{active}最大需量发生时间"),
        per_tariff("reactive_demand", A23, f"{reactive}最大需量"),
        per_tariff("reactive_demand_time", A17, f"{reactive}最大需量发生时间"),
    )


def four_indications(names: tuple[str, str, str, str], titles: tuple[str, str, str, str]) -> Layout:
    """终端抄表时间 + M + one active (A.14) and three reactive (A.11) indications × (M+1): F33/F34, F37/F38
    (AFN0D F1/F2, F9/F10, F17/F18)."""
    fmts = (A14, A11, A11, A11)
    return (READ_TIME, TARIFFS, *(per_tariff(n, f, t) for n, f, t in zip(names, fmts, titles, strict=True)))


FORWARD_INDICATIONS = four_indications(
    ("forward_active", "forward_reactive", "q1_reactive", "q4_reactive"),
    ("正向有功电能示值", "正向无功（组合无功1）电能示值", "一象限无功电能示值", "四象限无功电能示值"),
)
REVERSE_INDICATIONS = four_indications(
    ("reverse_active", "reverse_reactive", "q2_reactive", "q3_reactive"),
    ("反向有功电能示值", "反向无功（组合无功2）电能示值", "二象限无功电能示值", "三象限无功电能示值"),
)
FORWARD_DEMANDS = demand_groups("正向有功", "正向无功")
REVERSE_DEMANDS = demand_groups("反向有功", "反向无功")

#: F11 终端集中抄表状态信息: one 19-byte block per communication port.
F11_LAYOUT: Layout = (
    Count("n", 1, "本项数据块个数"),
    Repeat(
        "ports",
        "n",
        (
            Field("port", BIN1, "终端通信端口号"),
            Field("meters", BIN2, "要抄电表总数"),
            Field("state", BS8, "当前抄表工作状态标志"),
            Field("read_ok", BIN2, "抄表成功块数"),
            Field("key_read_ok", BIN1, "抄重点表成功块数"),
            Field("start", A1, "抄表开始时间"),
            Field("end", A1, "抄表结束时间"),
        ),
    ),
)
#: 总加组有效标志位: one block per valid 总加组 (D0 = 总加组1 …).
GROUPS_VALID = Count("groups_valid", 1, "总加组有效标志位", bitmap=True)
F5_LAYOUT: Layout = (
    Field("protect_states", BS8, "保电、剔除、催费告警投入状态"),
    GROUPS_VALID,
    Repeat(
        "groups",
        "groups_valid",
        (
            Field("scheme", BIN1, "功控定值方案号"),
            Field("period_flags", BS8, "功控时段有效标志位"),
            Field("power_control", BS8, "功控状态"),
            Field("energy_control", BS8, "电控状态"),
            Field("power_rounds", BS8, "功控轮次状态"),
            Field("energy_rounds", BS8, "电控轮次状态"),
        ),
    ),
)
F6_LAYOUT: Layout = (
    Field("remote_trip", BS8, "遥控跳闸输出状态"),
    Field("arrears_alarm", BS8, "当前催费告警状态"),
    GROUPS_VALID,
    Repeat(
        "groups",
        "groups_valid",
        (
            Field("power_setting", A2, "当前功控定值"),
            Field("float_coefficient", A4, "当前功率下浮控浮动系数"),
            Field("power_trip", BS8, "功控跳闸输出状态"),
            Field("monthly_trip", BS8, "月电控跳闸输出状态"),
            Field("purchase_trip", BS8, "购电控跳闸输出状态"),
            Field("power_alarm", BS8, "功控越限告警状态"),
            Field("energy_alarm", BS8, "电控越限告警状态"),
        ),
    ),
)


def phase_breaks(count: Format) -> Layout:
    """F26 断相统计 (and AFN0D F32): 抄表时间, 断相次数 (总, A, B, C) in ``count``, 断相时间累计值 A.10 min,
    最近断相起始 / 结束时刻 A.17."""
    sides = ("total", *PHASES)
    return (
        READ_TIME,
        *(Field(f"breaks_{s}", count, "断相次数") for s in sides),
        *(Field(f"break_minutes_{s}", A10, "断相时间累计值") for s in sides),
        *(Field(f"last_start_{s}", A17, "最近一次断相起始时刻") for s in sides),
        *(Field(f"last_end_{s}", A17, "最近一次断相结束时刻") for s in sides),
    )


F27_LAYOUT: Layout = (
    READ_TIME,
    Field("meter_clock", A1, "电能表日历时钟"),
    Field("battery_minutes", A27, "电池工作时间"),
    *(
        element
        for name, title in (
            ("program", "编程"),
            ("meter_clear", "电表清零"),
            ("demand_clear", "需量清零"),
            ("event_clear", "事件清零"),
            ("clock_sync", "校时"),
        )
        for element in (
            Field(f"{name}_count", A10, f"{title}总次数"),
            Field(f"last_{name}", A1, f"最近一次{title}发生时刻"),
        )
    ),
)
F28_LAYOUT: Layout = (
    READ_TIME,
    Repeat("changed", 7, (Field("flags", BS16, "电表运行状态字变位标志1～7"),)),
    Repeat("words", 7, (Field("word", BS16, "电表运行状态字1～7"),)),
)
#: F31/F32 per phase: 正向有功 A.14, 反向有功 A.14, 组合无功1 A.11, 组合无功2 A.11.
PHASE_INDICATIONS: Layout = (
    READ_TIME,
    *(
        element
        for ph in PHASES
        for element in (
            Field(f"forward_active_{ph}", A14, "正向有功电能示值"),
            Field(f"reverse_active_{ph}", A14, "反向有功电能示值"),
            Field(f"combined_reactive1_{ph}", A11, "组合无功1电能示值"),
            Field(f"combined_reactive2_{ph}", A11, "组合无功2电能示值"),
        )
    ),
)
F49_LAYOUT: Layout = tuple(
    Field(f"angle_{name}", A5, f"{title}相位角")
    for name, title in (("ua", "Uab/Ua"), ("ub", "Ub"), ("uc", "Ucb/Uc"), ("ia", "Ia"), ("ib", "Ib"), ("ic", "Ic"))
)
HARMONICS = Count("n", 1, "谐波次数N")


def _harmonics(name: str, fmt: Format, title: str, *, with_total: bool = False) -> Repeat:
    """Orders 2..N (N − 1 values), or the total then 2..N (N values, F58 voltages)."""
    return Repeat(name, "n", (Field("value", fmt, title),), offset=0 if with_total else -1, title=title)


F57_LAYOUT: Layout = (
    HARMONICS,
    *(_harmonics(f"u{ph}", A7, f"{ph.upper()}相2～N次谐波电压") for ph in PHASES),
    *(_harmonics(f"i{ph}", A6, f"{ph.upper()}相2～N次谐波电流") for ph in PHASES),
)
F58_LAYOUT: Layout = (
    HARMONICS,
    *(_harmonics(f"u{ph}", A5, f"{ph.upper()}相总、2～N次谐波电压含有率", with_total=True) for ph in PHASES),
    *(_harmonics(f"i{ph}", A5, f"{ph.upper()}相2～N次谐波电流含有率") for ph in PHASES),
)


def _f161(times: Format) -> Layout:
    """F161 电能表远程控制通断电状态及记录: 通断电状态 BIN (0 断电, 11H 通电), last switch-on / switch-off."""
    return (
        READ_TIME,
        Field("state", BIN1, "电能表通断电状态"),
        Field("last_on", times, "最近一次电能表远程控制通电（合闸）时间"),
        Field("last_off", times, "最近一次电能表远程控制断电（跳闸）时间"),
    )


def _count_and_time(name: str, title: str, count: Format, time: Format) -> tuple[Field, Field]:
    return Field(f"{name}_count", count, f"{title}次数"), Field(f"last_{name}", time, f"最近一次{title}时间")


F165_LAYOUT: Layout = (
    READ_TIME,
    *_count_and_time("program_switch", "编程开关操作", A8, A15),
    *_count_and_time("cover_open", "电能表尾盖打开", A8, A15),
)
F165_LAYOUT_2013: Layout = (
    READ_TIME,
    *_count_and_time("program_switch", "编程开关操作", A10, A1),
    *_count_and_time("cover_open", "电能表尾盖打开", A10, A1),
)
F166_LAYOUT: Layout = (
    READ_TIME,
    *_count_and_time("clock_change", "电能表时钟修改", A8, A15),
    *_count_and_time("tariff_change", "电能表时段参数修改", A8, A15),
)
F166_LAYOUT_2013: Layout = (
    READ_TIME,
    Field("clock_change_count", A10, "电能表时钟修改次数"),
    Field("last_clock_change_before", A1, "电能表最近一次时钟修改前时间"),
    Field("last_clock_change_after", A1, "电能表最近一次时钟修改后时间"),
    *_count_and_time("tariff_change", "电能表时段参数修改", A10, A1),
)
F167_LAYOUT: Layout = (
    READ_TIME,
    Field("purchases", A8, "购电次数"),
    Field("remaining_money", A14, "剩余金额"),
    Field("total_money", A14, "累计购电金额"),
    Field("remaining_energy", A11, "剩余电量"),
    Field("overdraft_energy", A11, "透支电量"),
    Field("total_energy", A11, "累计购电量"),
    Field("credit_limit_energy", A11, "赊欠门限电量"),
    Field("alarm_energy", A11, "报警电量"),
    Field("fault_energy", A11, "故障电量"),
)
F168_LAYOUT: Layout = (
    READ_TIME,
    TARIFFS,
    per_tariff("settled", A14, "已结有功电能"),
    per_tariff("unsettled", A14, "未结有功电能"),
)
F169_LAYOUT: Layout = (
    Field("port", BIN1, "所属终端通信端口号"),
    Count("n", 1, "中继路由个数n"),
    Repeat(
        "routes",
        "n",
        (Count("levels", 1, "中继路由级数m"), Repeat("relays", "levels", (Field("address", A12, "中继地址"),))),
    ),
)
F170_LAYOUT: Layout = (
    Field("port", BIN1, "所属终端通信端口号"),
    Field("relay_level", BIN1, "中继路由级数"),
    Field("phase", BS8, "载波抄读通信相位"),
    Field("signal_quality", BS8, "载波信号品质"),
    Field("last_result", BIN1, "最近一次抄表成功/失败标志"),
    Field("last_success", A1, "最近一次抄表成功时间"),
    Field("last_failure", A1, "最近一次抄表失败时间"),
    Field("failures", BIN1, "最近连续失败累计次数"),
)

_GROUP_ENERGY = "总加电能量（总、费率1～M）"
#: (Fn, the standard's name, layout) of every declarative AFN0C unit (2009 layouts; 2013-only Fn included).
LAYOUTS: tuple[tuple[int, str, Layout], ...] = (
    (3, "终端参数状态", (Field("flags", RawFormat(31), "参数状态标志（F1～F248）"),)),
    (4, "终端上行通信状态", (Field("state", BS8, "通话、主动上报允许/禁止"),)),
    (5, "终端控制设置状态", F5_LAYOUT),
    (6, "终端当前控制状态", F6_LAYOUT),
    (7, "终端事件计数器当前值", (Field("ec1", BIN1, "重要事件计数器EC1"), Field("ec2", BIN1, "一般事件计数器EC2"))),
    (8, "终端事件标志状态", (Field("flags", RawFormat(8), "ERC1～ERC64事件标志"),)),
    (9, "终端状态量及变位标志", (Field("state", BS8, "状态量状态ST"), Field("changed", BS8, "状态量变位CD"))),
    (10, "终端与主站当日、月通信流量", (Field("day", BIN4, "当日通信流量"), Field("month", BIN4, "当月通信流量"))),
    (11, "终端集中抄表状态信息", F11_LAYOUT),
    (17, "当前总加有功功率", (Field("power", A2, "当前总加有功功率"),)),
    (18, "当前总加无功功率", (Field("power", A2, "当前总加无功功率"),)),
    (19, "当日总加有功电能量（总、费率1～M）", (TARIFFS, per_tariff("values", A3, f"当日{_GROUP_ENERGY}"))),
    (20, "当日总加无功电能量（总、费率1～M）", (TARIFFS, per_tariff("values", A3, f"当日{_GROUP_ENERGY}"))),
    (21, "当月总加有功电能量（总、费率1～M）", (TARIFFS, per_tariff("values", A3, f"当月{_GROUP_ENERGY}"))),
    (22, "当月总加无功电能量（总、费率1～M）", (TARIFFS, per_tariff("values", A3, f"当月{_GROUP_ENERGY}"))),
    (23, "终端当前剩余电量（费）", (Field("remaining", A3, "终端当前剩余电量（费）"),)),
    (24, "当前功率下浮控控后总加有功功率冻结值", (Field("power", A2, "控后总加有功功率冻结值"),)),
    (26, "A、B、C三相断相统计数据及最近一次断相记录", phase_breaks(A8)),
    (27, "电能表日历时钟、编程次数及其最近一次操作时间", F27_LAYOUT),
    (28, "电表运行状态字及其变位标志", F28_LAYOUT),
    (31, "当前A、B、C三相正/反向有功电能示值、组合无功1/2电能示值", PHASE_INDICATIONS),
    (32, "上一结算日A、B、C三相正/反向有功电能示值、组合无功1/2电能示值", PHASE_INDICATIONS),
    (33, "当前正向有/无功电能示值、一/四象限无功电能示值（总、费率1～M，1≤M≤12）", FORWARD_INDICATIONS),
    (34, "当前反向有/无功电能示值、二/三象限无功电能示值（总、费率1～M，1≤M≤12）", REVERSE_INDICATIONS),
    (35, "当月正向有/无功最大需量及发生时间（总、费率1～M，1≤M≤12）", FORWARD_DEMANDS),
    (36, "当月反向有/无功最大需量及发生时间（总、费率1～M，1≤M≤12）", REVERSE_DEMANDS),
    (37, "上月（上一结算日）正向有/无功电能示值、一/四象限无功电能示值（总、费率1～M，1≤M≤12）", FORWARD_INDICATIONS),
    (38, "上月（上一结算日）反向有/无功电能示值、二/三象限无功电能示值（总、费率1～M，1≤M≤12）", REVERSE_INDICATIONS),
    (39, "上月（上一结算日）正向有/无功最大需量及发生时间（总、费率1～M，1≤M≤12）", FORWARD_DEMANDS),
    (40, "上月（上一结算日）反向有/无功最大需量及发生时间（总、费率1～M，1≤M≤12）", REVERSE_DEMANDS),
    (49, "当前电压、电流相位角", F49_LAYOUT),
    (57, "当前A、B、C三相电压、电流2～N次谐波有效值", F57_LAYOUT),
    (58, "当前A、B、C三相电压、电流2～N次谐波含有率", F58_LAYOUT),
    (73, "直流模拟量当前数据", (Field("value", A2, "直流模拟量当前数据"),)),
    (131, "当前反向有功电能示值（总、费率1～M）", indication(A14, "反向有功电能示值")),
    (132, "当前反向无功（组合无功2）电能示值（总、费率1～M）", indication(A11, "反向无功电能示值")),
    *(
        (fn, f"当前{q}象限无功电能示值（总、费率1～M）", indication(A11, f"{q}象限无功电能示值"))
        for fn, q in zip(range(133, 137), "一二三四", strict=True)
    ),
    (137, "上月（上一结算日）正向有功电能示值（总、费率1～M）", indication(A14, "正向有功电能示值")),
    (138, "上月（上一结算日）正向无功（组合无功1）电能示值（总、费率1～M）", indication(A11, "正向无功电能示值")),
    (139, "上月（上一结算日）反向有功电能示值（总、费率1～M）", indication(A14, "反向有功电能示值")),
    (140, "上月（上一结算日）反向无功（组合无功2）电能示值（总、费率1～M）", indication(A11, "反向无功电能示值")),
    *(
        (fn, f"上月（上一结算日）{q}象限无功电能示值（总、费率1～M）", indication(A11, f"{q}象限无功电能示值"))
        for fn, q in zip(range(141, 145), "一二三四", strict=True)
    ),
    *(
        (fn, f"{when}{what}最大需量及发生时间（总、费率1～M）", demand_pairs(what))
        for fn, (when, what) in zip(
            range(145, 153),
            [(w, d) for w in ("当月", "上月（上一结算日）") for d in ("正向有功", "正向无功", "反向有功", "反向无功")],
            strict=True,
        )
    ),
    *(
        (fn, f"第{z}时区冻结正向有功电能示值（总、费率1～M）", indication(A14, "正向有功电能示值"))
        for fn, z in zip(range(153, 161), "一二三四五六七八", strict=True)
    ),
    (161, "电能表远程控制通断电状态及记录", _f161(A15)),
    (162, "电能表日历时钟", (Field("read_time", A1, "终端抄表时间"), Field("meter_clock", A1, "电能表日历时钟"))),
    (165, "电能表开关操作次数及时间", F165_LAYOUT),
    (166, "电能表参数修改次数及时间", F166_LAYOUT),
    (167, "电能表购、用电信息", F167_LAYOUT),
    (168, "电能表结算信息", F168_LAYOUT),
    (169, "集中抄表中继路由信息", F169_LAYOUT),
    (170, "集中抄表电表抄读信息", F170_LAYOUT),
)
#: Q/GDW 1376.1-2013 bodies that differ from 2009's (see the module docstring).
LAYOUTS_2013: tuple[tuple[int, str, Layout], ...] = (
    (26, "A、B、C三相断相统计数据及最近一次断相记录", phase_breaks(A10)),
    (161, "电能表远程控制通断电状态及记录", _f161(A1)),
    (165, "电能表开关操作次数及时间", F165_LAYOUT_2013),
    (166, "电能表参数修改次数及时间", F166_LAYOUT_2013),
)

#: F25 当前三相及总有/无功功率、功率因数，三相电压、电流、零序电流、视在功率 (PROTOCOLS.md A.9, 67 bytes).
F25_LAYOUT: Layout = (
    READ_TIME,
    *(Field(f"p_{ph}", A9, "有功功率") for ph in ("total", *PHASES)),
    *(Field(f"q_{ph}", A9, "无功功率") for ph in ("total", *PHASES)),
    *(Field(f"pf_{ph}", A5, "功率因数") for ph in ("total", *PHASES)),
    *(Field(f"u_{ph}", A7, "电压") for ph in PHASES),
    *(Field(f"i_{ph}", A25, "电流") for ph in (*PHASES, "0")),
    *(Field(f"s_{ph}", A9, "视在功率") for ph in ("total", *PHASES)),
)
_F25_NAME = "当前三相及总有/无功功率、功率因数，三相电压、电流、零序电流、视在功率"

for _fn, _name, _layout in ((25, _F25_NAME, F25_LAYOUT), *LAYOUTS):
    register(AFN, _fn, (Dir.DOWN,), no_body(_name))
    register(AFN, _fn, (Dir.UP,), from_layout(_name, _layout))
for _fn, _name, _layout in LAYOUTS_2013:
    register(AFN, _fn, (Dir.UP,), from_layout(_name, _layout), edition="2013")

_LIST = "请求1类数据 (AFN=0CH) 数据单元标识表: F162～F164 备用"
reserve(AFN, 162, {"2009": _LIST})
for _fn in (163, 164):
    reserve(
        AFN,
        _fn,
        {
            "2009": _LIST,
            "2013": "请求1类数据 (AFN=0CH) 数据单元标识表: no F163～F164 in the public 2013 tables (inferred)",
        },
    )
