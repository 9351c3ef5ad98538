"""DL/T 645 data identifiers (数据标识 DI): the catalogue, and how each item's value bytes decode and encode.

DL/T 645-2007 附录A (数据标识编码表): DI = DI3 DI2 DI1 DI0, written most significant first ("00010000") and sent
DI0 first. DI3 is the class:

======= ============================================================================================== =========
DI3     what (附录A table)                                                                              here
======= ============================================================================================== =========
00      电能量 (表A.1): DI2 quantity, DI1 tariff (00 total, 01..3F, FF block), DI0 00 current or 01..0C    energy
        the n-th last settlement day (上n结算日); per-phase quantities (DI2 15..46) without tariffs; 0090
        prepaid (剩余/透支 电量·金额)
01      最大需量及发生时间 (表A.2): like energy; each value is ``XX.XXXX`` + ``YYMMDDhhmm`` (8 bytes)           demand
02      变量 (表A.3): voltage, current, power, power factor, phase angle, distortion; 0280 singles          variables
03      事件记录 (表A.4): DI0 = 00 count, 01..0A the n-th last record; 1D/1E trip/close records of the       events
        State Grid smart-meter supplement
04      参变量 (表A.5): date, time, addresses, constants, status words 1–7, feature words, tariff tables     parameters
05      冻结 (表A.6): DI2 kind (00 timed … 07 step switch), DI1 00 time / 01..08 energy / 09, 0A demand /     freezes
        10 power, DI0 the n-th last freeze
06      负荷记录 (表A.7): 06000000..02 load records, 0610xxxx per-channel curves                           load_profile
======= ============================================================================================== =========

A :class:`DataItem` is a record of :class:`~protocols.dlt645.formats.Field` s (usually one), optionally repeated
as a data block (数据块: DI1 or DI0 = FF, total first then tariffs or phases), or a variable
:class:`~protocols.dlt645.formats.Layout` (load records, curves). Values are exact: ``Decimal`` for numbers,
``date``/``time``/``datetime`` for dates and times, ``str`` for ASCII text (:mod:`protocols.dlt645.formats`).
Value names: a block's values are named by its ``parts``; a record's field adds its ``suffix`` (a maximum demand
``MAX_DEMAND_FORWARD_ACTIVE_TOTAL`` comes with ``MAX_DEMAND_FORWARD_ACTIVE_TOTAL_TIME``).

Which items are signed was checked against PROTOCOLS.md B.5 and the ``signed_DL2007_List`` of a public State Grid
concentrator firmware (combined active/reactive energy and demand, current, power, power factor, present demand,
temperature). Variables against ``bobyuxinyang/dlt645_2007`` ``dlt645_api_07.h`` (表A.3 order); parameter
formats and sizes against the 表A.5 transcription on chinasem.cn (DL/T645-2007_Part2); demand and event record
layouts against ``machine9Cat/EnterpriseEnergyEfficiency`` ``dl645_07_map.h`` (demand 3 + 5 bytes; cover-open 2
times + 12 energies; clear records 6 + 4 + 24 values; time-set operator + 2 times) and the 表A.4 transcription on
toolkit.eoiot.cn; the 1D/1E trip/close records (count 1D000001, record 1D0001nn: time, operator, 6 energies, 34
bytes) against two terminal firmwares' event tables. DL/T 645-1997 DIs are 2 bytes (:data:`DATA_ITEMS_1997`);
see :mod:`protocols.dlt645.mapping` for how they map to 2007.

Public names: :class:`DataItem`, :data:`DATA_ITEMS`, :data:`DATA_ITEMS_1997`, :func:`lookup`, :func:`format_di`,
:data:`DI_SIZE`, :class:`TariffNames`, :data:`ENERGY_QUANTITIES`, :data:`DEMAND_QUANTITIES`, :data:`FREEZES`,
:data:`PHASE_VARIABLES`, :data:`SINGLE_ITEMS_2007`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import overload

from protocols.dlt645.control import Edition
from protocols.dlt645.formats import Field, Kind, Layout, Named, Scalar, field_of
from protocols.dlt645.load_profile import Curve, LoadRecords
from protocols.errors import DecodeError, LocalProtocolError, UnknownDataItem

#: Bytes of a DI on the wire, per edition.
DI_SIZE = {Edition.V2007: 4, Edition.V1997: 2}


def di_to_wire(di: int, edition: Edition = Edition.V2007) -> bytes:
    """A DI as sent: DI0 first, 4 bytes (2007) or 2 (1997); :class:`LocalProtocolError` if it does not fit.

    >>> di_to_wire(0x00010000).hex(), di_to_wire(0x9010, Edition.V1997).hex()
    ('00000100', '1090')
    """
    size = DI_SIZE[edition]
    if not 0 <= di < 1 << (8 * size):
        raise LocalProtocolError(f"DI {di:#x} does not fit {size} bytes")
    return di.to_bytes(size, "little")


def format_di(di: int, edition: Edition = Edition.V2007) -> str:
    """A DI as the standard writes it: 8 hex digits for 2007, 4 for 1997, most significant first.

    >>> format_di(0x00010000), format_di(0x9010, Edition.V1997)
    ('00010000', '9010')
    """
    return f"{di:0{2 * DI_SIZE[edition]}X}"


@dataclass(frozen=True, slots=True)
class DataItem:
    """One data identifier of DL/T 645 附录A: its value layout, and how to decode and encode it.

    ``fmt``/``unit``/``size``/``signed``/``binary`` describe one value (for a record: ``fmt`` joins the fields'
    formats, ``unit`` is the first field's, ``size`` the record's). ``fields`` holds the value layout; it is
    derived from ``fmt`` when not given. ``repeat`` marks a data block (数据块) whose DATA holds ``len // size``
    records named by ``parts`` (total first, then tariffs or phases). ``layout`` replaces all of that for load
    records and curves. ``title`` is the standard's Chinese name (数据项名称) where the catalogue records it.
    """

    di: int
    name: str
    fmt: str
    unit: str
    size: int
    signed: bool = False
    repeat: bool = False
    parts: Sequence[str] = ()
    binary: bool = False
    edition: Edition = Edition.V2007
    fields: tuple[Field, ...] = ()
    layout: Layout | None = field(default=None, compare=False)
    title: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fields:
            one = field_of(self.fmt, self.unit, size=self.size, signed=self.signed, binary=self.binary)
            object.__setattr__(self, "fields", (one,))

    @property
    def decimals(self) -> int:
        """Digits after the point of the (first) value."""
        return self.fields[0].decimals

    @property
    def is_number(self) -> bool:
        """True for measured quantities (``X`` formats); False for dates, times, addresses and bit fields."""
        return not self.binary and set(self.fmt) <= {"X", "."}

    @property
    def di_text(self) -> str:
        """The DI as written in the standard (:func:`format_di`)."""
        return format_di(self.di, self.edition)

    def value_fields(self, count: int) -> list[tuple[str, Field]]:
        """Names and fields of ``count`` decoded values (one record, a block's records, or a layout's values)."""
        if self.layout is not None:
            return self.layout.fields(self.name, count)
        fields = self.fields
        width = len(fields)
        records = -(-count // width)
        if not self.repeat:
            if records > 1:
                raise DecodeError(f"{count} values, but {self.name} holds {width}")
            return [(self.name + f.suffix, f) for f in fields][:count]
        if records > len(self.parts):
            raise DecodeError(f"{records} values, but the {self.name} block has {len(self.parts)}")
        parts = self.parts
        return [(parts[i // width] + fields[i % width].suffix, fields[i % width]) for i in range(count)]

    def value_names(self, count: int) -> tuple[str, ...]:
        """Names of ``count`` values of this item (one for a plain item, parts for a block)."""
        return tuple(name for name, _ in self.value_fields(count))

    def decode_named(self, raw: bytes) -> list[Named]:
        """Decode the value bytes after the DI (33H removed) into ``(name, field, value)`` triples; fillers
        (EE/FF…) decode as ``None``. This is the read path's hot spot: one pass, no re-parsing of ``fmt``."""
        if self.layout is not None:
            return self.layout.decode(self.name, raw)
        fields = self.fields
        size = self.size
        if not self.repeat:
            if len(raw) != size:
                raise DecodeError(f"{len(raw)} bytes where {self.fmt} takes {size}", raw=raw)
            if len(fields) == 1:
                one = fields[0]
                return [(self.name, one, one.decode(raw))]
            return list(_decode_record(self.name, fields, raw, 0))
        if not raw or len(raw) % size:
            raise DecodeError(f"{len(raw)} bytes are not a whole number of {size}-byte values", raw=raw)
        count = len(raw) // size
        parts = self.parts
        if count > len(parts):
            raise DecodeError(f"{count} values, but the {self.name} block has {len(parts)}", raw=raw)
        if len(fields) == 1:
            one = fields[0]
            return [(parts[i], one, one.decode(raw[i * size : (i + 1) * size])) for i in range(count)]
        out: list[Named] = []
        for i in range(count):
            out.extend(_decode_record(parts[i], fields, raw, i * size))
        return out

    def decode(self, raw: bytes) -> tuple[Scalar | None, ...]:
        """Decode the value bytes after the DI (DATA with 33H removed). Fillers (EE/FF…) decode as ``None``.

        >>> lookup(0x02010100).decode(bytes.fromhex("0110"))
        (Decimal('100.1'),)
        """
        return tuple(value for _, _, value in self.decode_named(raw))

    def encode(self, values: Sequence[Scalar | None]) -> bytes:
        """Encode values (a record's, or a block's records in order) as the bytes after the DI; ``None`` becomes
        the ``EE`` filler.

        >>> from decimal import Decimal
        >>> lookup(0x02020100).encode([Decimal("-4.999")]).hex()
        '994980'
        """
        if self.layout is not None:
            return self.layout.encode(self.name, values)
        fields = self.fields
        width = len(fields)
        if not values or len(values) % width or (not self.repeat and len(values) != width):
            what = "records" if self.repeat else f"{width} value{'s' * (width > 1)}"
            raise LocalProtocolError(f"{self.name} takes {what}, not {values!r}")
        if self.repeat and len(values) // width > len(self.parts):
            raise LocalProtocolError(f"{self.name} holds at most {len(self.parts)} values")
        return b"".join(fields[i % width].encode(value) for i, value in enumerate(values))

    def format_value(self, value: Scalar | None) -> str | None:
        """Render a value of the first field as text (:meth:`~protocols.dlt645.formats.Field.format`).

        >>> from decimal import Decimal
        >>> lookup(0x04000401).format_value(Decimal(161))
        '000000000161'
        """
        return self.fields[0].format(value)


def _decode_record(prefix: str, fields: tuple[Field, ...], raw: bytes, at: int) -> Iterable[Named]:
    for f in fields:
        yield prefix + f.suffix, f, f.decode(raw[at : at + f.size])
        at += f.size


def record(
    di: int,
    name: str,
    fields: Sequence[Field],
    *,
    repeat: bool = False,
    parts: Sequence[str] = (),
    edition: Edition = Edition.V2007,
    title: str = "",
) -> DataItem:
    """A data item made of ``fields`` (a record), optionally repeated as a block named by ``parts``."""
    fmt, unit, size, signed, binary = _shape(tuple(fields))
    return DataItem(
        di=di,
        name=name,
        fmt=fmt,
        unit=unit,
        size=size,
        signed=signed,
        repeat=repeat,
        parts=parts,
        binary=binary,
        edition=edition,
        fields=tuple(fields),
        title=title,
    )


@cache
def _shape(fields: tuple[Field, ...]) -> tuple[str, str, int, bool, bool]:
    """``fmt``, ``unit``, ``size``, ``signed``, ``binary`` of a record (cached: records repeat by thousands)."""
    first = fields[0]
    return (
        " ".join(f.fmt for f in fields),
        first.unit,
        sum(f.size for f in fields),
        first.signed,
        first.kind is Kind.BITS,
    )


class TariffNames(Sequence[str]):
    """The names of a tariff block's values — ``{prefix}_TOTAL{suffix}``, ``{prefix}_T1{suffix}``, … — made on
    demand, so the catalogue does not build tens of thousands of strings at import."""

    __slots__ = ("_count", "_prefix", "_suffix")

    def __init__(self, prefix: str, suffix: str, tariffs: int) -> None:
        self._prefix, self._suffix, self._count = prefix, suffix, tariffs + 1

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        tariff = index % self._count
        return f"{self._prefix}_{f'T{tariff}' if tariff else 'TOTAL'}{self._suffix}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TariffNames) and (self._prefix, self._suffix, self._count) == (
            other._prefix,
            other._suffix,
            other._count,
        )

    def __hash__(self) -> int:
        return hash((self._prefix, self._suffix, self._count))

    def __repr__(self) -> str:
        return f"TariffNames({self._prefix!r}, {self._suffix!r}, {self._count - 1})"


def _add(table: dict[int, DataItem], *items: DataItem) -> None:
    for item in items:
        if item.di in table:
            raise LocalProtocolError(f"DI {item.di_text} registered twice")
        table[item.di] = item


def _family(table: dict[int, DataItem], block: DataItem, members: Sequence[tuple[int, str]]) -> None:
    """Register the members of a block (``(di, name)``, same fields as the block) and the block itself, whose
    parts are the members' names in order."""
    b = block
    for di, name in members:
        _add(table, DataItem(di, name, b.fmt, b.unit, b.size, b.signed, binary=b.binary, edition=b.edition))
    parts = tuple(name for _, name in members)
    _add(table, DataItem(b.di, b.name, b.fmt, b.unit, b.size, b.signed, True, parts, b.binary, b.edition))


def _period_suffix(period: int) -> str:
    return f"_LAST{period}" if period else ""


# ------------------------------------------------------------------------------------------------ DL/T 645-2007

#: 表A.1 electric energy quantities, DI2 → (name stem, unit, signed). Each has tariffs and blocks.
ENERGY_QUANTITIES: dict[int, tuple[str, str, bool]] = {
    0x00: ("COMBINED_ACTIVE", "kWh", True),  # 组合有功
    0x01: ("FORWARD_ACTIVE", "kWh", False),  # 正向有功
    0x02: ("REVERSE_ACTIVE", "kWh", False),  # 反向有功
    0x03: ("COMBINED_REACTIVE_1", "kvarh", True),  # 组合无功1
    0x04: ("COMBINED_REACTIVE_2", "kvarh", True),  # 组合无功2
    0x05: ("REACTIVE_Q1", "kvarh", False),  # 第一象限无功
    0x06: ("REACTIVE_Q2", "kvarh", False),  # 第二象限无功
    0x07: ("REACTIVE_Q3", "kvarh", False),  # 第三象限无功
    0x08: ("REACTIVE_Q4", "kvarh", False),  # 第四象限无功
    0x09: ("FORWARD_APPARENT", "kVAh", False),  # 正向视在
    0x0A: ("REVERSE_APPARENT", "kVAh", False),  # 反向视在
}
#: 表A.1 per-phase quantities (DI1 = 00 only): DI2 = A 15H / B 29H / C 3DH + the offset of the quantity
#: 01..0A above minus 1 (A相正向有功 00150000 … C相反向视在 00460000).
PHASE_ENERGY_BASE = {"A": 0x15, "B": 0x29, "C": 0x3D}
#: 表A.1 totals without tariffs: DI2 → (stem, unit).
OTHER_ENERGY: dict[int, tuple[str, str]] = {
    0x81: ("FORWARD_ACTIVE_FUNDAMENTAL", "kWh"),  # 正向有功基波总电能
    0x82: ("REVERSE_ACTIVE_FUNDAMENTAL", "kWh"),  # 反向有功基波总电能
    0x83: ("FORWARD_ACTIVE_HARMONIC", "kWh"),  # 正向有功谐波总电能
    0x84: ("REVERSE_ACTIVE_HARMONIC", "kWh"),  # 反向有功谐波总电能
    0x85: ("COPPER_LOSS", "kWh"),  # 铜损有功总电能补偿量
    0x86: ("IRON_LOSS", "kWh"),  # 铁损有功总电能补偿量
}
#: Tariff values a block can carry: total + 62 fill L = 4 + 63 × 4 ≤ 255 (the standard allows k ≤ 63 费率).
MAX_BLOCK_TARIFFS = 62
#: Tariffs registered as single items (DI1 01..0E). Deployed meters use 4 (尖峰平谷); 14 is the 1997 limit and
#: the daily period limit m ≤ 14, and keeps the catalogue small enough to build at import in a few ms.
MAX_TARIFFS = 14
#: Settlement days kept (上1..上12结算日, DI0 01..0C).
SETTLEMENT_DAYS = 12
ENERGY_FMT = "XXXXXX.XX"
DEMAND_FMT = "XX.XXXX"
#: A demand record is 8 bytes: total + 30 tariffs fill L = 4 + 31 × 8 ≤ 255.
MAX_DEMAND_BLOCK_TARIFFS = 30

#: 表A.2 maximum demand quantities, DI2 → (name stem, unit, signed).
DEMAND_QUANTITIES: dict[int, tuple[str, str, bool]] = {
    q: (stem, {"kWh": "kW", "kvarh": "kvar", "kVAh": "kVA"}[unit], signed)
    for q, (stem, unit, signed) in ENERGY_QUANTITIES.items()
    if q
}

_TIME_FIELD = field_of("YYMMDDhhmm", suffix="_TIME")


def _demand_fields(unit: str, signed: bool) -> tuple[Field, Field]:
    """A maximum demand and its time (最大需量及发生时间, 表A.2): XX.XXXX + YYMMDDhhmm."""
    return field_of(DEMAND_FMT, unit, signed=signed), _TIME_FIELD


def _tariff_items(
    table: dict[int, DataItem], base: int, prefix: str, suffix: str, fields: Sequence[Field], block_tariffs: int
) -> None:
    """Total and tariffs 1..:data:`MAX_TARIFFS` (DI1 00..0E) and the block (DI1 FF) of one quantity and period."""
    names = TariffNames(prefix, suffix, block_tariffs)
    for tariff, name in enumerate(names[: MAX_TARIFFS + 1]):
        _add(table, record(base | tariff << 8, name, fields))
    _add(table, record(base | 0xFF00, f"{prefix}_BLOCK{suffix}", fields, repeat=True, parts=names))


def _energy(table: dict[int, DataItem]) -> None:
    """表A.1 电能量 (DI3 = 00) and 表A.2 最大需量及发生时间 (DI3 = 01): every quantity, tariff, phase and
    settlement day."""
    for period in range(SETTLEMENT_DAYS + 1):
        suffix = _period_suffix(period)
        for quantity, (stem, unit, signed) in ENERGY_QUANTITIES.items():
            energy = (field_of(ENERGY_FMT, unit, signed=signed),)
            _tariff_items(table, quantity << 16 | period, f"ENERGY_{stem}", suffix, energy, MAX_BLOCK_TARIFFS)
            if quantity:
                d_stem, d_unit, d_signed = DEMAND_QUANTITIES[quantity]
                demand = _demand_fields(d_unit, d_signed)
                base = 0x01000000 | quantity << 16 | period
                _tariff_items(table, base, f"MAX_DEMAND_{d_stem}", suffix, demand, MAX_DEMAND_BLOCK_TARIFFS)
                for phase, first in PHASE_ENERGY_BASE.items():
                    di2 = first + quantity - 1
                    name = f"{stem}_{phase}{suffix}"
                    _add(table, record(di2 << 16 | period, f"ENERGY_{name}", energy))
                    _add(table, record(0x01000000 | di2 << 16 | period, f"MAX_DEMAND_{d_stem}_{phase}{suffix}", demand))
        for di2, (stem, unit) in OTHER_ENERGY.items():
            _add(table, record(di2 << 16 | period, f"ENERGY_{stem}_TOTAL{suffix}", (field_of(ENERGY_FMT, unit),)))


#: 表A.3 per-phase variables: DI2 → (name stem, fmt, unit, size, signed, has a total in DI1 = 00).
PHASE_VARIABLES: dict[int, tuple[str, str, str, int, bool, bool]] = {
    0x01: ("VOLTAGE", "XXX.X", "V", 2, False, False),  # 电压
    0x02: ("CURRENT", "XXX.XXX", "A", 3, True, False),  # 电流
    0x03: ("ACTIVE_POWER", "XX.XXXX", "kW", 3, True, True),  # 瞬时有功功率
    0x04: ("REACTIVE_POWER", "XX.XXXX", "kvar", 3, True, True),  # 瞬时无功功率
    0x05: ("APPARENT_POWER", "XX.XXXX", "kVA", 3, True, True),  # 瞬时视在功率
    0x06: ("POWER_FACTOR", "X.XXX", "", 2, True, True),  # 功率因数
    0x07: ("PHASE_ANGLE", "XXX.X", "°", 2, False, False),  # 相角
    0x08: ("VOLTAGE_DISTORTION", "XX.XX", "%", 2, False, False),  # 电压波形失真度
    0x09: ("CURRENT_DISTORTION", "XX.XX", "%", 2, False, False),  # 电流波形失真度
}
_PHASES = ("A", "B", "C")

#: 表A.3 / 表A.5 / 表A.4 single items: (di, name, fmt, unit, size, signed, binary).
SINGLE_ITEMS_2007: tuple[tuple[int, str, str, str, int, bool, bool], ...] = (
    (0x02800001, "NEUTRAL_CURRENT", "XXX.XXX", "A", 3, True, False),  # 零线电流
    (0x02800002, "FREQUENCY", "XX.XX", "Hz", 2, False, False),  # 电网频率
    (0x02800003, "ACTIVE_POWER_1MIN_AVERAGE", "XX.XXXX", "kW", 3, False, False),  # 一分钟有功总平均功率
    (0x02800004, "DEMAND_ACTIVE_PRESENT", "XX.XXXX", "kW", 3, True, False),  # 当前有功需量
    (0x02800005, "DEMAND_REACTIVE_PRESENT", "XX.XXXX", "kvar", 3, True, False),  # 当前无功需量
    (0x02800006, "DEMAND_APPARENT_PRESENT", "XX.XXXX", "kVA", 3, True, False),  # 当前视在需量
    (0x02800007, "METER_TEMPERATURE", "XXX.X", "℃", 2, True, False),  # 表内温度
    (0x02800008, "CLOCK_BATTERY_VOLTAGE", "XX.XX", "V", 2, False, False),  # 时钟电池电压(内部)
    (0x02800009, "READING_BATTERY_VOLTAGE", "XX.XX", "V", 2, False, False),  # 停电抄表电池电压(外部)
    (0x0280000A, "BATTERY_WORK_TIME", "XXXXXXXX", "min", 4, False, False),  # 内部电池工作时间
    (0x00900100, "REMAINING_ENERGY", "XXXXXX.XX", "kWh", 4, False, False),  # (当前)剩余电量 (费控表)
    (0x00900101, "OVERDRAFT_ENERGY", "XXXXXX.XX", "kWh", 4, False, False),  # (当前)透支电量
    (0x00900200, "REMAINING_MONEY", "XXXXXX.XX", "元", 4, False, False),  # (当前)剩余金额
    (0x00900201, "OVERDRAFT_MONEY", "XXXXXX.XX", "元", 4, False, False),  # (当前)透支金额
    (0x04000101, "DATE", "YYMMDDWW", "", 4, False, False),  # 日期及星期 (WW 0 = Sunday)
    (0x04000102, "TIME", "hhmmss", "", 3, False, False),  # 时间
    (0x04000103, "DEMAND_PERIOD", "NN", "min", 1, False, False),  # 最大需量周期
    (0x04000104, "DEMAND_SLIDE_TIME", "NN", "min", 1, False, False),  # 滑差时间
    (0x04000105, "PULSE_WIDTH", "XXXX", "ms", 2, False, False),  # 校表脉冲宽度
    (0x04000106, "ZONE_TABLE_SWITCH_TIME", "YYMMDDhhmm", "", 5, False, False),  # 两套时区表切换时间
    (0x04000107, "DAILY_TABLE_SWITCH_TIME", "YYMMDDhhmm", "", 5, False, False),  # 两套日时段切换时间
    (0x04000201, "YEAR_ZONE_COUNT", "NN", "", 1, False, False),  # 年时区数 p ≤ 14
    (0x04000202, "DAILY_TABLE_COUNT", "NN", "", 1, False, False),  # 日时段表数 q ≤ 8
    (0x04000203, "DAILY_PERIOD_COUNT", "NN", "", 1, False, False),  # 日时段数 m ≤ 14
    (0x04000204, "TARIFF_COUNT", "NN", "", 1, False, False),  # 费率数 k ≤ 63
    (0x04000205, "HOLIDAY_COUNT", "NNNN", "", 2, False, False),  # 公共假日数 n ≤ 254
    (0x04000306, "CT_RATIO", "NNNNNN", "", 3, False, False),  # 电流互感器变比
    (0x04000307, "PT_RATIO", "NNNNNN", "", 3, False, False),  # 电压互感器变比
    (0x04000401, "COMM_ADDRESS", "NNNNNNNNNNNN", "", 6, False, False),  # 通信地址
    (0x04000402, "METER_NUMBER", "NNNNNNNNNNNN", "", 6, False, False),  # 表号
    (0x04000409, "ACTIVE_CONSTANT", "XXXXXX", "imp/kWh", 3, False, False),  # 电表有功常数
    (0x0400040A, "REACTIVE_CONSTANT", "XXXXXX", "imp/kvarh", 3, False, False),  # 电表无功常数
    (0x04000601, "ACTIVE_COMBINATION_WORD", "XX", "", 1, False, True),  # 有功组合方式特征字
    (0x04000602, "REACTIVE_COMBINATION_WORD_1", "XX", "", 1, False, True),  # 无功组合方式1特征字
    (0x04000603, "REACTIVE_COMBINATION_WORD_2", "XX", "", 1, False, True),  # 无功组合方式2特征字
    (0x04000701, "BAUD_WORD_IR_MODULATED", "XX", "", 1, False, True),  # 调制型红外光口通信速率特征字
    (0x04000702, "BAUD_WORD_IR_CONTACT", "XX", "", 1, False, True),  # 接触式红外光口通信速率特征字
    (0x04000703, "BAUD_WORD_PORT_1", "XX", "", 1, False, True),  # 通信口1通信速率特征字
    (0x04000704, "BAUD_WORD_PORT_2", "XX", "", 1, False, True),  # 通信口2通信速率特征字
    (0x04000705, "BAUD_WORD_PORT_3", "XX", "", 1, False, True),  # 通信口3通信速率特征字
    (0x04000801, "WEEKEND_WORD", "XX", "", 1, False, True),  # 周休日特征字
    (0x04000802, "WEEKEND_DAILY_TABLE", "NN", "", 1, False, False),  # 周休日采用的日时段表号
    (0x04000A01, "LOAD_RECORD_START_TIME", "MMDDhhmm", "", 4, False, False),  # 负荷记录起始时间
    *(
        (0x04000A01 + n, f"LOAD_RECORD_INTERVAL_{n}", "NNNN", "min", 2, False, False)  # 第n类负荷记录间隔时间
        for n in range(1, 7)
    ),
    *((0x04000B00 + n, f"SETTLEMENT_DAY_{n}", "DDhh", "", 2, False, False) for n in range(1, 4)),  # 每月第n结算日
)

#: 表A.5 ASCII items: (di, name, size).
TEXT_ITEMS_2007: tuple[tuple[int, str, int], ...] = (
    (0x04000403, "ASSET_NUMBER", 32),  # 资产管理编码
    (0x04000404, "RATED_VOLTAGE", 6),  # 额定电压
    (0x04000405, "RATED_CURRENT", 6),  # 额定电流/基本电流
    (0x04000406, "MAX_CURRENT", 6),  # 最大电流
    (0x04000407, "ACTIVE_ACCURACY_CLASS", 4),  # 有功准确度等级
    (0x04000408, "REACTIVE_ACCURACY_CLASS", 4),  # 无功准确度等级
    (0x0400040B, "METER_MODEL", 10),  # 电表型号
    (0x0400040C, "PRODUCTION_DATE", 10),  # 生产日期
    (0x0400040D, "PROTOCOL_VERSION", 16),  # 协议版本号
)
#: Entries of a zone table (时区表, p ≤ 14) and of a daily period table (日时段表, m ≤ 14).
TABLE_ENTRIES = 14
#: Daily period tables per set (日时段表数 q ≤ 8).
DAILY_TABLES = 8


def _variables(table: dict[int, DataItem]) -> None:
    """表A.3 变量: per-phase items (DI1 = 01..03, total in 00 where there is one) and their FF blocks."""
    for quantity, (stem, fmt, unit, size, signed, has_total) in PHASE_VARIABLES.items():
        base = 0x02000000 | quantity << 16
        members = [(base, f"{stem}_TOTAL")] if has_total else []
        members += [(base | (i + 1) << 8, f"{stem}_{phase}") for i, phase in enumerate(_PHASES)]
        _family(table, DataItem(base | 0xFF00, f"{stem}_BLOCK", fmt, unit, size, signed), members)


def _singles(
    table: dict[int, DataItem], rows: Sequence[tuple[int, str, str, str, int, bool, bool]], edition: Edition
) -> None:
    for di, name, fmt, unit, size, signed, binary in rows:
        _add(table, DataItem(di, name, fmt, unit, size, signed, binary=binary, edition=edition))


def _parameters(table: dict[int, DataItem]) -> None:
    """表A.5 参变量 beyond the singles: ASCII items, the status word block and the tariff tables (时区表
    MMDDNN × 14, 日时段表 hhmmNN × 14; set 1 at 0401, set 2 at 0402)."""
    for di, name, size in TEXT_ITEMS_2007:
        _add(table, record(di, name, (field_of("ASCII", size=size, text=True),)))
    status = [(0x04000500 | n, f"RUN_STATUS_WORD_{n}") for n in range(1, 8)]  # 电表运行状态字1..7
    _family(table, DataItem(0x040005FF, "RUN_STATUS_WORD_BLOCK", "XXXX", "", 2, binary=True), status)
    zone = (field_of("MMDDNN"),)
    period = (field_of("hhmmNN"),)
    for tables in (1, 2):
        base = 0x04000000 | tables << 16
        name = f"ZONE_TABLE_{tables}"
        parts = tuple(f"{name}_ZONE{i}" for i in range(1, TABLE_ENTRIES + 1))
        _add(table, record(base, name, zone, repeat=True, parts=parts))
        for n in range(1, DAILY_TABLES + 1):
            name = f"DAILY_TABLE_{tables}_{n}"
            parts = tuple(f"{name}_PERIOD{i}" for i in range(1, TABLE_ENTRIES + 1))
            _add(table, record(base | n, name, period, repeat=True, parts=parts))


# ----------------------------------------------------------------------------------------------- 表A.4 events

_EVENT_TIME = field_of("YYMMDDhhmmss", suffix="_TIME")
_START = field_of("YYMMDDhhmmss", suffix="_START")
_END = field_of("YYMMDDhhmmss", suffix="_END")
_OPERATOR = field_of("NNNNNNNN", suffix="_OPERATOR")  # 操作者代码 C0..C3
#: Records kept per event (上1..上10次).
EVENT_RECORDS = 10
_COUNT_FMT = "XXXXXX"  # 总次数


def _energies(suffix: str, scopes: Sequence[str] = ("",)) -> list[Field]:
    """The six energies event records snapshot (正向有功, 反向有功, 第一..四象限无功 总), per scope."""
    out = []
    for scope in scopes:
        out.append(field_of(ENERGY_FMT, "kWh", suffix=f"_FORWARD_ACTIVE{scope}{suffix}"))
        out.append(field_of(ENERGY_FMT, "kWh", suffix=f"_REVERSE_ACTIVE{scope}{suffix}"))
        out += [field_of(ENERGY_FMT, "kvarh", suffix=f"_REACTIVE_Q{q}{scope}{suffix}") for q in range(1, 5)]
    return out


def _demands(scopes: Sequence[str]) -> list[Field]:
    """The six maximum demands with their times that a demand-clear record keeps, per scope."""
    out = []
    for scope in scopes:
        for stem, unit in (
            ("FORWARD_ACTIVE", "kW"),
            ("REVERSE_ACTIVE", "kW"),
            *((f"REACTIVE_Q{q}", "kvar") for q in range(1, 5)),
        ):
            out.append(field_of(DEMAND_FMT, unit, suffix=f"_{stem}{scope}"))
            out.append(field_of("YYMMDDhhmm", suffix=f"_{stem}{scope}_TIME"))
    return out


_ALL_SCOPES = ("", "_A", "_B", "_C")
_PROGRAMMED_DIS = [field_of("XXXXXXXX", size=4, binary=True, suffix=f"_DI{i}") for i in range(1, 11)]

#: 表A.4 events kept here: (count DI, record DI of the last one, name stem, record fields). Record n is at
#: ``record DI + n - 1``.
EVENTS: tuple[tuple[int, int, str, tuple[Field, ...]], ...] = (
    (0x03110000, 0x03110001, "POWER_DOWN", (_START, _END)),  # 掉电
    (0x03300000, 0x03300001, "PROGRAMMING", (_EVENT_TIME, _OPERATOR, *_PROGRAMMED_DIS)),  # 编程
    (0x03300100, 0x03300101, "METER_CLEAR", (_EVENT_TIME, _OPERATOR, *_energies("", _ALL_SCOPES))),  # 电表清零
    (0x03300200, 0x03300201, "DEMAND_CLEAR", (_EVENT_TIME, _OPERATOR, *_demands(_ALL_SCOPES))),  # 需量清零
    (
        0x03300300,
        0x03300301,
        "EVENT_CLEAR",  # 事件清零: the DI cleared
        (_EVENT_TIME, _OPERATOR, field_of("XXXXXXXX", size=4, binary=True, suffix="_DI")),
    ),
    (
        0x03300400,
        0x03300401,
        "TIME_SET",  # 校时: operator, time before, time after
        (_OPERATOR, field_of("YYMMDDhhmmss", suffix="_BEFORE"), field_of("YYMMDDhhmmss", suffix="_AFTER")),
    ),
    (0x03300D00, 0x03300D01, "METER_COVER_OPEN", (_START, _END, *_energies("_BEFORE"), *_energies("_AFTER"))),
    (0x03300E00, 0x03300E01, "TERMINAL_COVER_OPEN", (_START, _END, *_energies("_BEFORE"), *_energies("_AFTER"))),
    (0x1D000001, 0x1D000101, "TRIP", (_EVENT_TIME, _OPERATOR, *_energies(""))),  # 跳闸 (智能表补充)
    (0x1E000001, 0x1E000101, "CLOSE", (_EVENT_TIME, _OPERATOR, *_energies(""))),  # 合闸
)


def _events(table: dict[int, DataItem]) -> None:
    for count_di, first, stem, fields in EVENTS:
        _add(table, DataItem(count_di, f"{stem}_COUNT", _COUNT_FMT, "", 3))
        for n in range(1, EVENT_RECORDS + 1):
            _add(table, record(first + n - 1, f"{stem}_RECORD_LAST{n}", fields))


# ---------------------------------------------------------------------------------------------- 表A.6 freezes

#: 表A.6 kinds of freeze: DI2 → (name stem, how many are kept: DI0 01..n).
FREEZES: dict[int, tuple[str, int]] = {
    0x00: ("TIMED", 12),  # 定时冻结
    0x01: ("INSTANT", 3),  # 瞬时冻结
    0x02: ("ZONE_SWITCH", 2),  # 两套时区表切换冻结
    0x03: ("PERIOD_SWITCH", 2),  # 两套日时段表切换冻结
    0x04: ("HOURLY", 254),  # 整点冻结: time, forward and reverse active total only
    0x05: ("TARIFF_SWITCH", 2),  # 两套费率电价切换冻结
    0x06: ("DAILY", 62),  # 日冻结
    0x07: ("STEP_SWITCH", 2),  # 两套阶梯切换冻结
}
#: Daily freezes kept (上1..上62次日冻结, 表A.6 DI0 01..3E).
DAILY_FREEZES = FREEZES[0x06][1]
_POWER_FIELDS = tuple(
    field_of(DEMAND_FMT, unit, signed=True, suffix=f"_{what}_POWER_{p}")
    for what, unit in (("ACTIVE", "kW"), ("REACTIVE", "kvar"))
    for p in ("TOTAL", *_PHASES)
)


def _freezes(table: dict[int, DataItem]) -> None:
    """表A.6 冻结 (DI3 = 05): per kind and n, DI1 00 the freeze time, 01..08 energy blocks (total + tariffs),
    09/0A forward/reverse active maximum demand blocks, 10 the active and reactive powers (total, A, B, C).
    Hourly freezes (整点冻结) keep the time and the forward/reverse active totals only."""
    forward, reverse = ENERGY_QUANTITIES[1], ENERGY_QUANTITIES[2]
    for kind, (stem, kept) in FREEZES.items():
        for n in range(1, kept + 1):
            base = 0x05000000 | kind << 16 | n
            suffix = f"_LAST{n}"
            _add(table, DataItem(base, f"{stem}_FREEZE_TIME{suffix}", "YYMMDDhhmm", "", 5))
            if stem == "HOURLY":
                for di1, (q_stem, unit, _) in ((1, forward), (2, reverse)):
                    name = f"{stem}_FROZEN_{q_stem}_TOTAL{suffix}"
                    _add(table, DataItem(base | di1 << 8, name, ENERGY_FMT, unit, 4))
                continue
            for quantity in range(1, 9):
                q_stem, unit, signed = ENERGY_QUANTITIES[quantity]
                names = TariffNames(f"{stem}_FROZEN_{q_stem}", suffix, MAX_BLOCK_TARIFFS)
                energy = (field_of(ENERGY_FMT, unit, signed=signed),)
                name = f"{stem}_FROZEN_{q_stem}_BLOCK{suffix}"
                _add(table, record(base | quantity << 8, name, energy, repeat=True, parts=names))
            for di1, quantity in ((0x09, 1), (0x0A, 2)):
                d_stem, d_unit, d_signed = DEMAND_QUANTITIES[quantity]
                names = TariffNames(f"{stem}_FROZEN_MAX_DEMAND_{d_stem}", suffix, MAX_DEMAND_BLOCK_TARIFFS)
                name = f"{stem}_FROZEN_MAX_DEMAND_{d_stem}_BLOCK{suffix}"
                fields = _demand_fields(d_unit, d_signed)
                _add(table, record(base | di1 << 8, name, fields, repeat=True, parts=names))
            _add(table, record(base | 0x1000, f"{stem}_FROZEN{suffix}", _POWER_FIELDS))


# ----------------------------------------------------------------------------------------- 表A.7 load profile

#: 0610 curves (Q/GDW smart-meter supplement): DI2.DI1 → (name, point fmt, unit, signed).
CURVES: dict[int, tuple[str, str, str, bool]] = {
    0x0101: ("VOLTAGE_A", "XXX.X", "V", False),
    0x0102: ("VOLTAGE_B", "XXX.X", "V", False),
    0x0103: ("VOLTAGE_C", "XXX.X", "V", False),
    0x0201: ("CURRENT_A", "XXX.XXX", "A", True),
    0x0202: ("CURRENT_B", "XXX.XXX", "A", True),
    0x0203: ("CURRENT_C", "XXX.XXX", "A", True),
    **{0x0300 + i: (f"ACTIVE_POWER_{p}", "XX.XXXX", "kW", True) for i, p in enumerate(("TOTAL", *_PHASES))},
    **{0x0400 + i: (f"REACTIVE_POWER_{p}", "XX.XXXX", "kvar", True) for i, p in enumerate(("TOTAL", *_PHASES))},
    **{0x0500 + i: (f"POWER_FACTOR_{p}", "X.XXX", "", True) for i, p in enumerate(("TOTAL", *_PHASES))},
    0x0601: ("ENERGY_FORWARD_ACTIVE_TOTAL", ENERGY_FMT, "kWh", False),
    0x0602: ("ENERGY_REVERSE_ACTIVE_TOTAL", ENERGY_FMT, "kWh", False),
    0x0603: ("ENERGY_COMBINED_REACTIVE_1_TOTAL", ENERGY_FMT, "kvarh", True),
    0x0604: ("ENERGY_COMBINED_REACTIVE_2_TOTAL", ENERGY_FMT, "kvarh", True),
    **{0x0700 + q: (f"ENERGY_REACTIVE_Q{q}_TOTAL", ENERGY_FMT, "kvarh", False) for q in range(1, 5)},
    0x0801: ("DEMAND_ACTIVE_PRESENT", DEMAND_FMT, "kW", True),
    0x0802: ("DEMAND_REACTIVE_PRESENT", DEMAND_FMT, "kvar", True),
}
#: Load-profile reads whose request carries N and a start time (06000001, 0610xxxx); 06000000/02 carry N only.
LOAD_RECORD_DIS = {
    0x06000000: "LOAD_RECORDS_EARLIEST",
    0x06000001: "LOAD_RECORDS_AT",
    0x06000002: "LOAD_RECORDS_LATEST",
}


def _load_profile(table: dict[int, DataItem]) -> None:
    records = LoadRecords()
    for di, name in LOAD_RECORD_DIS.items():
        _add(table, DataItem(di, name, "load record", "", 0, layout=records, title="负荷记录"))
    for key, (stem, fmt, unit, signed) in CURVES.items():
        point = field_of(fmt, unit, signed=signed)
        _add(table, DataItem(0x06100000 | key, f"CURVE_{stem}", fmt, unit, point.size, signed, layout=Curve(point)))


def _catalogue_2007() -> dict[int, DataItem]:
    table: dict[int, DataItem] = {}
    _energy(table)
    _variables(table)
    _singles(table, SINGLE_ITEMS_2007, Edition.V2007)
    _parameters(table)
    _events(table)
    _freezes(table)
    _load_profile(table)
    return table


# ------------------------------------------------------------------------------------------------ DL/T 645-1997

_TARIFF_PARTS = ("TOTAL", "T1", "T2", "T3", "T4")
#: DL/T 645-1997 energy and demand blocks (DI ends in F, members DI0 0..4 = total, tariffs 1..4), per period:
#: the block DI of the current month; the last month adds 0400H (9410, A410 …), the month before 0800H.
#: (block DI, name stem, fmt, unit, size). 1997 maximum demands (A0xx) carry no time: it is a separate item
#: (B0xx, ``MMDDhhmm``, named like the 2007 record's ``_TIME`` value).
_TARIFF_BLOCKS_1997: tuple[tuple[int, str, str, str, int], ...] = (
    (0x901F, "ENERGY_FORWARD_ACTIVE", ENERGY_FMT, "kWh", 4),  # 正向有功
    (0x902F, "ENERGY_REVERSE_ACTIVE", ENERGY_FMT, "kWh", 4),  # 反向有功
    (0x911F, "ENERGY_FORWARD_REACTIVE", ENERGY_FMT, "kvarh", 4),  # 正向无功
    (0x912F, "ENERGY_REVERSE_REACTIVE", ENERGY_FMT, "kvarh", 4),  # 反向无功
    (0x913F, "ENERGY_REACTIVE_Q1", ENERGY_FMT, "kvarh", 4),  # 一象限无功
    (0x914F, "ENERGY_REACTIVE_Q4", ENERGY_FMT, "kvarh", 4),  # 四象限无功
    (0x915F, "ENERGY_REACTIVE_Q2", ENERGY_FMT, "kvarh", 4),  # 二象限无功
    (0x916F, "ENERGY_REACTIVE_Q3", ENERGY_FMT, "kvarh", 4),  # 三象限无功
    (0xA01F, "MAX_DEMAND_FORWARD_ACTIVE", DEMAND_FMT, "kW", 3),  # 正向有功最大需量
    (0xA02F, "MAX_DEMAND_REVERSE_ACTIVE", DEMAND_FMT, "kW", 3),  # 反向有功最大需量
    (0xA11F, "MAX_DEMAND_FORWARD_REACTIVE", DEMAND_FMT, "kvar", 3),  # 正向无功最大需量
    (0xA12F, "MAX_DEMAND_REVERSE_REACTIVE", DEMAND_FMT, "kvar", 3),  # 反向无功最大需量
    (0xB01F, "MAX_DEMAND_FORWARD_ACTIVE", "MMDDhhmm", "", 4),  # 正向有功最大需量发生时间
    (0xB02F, "MAX_DEMAND_REVERSE_ACTIVE", "MMDDhhmm", "", 4),
    (0xB11F, "MAX_DEMAND_FORWARD_REACTIVE", "MMDDhhmm", "", 4),
    (0xB12F, "MAX_DEMAND_REVERSE_REACTIVE", "MMDDhhmm", "", 4),
)
#: DL/T 645-1997 phase blocks: (block DI, name stem, fmt, unit, size, member names). Layouts from PROTOCOLS.md
#: Part C and the 1997↔2007 mapping it cites (B611↔02010100, B630↔02030000). Names match the 2007 items.
_BLOCKS_1997: tuple[tuple[int, str, str, str, int, tuple[str, ...]], ...] = (
    (0xB31F, "PHASE_BREAK_COUNT", "NNNN", "", 2, ("TOTAL", "A", "B", "C")),  # 断相次数
    (0xB32F, "PHASE_BREAK_TIME", "NNNNNN", "min", 3, ("TOTAL", "A", "B", "C")),  # 断相时间累计值
    (0xB61F, "VOLTAGE", "XXX", "V", 2, ("A", "B", "C")),  # 电压 (whole volts)
    (0xB62F, "CURRENT", "XX.XX", "A", 2, ("A", "B", "C")),  # 电流
    (0xB63F, "ACTIVE_POWER", "XX.XXXX", "kW", 3, ("TOTAL", "A", "B", "C")),  # 瞬时有功功率
    (0xB64F, "REACTIVE_POWER", "XX.XX", "kvar", 2, ("TOTAL", "A", "B", "C")),  # 瞬时无功功率
    (0xB65F, "POWER_FACTOR", "X.XXX", "", 2, ("TOTAL", "A", "B", "C")),  # 功率因数
)
#: DL/T 645-1997 single items (PROTOCOLS.md Part C; the C03x constants and numbers checked against a 1997
#: data-item table published with a vendor's manual, which lists C030 电表常数, C032 表号, C033 用户号).
SINGLE_ITEMS_1997: tuple[tuple[int, str, str, str, int, bool, bool], ...] = (
    (0xB210, "LAST_PROGRAMMING_TIME", "MMDDhhmm", "", 4, False, False),  # 最近一次编程时间
    (0xB211, "LAST_DEMAND_CLEAR_TIME", "MMDDhhmm", "", 4, False, False),  # 最近一次最大需量清零时间
    (0xB212, "PROGRAMMING_COUNT", "NNNN", "", 2, False, False),  # 编程次数
    (0xB213, "DEMAND_CLEAR_COUNT", "NNNN", "", 2, False, False),  # 最大需量清零次数
    (0xB214, "BATTERY_WORK_TIME", "NNNNNN", "min", 3, False, False),  # 电池工作时间
    (0xC010, "DATE", "YYMMDDWW", "", 4, False, False),  # 日期及周次
    (0xC011, "TIME", "hhmmss", "", 3, False, False),  # 时间
    (0xC020, "RUN_STATUS_WORD", "XX", "", 1, False, True),  # 电表运行状态字
    (0xC021, "GRID_STATUS_WORD", "XX", "", 1, False, True),  # 电网状态字
    (0xC022, "WEEKEND_WORD", "XX", "", 1, False, True),  # 周休日状态字
    (0xC030, "ACTIVE_CONSTANT", "NNNNNN", "imp/kWh", 3, False, False),  # 电表常数(有功)
    (0xC031, "REACTIVE_CONSTANT", "NNNNNN", "imp/kvarh", 3, False, False),  # 电表常数(无功)
    (0xC032, "METER_NUMBER", "NNNNNNNNNNNN", "", 6, False, False),  # 表号
    (0xC033, "USER_NUMBER", "NNNNNNNNNNNN", "", 6, False, False),  # 用户号
    (0xC034, "DEVICE_CODE", "NNNNNNNNNNNN", "", 6, False, False),  # 设备码
    (0xC111, "DEMAND_PERIOD", "NN", "min", 1, False, False),  # 最大需量周期
    (0xC112, "DEMAND_SLIDE_TIME", "NN", "min", 1, False, False),  # 滑差时间
    (0xC113, "DISPLAY_CYCLE_TIME", "NN", "s", 1, False, False),  # 循显时间
    (0xC114, "DISPLAY_HOLD_TIME", "NN", "s", 1, False, False),  # 停显时间
    (0xC117, "AUTO_READ_DAY", "DDhh", "", 2, False, False),  # 自动抄表日期
    (0xC211, "PULSE_WIDTH", "XXXX", "ms", 2, False, False),  # 输出脉冲宽度
    (0xC310, "YEAR_ZONE_COUNT", "NN", "", 1, False, False),  # 年时区数 P
    (0xC311, "DAILY_TABLE_COUNT", "NN", "", 1, False, False),  # 日时段表数 q
    (0xC312, "DAILY_PERIOD_COUNT", "NN", "", 1, False, False),  # 日时段(每日切换)数 m
    (0xC313, "TARIFF_COUNT", "NN", "", 1, False, False),  # 费率数 k
    (0xC314, "HOLIDAY_COUNT", "NN", "", 1, False, False),  # 公共假日数 n
)
#: Periods of the 1997 energy and demand blocks: current month, last month (上月), the month before (上上月).
PERIODS_1997 = 3


def _catalogue_1997() -> dict[int, DataItem]:
    table: dict[int, DataItem] = {}
    for block_di, stem, fmt, unit, size in _TARIFF_BLOCKS_1997:
        time_suffix = "_TIME" if block_di >> 12 == 0xB else ""
        for period in range(PERIODS_1997):
            suffix = _period_suffix(period) + time_suffix
            di = block_di + period * 0x400
            block = DataItem(
                di, f"{stem}_BLOCK{_period_suffix(period)}{time_suffix}", fmt, unit, size, edition=Edition.V1997
            )
            _family(table, block, [(di - 0xF + i, f"{stem}_{part}{suffix}") for i, part in enumerate(_TARIFF_PARTS)])
    for block_di, stem, fmt, unit, size, parts in _BLOCKS_1997:
        # Members count up from DI0 = 0 for a total, from 1 for phases (B611..B613).
        first = block_di & 0xFFF0 | (0 if parts[0] == "TOTAL" else 1)
        block = DataItem(block_di, f"{stem}_BLOCK", fmt, unit, size, edition=Edition.V1997)
        _family(table, block, [(first + i, f"{stem}_{part}") for i, part in enumerate(parts)])
    _singles(table, SINGLE_ITEMS_1997, Edition.V1997)
    return table


#: DL/T 645-2007 catalogue, keyed by DI (0x00010000 …).
DATA_ITEMS: dict[int, DataItem] = _catalogue_2007()
#: DL/T 645-1997 catalogue, keyed by the 2-byte DI (0x9010 …).
DATA_ITEMS_1997: dict[int, DataItem] = _catalogue_1997()
_CATALOGUES = {Edition.V2007: DATA_ITEMS, Edition.V1997: DATA_ITEMS_1997}


def lookup(di: int, *, edition: Edition = Edition.V2007, raw: bytes = b"") -> DataItem:
    """The catalogue entry for ``di``; raises :class:`UnknownDataItem` (carrying ``raw``, the frame being
    decoded, as evidence) when there is none.

    >>> lookup(0x00010000).name
    'ENERGY_FORWARD_ACTIVE_TOTAL'
    """
    try:
        return _CATALOGUES[edition][di]
    except KeyError:
        exc = UnknownDataItem(di, raw=raw)
        exc.args = (f"unknown data identifier {format_di(di, edition)} ({edition.value})",)
        raise exc from None


def by_name(name: str, *, edition: Edition = Edition.V2007) -> DataItem:
    """The catalogue entry called ``name`` (``"ENERGY_FORWARD_ACTIVE_TOTAL"``); :class:`LocalProtocolError` when
    there is none. For the CLI's ``--di energy``-style names and the 1997↔2007 mapping."""
    try:
        return _BY_NAME[edition][name]
    except KeyError:
        raise LocalProtocolError(f"no {edition.value} data item is called {name!r}") from None


_BY_NAME = {edition: {item.name: item for item in table.values()} for edition, table in _CATALOGUES.items()}
