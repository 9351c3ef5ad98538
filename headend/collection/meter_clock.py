"""Clocks of meters on direct buses (电能表校时): read, compare with the host clock, correct by broadcast time
(广播校时) within the DL/T 645 safeguards — one implementation (:class:`MeterClockSync`) for the daemon
(:class:`MeterClockPlan`, per bus channel every ``[timesync] interval_s``) and the field engineer's
``headend timesync`` (headend/cli_meters.py).

- A meter's clock is read as 04000101 日期及星期 (YYMMDDWW) + 04000102 时间 (hhmmss), DL/T 645-2007 附录A 表A.5;
  DL/T 645-1997 C010 日期及周次 + C011 时间. Drift = meter − host at the answer, to the second.
- The correction is one 08H 广播校时 frame to 999999999999 (DL/T 645-2007 §7.6; 1997 the same function code):
  no meter answers, so it is sent at :attr:`Priority.CONTROL` (the bus is held from the first byte until the
  meters' reply delay has passed: no read interleaves) and the clocks are read again afterwards.
- Meters accept a broadcast time only within limits (the safeguards of DL/T 645-2007 §7.6 广播校时 as smart meters
  implement them; docs/direct-meters.md): a correction of at most ±5 min (``meter_max_correction_s``), not around
  midnight (the daily freeze 日冻结 happens at 00:00; no broadcast within :data:`MIDNIGHT_GUARD`), at most once a
  day. The head-end keeps the same limits rather than rely on every firmware to:
  * a meter off by more than the maximum correction cannot be fixed by broadcast: it is logged and counted as
    needing a field visit (``headend_clock_syncs_total{target="meter", result="field_visit"}``), its
    ``clock_read`` row says so, and it does not count towards the decision to broadcast. It does not hold up the
    rest of its bus either: the broadcast reaches it too, and DL/T 645-2007 §7.6 has a meter execute a broadcast
    time only when its own clock is within ±5 min of it, so a conforming meter ignores it (the simulator's
    meters do). Leaving every other meter of the bus to drift until the visit would be the worse harm. When
    every meter that answered is that far off, nothing is sent (``Outcome.TOO_LARGE``);
  * near midnight nothing is read or sent: the round is postponed until the guard has passed;
  * one broadcast per bus per local day (``result="postponed"`` for a second one);
  * never from a host clock that is not NTP-synchronised (:class:`~headend.collection.timesync.HostClock`, the
    terminals' alarm): nothing is read or sent, ``result="refused"``.
- Records: every clock read is a ``clock_read`` row of ``terminal_link_log`` (the ``terminal`` column holds the
  meter's 12-digit address, ``peer`` the bus channel's name, ``detail.target = "meter"``; a meter that did not
  answer has ``clock_drift_ms`` NULL and ``detail.error``); every broadcast is a ``clock_set`` row per meter
  (``clock_drift_ms`` = drift before, ``detail``: ``set_to``, ``drift_after_ms`` or ``error``), as for terminals
  (docs/schema.md "terminal_link_log").
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headend.channels.serial_bus import BusChannel
from headend.collection.ops_metrics import ops_metrics
from headend.collection.timesync import HostClock, LinkSink, ms
from headend.config_collection import TimeSyncConfig
from headend.errors import ResponseTimeout
from headend.metrics import Metrics
from headend.sessions.dlt645_master import BusMaster
from headend.sessions.priority import Priority
from headend.storage.records import LinkEvent, LinkEventKind
from protocols.dlt645.commands import build_broadcast_time
from protocols.dlt645.control import Edition
from protocols.errors import DecodeError, DeviceError

_LOGGER = logging.getLogger(__name__)

#: no broadcast time this close to local midnight (meters refuse, and daily freezes happen then)
MIDNIGHT_GUARD = timedelta(minutes=5)
#: the ``target`` label of the clock metrics for meters
METER = "meter"
#: 08H 广播校时 frame size without the FE preamble: 68 A0..A5 68 C L + 6 data bytes + CS 16
_BROADCAST_SIZE = 18


def near_midnight(now: datetime, guard: timedelta = MIDNIGHT_GUARD) -> bool:
    """Whether ``now`` (local) is within ``guard`` of 00:00.

    >>> [near_midnight(datetime(2024, 1, 1, hour, minute)) for hour, minute in ((23, 56), (0, 4), (12, 0), (0, 5))]
    [True, True, False, False]
    """
    since = timedelta(hours=now.hour, minutes=now.minute, seconds=now.second)
    return since < guard or timedelta(days=1) - since < guard


def after_midnight_guard(now: datetime, guard: timedelta = MIDNIGHT_GUARD) -> datetime:
    """The first instant at or after ``now`` (local, aware) that is not :func:`near_midnight`.

    >>> after_midnight_guard(datetime(2024, 1, 1, 23, 58)), after_midnight_guard(datetime(2024, 1, 1, 12, 0))
    (datetime.datetime(2024, 1, 2, 0, 5), datetime.datetime(2024, 1, 1, 12, 0))
    """
    if not near_midnight(now, guard):
        return now
    day = now.date() if now.hour < 12 else now.date() + timedelta(days=1)
    return datetime.combine(day, time(), now.tzinfo) + guard


def as_date(value: Any) -> date:
    """The date of a 04000101 / C010 value (a ``date``, or the digits YYMMDDWW of an older catalogue)."""
    if isinstance(value, date):
        return value
    digits = f"{int(value):08d}"
    return date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))


def as_time(value: Any) -> time:
    """The time of a 04000102 / C011 value (a ``time``, or the digits hhmmss)."""
    if isinstance(value, time):
        return value
    digits = f"{int(value):06d}"
    return time(int(digits[:2]), int(digits[2:4]), int(digits[4:6]))


#: (date DI, time DI) per edition: DL/T 645-2007 表A.5 04000101/04000102, DL/T 645-1997 C010/C011
CLOCK_DIS = {Edition.V2007: (0x04000101, 0x04000102), Edition.V1997: (0xC010, 0xC011)}


async def read_meter_clock(
    master: BusMaster, address: str, *, zone: ZoneInfo, now: Callable[[], datetime], priority: Priority
) -> tuple[timedelta, datetime]:
    """(drift, meter time): the meter's clock (aware, in ``zone``) and its error against the host clock ``now()``
    at the answer, to the second. Raises what :meth:`BusMaster.read` raises."""
    edition = master.state(address).edition or await master.detect_edition(address, priority=priority)
    date_di, time_di = CLOCK_DIS[edition]
    day = (await master.read(address, date_di, edition=edition, priority=priority)).values[0].value
    clock = (await master.read(address, time_di, edition=edition, priority=priority)).values[0].value
    host = now().astimezone(zone)
    meter = datetime.combine(as_date(day), as_time(clock), zone)
    return meter - host.replace(microsecond=0), meter


class Outcome(enum.StrEnum):
    """What became of one bus's clock check."""

    IN_TIME = "in_time"  #: every answering meter within the threshold: nothing sent
    SYNCED = "synced"  #: broadcast sent, clocks read again
    NO_ANSWER = "no_answer"  #: no meter answered
    TOO_LARGE = "too_large"  #: every meter that answered is beyond the maximum correction: nothing sent
    NEAR_MIDNIGHT = "near_midnight"  #: postponed past the midnight guard
    ALREADY_TODAY = "already_today"  #: one broadcast per bus per local day
    HOST_UNSYNCHRONISED = "host_unsynchronised"  #: the host clock is not NTP-synchronised (alarm)
    NOT_CONFIRMED = "not_confirmed"  #: the operator said no (CLI)


@dataclass(slots=True)
class MeterClockCheck:
    """One meter's clock in one check."""

    meter: str
    drift_before: timedelta | None = None  #: meter − host, None when it did not answer
    drift_after: timedelta | None = None  #: after the broadcast
    error: str = ""  #: why it was not read (``Type: message``)
    field_visit: bool = False  #: off by more than the maximum correction: broadcast cannot fix it


@dataclass(slots=True)
class BusClockCheck:
    """One bus's clock check: every meter, what was done and (for a broadcast) the time sent."""

    bus: str
    outcome: Outcome
    meters: list[MeterClockCheck] = field(default_factory=list)
    worst: timedelta | None = None  #: largest |drift| among the meters that answered
    sent: datetime | None = None  #: the time broadcast (aware)

    @property
    def synced(self) -> bool:
        return self.outcome is Outcome.SYNCED


#: the CLI's question before broadcasting (given the largest correction); True = go ahead
Confirm = Callable[[timedelta], Awaitable[bool]]
#: called after each meter's read ("before" / "after"), e.g. for the CLI to print it
OnRead = Callable[[MeterClockCheck, str], None]


class MeterClockSync:
    """Checks the clocks of the meters of one or more buses and broadcasts the time where needed and allowed."""

    def __init__(
        self,
        *,
        zone: ZoneInfo,
        now: Callable[[], datetime],
        max_correction: timedelta,
        threshold: timedelta | None = None,
        metrics: Metrics | None = None,
        link_events: LinkSink | None = None,
        host: HostClock | None = None,
        priority: Priority = Priority.SCHEDULED,
        guard: timedelta = MIDNIGHT_GUARD,
    ) -> None:
        """``threshold`` None: broadcast whatever the drift (the CLI); ``host`` None: trust the host clock (the
        CLI, whose operator answers for it); ``link_events`` None: nothing recorded."""
        self.zone = zone
        self._now = now
        self.max_correction = max_correction
        self.threshold = threshold
        self._metrics = ops_metrics(metrics) if metrics is not None else None
        self._record = link_events
        self.host = host
        self.priority = priority
        self.guard = guard
        self._synced_on: dict[str, date] = {}  #: bus → local day of its last broadcast
        self._worst: dict[str, float] = {}  #: bus → largest |drift| of its last check, s

    @classmethod
    def from_config(
        cls,
        config: TimeSyncConfig,
        *,
        zone: ZoneInfo,
        now: Callable[[], datetime],
        metrics: Metrics,
        link_events: LinkSink,
        host: HostClock,
    ) -> MeterClockSync:
        """The daemon's: ``threshold_s`` and ``meter_max_correction_s`` of ``[timesync]``."""
        return cls(
            zone=zone,
            now=now,
            max_correction=timedelta(seconds=config.meter_max_correction_s),
            threshold=timedelta(seconds=config.threshold_s),
            metrics=metrics,
            link_events=link_events,
            host=host,
        )

    def local_now(self) -> datetime:
        return self._now().astimezone(self.zone)

    def _count(self, kind: str, result: str, n: int = 1) -> None:
        if self._metrics is not None and n:
            counter = self._metrics.clock_reads if kind == "read" else self._metrics.clock_syncs
            counter.labels(METER, result).inc(n)

    async def read_drifts(
        self, master: BusMaster, checks: Sequence[MeterClockCheck], when: str, on_read: OnRead | None = None
    ) -> None:
        """Read every meter's clock into ``drift_<when>`` (or ``error``; a meter already in error is skipped)."""
        for check in checks:
            if check.error:
                continue
            try:
                drift, _ = await read_meter_clock(
                    master, check.meter, zone=self.zone, now=self._now, priority=self.priority
                )
            except (ResponseTimeout, DeviceError, DecodeError) as exc:
                check.error = f"{type(exc).__name__}: {exc}"
                self._count("read", "failed")
            else:
                self._count("read", "ok")
                if when == "before":
                    check.drift_before = drift
                else:
                    check.drift_after = drift
            if on_read is not None:
                on_read(check, when)

    async def check_bus(
        self,
        master: BusMaster,
        addresses: Sequence[str],
        *,
        confirm: Confirm | None = None,
        on_read: OnRead | None = None,
    ) -> BusClockCheck:
        """Read the clocks of ``addresses`` on ``master``'s bus and broadcast the time when the safeguards allow
        (module docstring); record and count everything. Raises :class:`ChannelClosed` when the link drops."""
        bus = master.name
        result = BusClockCheck(bus, Outcome.IN_TIME, [MeterClockCheck(a) for a in addresses])
        if near_midnight(self.local_now(), self.guard):
            return self._refuse(result, Outcome.NEAR_MIDNIGHT, "postponed", f"within {self.guard} of midnight")
        if self.host is not None and not self.host.ok():
            return self._refuse(result, Outcome.HOST_UNSYNCHRONISED, "refused", self.host.alarm)
        await self.read_drifts(master, result.meters, "before", on_read)
        answered = [c for c in result.meters if c.drift_before is not None]
        for check in result.meters:
            if check.drift_before is not None and abs(check.drift_before) > self.max_correction:
                check.field_visit = True
                _LOGGER.warning(
                    "bus %s: meter %s is off by %+.0f s, more than the %.0f s a broadcast may correct: field visit",
                    bus, check.meter, check.drift_before.total_seconds(), self.max_correction.total_seconds(),
                )  # fmt: skip
        self._count("sync", "field_visit", sum(c.field_visit for c in result.meters))
        correctable = [c for c in answered if not c.field_visit]
        if answered:
            result.worst = max(abs(c.drift_before) for c in answered if c.drift_before is not None)
            self._worst[bus] = result.worst.total_seconds()
            if self._metrics is not None:
                self._metrics.clock_drift_max.labels(METER).set(max(self._worst.values()))
        await self._record_reads(master, result.meters)
        if not answered:
            return self._refuse(result, Outcome.NO_ANSWER, "", "no meter answered a clock read")
        if not correctable:
            return self._refuse(result, Outcome.TOO_LARGE, "", "not broadcast: every meter needs a field visit")
        # what the broadcast can correct decides; the meters beyond the maximum ignore it (§7.6)
        largest = max(abs(c.drift_before) for c in correctable if c.drift_before is not None)
        if self.threshold is not None and largest <= self.threshold:
            return result
        today = self.local_now().date()
        if self._synced_on.get(bus) == today:
            return self._refuse(result, Outcome.ALREADY_TODAY, "postponed", "time already broadcast today")
        if confirm is not None and not await confirm(largest):
            result.outcome = Outcome.NOT_CONFIRMED
            return result
        sent = self.local_now()
        if near_midnight(sent, self.guard):
            return self._refuse(result, Outcome.NEAR_MIDNIGHT, "postponed", "midnight came close while checking")
        # the frame carries the time at which it finishes on the wire, to the nearest second (whole seconds only)
        on_air = timedelta(seconds=master.timing.tx_time(_BROADCAST_SIZE + master.config.preamble))
        when = (sent + on_air + timedelta(milliseconds=500)).replace(microsecond=0)
        request = build_broadcast_time(when.replace(tzinfo=None), preamble=master.config.preamble)
        await master.broadcast(request, priority=Priority.CONTROL)
        self._synced_on[bus] = today
        self._count("sync", "ok")
        result.outcome = Outcome.SYNCED
        result.sent = when
        _LOGGER.info("bus %s: time broadcast %s (largest correction %.0f s)", bus, result.sent, largest.total_seconds())
        await self.read_drifts(master, [c for c in result.meters if c.drift_before is not None], "after", on_read)
        await self._record_sets(master, result)
        return result

    def _refuse(self, result: BusClockCheck, outcome: Outcome, counted: str, reason: str) -> BusClockCheck:
        result.outcome = outcome
        if counted:
            self._count("sync", counted)
        _LOGGER.log(
            logging.INFO if outcome is Outcome.NEAR_MIDNIGHT else logging.WARNING,
            "bus %s: clocks not set (%s): %s",
            result.bus,
            outcome.value,
            reason,
        )
        return result

    async def _record_reads(self, master: BusMaster, checks: Sequence[MeterClockCheck]) -> None:
        if self._record is None:
            return
        at = self._now()
        rows = []
        for check in checks:
            detail: dict[str, object] = {"target": METER}
            if check.error:
                detail["error"] = check.error
            if check.field_visit:
                detail["field_visit"] = True
            drift = None if check.drift_before is None else ms(check.drift_before)
            rows.append(LinkEvent(check.meter, at, LinkEventKind.CLOCK_READ, master.name, drift, detail))
        await self._record(rows)

    async def _record_sets(self, master: BusMaster, result: BusClockCheck) -> None:
        if self._record is None or result.sent is None:
            return
        at = self._now()
        rows = []
        for check in result.meters:
            if check.drift_before is None:
                continue
            detail: dict[str, object] = {"target": METER, "set_to": result.sent.replace(tzinfo=None).isoformat()}
            if check.drift_after is not None:
                detail["drift_after_ms"] = ms(check.drift_after)
            else:
                detail["error"] = check.error
            if check.field_visit:
                detail["field_visit"] = True  # it got the broadcast but is beyond what one may correct
            rows.append(
                LinkEvent(check.meter, at, LinkEventKind.CLOCK_SET, master.name, ms(check.drift_before), detail)
            )
        await self._record(rows)


class MeterClockPlan:
    """The daemon's meter clock checks on one bus channel, every ``[timesync] interval_s`` of head-end time (the
    first at the first poll round), postponed past the midnight guard when due near midnight.

    The check runs inside the channel's poll round, in the same channel session
    (:meth:`~headend.scheduling.meter_poll.MeterPollPlan.poll_round` asks :meth:`due`, then :meth:`run`): for a
    modem that is the same call, and a bus is never asked for two sessions at once."""

    def __init__(self, channel: BusChannel, sync: MeterClockSync, interval: timedelta) -> None:
        self.channel = channel
        self.sync = sync
        self.interval = interval
        self.next_due: datetime | None = None  #: None: at the next round
        self.last: BusClockCheck | None = None

    @property
    def addresses(self) -> list[str]:
        return [meter.address for meter in self.channel.config.meters]

    def due(self) -> bool:
        return self.next_due is None or self.sync.local_now() >= self.next_due

    async def run(self, master: BusMaster) -> BusClockCheck:
        """Check the bus now; schedule the next check (after the guard when postponed near midnight, the next
        day after the guard when a broadcast was already made today)."""
        now = self.sync.local_now()
        self.next_due = now + self.interval
        self.last = result = await self.sync.check_bus(master, self.addresses)
        if result.outcome is Outcome.NEAR_MIDNIGHT:
            self.next_due = after_midnight_guard(self.sync.local_now(), self.sync.guard)
        elif result.outcome is Outcome.ALREADY_TODAY:
            tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), now.tzinfo)
            self.next_due = min(self.next_due, after_midnight_guard(tomorrow, self.sync.guard))
        return result
