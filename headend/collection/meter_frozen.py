"""Daily frozen data, backfill and load profiles of meters on direct channels (DL/T 645-2007 附录A 表A.6 冻结量,
表A.7 负荷记录) — the direct-bus counterpart of the terminals' daily plan and backfill (docs/direct-meters.md "Frozen
data and curves"). One :class:`MeterFrozenPlan` per bus channel; it runs inside the channel's poll round, in the
same channel session (for a modem, the same call), after the current values and the clock check
(:meth:`headend.scheduling.meter_poll.MeterPollPlan.poll_round`).

* **Daily frozen** (日冻结): once per local day from ``daily_after`` + the channel's spread offset
  (:func:`headend.collection.plans.daily_due`, keyed by the channel name), each DL/T 645-2007 meter is read
  05060001 上1次日冻结时间 (YYMMDDhhmm) and then every ``daily_dis`` (default 05060101 上1次日冻结正向有功电能数据:
  total + tariffs; 05060201 reverse active, 0301/0401 combined reactive 1/2, 0501..0801 quadrant reactive). The
  values are stored as ``daily.<quantity>`` (the names of the terminal path, :meth:`ReadingKind.register`), tariff
  0..M, ``ts`` = the freeze time the meter reported, in the configured zone. A freeze time that is not a midnight
  is not a daily freeze: nothing is stored (logged, ``headend_direct_reads_total{result="frozen_bad_time"}``). A
  midnight other than the one ending yesterday (the meter missed a freeze, or its clock is a day off) is stored
  under the time it says — never relabelled — and logged (``result="frozen_other_day"``).
* **DL/T 645-1997 meters** have no daily freeze DI (1997 has only the month's history, 上月/上上月): they are skipped
  with one log line per meter and counted every day (``result="no_daily_freeze"``).
* **Backfill** (补抄): every ``[backfill] interval_s`` of head-end time the store is asked which of the channel's
  2007 meters lack a daily total (``daily.energy.active.forward``, tariff 0) on the last ``[backfill] days`` freeze
  dates (:meth:`~headend.storage.collection.CollectionQueries.frozen_days`; today's only ``[backfill]
  after_plan_s`` after the daily due time, as for terminals). For freeze date D the meter holds it as the NN-th
  previous freeze, NN = today − D + 1 (上NN次, 01..3E): 050600NN is read first and the values (0506xxNN) only when
  that freeze time is D's midnight; when it is another midnight (a missed freeze shifts the numbering) NN is
  corrected once by the difference. Reads go at :attr:`Priority.BACKFILL`, quality ``backfilled``, at most
  ``[backfill] max_requests_per_terminal`` (meter, day) pairs per run per channel, newest day first; meters in
  backoff (isolated after failing) and meters that stop answering are left for a later run without using it.
* **Load profile** (负荷记录, ``curve_dis``): with the daily frozen data, yesterday's points from 00:00 up to
  midnight — 0610xxxx per-channel curves (Q/GDW smart-meter supplement; the point interval is the meter's
  04000A02 负荷记录间隔时间, read once per meter) or 06000001 load records (给定时间记录块, each with its time) —
  stored as ``curve.<quantity>`` readings (the names of the AFN0D F81+ curves, :mod:`headend.collect`), ``ts`` =
  the point time. The read's N (负荷记录块数) is at most :data:`POINTS_PER_READ` / :data:`RECORDS_PER_READ`.
* **Success rate** (采集成功率, :mod:`headend.collection.success`): the channel's 2007 meters are expected
  (:meth:`MeterFrozenPlan.entries`, terminal ``"direct:<channel>"``, pn = the meter's place on the channel, from 1);
  why one is missing goes to the shared :class:`~headend.collection.success.FailureLog` (meter not answering,
  denied, decode error, channel down = ``terminal_offline``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from headend.channels.serial_bus import BusChannel
from headend.collection.archive import ArchiveEntry
from headend.collection.ops_metrics import ops_metrics
from headend.collection.plans import daily_due
from headend.collection.success import FailureLog, Reason
from headend.config import BusConfig, PlanConfig
from headend.config_collection import BackfillConfig
from headend.errors import ChannelClosed, ResponseTimeout
from headend.metrics import Metrics
from headend.readings import Quality, Reading, ReadingKind
from headend.scheduling.meter_poll import ENERGY_2007, dis_problems, meter_readings, refuse_dis
from headend.sessions.dlt645_master import BusMaster, MeterRead
from headend.sessions.priority import Priority
from headend.storage.collection import DAILY_REGISTER, CollectionQueries
from protocols.dlt645.apdu import load_profile_params
from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import CURVES
from protocols.errors import DecodeError, DeviceError

_LOGGER = logging.getLogger(__name__)

#: 表A.6 日冻结: DI3 DI2 = 05 06; DI1 00 = 冻结时间, 01..08 = energy blocks (numbered as 表A.1 DI2); DI0 = 上NN次
DAILY = 0x0506
FREEZE_TIME = 0x05060000
MAX_NN = 0x3E  #: 上1～上62次 (DL/T 645-2007 表A.6)
LOAD_RECORDS_AT = 0x06000001  #: 给定时间记录块 (表A.7): N records from a time
INTERVAL_DI = 0x04000A02  #: 第1类负荷记录间隔时间, minutes (表A.5)
POINTS_PER_READ = 48  #: curve points asked in one 0610xxxx read
RECORDS_PER_READ = 8  #: load records asked in one 06000001 read (≈100 bytes each)
DIRECT_TERMINAL = "direct:{}"  #: the ``terminal`` of a direct channel in the success rate

_PHASE_SUFFIX = {"TOTAL": "", "A": ".a", "B": ".b", "C": ".c"}
#: value name (of a 0610xxxx curve, after ``CURVE_``, or a load-record field) → quantity of the ``curve.`` register
CURVE_QUANTITIES: dict[str, str] = {
    **{f"VOLTAGE_{p}": f"voltage.{p.lower()}" for p in "ABC"},
    **{f"CURRENT_{p}": f"current.{p.lower()}" for p in "ABC"},
    **{f"ACTIVE_POWER_{p}": f"power.active{s}" for p, s in _PHASE_SUFFIX.items()},
    **{f"REACTIVE_POWER_{p}": f"power.reactive{s}" for p, s in _PHASE_SUFFIX.items()},
    **{f"POWER_FACTOR_{p}": f"power_factor{s}" for p, s in _PHASE_SUFFIX.items()},
    "FREQUENCY": "frequency",
    "ENERGY_FORWARD_ACTIVE_TOTAL": "energy.active.forward",
    "ENERGY_REVERSE_ACTIVE_TOTAL": "energy.active.reverse",
    "ENERGY_COMBINED_REACTIVE_1_TOTAL": "energy.reactive.forward",
    "ENERGY_COMBINED_REACTIVE_2_TOTAL": "energy.reactive.reverse",
    **{f"ENERGY_REACTIVE_Q{q}_TOTAL": f"energy.reactive.q{q}" for q in range(1, 5)},
    "DEMAND_ACTIVE_PRESENT": "demand.active",
    "DEMAND_REACTIVE_PRESENT": "demand.reactive",
}


def nth(di: int, nn: int) -> int:
    """The DI of the NN-th previous freeze (上NN次): DI0 = NN. ``nth(0x05060101, 3)`` → 0x05060103."""
    return (di & ~0xFF) | nn


def check_frozen_dis(config: BusConfig, where: str) -> None:
    """Refuse, at start, ``daily_dis`` that are not 表A.6 日冻结 energy blocks of the last freeze (0506 01..08 01)
    and ``curve_dis`` that are neither a 0610xxxx curve nor 06000001 (ConfigError naming ``where``)."""
    refuse_dis(
        dis_problems(where, "daily_dis", config.daily_dis, _daily_block, "a daily frozen energy block (0506xx01)")
        + dis_problems(where, "curve_dis", config.curve_dis, _load_profile, "a 0610xxxx curve or 06000001")
    )


def _di(text: str) -> int:
    """A 2007 DI from its hex text, -1 when it is not 8 hex digits."""
    return int(text, 16) if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text) else -1


def _daily_block(text: str) -> bool:
    di = _di(text)
    return di >> 16 == DAILY and (di >> 8) & 0xFF in ENERGY_2007 and di & 0xFF == 1


def _load_profile(text: str) -> bool:
    di = _di(text)
    return di == LOAD_RECORDS_AT or (di >> 16 == 0x0610 and di & 0xFFFF in CURVES)


def daily_register(di: int) -> tuple[str, str]:
    """(register, unit) of a 0506xxNN block: ``daily.<quantity>`` as the terminal path names it."""
    quantity, unit = ENERGY_2007[(di >> 8) & 0xFF]
    return ReadingKind.DAILY.register(quantity), unit


def curve_readings(read: MeterRead, interval: timedelta | None, zone: ZoneInfo, received_at: datetime) -> list[Reading]:
    """``curve.<quantity>`` readings of one load-profile reply: a 0610xxxx curve (start time, then points
    ``interval`` apart) or 06000001 load records (each with its own time); values without a quantity are left
    out, "no value" fillers (a channel not recorded) too."""
    readings: list[Reading] = []
    at: datetime | None = None
    step = interval or timedelta(0)
    for value in read.values:
        name = value.name
        if isinstance(value.value, datetime):  # a curve's _START or a record's LOAD_RECORD_TIME
            at = value.value.replace(tzinfo=zone)
            continue
        if at is None:
            continue
        if "_POINT" in name:  # CURVE_<stem>_POINTi: point i at start + (i - 1) × interval
            stem, _, index = name.removeprefix("CURVE_").rpartition("_POINT")
            ts = at + (int(index) - 1) * step
        else:
            stem, ts = name, at
        quantity = CURVE_QUANTITIES.get(stem)
        if quantity is None or not isinstance(value.value, Decimal):
            continue
        register = ReadingKind.CURVE.register(quantity)
        readings += meter_readings(
            read.address, register, value.unit, [value.value], ts=ts, received_at=received_at,
            source=read.source, tariff=0,
        )  # fmt: skip
    return readings


@dataclass(slots=True)
class FrozenRun:
    """What one run on a bus did."""

    daily: dict[str, datetime] = field(default_factory=dict)  #: meter → freeze instant stored (first pass)
    other_day: dict[str, datetime] = field(default_factory=dict)  #: meter → a freeze not ending yesterday
    skipped: list[str] = field(default_factory=list)  #: DL/T 645-1997 meters (no daily freeze)
    failed: dict[str, str] = field(default_factory=dict)  #: meter → why it was not read (``Type: message``)
    backfilled: set[tuple[str, date]] = field(default_factory=set)  #: (meter, freeze date) filled
    curve_points: int = 0
    readings: int = 0


class MeterFrozenPlan:
    """Daily frozen data, backfill and load profiles of the meters of one bus channel (module docstring).

    :meth:`due` says whether a run has work; :meth:`run` does it on the channel's master inside the poll round's
    session. ``store`` None or ``backfill`` disabled: no backfill."""

    def __init__(
        self,
        channel: BusChannel,
        sink: Callable[[Sequence[Reading]], Awaitable[object]],
        *,
        zone: ZoneInfo,
        now: Callable[[], datetime],
        metrics: Metrics,
        store: CollectionQueries | None = None,
        backfill: BackfillConfig | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        self.channel = channel
        self.terminal = DIRECT_TERMINAL.format(channel.name)
        self.pns = {meter.address: pn for pn, meter in enumerate(channel.config.meters, start=1)}
        self.failures = failures
        self.config = channel.config
        self._sink = sink
        self.zone = zone
        self._now = now
        self._metrics = metrics
        self._ops = ops_metrics(metrics)
        self._store = store
        self.backfill = backfill if backfill is not None and backfill.enabled and store is not None else None
        self._plan = PlanConfig(daily_after=self.config.daily_after, daily_spread_s=self.config.daily_spread_s)
        self.daily_dis = tuple(int(d, 16) for d in self.config.daily_dis)
        self.curve_dis = tuple(int(d, 16) for d in self.config.curve_dis)
        self.done_on: date | None = None  #: local date whose daily read is done
        self.next_backfill: datetime | None = None  #: None: at the first run after the daily due time
        self.last: FrozenRun | None = None
        self._said_1997: set[str] = set()
        self._intervals: dict[str, timedelta] = {}

    @property
    def addresses(self) -> list[str]:
        return [meter.address for meter in self.config.meters]

    def local_now(self) -> datetime:
        return self._now().astimezone(self.zone)

    def entries(self) -> list[ArchiveEntry]:
        """The meters expected in the success rate: every meter of the channel but those known to speak
        DL/T 645-1997 (configured so, or found so), which have no daily freeze."""
        known = {m.address: m.edition for m in self.config.meters}
        return [
            ArchiveEntry(self.terminal, pn, address, baud=self.config.baud)
            for address, pn in self.pns.items()
            if known[address] != "1997" and self.channel.master.state(address).edition is not Edition.V1997
        ]

    def _record(self, address: str, day: date, reason: Reason | None, detail: str = "") -> None:
        """Why ``address`` has no daily data of freeze date ``day`` (None: it has now)."""
        if self.failures is None:
            return
        pn = self.pns.get(address, 0)
        if reason is None:
            self.failures.clear(self.terminal, [pn], day)
        else:
            self.failures.record(self.terminal, [pn], day, reason, detail, self._now())

    def due_at(self, day: date) -> datetime:
        """When the daily read of ``day`` (the freeze at its 00:00) is due: ``daily_after`` + the spread offset."""
        return daily_due(self._plan, self.channel.name, day, self.zone)

    def daily_due(self) -> bool:
        now = self.local_now()
        return self.done_on != now.date() and now >= self.due_at(now.date())

    def backfill_due(self) -> bool:
        return self.backfill is not None and (self.next_backfill is None or self._now() >= self.next_backfill)

    def due(self) -> bool:
        return bool(self.config.meters) and (self.daily_due() or self.backfill_due())

    async def run(self, master: BusMaster) -> FrozenRun:
        """The daily read (and curves) when due, then a backfill run when due. Raises :class:`ChannelClosed` when
        the link drops (the daily read is then done again in the next session: readings are idempotent)."""
        result = FrozenRun()
        self.last = result
        today = self.local_now().date()
        if self.daily_due():
            for address in self.addresses:
                await self._daily(master, address, today, result)
            self.done_on = today
        if self.backfill_due():
            assert self.backfill is not None
            self.next_backfill = self._now() + timedelta(seconds=self.backfill.interval_s)
            await self._backfill(master, self.backfill, result)
        if result.readings:
            _LOGGER.info(
                "bus %s: %d frozen/curve readings (%d daily, %d backfilled, %d curve points)",
                self.channel.name, result.readings, len(result.daily), len(result.backfilled), result.curve_points,
            )  # fmt: skip
        return result

    def _count(self, result: str) -> None:
        self._metrics.direct_reads.labels(self.channel.kind, result).inc()

    async def _edition(self, master: BusMaster, address: str, priority: Priority) -> Edition:
        return master.state(address).edition or await master.detect_edition(address, priority=priority)

    async def _submit(self, readings: list[Reading], result: FrozenRun) -> None:
        if readings:
            await self._sink(readings)
            result.readings += len(readings)

    async def _daily(self, master: BusMaster, address: str, today: date, result: FrozenRun) -> None:
        """Last freeze (上1次) of one meter, and its curves of yesterday; failures are logged and counted."""
        try:
            if await self._edition(master, address, Priority.SCHEDULED) is not Edition.V2007:
                self._skip_1997(address, result)
                return
            expected = datetime.combine(today, time(), self.zone)
            stamp = await self._freeze(master, address, 1, Priority.SCHEDULED)
            if stamp is not None:
                if stamp != expected:
                    _LOGGER.warning(
                        "bus %s: meter %s's last daily freeze is %s, not %s: stored under its own time",
                        self.channel.name, address, stamp, expected,
                    )  # fmt: skip
                    self._count("frozen_other_day")
                    result.other_day[address] = stamp
                values = await self._values(master, address, 1, stamp, Quality.OK, Priority.SCHEDULED)
                await self._submit(values, result)
                result.daily[address] = stamp
                self._record(address, stamp.date(), None)
            for di in self.curve_dis:
                readings = await self._curve(master, address, di, today)
                result.curve_points += len(readings)
                await self._submit(readings, result)
        except ChannelClosed as exc:
            if address not in result.daily:
                self._record(address, today, Reason.TERMINAL_OFFLINE, str(exc))
            raise
        except (ResponseTimeout, DeviceError, DecodeError) as exc:
            self._failed(address, exc, result)
            if address not in result.daily:  # a failed curve read leaves the stored daily values complete
                self._record(address, today, _reason(exc), str(exc))

    def _skip_1997(self, address: str, result: FrozenRun) -> None:
        result.skipped.append(address)
        self._count("no_daily_freeze")
        if address not in self._said_1997:
            self._said_1997.add(address)
            _LOGGER.warning(
                "bus %s: meter %s speaks DL/T 645-1997, which has no daily freeze (日冻结): no daily frozen data",
                self.channel.name, address,
            )  # fmt: skip

    def _failed(self, address: str, exc: Exception, result: FrozenRun) -> None:
        result.failed[address] = f"{type(exc).__name__}: {exc}"
        self._count("frozen_failed")
        _LOGGER.info("bus %s: frozen data of meter %s not read: %s", self.channel.name, address, exc)

    async def _freeze(self, master: BusMaster, address: str, nn: int, priority: Priority) -> datetime | None:
        """The instant of the meter's NN-th previous daily freeze (050600NN), or None: no such freeze (filler) or
        not a midnight (then logged and counted: not a daily freeze, nothing stored)."""
        read = await master.read(address, nth(FREEZE_TIME, nn), edition=Edition.V2007, priority=priority)
        value = read.values[0].value if read.values else None
        if not isinstance(value, datetime):
            return None
        stamp = value.replace(tzinfo=self.zone)
        if stamp.time() != time():
            _LOGGER.warning(
                "bus %s: meter %s reports daily freeze %d at %s, not a midnight: not stored",
                self.channel.name, address, nn, value,
            )  # fmt: skip
            self._count("frozen_bad_time")
            return None
        return stamp

    async def _values(
        self, master: BusMaster, address: str, nn: int, stamp: datetime, quality: Quality, priority: Priority
    ) -> list[Reading]:
        """The ``daily_dis`` blocks of freeze NN as readings at ``stamp``."""
        readings: list[Reading] = []
        received_at = self._now()
        for block in self.daily_dis:
            read = await master.read(address, nth(block, nn), edition=Edition.V2007, priority=priority)
            register, unit = daily_register(block)
            numbers = [value.value if isinstance(value.value, Decimal) else None for value in read.values]
            readings += meter_readings(
                address, register, unit, numbers, ts=stamp, received_at=received_at, source=read.source,
                quality=quality,
            )  # fmt: skip
        return readings

    async def _curve(self, master: BusMaster, address: str, di: int, today: date) -> list[Reading]:
        """Yesterday's points of one load-profile DI, from 00:00 to midnight, in reads of bounded N."""
        interval = await self._interval(master, address)
        start = datetime.combine(today - timedelta(days=1), time())
        end = datetime.combine(today, time())
        per_read = RECORDS_PER_READ if di == LOAD_RECORDS_AT else POINTS_PER_READ
        readings: list[Reading] = []
        while start < end:
            count = min(per_read, (end - start) // interval)
            params = load_profile_params(count, start)
            read = await master.read(address, di, edition=Edition.V2007, priority=Priority.SCHEDULED, params=params)
            window = (start.replace(tzinfo=self.zone), end.replace(tzinfo=self.zone))
            readings += [
                r for r in curve_readings(read, interval, self.zone, self._now()) if window[0] <= r.ts < window[1]
            ]
            start += count * interval
        return readings

    async def _interval(self, master: BusMaster, address: str) -> timedelta:
        """The meter's load-record interval (04000A02, minutes), read once per meter."""
        if address not in self._intervals:
            read = await master.read(address, INTERVAL_DI, edition=Edition.V2007, priority=Priority.SCHEDULED)
            minutes = read.values[0].value if read.values else None
            if not isinstance(minutes, Decimal) or not 0 < minutes <= 60 or 1440 % int(minutes):
                raise DecodeError(f"meter {address}: load-record interval {minutes!r} min is not usable")
            self._intervals[address] = timedelta(minutes=int(minutes))
        return self._intervals[address]

    # -- backfill (补抄) -------------------------------------------------------------------------------------------

    def days(self, config: BackfillConfig) -> list[date]:
        """Freeze dates checked, newest first: today's once ``after_plan_s`` past its due time, and those before,
        ``days`` in all."""
        now = self.local_now()
        today = now.date()
        days = [today - timedelta(days=i) for i in range(config.days)]
        if now < self.due_at(today) + timedelta(seconds=config.after_plan_s):
            days = days[1:]
        return days

    async def missing(self, config: BackfillConfig) -> list[tuple[str, date]]:
        """(meter, freeze date) pairs without a daily total in the store, newest day first (2007 meters and meters
        whose edition is not known yet)."""
        days = self.days(config)
        if not days or self._store is None:
            return []
        present = await self._store.frozen_days(days[-1], days[0] + timedelta(days=1), register=DAILY_REGISTER)
        return [(meter, day) for day in days for meter in self.addresses if (meter, day) not in present]

    async def _backfill(self, master: BusMaster, config: BackfillConfig, result: FrozenRun) -> None:
        try:
            wanted = await self.missing(config)
        except Exception:  # the store is unreachable: the next run asks again; the round stands (STYLE.md §3.4)
            _LOGGER.exception("bus %s: backfill skipped: the store could not be asked", self.channel.name)
            return
        today = self.local_now().date()
        silent = set(master.isolated())  #: meters in backoff are left for a later run, not counted
        budget = config.max_requests_per_terminal
        for address, day in wanted:
            if address in silent or address in result.skipped:
                continue
            if budget == 0:
                break
            budget -= 1
            try:
                if await self._edition(master, address, Priority.BACKFILL) is not Edition.V2007:
                    continue  # counted by the daily read
                readings = await self._backfill_day(master, address, day, (today - day).days + 1)
            except ChannelClosed:
                raise
            except (ResponseTimeout, DeviceError, DecodeError) as exc:
                if isinstance(exc, ResponseTimeout):
                    silent.add(address)
                self._failed(address, exc, result)
                self._record(address, day, _reason(exc), str(exc))
                self._ops.backfill_requests.labels(_reason(exc).value).inc()
                continue
            self._ops.backfill_requests.labels("ok" if readings else "not_held").inc()
            if readings:
                result.backfilled.add((address, day))
                self._ops.backfill_readings.inc(len(readings))
                await self._submit(readings, result)
                self._record(address, day, None)
            else:
                self._record(address, day, Reason.METER_NOT_ANSWERING, f"the meter holds no daily freeze of {day}")

    async def _backfill_day(self, master: BusMaster, address: str, day: date, nn: int) -> list[Reading]:
        """The freeze of ``day`` from the meter's 上NN次 (NN corrected once when the numbering has shifted), or
        nothing when the meter does not hold it."""
        wanted = datetime.combine(day, time(), self.zone)
        for _ in range(2):
            if not 1 <= nn <= MAX_NN:
                return []
            stamp = await self._freeze(master, address, nn, Priority.BACKFILL)
            if stamp is None:
                return []
            if stamp == wanted:
                return await self._values(master, address, nn, stamp, Quality.BACKFILLED, Priority.BACKFILL)
            nn += (stamp.date() - day).days  # an older freeze at NN: the wanted one is more recent, and so on
        _LOGGER.info("bus %s: meter %s holds no daily freeze of %s", self.channel.name, address, day)
        return []


def _reason(exc: Exception) -> Reason:
    """The success report's reason for a failed read."""
    if isinstance(exc, ResponseTimeout):
        return Reason.METER_NOT_ANSWERING
    return Reason.DENIED if isinstance(exc, DeviceError) else Reason.DECODE_ERROR
