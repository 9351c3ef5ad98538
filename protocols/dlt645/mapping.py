"""DL/T 645-1997 ↔ DL/T 645-2007 data identifiers: which 2-byte DI is which 4-byte DI, and what differs.

Built from the 1997 and 2007 catalogues (:mod:`protocols.dlt645.data_items`) and checked against the
``IdConvertion`` table of a public concentrator firmware (``coyool/XXOO_000`` ``plc/dd645_2007.c``: 9010↔00010000,
9410↔00010001, 901F↔0001FF00, B611↔02010100, B621↔02020100, B630↔02030000, B640↔02040000, C010/C011↔04000101/02,
911F↔0003FF00, 912F↔0004FF00, 913F↔0005FF00, 914F↔0008FF00, 915F↔0006FF00, 916F↔0007FF00, C02F↔040005FF,
B212↔03300000, B210↔03300001 …) and PROTOCOLS.md Part C. The same table is printed in ``docs/dlt645.md``
(:func:`markdown_table` writes it; a test keeps the two equal).

What to know when comparing values across editions (the ``note`` of a row):

* "上月" (1997 94xx/95xx, 98xx/99xx: last month, the month before) is the 2007 上1/上2结算日 (DI0 = 01/02); they
  agree when the settlement day is the 1st at 00:00, the usual setting.
* 1997 正向/反向无功 (9110/9120) are the 2007 组合无功1/2 (00030000/00040000) under the default combination
  words (Q1+Q2 and Q3+Q4); a meter with other 组合方式特征字 (04000602/03) differs.
* Resolution: voltage XXX V (1997) vs XXX.X V, current XX.XX A vs XXX.XXX A, reactive power XX.XX kvar vs
  XX.XXXX kvar. The ``Decimal`` values compare directly (same unit), the 1997 ones with fewer decimals.
* A 2007 maximum demand (01xxxxxx) is a record of the demand and its time YYMMDDhhmm; 1997 splits it into
  A0xx (the demand) and B0xx (its time, MMDDhhmm without a year): two 1997 rows map to one 2007 DI, told apart
  by ``part`` (``"value"``/``"time"``).
* Counts and times of events: 1997 B212 编程次数 (NNNN) is 2007 03300000 (XXXXXX); 1997 B210 最近一次编程时间
  (MMDDhhmm) is the first field of 2007 03300001 (上1次编程记录, YYMMDDhhmmss).
* Status words have different layouts (1997 C020 one byte, 2007 04000501 two): same DI role, not the same bits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import format_di, lookup

_LAST_MONTH = "上月/上上月 = 上1/上2结算日 (settlement on the 1st, 00:00)"
_REACTIVE = "正/反向无功 = 组合无功1/2 under the default combination words"


@dataclass(frozen=True, slots=True)
class Mapping:
    """One row: the 1997 DI, the 2007 DI, which ``part`` of the 2007 value (``""`` all of it, ``"value"`` or
    ``"time"`` of a demand record) and a ``note`` on what differs."""

    di_1997: int
    di_2007: int
    part: str = ""
    note: str = ""

    @property
    def name_1997(self) -> str:
        return lookup(self.di_1997, edition=Edition.V1997).name

    @property
    def name_2007(self) -> str:
        return lookup(self.di_2007).name


def _tariffs(di_1997: int, di_2007: int, part: str = "", note: str = "") -> list[Mapping]:
    """Total, tariffs 1..4 and the block (DI0 0..4 and F ↔ DI1 00..04 and FF)."""
    rows = [Mapping(di_1997 + t, di_2007 | t << 8, part, note) for t in range(5)]
    return [*rows, Mapping(di_1997 | 0xF, di_2007 | 0xFF00, part, note)]


def _energy_and_demand() -> list[Mapping]:
    rows: list[Mapping] = []
    # (1997 energy block base, 2007 quantity DI2, note)
    energy = (
        (0x9010, 0x01, ""),
        (0x9020, 0x02, ""),
        (0x9110, 0x03, _REACTIVE),
        (0x9120, 0x04, _REACTIVE),
        (0x9130, 0x05, ""),
        (0x9140, 0x08, ""),  # 四象限
        (0x9150, 0x06, ""),  # 二象限
        (0x9160, 0x07, ""),  # 三象限
    )
    for period in range(3):
        note = _LAST_MONTH if period else ""
        for base, quantity, extra in energy:
            rows += _tariffs(
                base + period * 0x400, quantity << 16 | period, note="; ".join(filter(None, (extra, note)))
            )
        for base, quantity in ((0xA010, 0x01), (0xA020, 0x02), (0xA110, 0x03), (0xA120, 0x04)):
            di_2007 = 0x01000000 | quantity << 16 | period
            extra = _REACTIVE if quantity > 2 else ""
            rows += _tariffs(base + period * 0x400, di_2007, "value", "; ".join(filter(None, (extra, note))))
            time_note = "1997 time is MMDDhhmm (no year)"
            rows += _tariffs(base + 0x1000 + period * 0x400, di_2007, "time", time_note)
    return rows


def _variables() -> list[Mapping]:
    rows: list[Mapping] = []
    # (1997 block DI, 2007 DI2, phases only?, note)
    for block, di2, first, note in (
        (0xB61F, 0x01, 1, "1997 XXX V, 2007 XXX.X V"),
        (0xB62F, 0x02, 1, "1997 XX.XX A, 2007 XXX.XXX A"),
        (0xB63F, 0x03, 0, ""),
        (0xB64F, 0x04, 0, "1997 XX.XX kvar, 2007 XX.XXXX kvar"),
        (0xB65F, 0x06, 0, ""),
    ):
        base = 0x02000000 | di2 << 16
        rows += [Mapping((block & 0xFFF0) + i, base | i << 8, note=note) for i in range(first, 4)]
        rows.append(Mapping(block, base | 0xFF00, note=note))
    return rows


#: Every 1997 ↔ 2007 correspondence, 1997 DI order within groups: energy, demand, variables, parameters, events.
MAPPINGS: tuple[Mapping, ...] = (
    *_energy_and_demand(),
    *_variables(),
    Mapping(0xC010, 0x04000101),  # 日期及星期
    Mapping(0xC011, 0x04000102),  # 时间
    Mapping(0xC020, 0x04000501, note="different bit layouts (1 byte vs 2)"),  # 运行状态字
    Mapping(0xC030, 0x04000409, note="1997 NNNNNN, 2007 XXXXXX"),  # 有功常数
    Mapping(0xC031, 0x0400040A, note="1997 NNNNNN, 2007 XXXXXX"),  # 无功常数
    Mapping(0xC032, 0x04000402),  # 表号
    Mapping(0xC111, 0x04000103),  # 最大需量周期
    Mapping(0xC112, 0x04000104),  # 滑差时间
    Mapping(0xC117, 0x04000B01, note="自动抄表日 = 第1结算日, DDhh"),
    Mapping(0xC211, 0x04000105),  # 脉冲宽度
    Mapping(0xC310, 0x04000201),  # 年时区数
    Mapping(0xC311, 0x04000202),  # 日时段表数
    Mapping(0xC312, 0x04000203),  # 日时段数
    Mapping(0xC313, 0x04000204),  # 费率数
    Mapping(0xC314, 0x04000205, note="1997 NN, 2007 NNNN"),  # 公共假日数
    Mapping(0xB210, 0x03300001, "time", "1997 MMDDhhmm; 2007 上1次编程记录, time first"),
    Mapping(0xB211, 0x03300201, "time", "1997 MMDDhhmm; 2007 上1次需量清零记录, time first"),
    Mapping(0xB212, 0x03300000, note="1997 NNNN, 2007 XXXXXX"),  # 编程次数
    Mapping(0xB213, 0x03300200, note="1997 NNNN, 2007 XXXXXX"),  # 需量清零次数
    Mapping(0xB214, 0x0280000A, note="1997 NNNNNN min, 2007 XXXXXXXX min"),  # 电池工作时间
)

_BY_1997 = {m.di_1997: m for m in MAPPINGS}
_BY_2007: dict[int, tuple[Mapping, ...]] = {}
for _row in MAPPINGS:
    _BY_2007[_row.di_2007] = (*_BY_2007.get(_row.di_2007, ()), _row)


def to_2007(di_1997: int) -> Mapping | None:
    """The 2007 counterpart of a 1997 DI (``None`` when it has none).

    >>> hex(to_2007(0x9010).di_2007)
    '0x10000'
    """
    return _BY_1997.get(di_1997)


def to_1997(di_2007: int) -> tuple[Mapping, ...]:
    """The 1997 DIs that carry (a part of) a 2007 DI: usually one, two for a maximum demand (value, time).

    >>> [hex(m.di_1997) for m in to_1997(0x01010000)]
    ['0xa010', '0xb010']
    """
    return _BY_2007.get(di_2007, ())


def _span(dis: list[str]) -> str:
    """DIs of one group: a range for a family of five or more, else all of them."""
    return f"{dis[0]}–{dis[-1]}" if len(dis) >= 5 else ", ".join(dis)


def markdown_table() -> str:
    """The mapping as the Markdown table in ``docs/dlt645.md``: one row per family (total and tariffs 1..4 with
    their block, or the phases), named by its first member."""
    lines = ["| 1997 | 2007 | name (first of the row) | part | note |", "| --- | --- | --- | --- | --- |"]
    for _, group in itertools.groupby(MAPPINGS, key=lambda m: (m.di_1997 >> 4, m.part, m.note)):
        rows = list(group)
        members = [m for m in rows if len(rows) == 1 or m.di_1997 & 0xF != 0xF]
        blocks = [m for m in rows if m not in members]
        col_1997 = _span([format_di(m.di_1997, Edition.V1997) for m in members])
        col_2007 = _span([format_di(m.di_2007) for m in members])
        if blocks:
            col_1997 += f", {format_di(blocks[0].di_1997, Edition.V1997)}"
            col_2007 += f", {format_di(blocks[0].di_2007)}"
        first = rows[0]
        name = first.name_1997 if first.name_1997 == first.name_2007 else f"{first.name_1997} → {first.name_2007}"
        lines.append(f"| {col_1997} | {col_2007} | {name} | {first.part} | {first.note} |")
    return "\n".join(lines)
