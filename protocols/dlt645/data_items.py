"""DL/T 645 data identifiers (数据标识 DI) and how their values are encoded.

DL/T 645-2007 附录A (数据标识编码表): DI = DI3 DI2 DI1 DI0, written most significant first ("00010000") and sent
DI0 first. For energy (表A.1 电能量) DI3 = 00, DI2 = quantity, DI1 = tariff (00 total, 01..3F tariff n, FF block
of total + tariffs), DI0 = 00 current or 01..0C the n-th last settlement day (上n结算日). Variables are 表A.3 (变量,
DI3 = 02), parameters 表A.5 (参变量, 04), frozen data 表A.6 (冻结, 05). DL/T 645-1997 uses 2-byte DIs
(:data:`DATA_ITEMS_1997`).

Values are packed BCD, low byte first; the ``fmt`` strings are the standard's (``XXXXXX.XX``: 8 digits, 2 after
the point). Signed items use sign-and-magnitude with the sign in D7 of the last byte. Which items are signed was
checked against PROTOCOLS.md B.5 and the ``signed_DL2007_List`` table of a public State Grid concentrator
firmware found by code search (combined active/reactive energy, current, neutral current, active/reactive/
apparent power, power factor, current demand, meter temperature). Formats and DIs of the variables were
checked against the names in ``bobyuxinyang/dlt645_2007`` ``dlt645_api_07.h`` (表A.3 order). Run status words
(电表运行状态字) are bit fields, decoded as binary integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from protocols.common.bcd import decode_decimal, encode_decimal
from protocols.dlt645.control import Edition
from protocols.errors import DecodeError, LocalProtocolError, UnknownDataItem

#: Bytes of a DI on the wire, per edition.
DI_SIZE = {Edition.V2007: 4, Edition.V1997: 2}


def format_di(di: int, edition: Edition = Edition.V2007) -> str:
    """A DI as the standard writes it: 8 hex digits for 2007, 4 for 1997, most significant first.

    >>> format_di(0x00010000), format_di(0x9010, Edition.V1997)
    ('00010000', '9010')
    """
    return f"{di:0{2 * DI_SIZE[edition]}X}"


@dataclass(frozen=True, slots=True)
class DataItem:
    """One data identifier of DL/T 645 附录A: its value layout, and how to decode and encode it.

    ``size`` is the size of one value; ``repeat`` marks a data block (数据块, DI1 or DI0 = FF) whose DATA holds
    ``len // size`` values named by ``parts`` (total first, then tariffs or phases). ``binary`` items (status
    words) are little-endian integers rather than BCD.
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

    @property
    def decimals(self) -> int:
        """Digits after the point in ``fmt``."""
        _, dot, after = self.fmt.partition(".")
        return len(after) if dot else 0

    @property
    def is_number(self) -> bool:
        """True for measured quantities (``X`` formats); False for dates, times, addresses and bit fields."""
        return not self.binary and set(self.fmt) <= {"X", "."}

    @property
    def di_text(self) -> str:
        """The DI as written in the standard (:func:`format_di`)."""
        return format_di(self.di, self.edition)

    def value_names(self, count: int) -> tuple[str, ...]:
        """Names of ``count`` values of this item (one for a plain item, parts for a block)."""
        if not self.repeat:
            return (self.name,)
        if count > len(self.parts):
            raise DecodeError(f"{count} values, but the {self.name} block has {len(self.parts)}")
        return tuple(self.parts[i] for i in range(count))

    def decode(self, raw: bytes) -> tuple[Decimal | None, ...]:
        """Decode the value bytes after the DI (DATA with 33H removed). Fillers (EE/FF…) decode as ``None``.

        >>> lookup(0x02010100).decode(bytes.fromhex("0110"))
        (Decimal('100.1'),)
        """
        size = self.size
        if self.repeat:
            if not raw or len(raw) % size:
                raise DecodeError(f"{len(raw)} bytes are not a whole number of {size}-byte values", raw=raw)
        elif len(raw) != size:
            raise DecodeError(f"{len(raw)} bytes where {self.fmt} takes {size}", raw=raw)
        self.value_names(len(raw) // size)
        return tuple(self._decode_one(raw[i : i + size]) for i in range(0, len(raw), size))

    def encode(self, values: Sequence[Decimal | None]) -> bytes:
        """Encode values (one, or a block's) as the bytes after the DI; ``None`` becomes the ``EE`` filler.

        >>> lookup(0x02020100).encode([Decimal("-4.999")]).hex()
        '994980'
        """
        if not values or (not self.repeat and len(values) != 1):
            raise LocalProtocolError(f"{self.name} takes {'values' if self.repeat else 'one value'}, not {values!r}")
        if self.repeat and len(values) > len(self.parts):
            raise LocalProtocolError(f"{self.name} holds at most {len(self.parts)} values")
        return b"".join(self._encode_one(value) for value in values)

    def format_value(self, value: Decimal | None) -> str | None:
        """Render a value as text: numbers as they are (``"12.00"``), digit strings zero-padded to the format
        (``"000000000161"``), bit fields as hex (``"0010"``).

        >>> lookup(0x04000401).format_value(Decimal(161))
        '000000000161'
        """
        if value is None:
            return None
        if self.binary:
            return f"{int(value):0{2 * self.size}X}"
        if self.is_number:
            return str(value)
        return f"{int(value):0{2 * self.size}d}"

    def _decode_one(self, raw: bytes) -> Decimal | None:
        if self.binary:
            return Decimal(int.from_bytes(raw, "little"))
        return decode_decimal(raw, self.decimals, signed=self.signed)

    def _encode_one(self, value: Decimal | None) -> bytes:
        if not self.binary:
            return encode_decimal(value, self.size, self.decimals, signed=self.signed)
        if value is None or value != value.to_integral_value() or not 0 <= value < 256**self.size:
            raise LocalProtocolError(f"{value!r} is not a {self.size}-byte bit field")
        return int(value).to_bytes(self.size, "little")


def _add(table: dict[int, DataItem], *items: DataItem) -> None:
    for item in items:
        if item.di in table:
            raise LocalProtocolError(f"DI {item.di_text} registered twice")
        table[item.di] = item


def _family(
    table: dict[int, DataItem],
    block: DataItem,
    members: Sequence[tuple[int, str]],
) -> None:
    """Register the members of a block (``(di, name)``, same format as the block) and the block itself, whose
    parts are the members' names in order."""
    b = block
    for di, name in members:
        _add(table, DataItem(di, name, b.fmt, b.unit, b.size, b.signed, binary=b.binary, edition=b.edition))
    parts = tuple(name for _, name in members)
    _add(table, DataItem(b.di, b.name, b.fmt, b.unit, b.size, b.signed, True, parts, b.binary, b.edition))


# ------------------------------------------------------------------------------------------------ DL/T 645-2007

#: 表A.1 electric energy quantities, DI2 → (name stem, unit, signed).
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
}
#: Tariff values a block can carry: total + 62 fill L = 4 + 63 × 4 ≤ 255 (the standard allows k ≤ 63 费率).
MAX_BLOCK_TARIFFS = 62
#: Tariffs registered as single items (DI1 01..0E). Deployed meters use 4 (尖峰平谷); 14 is the 1997 limit and
#: the daily period limit m ≤ 14, and keeps the catalogue small enough to build at import in a few ms.
MAX_TARIFFS = 14
#: Settlement days kept (上1..上12结算日, DI0 01..0C).
SETTLEMENT_DAYS = 12
#: Daily freezes kept (上1..上62次日冻结, 表A.6 DI0 01..3E).
DAILY_FREEZES = 62
ENERGY_FMT = "XXXXXX.XX"


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


def _energy(table: dict[int, DataItem]) -> None:
    """表A.1 电能量 (DI3 = 00) for every quantity, tariff and settlement day, and 表A.6 日冻结 (DI3 = 05,
    DI2 = 06) energy blocks with their freeze time (05060001..)."""
    for quantity, (stem, unit, signed) in ENERGY_QUANTITIES.items():
        for period in range(SETTLEMENT_DAYS + 1):
            suffix = f"_LAST{period}" if period else ""
            names = TariffNames(f"ENERGY_{stem}", suffix, MAX_BLOCK_TARIFFS)
            base = quantity << 16 | period
            for tariff, name in enumerate(names[: MAX_TARIFFS + 1]):
                _add(table, DataItem(base | tariff << 8, name, ENERGY_FMT, unit, 4, signed))
            block = f"ENERGY_{stem}_BLOCK{suffix}"
            _add(table, DataItem(base | 0xFF00, block, ENERGY_FMT, unit, 4, signed, True, names))
        if quantity == 0:
            continue  # 日冻结 has no combined-active block (表A.6 DI1 01..08).
        for n in range(1, DAILY_FREEZES + 1):
            names = TariffNames(f"DAILY_FROZEN_{stem}", f"_LAST{n}", MAX_BLOCK_TARIFFS)
            di = 0x05060000 | quantity << 8 | n
            _add(table, DataItem(di, f"DAILY_FROZEN_{stem}_BLOCK_LAST{n}", ENERGY_FMT, unit, 4, signed, True, names))
    for n in range(1, DAILY_FREEZES + 1):
        _add(table, DataItem(0x05060000 | n, f"DAILY_FREEZE_TIME_LAST{n}", "YYMMDDhhmm", "", 5))


#: 表A.3 per-phase variables: DI2 → (name stem, fmt, unit, size, signed, has a total in DI1 = 00).
PHASE_VARIABLES: dict[int, tuple[str, str, str, int, bool, bool]] = {
    0x01: ("VOLTAGE", "XXX.X", "V", 2, False, False),  # 电压
    0x02: ("CURRENT", "XXX.XXX", "A", 3, True, False),  # 电流
    0x03: ("ACTIVE_POWER", "XX.XXXX", "kW", 3, True, True),  # 瞬时有功功率
    0x04: ("REACTIVE_POWER", "XX.XXXX", "kvar", 3, True, True),  # 瞬时无功功率
    0x05: ("APPARENT_POWER", "XX.XXXX", "kVA", 3, True, True),  # 瞬时视在功率
    0x06: ("POWER_FACTOR", "X.XXX", "", 2, True, True),  # 功率因数
    0x07: ("PHASE_ANGLE", "XXX.X", "°", 2, False, False),  # 相角
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
    (0x00900200, "REMAINING_MONEY", "XXXXXX.XX", "元", 4, False, False),  # 剩余金额 (费控表)
    (0x03300000, "PROGRAMMING_COUNT", "XXXXXX", "", 3, False, False),  # 编程总次数
    (0x03300D00, "METER_COVER_OPEN_COUNT", "XXXXXX", "", 3, False, False),  # 开表盖总次数
    (0x04000101, "DATE", "YYMMDDWW", "", 4, False, False),  # 日期及星期 (WW 0 = Sunday)
    (0x04000102, "TIME", "hhmmss", "", 3, False, False),  # 时间
    (0x04000401, "COMM_ADDRESS", "NNNNNNNNNNNN", "", 6, False, False),  # 通信地址
    (0x04000402, "METER_NUMBER", "NNNNNNNNNNNN", "", 6, False, False),  # 表号
    *(
        (0x04000500 | n, f"RUN_STATUS_WORD_{n}", "XXXX", "", 2, False, True)  # 电表运行状态字1..7
        for n in range(1, 8)
    ),
)


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


def _catalogue_2007() -> dict[int, DataItem]:
    table: dict[int, DataItem] = {}
    _energy(table)
    _variables(table)
    _singles(table, SINGLE_ITEMS_2007, Edition.V2007)
    return table


# ------------------------------------------------------------------------------------------------ DL/T 645-1997

#: DL/T 645-1997 blocks (DI ends in F): (block DI, name stem, fmt, unit, size, member names). Layouts from
#: PROTOCOLS.md Part C and the 1997↔2007 mapping it cites (9010↔00010000, B611↔02010100, B630↔02030000).
#: Names match the 2007 items so collection treats both editions alike.
_BLOCKS_1997: tuple[tuple[int, str, str, str, int, tuple[str, ...]], ...] = (
    (0x901F, "ENERGY_FORWARD_ACTIVE", ENERGY_FMT, "kWh", 4, ("TOTAL", "T1", "T2", "T3", "T4")),  # 正向有功
    (0x902F, "ENERGY_REVERSE_ACTIVE", ENERGY_FMT, "kWh", 4, ("TOTAL", "T1", "T2", "T3", "T4")),  # 反向有功
    (0x911F, "ENERGY_FORWARD_REACTIVE", ENERGY_FMT, "kvarh", 4, ("TOTAL", "T1", "T2", "T3", "T4")),  # 正向无功
    (0x912F, "ENERGY_REVERSE_REACTIVE", ENERGY_FMT, "kvarh", 4, ("TOTAL", "T1", "T2", "T3", "T4")),  # 反向无功
    (0xB61F, "VOLTAGE", "XXX", "V", 2, ("A", "B", "C")),  # 电压 (whole volts)
    (0xB62F, "CURRENT", "XX.XX", "A", 2, ("A", "B", "C")),  # 电流
    (0xB63F, "ACTIVE_POWER", "XX.XXXX", "kW", 3, ("TOTAL", "A", "B", "C")),  # 瞬时有功功率
    (0xB64F, "REACTIVE_POWER", "XX.XX", "kvar", 2, ("TOTAL", "A", "B", "C")),  # 瞬时无功功率
    (0xB65F, "POWER_FACTOR", "X.XXX", "", 2, ("TOTAL", "A", "B", "C")),  # 功率因数
)


def _catalogue_1997() -> dict[int, DataItem]:
    table: dict[int, DataItem] = {}
    for block_di, stem, fmt, unit, size, parts in _BLOCKS_1997:
        # Members count up from DI0 = 0 for a total, from 1 for phases (B611..B613).
        first = block_di & 0xFFF0 | (0 if parts[0] == "TOTAL" else 1)
        block = DataItem(block_di, f"{stem}_BLOCK", fmt, unit, size, edition=Edition.V1997)
        _family(table, block, [(first + i, f"{stem}_{part}") for i, part in enumerate(parts)])
    singles = (
        (0xC010, "DATE", "YYMMDDWW", "", 4, False, False),  # 日期及周次
        (0xC011, "TIME", "hhmmss", "", 3, False, False),  # 时间
    )
    _singles(table, singles, Edition.V1997)
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
