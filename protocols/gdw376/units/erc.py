"""Event records 事件记录 of AFN0E (Q/GDW 376.1-2009 §5.14.2.4 附录B 事件记录数据格式; Q/GDW 1376.1-2013 adds
ERC36–ERC41), keyed by the event code ERC: one declarative layout per record body (what follows ERC and Le).

On the wire a record is ``ERC (BIN1) | Le (BIN1) | body (Le bytes)``; Le counts the body only (checked against
``yangboshan/C3761Protocol`` ``XL3761AFNE.c`` geterc3, which walks Le from the time field on, and the Le values a
terminal writes in ``gdgly/NUC97X_JS`` ``Terminal_AFN0E_Event.c``). :func:`decode_event` never fails a frame
because of one record in lenient mode: an unknown ERC, or a body whose Le does not fit the layout, is kept raw
with a warning (strict mode raises :class:`~protocols.errors.DecodeError`).

Common fields: 发生时间 A.15; for measurement-point events the 2-byte ``point`` = D11..D0 pn (测量点号) and D15 起/止
标志 (1 = 发生, 0 = 恢复) (:data:`POINT`); 总加组 events carry a 1-byte group number.

What each layout was checked against:

- ERC1–ERC35: the frame-side structs ``sMtRecN_f`` of ``xiangruipuzhao/3761`` ``qgdw_3761_api.h``, the Le values
  and field copies of ``NUC97X_JS`` ``Terminal_AFN0E_Event.c`` (ERC13 Le 8, ERC14 10, ERC16 9, ERC17 27, ERC19 31,
  ERC20 22, ERC21 6, ERC22 variable, ERC23 16, ERC24 14, ERC25 17, ERC26 14, ERC27 17, ERC28/29 18, ERC30 13,
  ERC31 21, ERC32 13, ERC33 35, ERC35 7 + 8n) and the decoders of ``XL3761AFNE.c`` (flag bit meanings).
  Where they disagree: ERC15 carries 19 values (总畸变率 + 2–19 次, Le 49 in ``NUC97X_JS``), not the 20 of the
  header struct; ERC16's point is one byte (D5..D0 port, D7 起/止) in ``NUC97X_JS`` and ``XL3761AFNE.c``, two in
  the header struct — we follow the two implementations; ERC35's header struct stops after the time, the rest
  (port, n, n × {address A.12, phase/signal byte, protocol byte}) is from ``NUC97X_JS`` (ERC35_Event and the
  auto-search code that fills it).
- ERC14 also in its 2013 form (国网营销部 2014 notice, Le 11): 事件属性标志 (D0 正常, D1 有效) before the two
  times (``NUC97X_JS`` NewERC14). The two are told apart by Le.
- ERC36–ERC41 (2013): Le and body layouts from ``NUC97X_JS`` (ERC36 Le 7 like ERC4; ERC37/38 Le 70 = time, point,
  then the 63 bytes of the meter's 开表盖/开端钮盒 count and record — DL/T 645-2007 03300D00/03300D01 shape: 3-byte
  count, start and end ``YYMMDDhhmmss``, 6 energies before and 6 after, 4 bytes each; ERC39 Le 21 like ERC31;
  ERC40 Le 15 = time, point, device type, device address A.12, anomaly type; ERC41 Le 14 = point, time before and
  time after the clock set (A.1), no 发生时间).
- ERC35–ERC41 second source: the master-side decoders ``de_AFN0E_ERC35_str`` … ``de_AFN0E_ERC41_str`` of
  ``guyingzhi/learngit`` ``decode_AFN0E_FN1_2.c`` (independent of the terminal firmware; read, not copied). They
  agree on ERC35 (time, port D5..D0, n, n × {A.12, phase D7..D5 / signal D3..D0, protocol}), ERC37/38 (time,
  point, A.10 count, A.1 start and end — the wire order of the 645 ``YYMMDDhhmmss`` —, then the six A.11 energies
  before the opening and the six after), ERC39 (time, point, A.15, A.14, A.11 = Le 21) and ERC40 (time, point,
  device type, 6-byte address, anomaly type = Le 15). Disagreements: ERC36 — same two bytes after the time, but
  read as four 2-bit pairs (状态变位, 变位后状态 per circuit) where the firmware passes CD/ST bytes: we keep the bytes
  as bit sets (BitSet, 1..8), which loses nothing. ERC41 — the decoder has a 发生时间 (A.15) before the point
  (Le 19) where the firmware writes Le 14 and its display code says "ERC41对时事件记录无发生时间": both are
  registered as variants told apart by Le, so either terminal decodes. ERC36–ERC41 names are also confirmed by a
  Java master's ERC table and a terminal's ERC constants (code search). The 2013 standard text itself was not
  seen.
- ERC3 ends with as many DA DT (变更参数数据单元标识) as Le leaves room for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import (
    A1,
    A2,
    A3,
    A5,
    A6,
    A7,
    A10,
    A11,
    A12,
    A14,
    A15,
    A22,
    A23,
    A25,
    BIN1,
    BIN2,
    BIN4,
    DADT,
    AsciiFormat,
    BitFields,
    BitSet,
    CodedFormat,
    RawFormat,
    decode_a1,
    encode_a1,
)
from protocols.gdw376.layout import Count, Element, Field, Layout, LayoutCodec, Record, Repeat

#: 2-byte 测量点号 with 起/止标志: D11..D0 pn, D15 1 = 发生 / 0 = 恢复 (D14..D12 备用).
POINT = BitFields(2, (("pn", 0, 12), ("start", 15, 1)))
#: 1-byte number with 起/止标志 (ERC16 直流模拟量端口号, ERC22 电能量差动组号): D5..D0, D7.
SMALL_POINT = BitFields(1, (("pn", 0, 6), ("start", 7, 1)))
#: DL/T 645 time YYMMDDhhmmss as the meter sends it (ss mm hh DD MM YY, no week) — A.1 without the week bits.
METER_TIME = CodedFormat("YYMMDDhhmmss", 6, decode_a1, partial(encode_a1, week=False))
#: 异常/越限标志 of phase events: D0..D2 phase A/B/C, D7..D6 the kind (per ERC).
PHASE_FLAGS = BitFields(1, (("a", 0, 1), ("b", 1, 1), ("c", 2, 1), ("kind", 6, 2)))

TIME = Field("time", A15, "发生时间")
POINT_FIELD = Field("point", POINT, "测量点号及起/止标志")


def _three(prefix: str, fmt: Any, title: str, phases: Sequence[str] = ("a", "b", "c")) -> tuple[Field, ...]:
    return tuple(Field(f"{prefix}_{p}", fmt, f"{title}{p.upper()}") for p in phases)


_U = _three("u", A7, "发生时的U")
_I = _three("i", A25, "发生时的I")
_ENERGY_AT = Field("energy", A14, "发生时电能表正向有功总电能示值")
_LAST_READ = (
    Field("last_read_time", A15, "最近一次抄表成功时间"),
    Field("last_active", A14, "最近一次抄表成功正向有功总电能示值"),
    Field("last_reactive", A11, "最近一次抄表成功正向无功总电能示值"),
)
_CLOCK_SET = (Field("before", A1, "对时前时间"), Field("after", A1, "对时后时间"))
_STATE_CHANGE = (
    TIME,
    Field("changed", BitSet(1), "状态变位 (1..8)"),
    Field("state", BitSet(1), "变位后状态 (1..8)"),
)


def _cover_open(what: str) -> Layout:
    """ERC37/38: the meter's 开表盖/开端钮盒 total count and last record (DL/T 645-2007 03300D00 / 03300D01)."""
    energies = ("forward_active", "reverse_active", "q1", "q2", "q3", "q4")
    titles = ("正向有功总电能", "反向有功总电能", *(f"第{n}象限无功总电能" for n in "一二三四"))
    return (
        TIME,
        POINT_FIELD,
        Field("count", A10, f"{what}总次数"),
        Field("start", METER_TIME, f"{what}发生时刻"),
        Field("end", METER_TIME, f"{what}结束时刻"),
        *(Field(f"before_{e}", A11, f"{what}前{t}") for e, t in zip(energies, titles, strict=True)),
        *(Field(f"after_{e}", A11, f"{what}后{t}") for e, t in zip(energies, titles, strict=True)),
    )


def _harmonics(value_fmt: Any) -> Layout:
    """ERC15: the values are 电压含有率 (A.5 %) or 电流有效值 (A.6 A) by D7 of 异常标志."""
    return (
        TIME,
        POINT_FIELD,
        Field("anomaly", BitFields(1, (("a", 0, 1), ("b", 1, 1), ("c", 2, 1), ("current", 7, 1))), "异常标志"),
        Field("over", BitSet(3), "谐波越限标志 (1 = 总畸变率, n = n次)"),
        Repeat("values", 19, (Field("value", value_fmt, "越限时总畸变率及2～19次谐波值"),), title="越限时值"),
    )


# --- the layouts -------------------------------------------------------------------------------------------------

Spec = tuple[str, tuple[Layout, ...]]


def _one(name: str, *elements: Element) -> Spec:
    """An ERC with a single body layout."""
    return name, (elements,)


def _point(name: str, *elements: Element) -> Spec:
    """A measurement-point event: 发生时间, 测量点号 with 起/止标志, then ``elements``."""
    return _one(name, TIME, POINT_FIELD, *elements)


def _bits(*names: str) -> BitFields:
    """One byte of 1-bit flags, D0 first."""
    return BitFields(1, tuple((name, bit, 1) for bit, name in enumerate(names)))


def _a14(name: str, title: str) -> Field:
    return Field(name, A14, title)


_TRIP_TIME = Field("time", A15, "跳闸时间")
_GROUP = Field("group", BIN1, "总加组号")
_ROUNDS = Field("rounds", BitSet(1), "跳闸轮次")
_POWERS = (Field("power", A2, "跳闸时功率（总加功率）"), Field("power_2min", A2, "跳闸后2分钟的功率（总加功率）"))
_ENERGY_CONTROL = Field("kind", _bits("monthly", "purchase"), "电控类别 (月电控/购电控)")

#: ERC → (name, body layouts). Several layouts = variants told apart by Le (ERC14) or by a flag (ERC15).
LAYOUTS: dict[int, Spec] = {
    1: _one(
        "数据初始化和版本变更记录",
        Field("time", A15, "初始化/版本变更时间"),
        Field("flags", _bits("init", "version_change"), "事件标志"),
        Field("old_version", AsciiFormat(4), "变更前软件版本号"),
        Field("new_version", AsciiFormat(4), "变更后软件版本号"),
    ),
    2: _one("参数丢失记录", TIME, Field("flags", _bits("terminal", "point"), "参数丢失标志")),
    4: _one("状态量变位记录", *_STATE_CHANGE),
    5: _one("遥控跳闸记录", _TRIP_TIME, _ROUNDS, *_POWERS),
    6: _one(
        "功控跳闸记录",
        _TRIP_TIME,
        _GROUP,
        _ROUNDS,
        Field("kind", _bits("period", "rest_day", "shutdown", "down_float"), "功控类别 (时段/厂休/营业报停/下浮控)"),
        *_POWERS,
        Field("setting", A2, "跳闸时功率定值"),
    ),
    7: _one(
        "电控跳闸记录",
        _TRIP_TIME,
        _GROUP,
        _ROUNDS,
        _ENERGY_CONTROL,
        Field("energy", A3, "跳闸时电能量"),
        Field("setting", A3, "跳闸时电能量定值"),
    ),
    8: _one(
        "电能表参数变更",
        TIME,
        Field("point", BitFields(2, (("pn", 0, 12),)), "测量点号"),
        Field(
            "flags",
            _bits(
                "tariff_periods",
                "programming_time",
                "reading_day",
                "pulse_constant",
                "transformer_ratio",
                "demand_reset",
            ),
            "变更标志",
        ),
    ),
    9: _point(
        "电流回路异常", Field("flags", PHASE_FLAGS, "异常标志 (kind 1 短路 2 开路 3 反向)"), *_U, *_I, _ENERGY_AT
    ),
    10: _point("电压回路异常", Field("flags", PHASE_FLAGS, "异常标志 (kind 1 断相 2 失压)"), *_U, *_I, _ENERGY_AT),
    11: _point("相序异常", *_three("angle_u", A5, "∠U"), *_three("angle_i", A5, "∠I"), _ENERGY_AT),
    12: _point("电能表时间超差"),
    13: _point(
        "电表故障信息",
        Field(
            "flags",
            _bits("program_or_demand_reset", "phase_break", "voltage_loss", "power_cut", "battery_low"),
            "异常标志",
        ),
    ),
    14: (
        "终端停/上电事件",
        (
            (Field("power_off", A15, "停电发生时间"), Field("power_on", A15, "上电时间")),
            (
                Field("attribute", _bits("normal", "valid"), "事件属性标志"),
                Field("power_off", A15, "停电发生时间"),
                Field("power_on", A15, "上电时间"),
            ),
        ),
    ),
    15: ("谐波越限告警", (_harmonics(A5), _harmonics(A6))),
    16: _one(
        "直流模拟量越限记录",
        TIME,
        Field("point", SMALL_POINT, "直流模拟量端口号及起/止标志"),
        Field("flags", _bits("upper", "lower"), "越限标志"),
        Field("value", A2, "越限时直流模拟量数据"),
    ),
    17: _point(
        "电压/电流不平衡度越限记录",
        Field("flags", _bits("voltage", "current"), "异常标志"),
        Field("unbalance_u", A5, "发生时的电压不平衡度"),
        Field("unbalance_i", A5, "发生时的电流不平衡度"),
        *_U,
        *_I,
    ),
    18: _point(
        "电容器投切自锁记录",
        Field("causes", _bits("overvoltage", "device_fault", "circuit_fault"), "自锁原因"),
        Field("capacitors", BitSet(2), "电容器组标志 (1..16)"),
        Field("power_factor", A5, "越限发生时功率因数"),
        Field("reactive_power", A23, "越限发生时无功功率"),
        Field("voltage", A7, "越限发生时电压"),
    ),
    19: _one(
        "购电参数设置记录",
        Field("time", A15, "购电能量设置时间"),
        _GROUP,
        Field("order", BIN4, "购电单号"),
        Field("mode", BIN1, "追加/刷新标志 (55H 追加, AAH 刷新)"),
        *(Field(n, A3, t) for n, t in (("amount", "购电量值"), ("alarm", "报警门限"), ("trip", "跳闸门限"))),
        Field("before", A3, "本次购电前剩余电能量（费）"),
        Field("after", A3, "本次购电后剩余电能量（费）"),
    ),
    20: _one("消息认证错误记录", TIME, Field("pw", RawFormat(16), "消息认证码PW"), Field("msa", BIN1, "启动站地址MSA")),
    21: _one("终端故障记录", TIME, Field("code", BIN1, "终端故障编码")),
    22: _one(
        "有功总电能量差动越限事件记录",
        TIME,
        Field("group", SMALL_POINT, "电能量差动组号及起/止标志"),
        Field("compared", A3, "越限时对比总加组有功总电能量"),
        Field("reference", A3, "越限时参照总加组有功总电能量"),
        Field("relative", BIN1, "越限时差动越限相对偏差值 (%)"),
        Field("absolute", A3, "越限时差动越限绝对偏差值"),
        Count("n", 1, "对比的总加组测量点数量n"),
        Repeat("compared_readings", "n", (_a14("value", "有功总电能示值"),), title="对比总加组"),
        Count("m", 1, "参照的总加组测量点数量m"),
        Repeat("reference_readings", "m", (_a14("value", "有功总电能示值"),), title="参照总加组"),
    ),
    23: _one(
        "电控告警事件记录",
        Field("time", A15, "告警时间"),
        _GROUP,
        Field("rounds", BitSet(1), "投入轮次"),
        _ENERGY_CONTROL,
        Field("energy", A3, "告警时电能量"),
        Field("setting", A3, "告警时电控定值"),
    ),
    24: _point("电压越限记录", Field("flags", PHASE_FLAGS, "越限标志 (kind 1 越上上限 2 越下下限)"), *_U),
    25: _point("电流越限记录", Field("flags", PHASE_FLAGS, "越限标志 (kind 1 越上上限 2 越上限)"), *_I),
    26: _point(
        "视在功率越限记录",
        Field("flags", BitFields(1, (("kind", 6, 2),)), "越限标志 (kind 1 越上上限 2 越上限)"),
        Field("apparent_power", A23, "发生时的视在功率"),
        Field("limit", A23, "发生时的视在功率限值"),
    ),
    27: _point(
        "电能表示度下降记录", _a14("before", "下降前正向有功总电能示值"), _a14("after", "下降后正向有功总电能示值")
    ),
    28: _point(
        "电能量超差记录",
        _a14("reference", "电能量超差发生时对应正向有功总电能示值"),
        _a14("energy", "电能量超差发生时正向有功总电能示值"),
        Field("threshold", A22, "电能量超差阈值"),
    ),
    29: _point(
        "电能表飞走记录",
        _a14("before", "飞走发生前正向有功总电能示值"),
        _a14("after", "飞走发生后正向有功总电能示值"),
        Field("threshold", A22, "电能表飞走阈值"),
    ),
    30: _point(
        "电能表停走记录",
        _a14("energy", "停走发生时正向有功总电能示值"),
        Field("threshold", BIN1, "电能表停走阈值 (×15 min)"),
    ),
    31: _point("终端485抄表失败事件记录", *_LAST_READ),
    32: _one(
        "终端与主站通信流量超门限事件记录",
        TIME,
        Field("traffic", BIN4, "当月已发生的通信流量 (字节)"),
        Field("limit", BIN4, "月通信流量门限 (字节)"),
    ),
    33: _point(
        "电能表运行状态字变位事件记录",
        Repeat("changed", 7, (Field("word", BIN2, "变位标志"),), title="电表运行状态字变位标志1～7"),
        Repeat("words", 7, (Field("word", BIN2, "状态字"),), title="电表运行状态字1～7"),
    ),
    34: _point("CT异常事件记录", Field("flags", BIN1, "异常标志")),
    35: _one(
        "发现未知电表事件记录",
        TIME,
        Field("port", BIN1, "终端通信端口号"),
        Count("n", 1, "发现块数n"),
        Repeat(
            "meters",
            "n",
            (
                Field("address", A12, "未知电表通信地址"),
                Field(
                    "phase",
                    BitFields(1, (("quality", 0, 4), ("a", 5, 1), ("b", 6, 1), ("c", 7, 1))),
                    "所在相位及信号品质",
                ),
                Field("protocol", BIN1, "电表通信协议 (0 DL/T 645-1997, 1 DL/T 645-2007)"),
            ),
            title="发现的未知电表",
        ),
    ),
    36: _one("控制输出回路开关接入状态量变位记录", *_STATE_CHANGE),
    37: ("电能表开表盖事件记录", (_cover_open("开表盖"),)),
    38: ("电能表开端钮盒事件记录", (_cover_open("开端钮盒"),)),
    39: _point("补抄失败事件记录", *_LAST_READ),
    40: _point(
        "磁场异常事件记录",
        Field("device_type", BIN1, "设备类型"),
        Field("address", A12, "设备地址"),
        Field("kind", BIN1, "磁场异常类型"),
    ),
    41: (
        "对时事件记录",
        (
            (POINT_FIELD, *_CLOCK_SET),  # Le 14, NUC97X_JS (no 发生时间)
            (TIME, POINT_FIELD, *_CLOCK_SET),  # Le 19, guyingzhi/learngit de_AFN0E_ERC41_str
        ),
    ),
}

#: ERC3 参数变更记录: 参数更新时间, 启动站地址, then DA DT × (Le − 6) / 4.
ERC3_HEAD: Layout = (Field("time", A15, "参数更新时间"), Field("msa", BIN1, "启动站地址"))
ERC3_ITEM: Layout = (Field("id", DADT, "变更参数数据单元标识"),)


def _names(layout: Layout) -> frozenset[str]:
    return frozenset(e.name for e in layout if not isinstance(e, Count))


class ErcCodec:
    """The body codec of one ERC: layout variants, chosen by Le when decoding and by the value's keys when
    encoding (``pick`` overrides both: it maps the body, or the value, to the variant's index)."""

    def __init__(
        self,
        erc: int,
        name: str,
        layouts: Sequence[Layout],
        pick: Callable[[bytes | Mapping[str, Any]], int] | None = None,
    ) -> None:
        self.erc = erc
        self.name = name
        self.variants = tuple(LayoutCodec(f"ERC{erc} {name}", layout) for layout in layouts)
        self.pick = pick

    def decode(self, body: bytes) -> Record:
        """Decode a whole body (exactly Le bytes). Raises :class:`DecodeError` when no variant fits."""
        candidates = self.variants if self.pick is None else (self.variants[self.pick(body)],)
        errors: list[str] = []
        for codec in candidates:
            try:
                record, size = codec.decode(body, f"ERC{self.erc}")
            except DecodeError as exc:
                errors.append(str(exc).removeprefix(f"ERC{self.erc}: "))
                continue
            if size == len(body):
                return record
            errors.append(f"the layout holds {size}")
        why = "; ".join(errors)
        raise DecodeError(f"Le={len(body)} does not fit {self.name} ({why})", raw=body, path=f"ERC{self.erc}")

    def encode(self, value: Mapping[str, Any]) -> bytes:
        if self.pick is not None:
            return self.variants[self.pick(value)].encode(value)
        keys = frozenset(value)
        for codec in self.variants:
            counts = {e.name for e in codec.layout if isinstance(e, Count)}
            if keys - counts == _names(codec.layout):
                return codec.encode(value)
        raise LocalProtocolError(f"ERC{self.erc} {self.name}: no layout has the fields {sorted(keys)}")


class Erc3Codec(ErcCodec):
    """ERC3 参数变更记录: a fixed head and as many DA DT as the body holds (Le decides, there is no count)."""

    def __init__(self) -> None:
        super().__init__(3, "参数变更记录", (ERC3_HEAD,))
        self._head = self.variants[0]
        self._item = LayoutCodec("ERC3 变更参数数据单元标识", ERC3_ITEM)

    def decode(self, body: bytes) -> Record:
        head, size = self._head.decode(body, "ERC3")
        if (len(body) - size) % 4:
            raise DecodeError(f"{len(body) - size} bytes after the head are not whole DA DT", raw=body, path="ERC3")
        ids = tuple(self._item.decode(body[at : at + 4], "ERC3")[0]["id"] for at in range(size, len(body), 4))
        return Record([*head.items(), ("ids", ids)])

    def encode(self, value: Mapping[str, Any]) -> bytes:
        return self._head.encode(value) + b"".join(self._item.encode({"id": i}) for i in value["ids"])


def _erc15_variant(body_or_value: bytes | Mapping[str, Any]) -> int:
    """ERC15: A.5 voltage ratios when D7 of 异常标志 (byte 8 of the body) is 0, A.6 currents when it is 1."""
    if isinstance(body_or_value, bytes | bytearray):
        return 1 if len(body_or_value) > 7 and body_or_value[7] & 0x80 else 0
    return 1 if body_or_value["anomaly"]["current"] else 0


def _codec(erc: int, name: str, layouts: tuple[Layout, ...]) -> ErcCodec:
    return ErcCodec(erc, name, layouts, _erc15_variant if erc == 15 else None)


#: ERC → its codec (ERC1–ERC41).
ERCS: dict[int, ErcCodec] = {3: Erc3Codec(), **{erc: _codec(erc, *spec) for erc, spec in LAYOUTS.items()}}


# --- records -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One 事件记录: ``erc``, the standard's ``name`` (``None`` for an unknown ERC), the decoded body ``value``
    (``None`` when kept raw), ``raw`` = the Le body bytes as sent, and the ``warning`` a lenient decode gave."""

    erc: int
    name: str | None
    value: Record | None
    raw: bytes
    warning: str | None = None


def decode_event(erc: int, body: bytes, *, strict: bool = False) -> EventRecord:
    """Decode one record body (the Le bytes after ERC and Le). Lenient (default): an unknown ERC or a body that
    does not fit its layout is kept raw with a warning; ``strict=True`` raises :class:`DecodeError` instead."""
    body = bytes(body)
    codec = ERCS.get(erc)
    if codec is None:
        if strict:
            raise DecodeError(f"unknown event code ERC{erc}", raw=body, path=f"ERC{erc}")
        return EventRecord(erc, None, None, body, f"ERC{erc} unknown: {len(body)} bytes kept raw")
    try:
        return EventRecord(erc, codec.name, codec.decode(body), body)
    except DecodeError as exc:
        if strict:
            raise
        return EventRecord(erc, codec.name, None, body, f"{exc} — kept raw")


def event_record(erc: int, value: Mapping[str, Any]) -> EventRecord:
    """Build a record from its decoded ``value`` (the encoder side: simulators and tests)."""
    codec = ERCS.get(erc)
    if codec is None:
        raise LocalProtocolError(f"no layout for ERC{erc}")
    raw = codec.encode(value)
    if len(raw) > 0xFF:
        raise LocalProtocolError(f"ERC{erc} body of {len(raw)} bytes does not fit Le (BIN1)")
    return EventRecord(erc, codec.name, codec.decode(raw), raw)


def encode_event(record: EventRecord) -> bytes:
    """``ERC | Le | body`` — the raw body as it is (a decoded record re-encodes byte for byte)."""
    if not 0 <= record.erc <= 0xFF or len(record.raw) > 0xFF:
        raise LocalProtocolError(f"ERC{record.erc} with {len(record.raw)} bytes does not fit ERC/Le (BIN1)")
    return bytes((record.erc, len(record.raw))) + record.raw


def erc_layouts() -> list[tuple[int, int, LayoutCodec]]:
    """Every (ERC, variant index, layout codec) with a whole-body layout (all but ERC3), for tests and docs."""
    return [
        (erc, i, variant)
        for erc, codec in sorted(ERCS.items())
        if not isinstance(codec, Erc3Codec)
        for i, variant in enumerate(codec.variants)
    ]
