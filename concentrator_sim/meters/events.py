"""Event records of a simulated meter (事件记录, DL/T 645-2007 附录A 表A.4 and the 1D/1E trip/close records of the
State Grid smart-meter supplement), sans-IO.

Each kind keeps a total count (DI0 = 00, ``XXXXXX``) and its last :data:`EVENT_RECORDS` records (上1～上10次,
DI0 = 01..0A), newest first. A record is the list of values in the order of the catalogue's record fields
(:data:`protocols.dlt645.data_items.EVENTS`, checked when a log is made): a record that has not happened yet
reads as "no value" fillers. An event in progress (a power failure, an open cover) is the newest record with no
end time until it ends.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from decimal import Decimal

from protocols.dlt645.data_items import EVENT_RECORDS, EVENTS
from protocols.dlt645.formats import Scalar

Record = list[Scalar | None]


class EventKind(enum.StrEnum):
    """The event kinds the simulated meter records (name stems of :data:`~protocols.dlt645.data_items.EVENTS`)."""

    POWER_DOWN = "POWER_DOWN"  #: 掉电 03110000
    PROGRAMMING = "PROGRAMMING"  #: 编程 03300000
    METER_CLEAR = "METER_CLEAR"  #: 电表清零 03300100
    DEMAND_CLEAR = "DEMAND_CLEAR"  #: 需量清零 03300200
    EVENT_CLEAR = "EVENT_CLEAR"  #: 事件清零 03300300
    TIME_SET = "TIME_SET"  #: 校时 03300400
    METER_COVER_OPEN = "METER_COVER_OPEN"  #: 开表盖 03300D00
    TERMINAL_COVER_OPEN = "TERMINAL_COVER_OPEN"  #: 开端钮盖 03300E00
    TRIP = "TRIP"  #: 跳闸 1D000001
    CLOSE = "CLOSE"  #: 合闸 1E000001


class EventLog:
    """Count and last records of one kind of event."""

    __slots__ = ("count", "count_di", "first_di", "kind", "records", "width")

    def __init__(self, kind: EventKind) -> None:
        (count_di, first_di, _, fields) = next(e for e in EVENTS if e[2] == kind.value)
        self.kind = kind
        self.count_di, self.first_di, self.width = count_di, first_di, len(fields)
        self.count = 0
        self.records: deque[Record] = deque(maxlen=EVENT_RECORDS)

    def add(self, values: Sequence[Scalar | None]) -> None:
        """A new event (newest first); ``values`` in the catalogue's field order."""
        if len(values) != self.width:
            raise ValueError(f"{self.kind} records hold {self.width} values, not {len(values)}")
        self.count += 1
        self.records.appendleft(list(values))

    def close(self, index: int, value: Scalar | None) -> None:
        """Fill value ``index`` of the newest record (the end time of an event in progress)."""
        if self.records:
            self.records[0][index] = value

    def clear(self) -> None:
        self.count = 0
        self.records.clear()

    def covers(self, di: int) -> bool:
        """Whether ``di`` is this log's count or one of its records (事件清零 names either)."""
        return di == self.count_di or self.first_di <= di < self.first_di + EVENT_RECORDS

    def read(self, di: int) -> Record | None:
        """Values of DI ``di`` (count or n-th last record), or ``None`` when it is not this log's."""
        if di == self.count_di:
            return [Decimal(self.count)]
        n = di - self.first_di + 1
        if not 1 <= n <= EVENT_RECORDS:
            return None
        if n > len(self.records):
            return [None] * self.width
        return list(self.records[n - 1])


def event_logs() -> dict[EventKind, EventLog]:
    """One empty log per kind."""
    return {kind: EventLog(kind) for kind in EventKind}


def operator_value(operator: str | None) -> Decimal | None:
    """操作者代码 as the record's ``NNNNNNNN`` value (None when absent or not decimal digits)."""
    return Decimal(int(operator)) if operator and operator.isdigit() else None
