"""What a simulated concentrator remembers: frozen history (AFN0D), its event log (AFN0E) and its scenario.

Frozen data (冻结数据; Q/GDW 376.1-2009 §5.1.3.14 AFN0D 请求2类数据, PROTOCOLS.md A.9)
    A daily freeze (日冻结) is the register at local midnight. Its time tag Td_d (附录A.20) names the day the
    freeze *closes*: the record of Td_d = 1 May holds the register at 2 May 00:00 local (as docs/schema.md defines
    ``freeze_date`` and ``ts`` for the collector, and as a head-end asks "F161 for yesterday" after midnight). A
    monthly freeze (月冻结, Td_m 附录A.21) of May is the register at 1 June 00:00. Curves (曲线, Td_c) hold the
    value at each point ``start + i × interval``. Every value is computed from the closed-form
    :class:`~concentrator_sim.model.MeterModel`, so it is exact and needs no storage.

Which records exist (:class:`Scenario`)
    A record exists when its instant lies in ``[history_start, now]`` and before the meter was lost
    (``lost[pn]``). An offline window (the terminal disconnected, e.g. a power cut) does *not* remove records:
    the meters freeze on their own and the concentrator reads their frozen registers once it is back, as field
    concentrators do, so the missing day is still served afterwards. Missing records are left out of an answer;
    when nothing is left the request is denied (AFN00 F2, or F3 per item) — what terminals answer for data they do
    not hold (the other common answer, EE fillers, is what a :attr:`~concentrator_sim.model.Failure.NO_VALUE`
    meter gives).

Events (事件; §5.14 AFN0E, 附录B)
    :class:`EventLog` keeps the important (重要, EC1) and normal (一般, EC2) records in two 256-slot rings indexed by
    their counter, as the EC/Pm/Pn pointers of AFN0E F1/F2 address them (Y = Pn − Pm mod 256).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from protocols.gdw376.layout import Record
from protocols.gdw376.units.afn0d import DENSITY_MINUTES
from protocols.gdw376.units.afn0e import EventReport, record_count
from protocols.gdw376.units.erc import ERCS, EventRecord

#: AFN0D curves and the daily Fn the truth is kept for (frozen Fn served: ``model.FROZEN_FNS``).
F81_ACTIVE_POWER_CURVE = 81  #: 总有功功率曲线 (A.9 kW)
F101_FORWARD_ACTIVE_CURVE = 101  #: 正向有功总电能示值曲线 (A.11, 2 decimals)
F161_DAILY_FORWARD_ACTIVE = 161  #: 日冻结正向有功电能示值（总、费率1～M）(Td_d, A.14)

ERC14_POWER = 14  #: 终端停/上电事件
ERC35_UNKNOWN_METER = 35  #: 发现未知电表事件记录
#: ERC → important (EC1, AFN0E F1) or normal (EC2, F2): the simulated AFN04 F9 事件重要性等级.
IMPORTANT_ERCS = frozenset({ERC14_POWER})


def daily_freeze_instant(day: date) -> datetime:
    """The naive local instant of the daily freeze tagged Td_d = ``day``: midnight ending that day."""
    return datetime.combine(day + timedelta(days=1), time())


def monthly_freeze_instant(year: int, month: int) -> datetime:
    """The naive local instant of the monthly freeze tagged Td_m = ``year``/``month``: the next month's 1st."""
    return datetime(year + month // 12, month % 12 + 1, 1)


def curve_points(start: datetime, density: int, points: int) -> list[datetime] | None:
    """The instants of a Td_c request (naive local), or None for a density code without an interval."""
    minutes = DENSITY_MINUTES.get(density)
    if minutes is None:
        return None
    return [start + timedelta(minutes=minutes * i) for i in range(points)]


def truncate(value: Decimal, decimals: int) -> Decimal:
    """``value`` cut (not rounded) to ``decimals`` places, as a meter's register display does."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class UnknownMeter:
    """A meter the terminal discovers on its bus without an archive entry (ERC35) at ``at`` (aware)."""

    at: datetime
    address: str  #: 12 digits (A.12)
    port: int = 31  #: 终端通信端口号 (31 = carrier, as concentrators number it)


@dataclass(frozen=True, slots=True)
class Scenario:
    """What happens to one terminal over time; every instant is aware (the fleet's clock decides).

    ``history_start``: no record before it (a newly installed terminal). ``lost``: pn → the instant the meter
    stopped answering (no record and no real-time reading from then on). ``offline``: (start, end) windows during
    which the terminal is disconnected (power cut); it logs ERC14 when it returns. ``unknown_meters``: ERC35
    discoveries. ``timed_report``: push AFN0D F161 for yesterday (CON=1) ``report_delay`` after each local midnight.
    ``report_events``: push important events (AFN0E F1, CON=1) as they occur. ``load``: a load-control terminal
    (负控终端) that answers AFN0C F25/F17 with its meters' power.
    """

    history_start: datetime | None = None
    lost: Mapping[int, datetime] = field(default_factory=dict)
    offline: tuple[tuple[datetime, datetime], ...] = ()
    unknown_meters: tuple[UnknownMeter, ...] = ()
    timed_report: bool = False
    report_delay: timedelta = timedelta(0)
    report_events: bool = False
    load: bool = False

    def offline_window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The offline window ``now`` falls in, if any."""
        for start, end in self.offline:
            if start <= now < end:
                return start, end
        return None

    def recorded(self, pn: int, instant: datetime, now: datetime) -> bool:
        """Whether the terminal holds a record of ``pn`` frozen at ``instant`` (aware) when asked at ``now``."""
        if instant > now or (self.history_start is not None and instant < self.history_start):
            return False
        lost = self.lost.get(pn)
        return lost is None or instant < lost

    def answering(self, pn: int, now: datetime) -> bool:
        """Whether meter ``pn`` still answers real-time reads at ``now``."""
        lost = self.lost.get(pn)
        return lost is None or now < lost


def _encode_erc(erc: int, value: Mapping[str, object]) -> EventRecord:
    codec = ERCS[erc]
    raw = codec.encode(value)
    return EventRecord(erc, codec.name, Record(dict(value)), raw)


def erc14(power_off: datetime, power_on: datetime, *, edition: str) -> EventRecord:
    """ERC14 终端停/上电事件 (附录B; times A.15 naive local): the 2013 form (国网 2014 notice, Le 11) starts with
    the 事件属性标志 (D0 正常, D1 有效)."""
    times = {"power_off": power_off.replace(second=0), "power_on": power_on.replace(second=0)}
    if edition == "2013":
        return _encode_erc(ERC14_POWER, {"attribute": Record({"normal": 1, "valid": 1}), **times})
    return _encode_erc(ERC14_POWER, times)


def erc35(found: UnknownMeter, local_time: datetime) -> EventRecord:
    """ERC35 发现未知电表事件记录 (附录B): time, port, one block (address, phase/quality, protocol 1 = 2007)."""
    block = Record({"address": found.address, "phase": Record({"quality": 5, "a": 1, "b": 0, "c": 0}), "protocol": 1})
    return _encode_erc(
        ERC35_UNKNOWN_METER,
        {"time": local_time.replace(second=0), "port": found.port, "n": 1, "meters": (block,)},
    )


class EventLog:
    """The terminal's event records: EC1/EC2 counters and two 256-slot rings (AFN0E F1 important, F2 normal).

    ``read1`` is the EC1 value up to which the master has read or confirmed the important events; ACD (要求访问
    位, §4.3.4.3) is set while ``ec1 != read1``."""

    def __init__(self) -> None:
        self.ec = [0, 0]  #: EC1, EC2 (mod 256)
        self._rings: list[dict[int, EventRecord]] = [{}, {}]
        self.read1 = 0

    def add(self, record: EventRecord) -> int:
        """Log ``record``; returns its ring (0 important, 1 normal)."""
        ring = 0 if record.erc in IMPORTANT_ERCS else 1
        self._rings[ring][self.ec[ring]] = record
        self.ec[ring] = (self.ec[ring] + 1) % 256
        return ring

    @property
    def pending(self) -> bool:
        """Important events the master has not read yet (→ ACD=1 with EC in responses)."""
        return self.ec[0] != self.read1

    def report(self, ring: int, pm: int, pn: int) -> EventReport:
        """AFN0E F1 (ring 0) / F2 (ring 1) answer for the records Pm..Pn−1; reading important ones clears ACD."""
        ring_records = self._rings[ring]
        slots = ((pm + i) % 256 for i in range(record_count(pm, pn)))
        records = tuple(ring_records[slot] for slot in slots if slot in ring_records)
        end = (pm + len(records)) % 256
        if ring == 0 and (end - self.read1) % 256 <= (self.ec[0] - self.read1) % 256:
            self.read1 = end
        return EventReport(self.ec[0], self.ec[1], pm, end, records)

    def confirmed(self, ec1: int) -> None:
        """The master confirmed a push of important events up to counter ``ec1``."""
        self.read1 = ec1
