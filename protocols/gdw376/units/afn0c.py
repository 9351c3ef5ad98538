"""AFN0C 请求1类数据 (Q/GDW 376.1 §5.1.3.13; PROTOCOLS.md A.9). Requests (downlink) are identifiers only.

- F2 终端日历时钟: 附录A.1 (6 bytes) → :class:`TerminalClock`.
- F129 当前正向有功电能示值（总、费率1～M）: 附录A.15 抄表时间 + M 费率数 (BIN 1) + A.14 × (M+1) kWh.
- F130 当前正向无功（组合无功1）电能示值（总、费率1～M）: A.15 + M + A.11 × (M+1) kvarh.
Both → :class:`EnergyIndication` (total first, then tariffs 1..M).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from protocols.errors import LocalProtocolError
from protocols.gdw376.formats import (
    A5,
    A7,
    A9,
    A11,
    A14,
    A15,
    A25,
    DecimalFormat,
    decode_a1,
    decode_a15,
    encode_a1,
    encode_a15,
)
from protocols.gdw376.layout import Field, Layout
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import UnitCodec, UnitReader, from_layout, no_body, register

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
        values = [reader.field(fmt.decode, fmt.size) for _ in range(count + 1)]
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

#: F25 当前三相及总有/无功功率、功率因数，三相电压、电流、零序电流、视在功率 (PROTOCOLS.md A.9, 67 bytes).
F25_LAYOUT: Layout = (
    Field("read_time", A15, "终端抄表时间"),
    *(Field(f"p_{ph}", A9, "有功功率") for ph in ("total", "a", "b", "c")),
    *(Field(f"q_{ph}", A9, "无功功率") for ph in ("total", "a", "b", "c")),
    *(Field(f"pf_{ph}", A5, "功率因数") for ph in ("total", "a", "b", "c")),
    *(Field(f"u_{ph}", A7, "电压") for ph in ("a", "b", "c")),
    *(Field(f"i_{ph}", A25, "电流") for ph in ("a", "b", "c", "0")),
    *(Field(f"s_{ph}", A9, "视在功率") for ph in ("total", "a", "b", "c")),
)
register(
    Afn.REQUEST_CLASS1,
    25,
    (Dir.DOWN,),
    no_body("当前三相及总有/无功功率、功率因数，三相电压、电流、零序电流、视在功率"),
)
register(
    Afn.REQUEST_CLASS1,
    25,
    (Dir.UP,),
    from_layout("当前三相及总有/无功功率、功率因数，三相电压、电流、零序电流、视在功率", F25_LAYOUT),
)
