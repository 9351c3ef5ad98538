"""AFN0D 请求2类数据 (Q/GDW 376.1-2009 §5.1.3.14 / Q/GDW 1376.1-2013 §5.14; PROTOCOLS.md A.9): frozen history.

Every request unit carries a 数据时标 (time tag) in the downlink, and the answer repeats it before the data:

- Td_d 日冻结类数据时标 (附录A.20 DD MM YY) — daily and 抄表日 (meter-reading day) frozen data;
- Td_m 月冻结类数据时标 (附录A.21 MM YY) — monthly frozen data;
- Td_c 曲线类数据时标: start ts (附录A.15) + density m (BIN 1) + point count n (BIN 1) — curves; the answer holds
  n points, so the layout's point count is a :class:`~protocols.gdw376.layout.Count` that the values repeat.

Typed tags for requests: :class:`DailyTag`, :class:`MonthlyTag`, :class:`CurveTag` (:func:`tag_record` turns one
into the body of a DOWN unit); :data:`DENSITY_MINUTES` gives the minutes between curve points per density code.

Fn registered (DOWN: the tag; UP: tag + body; bodies shared with :mod:`.afn0c` where the standard reuses them):

- F1–F4 日冻结 indications/demands, F9–F12 抄表日冻结 (Td_d), F17–F20 月冻结 (Td_m): the AFN0C F33–F36 bodies;
  F5–F8 日冻结电能量 (Td_d), F21–F24 月冻结电能量 (Td_m): M + A.13 × (M+1) — no 抄表时间.
- F25–F32 日统计 (Td_d): max power / demand with A.18 times, voltage statistics (F27; 1376.1-2013 adds the
  越上限率/越下限率/合格率 A.25 per phase), unbalance, current over-limit, apparent-power over-limit, load rate,
  phase breaks (F32 = the AFN0C F26 body: counts A.8 in 2009, A.10 in 2013).
- F49–F54 terminal statistics: power-on minutes and resets, trip counters, traffic (Td_d daily, Td_m monthly).
- F81–F110 curves (Td_c): power A.9, voltage A.7, current A.25, energy A.13, indication A.11, power factor A.5,
  phase angles 3 × A.5 per point.
- F161–F184 frozen indications (日 / 抄表日 Td_d, 月 Td_m) = AFN0C F129-shaped bodies (A.14 active, A.11
  reactive); F185–F196 frozen demands = AFN0C F145-shaped bodies (A.23 + A.17 per tariff).

Checked against (layouts read, no code copied): ``xiangruipuzhao/3761`` ``qgdw_3761_api.h`` (sMtTd_c/d/m and
sMtAfn0dF1..F196 frame structs; MT_FRZ_* density codes 1 = 15 min, 2 = 30, 3 = 60, 254 = 5, 255 = 1),
``guyingzhi/learngit`` ``decode_AFN0D_FN1_12.c``, ``FN25_32.c``, ``FN49_54.c``, ``FN89_104.c`` (curves: A.15 +
density + count, then n values) and the 2013 tables in ``gdgly/NUC97X_JS`` ``STM32F4xx/Head/AFN0D.h`` (storage
sizes per Fn). Where they disagree: F5–F8 — the 2009 header puts a 抄表时间 after Td_d, guyingzhi, NUC97X (1 +
4 × (M+1)) and PROTOCOLS.md do not: no 抄表时间. F29 — the 2009 header has an extra leading BIN 2 that guyingzhi
and NUC97X (38 bytes) do not: left out. F27 voltage maximum before minimum (guyingzhi, NUC97X; the 2009 header's
user struct has min first). F169–F176 use the F161–F168 shapes (the 2009 header aliases F169 to F157 by mistake).
F55/F56 and F96 are 备用 in the 2009 list (``qgdw_3761_api.h``: "F55～F56 备用", "F96 备用") and no 2013 source
defines them (the 2013 tables in ``NUC97X_JS`` ``AFN0D.h`` go F54 → F57 in the daily and F54 → F60 in the monthly
store; no public 2013 curve list has an F96): registered as reserved in both editions (for 2013 inferred from that
absence, not read in the standard text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from protocols.errors import LocalProtocolError
from protocols.gdw376.formats import (
    A5,
    A7,
    A8,
    A9,
    A10,
    A11,
    A13,
    A14,
    A15,
    A18,
    A20,
    A21,
    A23,
    A25,
    BIN1,
    BIN2,
    BIN4,
    YearMonth,
)
from protocols.gdw376.layout import Count, Field, Format, Layout, Record, Repeat
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.afn0c import (
    FORWARD_DEMANDS,
    FORWARD_INDICATIONS,
    PHASES,
    REVERSE_DEMANDS,
    REVERSE_INDICATIONS,
    TARIFFS,
    demand_pairs,
    indication,
    per_tariff,
    phase_breaks,
)
from protocols.gdw376.units.registry import from_layout, register, reserve

AFN = Afn.REQUEST_CLASS2

#: 数据冻结密度 m → minutes between curve points (0 = 不冻结). Checked: qgdw_3761_api.h MT_FRZ_*.
DENSITY_MINUTES = {1: 15, 2: 30, 3: 60, 254: 5, 255: 1}

TD_D: Layout = (Field("td_d", A20, "日冻结类数据时标Td_d"),)
TD_M: Layout = (Field("td_m", A21, "月冻结类数据时标Td_m"),)
TD_C: Layout = (
    Field("start", A15, "曲线类数据时标Td_c 起始时间ts"),
    Field("density", BIN1, "数据冻结密度m"),
    Count("points", 1, "数据点数n"),
)
#: Td_c in a request: the same three bytes; the point count is a plain field there (no values follow it).
TD_C_REQUEST: Layout = (*TD_C[:2], Field("points", BIN1, "数据点数n"))


@dataclass(frozen=True, slots=True)
class DailyTag:
    """Td_d 日冻结类数据时标: the day whose frozen data is asked for (日冻结 and 抄表日冻结 Fn)."""

    day: date


@dataclass(frozen=True, slots=True)
class MonthlyTag:
    """Td_m 月冻结类数据时标: the month (月冻结 Fn)."""

    year: int
    month: int


@dataclass(frozen=True, slots=True)
class CurveTag:
    """Td_c 曲线类数据时标: ``points`` values from ``start`` every :data:`DENSITY_MINUTES` [``density``] minutes."""

    start: datetime
    density: int
    points: int

    @property
    def interval_minutes(self) -> int | None:
        """Minutes between points, None for a density code the standard does not define."""
        return DENSITY_MINUTES.get(self.density)


TimeTag = DailyTag | MonthlyTag | CurveTag


def tag_record(tag: TimeTag) -> Record:
    """The DOWN body of a request unit (the tag's fields, as the tag layouts name them)."""
    if isinstance(tag, DailyTag):
        return Record({"td_d": tag.day})
    if isinstance(tag, MonthlyTag):
        return Record({"td_m": YearMonth(tag.year, tag.month)})
    if not 0 <= tag.density <= 0xFF or not 0 <= tag.points <= 0xFF:
        raise LocalProtocolError(f"curve density {tag.density} / points {tag.points} do not fit a byte")
    return Record({"start": tag.start, "density": tag.density, "points": tag.points})


def curve(*fields: Field) -> Layout:
    """The body after Td_c: n points of ``fields`` (n = the tag's point count)."""
    return (Repeat("values", "points", fields),)


def _amounts(title: str) -> Layout:
    """M + A.13 × (M+1): 电能量（总、费率1～M）."""
    return (TARIFFS, per_tariff("values", A13, title))


def _max_with_time(name: str, fmt: Format, title: str) -> tuple[Field, Field]:
    return Field(name, fmt, title), Field(f"{name}_time", A18, f"{title}发生时间")


SIDES = ("total", *PHASES)
F25_BODY: Layout = (
    *(f for s in SIDES for f in _max_with_time(f"max_power_{s}", A23, "最大有功功率")),
    *(Field(f"zero_power_minutes_{s}", BIN2, "有功功率为零时间") for s in SIDES),
)
F26_BODY: Layout = tuple(f for s in SIDES for f in _max_with_time(f"max_demand_{s}", A23, "有功最大需量"))
_VOLTAGE_MINUTES = (
    ("over_upper_upper", "电压越上上限"),
    ("under_lower_lower", "电压越下下限"),
    ("over_upper", "电压越上限"),
    ("under_lower", "电压越下限"),
    ("qualified", "电压合格"),
)
F27_BODY: Layout = (
    *(Field(f"{name}_minutes_{ph}", BIN2, f"{title}日累计时间") for ph in PHASES for name, title in _VOLTAGE_MINUTES),
    *(
        f
        for ph in PHASES
        for f in (
            *_max_with_time(f"max_voltage_{ph}", A7, "电压最大值"),
            *_max_with_time(f"min_voltage_{ph}", A7, "电压最小值"),
        )
    ),
    *(Field(f"average_voltage_{ph}", A7, "平均电压") for ph in PHASES),
)
#: 1376.1-2013 appends per phase the 越上限率, 越下限率, 合格率 (A.25 %).
F27_BODY_2013: Layout = (
    *F27_BODY,
    *(
        Field(f"{name}_rate_{ph}", A25, f"电压{title}率")
        for ph in PHASES
        for name, title in (("over_upper", "越上限"), ("under_lower", "越下限"), ("qualified", "合格"))
    ),
)
F28_BODY: Layout = (
    Field("current_unbalance_minutes", BIN2, "电流不平衡度越限日累计时间"),
    Field("voltage_unbalance_minutes", BIN2, "电压不平衡度越限日累计时间"),
    *_max_with_time("max_current_unbalance", A5, "电流不平衡最大值"),
    *_max_with_time("max_voltage_unbalance", A5, "电压不平衡最大值"),
)
F29_BODY: Layout = (
    *(
        f
        for ph in PHASES
        for f in (
            Field(f"over_upper_upper_minutes_{ph}", BIN2, "电流越上上限累计时间"),
            Field(f"over_upper_minutes_{ph}", BIN2, "电流越上限累计时间"),
        )
    ),
    Field("over_upper_minutes_0", BIN2, "零序电流越上限累计时间"),
    *(f for ph in (*PHASES, "0") for f in _max_with_time(f"max_current_{ph}", A25, "电流最大值")),
)
F30_BODY: Layout = (
    Field("over_upper_upper_minutes", BIN2, "视在功率越上上限累计时间"),
    Field("over_upper_minutes", BIN2, "视在功率越上限累计时间"),
)
F31_BODY: Layout = (
    *_max_with_time("max_load_rate", A5, "负载率最大值"),
    *_max_with_time("min_load_rate", A5, "负载率最小值"),
)
_TRIPS = (
    Field("monthly_energy_trips", BIN1, "月电控跳闸累计次数"),
    Field("purchase_trips", BIN1, "购电控跳闸累计次数"),
    Field("power_trips", BIN1, "功控跳闸累计次数"),
    Field("remote_trips", BIN1, "遥控跳闸累计次数"),
)
_SUPPLY = (Field("supply_minutes", BIN2, "终端供电时间"), Field("resets", BIN2, "终端复位累计次数"))
_TRAFFIC = (Field("traffic", BIN4, "终端与主站通信流量"),)

_ANGLES_U = (Field("ua", A5, "Uab/Ua相位角"), Field("ub", A5, "Ub相位角"), Field("uc", A5, "Ucb/Uc相位角"))
_ANGLES_I = (Field("ia", A5, "Ia相位角"), Field("ib", A5, "Ib相位角"), Field("ic", A5, "Ic相位角"))
_CURVES: tuple[tuple[int, str, Layout], ...] = (
    *(
        (fn, f"{ph}有功功率曲线", curve(Field("value", A9, f"{ph}有功功率")))
        for fn, ph in zip(range(81, 85), ("", "A相", "B相", "C相"), strict=True)
    ),
    *(
        (fn, f"{ph}无功功率曲线", curve(Field("value", A9, f"{ph}无功功率")))
        for fn, ph in zip(range(85, 89), ("", "A相", "B相", "C相"), strict=True)
    ),
    *(
        (fn, f"{ph}相电压曲线", curve(Field("value", A7, f"{ph}相电压")))
        for fn, ph in zip(range(89, 92), "ABC", strict=True)
    ),
    *(
        (fn, f"{ph}相电流曲线", curve(Field("value", A25, f"{ph}相电流")))
        for fn, ph in zip(range(92, 95), "ABC", strict=True)
    ),
    (95, "零序电流曲线", curve(Field("value", A25, "零序电流"))),
    *(
        (fn, f"{what}总电能量曲线", curve(Field("value", A13, f"{what}总电能量")))
        for fn, what in zip(range(97, 101), ("正向有功", "正向无功", "反向有功", "反向无功"), strict=True)
    ),
    *(
        (fn, f"{what}总电能示值曲线", curve(Field("value", A11, f"{what}总电能示值")))
        for fn, what in zip(range(101, 105), ("正向有功", "正向无功", "反向有功", "反向无功"), strict=True)
    ),
    *(
        (fn, f"{ph}功率因数曲线", curve(Field("value", A5, f"{ph}功率因数")))
        for fn, ph in zip(range(105, 109), ("总", "A相", "B相", "C相"), strict=True)
    ),
    (109, "电压相位角曲线", curve(*_ANGLES_U)),
    (110, "电流相位角曲线", curve(*_ANGLES_I)),
)

_QUADRANT_NAMES = ("一象限", "二象限", "三象限", "四象限")


def _frozen_indications(first: int, tag: Layout, when: str) -> tuple[tuple[int, str, Layout, Layout], ...]:
    """Eight frozen indications from ``first``: 正向有功, 正向无功, 反向有功, 反向无功, 一～四象限无功."""
    kinds = (
        ("正向有功电能示值", A14),
        ("正向无功（组合无功1）电能示值", A11),
        ("反向有功电能示值", A14),
        ("反向无功（组合无功2）电能示值", A11),
        *((f"{q}无功电能示值", A11) for q in _QUADRANT_NAMES),
    )
    return tuple(
        (first + i, f"{title}（总、费率1～M）{when}", tag, indication(fmt, title))
        for i, (title, fmt) in enumerate(kinds)
    )


def _frozen_demands(first: int, tag: Layout, when: str) -> tuple[tuple[int, str, Layout, Layout], ...]:
    """Four frozen demands from ``first``: 正向有功, 正向无功, 反向有功, 反向无功."""
    kinds = ("正向有功", "正向无功", "反向有功", "反向无功")
    return tuple(
        (first + i, f"{what}最大需量及发生时间（总、费率1～M）{when}", tag, demand_pairs(what))
        for i, what in enumerate(kinds)
    )


def _indications_and_demands(first: int, tag: Layout, when: str) -> tuple[tuple[int, str, Layout, Layout], ...]:
    """F1–F4 (日冻结), F9–F12 (抄表日冻结), F17–F20 (月冻结): the AFN0C F33–F36 bodies."""
    titles = (
        "正向有/无功电能示值、一/四象限无功电能示值（总、费率1～M，1≤M≤12）",
        "反向有/无功电能示值、二/三象限无功电能示值（总、费率1～M，1≤M≤12）",
        "正向有/无功最大需量及发生时间（总、费率1～M，1≤M≤12）",
        "反向有/无功最大需量及发生时间（总、费率1～M，1≤M≤12）",
    )
    bodies = (FORWARD_INDICATIONS, REVERSE_INDICATIONS, FORWARD_DEMANDS, REVERSE_DEMANDS)
    return tuple((first + i, f"{when}{t}", tag, b) for i, (t, b) in enumerate(zip(titles, bodies, strict=True)))


def _amount_units(first: int, tag: Layout, when: str) -> tuple[tuple[int, str, Layout, Layout], ...]:
    """F5–F8 (日冻结), F21–F24 (月冻结): 正向有功, 正向无功, 反向有功, 反向无功 电能量."""
    kinds = ("正向有功", "正向无功", "反向有功", "反向无功")
    return tuple(
        (first + i, f"{when}{k}电能量（总、费率1～M）", tag, _amounts(f"{k}电能量")) for i, k in enumerate(kinds)
    )


#: (Fn, the standard's name, time tag layout, body layout) of every AFN0D unit registered (2009 layouts).
UNITS: tuple[tuple[int, str, Layout, Layout], ...] = (
    *_indications_and_demands(1, TD_D, "日冻结"),
    *_amount_units(5, TD_D, "日冻结"),
    *_indications_and_demands(9, TD_D, "抄表日冻结"),
    *_indications_and_demands(17, TD_M, "月冻结"),
    *_amount_units(21, TD_M, "月冻结"),
    (25, "日总及分相最大有功功率及发生时间、有功功率为零时间", TD_D, F25_BODY),
    (26, "日总及分相最大需量及发生时间", TD_D, F26_BODY),
    (27, "日电压统计数据", TD_D, F27_BODY),
    (28, "日不平衡度越限累计时间", TD_D, F28_BODY),
    (29, "日电流越限统计", TD_D, F29_BODY),
    (30, "日视在功率越限累计时间", TD_D, F30_BODY),
    (31, "日负载率统计", TD_D, F31_BODY),
    (32, "日电能表断相数据", TD_D, phase_breaks(A8)),
    (49, "终端日供电时间、日复位累计次数", TD_D, _SUPPLY),
    (50, "终端日控制统计数据", TD_D, _TRIPS),
    (51, "终端月供电时间、月复位累计次数", TD_M, _SUPPLY),
    (52, "终端月控制统计数据", TD_M, _TRIPS),
    (53, "终端与主站日通信流量", TD_D, _TRAFFIC),
    (54, "终端与主站月通信流量", TD_M, _TRAFFIC),
    *((fn, name, TD_C, body) for fn, name, body in _CURVES),
    *_frozen_indications(161, TD_D, "日冻结"),
    *_frozen_indications(169, TD_D, "抄表日冻结"),
    *_frozen_indications(177, TD_M, "月冻结"),
    *_frozen_demands(185, TD_D, "日冻结"),
    *_frozen_demands(189, TD_D, "抄表日冻结"),
    *_frozen_demands(193, TD_M, "月冻结"),
)
#: Q/GDW 1376.1-2013 bodies that differ from 2009's.
UNITS_2013: tuple[tuple[int, str, Layout, Layout], ...] = (
    (27, "日电压统计数据", TD_D, F27_BODY_2013),
    (32, "日电能表断相数据", TD_D, phase_breaks(A10)),
)


for _fn, _name, _tag, _body in UNITS:
    register(AFN, _fn, (Dir.DOWN,), from_layout(_name, TD_C_REQUEST if _tag is TD_C else _tag))
    register(AFN, _fn, (Dir.UP,), from_layout(_name, (*_tag, *_body)))
for _fn, _name, _tag, _body in UNITS_2013:
    register(AFN, _fn, (Dir.UP,), from_layout(_name, (*_tag, *_body)), edition="2013")

_LIST = "请求2类数据 (AFN=0DH) 数据单元标识表"
for _fn, _which in ((55, "F55～F56"), (56, "F55～F56"), (96, "F96")):
    reserve(
        AFN,
        _fn,
        {"2009": f"{_LIST}: {_which} 备用", "2013": f"{_LIST}: no {_which} in the public 2013 tables (inferred)"},
    )
