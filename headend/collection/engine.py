"""The collection engine: runs the frozen-data, curve and event plans (:mod:`.plans`) for every online terminal.

The real-time plan (AFN0C at ``[collection] interval_s``) stays :class:`headend.scheduling.poll.PollPlan`; the
engine shares its global concurrency limit (one semaphore for every request of every plan).

How it decides (all from the injected head-end clock ``now()``, so a test runs a simulated day in seconds):

- every ``tick_s`` of real time it looks at each online terminal that has no job running and is not backed off;
- daily (日冻结, Q/GDW 376.1-2009 §5.1.3.14 AFN0D, Td_d 附录A.20): once local time has passed today's
  :func:`~.plans.daily_due` for the terminal and yesterday is not collected yet, it reads the plan's ``daily_fns``
  for yesterday, then ``curve_fns`` (曲线, Td_c: yesterday 00:00, 24 h of points), and on the 1st ``monthly_fns``
  (月冻结, Td_m 附录A.21) for last month; a terminal that logs in late catches up at once;
- events (事件, §5.1.3.15 AFN0E F1/F2 with Pm/Pn): every ``event_interval_s`` and as soon as a frame from the
  terminal has ACD=1 with an event counter EC (附加信息域 §4.3.4.6) that differs from what was read;
- a request that times out backs the terminal off (:class:`~.plans.Backoff`, on the head-end clock): the others
  go on; a deny (否认) marks that part done — the terminal has nothing for it, asking again will not help; but a
  deny of a request for several points is asked again in halves, down to single points (:meth:`Step.halves`),
  because many terminals deny a whole frame when one meter in it has no data;
- requests go through :meth:`TerminalSession.request_units` at ``Priority.SCHEDULED`` (control, on-demand
  requests overtake them in the terminal's :class:`~headend.sessions.priority.PriorityLock`; backfill waits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from headend.collect import history_readings
from headend.collection.plans import DENSITY_OF_MINUTES, Backoff, daily_due, plan_for, previous_month, spread_offset
from headend.collection.reports import ReportIngest
from headend.collection.success import FailureLog, Reason
from headend.config import CollectionConfig, PlanConfig
from headend.errors import ChannelClosed, HeadendError, ResponseTimeout
from headend.metrics import Metrics
from headend.readings import Quality, Reading
from headend.sessions.gdw376_station import SessionRegistry, TerminalSession
from headend.sessions.priority import Priority
from protocols.errors import Gdw376Denied, ProtocolError
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Afn, LinkFrame
from protocols.gdw376.units import DataUnit
from protocols.gdw376.units.afn0d import CurveTag, DailyTag, MonthlyTag, TimeTag, tag_record
from protocols.gdw376.units.afn0e import EventReport

_LOGGER = logging.getLogger(__name__)

#: measurement points per AFN0D request: 16 points × F161 with 4 tariffs ≈ 600 bytes, one frame on any link
POINTS_PER_REQUEST = 16
#: a curve request asks for one point's day (96 × 15-min points ≈ 300–500 bytes)
CURVE_POINTS_PER_REQUEST = 1


@dataclass(slots=True)
class TerminalState:
    """What the engine knows about one online terminal."""

    session: TerminalSession
    plan: PlanConfig
    backoff: Backoff
    daily_done: date | None = None  #: the last Td_d whose daily plan completed
    monthly_done: tuple[int, int] | None = None  #: the last Td_m (year, month) completed
    events_at: datetime | None = None  #: when events were last read
    events_wanted: bool = False  #: a frame signalled ACD with a new EC
    pointers: dict[int, int] = field(default_factory=dict)  #: AFN0E Fn → next record pointer to read (Pm)
    ec: tuple[int, int] | None = None  #: EC1, EC2 as last read
    job: asyncio.Task[None] | None = None
    idle_until: datetime | None = None  #: nothing is due before this (head-end clock), unless ACD asks for events


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a job: ``plan`` names it in metrics and logs."""

    plan: str
    units: tuple[DataUnit, ...]

    def halves(self) -> list[Step]:
        """The step split by measurement point into two (one step when it asks for a single point)."""
        pns = sorted({u.pn for u in self.units})
        if len(pns) < 2:
            return [self]
        first = set(pns[: len(pns) // 2])
        return [
            Step(self.plan, tuple(u for u in self.units if u.pn in first)),
            Step(self.plan, tuple(u for u in self.units if u.pn not in first)),
        ]


class CollectionEngine:
    def __init__(
        self,
        config: CollectionConfig,
        registry: SessionRegistry,
        metrics: Metrics,
        sink: Callable[[Sequence[Reading]], Awaitable[None]],
        *,
        now: Callable[[], datetime],
        limit: asyncio.Semaphore | None = None,
        reports: ReportIngest | None = None,
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._sink = sink
        self._now = now
        self._limit = limit or asyncio.Semaphore(config.max_concurrent_requests)
        self._reports = reports or ReportIngest(sink, metrics, zone=config.zone, now=now)
        self._points = config.point_list
        self.states: dict[TerminalSession, TerminalState] = {}
        self._by_terminal: dict[str, TerminalState] = {}  #: "A1:A2" → the state of its current session
        self.completed_jobs = 0  #: progress counter (watchdog, tests)
        #: where first-pass failures of daily frozen reads are recorded, with their reason (success rate)
        self.failures: FailureLog | None = None
        self._runner: asyncio.Task[None] | None = None
        registry.on_online.append(self._online)
        registry.on_offline.append(self._offline)

    # -- terminals ------------------------------------------------------------------------------------------
    def _online(self, session: TerminalSession) -> None:
        a1, a2 = session.address.a1, session.address.a2
        plan = plan_for(self._config, a1, a2)
        state = TerminalState(session, plan, Backoff(self._config.backoff_base_s, self._config.backoff_cap_s))
        now, zone = self._now(), self._config.zone
        if now >= daily_due(plan, session.terminal, now.astimezone(zone).date(), zone):
            # A login after today's due time (a daemon restart, a terminal back from an outage) catches up on
            # yesterday — spread by the same per-terminal offset as the post-midnight window, so a fleet that
            # logs in at once does not ask at once.
            state.idle_until = now + spread_offset(session.terminal, plan.daily_spread_s)
        self.states[session] = state
        self._by_terminal[session.terminal] = state

    def _offline(self, session: TerminalSession) -> None:
        state = self.states.pop(session, None)
        if state is not None and self._by_terminal.get(session.terminal) is state:
            del self._by_terminal[session.terminal]
        if state is not None and state.job is not None:
            state.job.cancel()

    def first_pass_pending(self, terminal: str, freeze_date: date) -> bool:
        """Whether the daily plan still owes online ``terminal`` its first pass at ``freeze_date`` — the freeze
        of yesterday's Td_d, neither read nor failed yet (due later in the window, or a login catch-up still
        waiting for its spread offset). Backfill leaves such a day to the plan (:mod:`.backfill`)."""
        state = self._by_terminal.get(terminal)
        if state is None or not state.plan.daily_fns:
            return False
        yesterday = self._now().astimezone(self._config.zone).date() - timedelta(days=1)
        td_d = freeze_date - timedelta(days=1)
        return td_d == yesterday and state.daily_done != td_d and state.backoff.failures == 0

    def on_frame(self, session: TerminalSession, frame: LinkFrame) -> None:
        """Every uplink frame of a logged-in terminal (:attr:`TerminalServer.on_frame`): ACD=1 with an EC that
        differs from the last read asks for events (§4.3.4.3.2 ACD, §4.3.4.6 EC)."""
        state = self.states.get(session)
        if state is None:
            return
        ec = frame.aux.ec
        if frame.control.fcb_acd and ec is not None and ec != state.ec and frame.afn != Afn.REQUEST_CLASS3:
            state.events_wanted = True

    # -- running --------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._runner = asyncio.create_task(self.run(), name="collection-engine")

    async def stop(self) -> None:
        tasks = [s.job for s in self.states.values() if s.job is not None]
        if self._runner is not None:
            tasks.append(self._runner)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # a bug in one look at the clock must not stop collection for good
                _LOGGER.exception("collection tick failed")
            await asyncio.sleep(self._config.tick_s)

    def tick(self) -> None:
        """Start a job for every terminal that has work due now and none running."""
        now = self._now()
        backed_off = 0
        for state in list(self.states.values()):
            if state.job is not None and not state.job.done():
                continue
            if not state.backoff.ready(now):
                backed_off += 1
                continue
            if state.idle_until is not None and now < state.idle_until and not state.events_wanted:
                continue  # thousands of terminals: do not recompute what is due at every tick
            steps = self.due(state, now)
            if steps:
                state.idle_until = None
                state.job = asyncio.create_task(self._run(state, steps), name=f"collect {state.session.terminal}")
            else:
                state.idle_until = self.next_due(state, now)
        self._metrics.terminals_backed_off.set(backed_off)

    def due(self, state: TerminalState, now: datetime) -> list[tuple[str, object, list[Step]]]:
        """What to read from the terminal now: ``(what, marker, steps)`` groups, each marked done when all its
        steps are answered (or denied). Pure but for reading ``state``."""
        local = now.astimezone(self._config.zone)
        today = local.date()
        plan, terminal = state.plan, state.session.terminal
        groups: list[tuple[str, object, list[Step]]] = []
        yesterday = today - timedelta(days=1)
        if local >= daily_due(plan, terminal, today, self._config.zone):
            if state.daily_done != yesterday and (plan.daily_fns or plan.curve_fns):
                steps = self._tagged("daily", plan.daily_fns, DailyTag(yesterday), POINTS_PER_REQUEST)
                start = datetime.combine(yesterday, time(0))
                curve = CurveTag(start, DENSITY_OF_MINUTES[plan.curve_minutes], 24 * 60 // plan.curve_minutes)
                steps += self._tagged("curve", plan.curve_fns, curve, CURVE_POINTS_PER_REQUEST)
                groups.append(("daily", yesterday, steps))
            month = previous_month(today)
            if today.day == 1 and plan.monthly_fns and state.monthly_done != month:
                tag = MonthlyTag(*month)
                groups.append(("monthly", month, self._tagged("monthly", plan.monthly_fns, tag, POINTS_PER_REQUEST)))
        interval = plan.event_interval_s
        periodic = interval > 0 and (state.events_at is None or now - state.events_at >= timedelta(seconds=interval))
        if plan.event_fns and (state.events_wanted or periodic):
            groups.append(("events", now, []))  # built when run: the pointers come from the previous answer
        return groups

    def next_due(self, state: TerminalState, now: datetime) -> datetime:
        """When something may next be due for a terminal that has nothing due at ``now``: its next daily due
        time, or the next event period, whichever comes first."""
        zone = self._config.zone
        today = now.astimezone(zone).date()
        plan, terminal = state.plan, state.session.terminal
        wake = daily_due(plan, terminal, today, zone)
        if wake <= now:
            wake = daily_due(plan, terminal, today + timedelta(days=1), zone)
        if plan.event_fns and plan.event_interval_s > 0 and state.events_at is not None:
            wake = min(wake, state.events_at + timedelta(seconds=plan.event_interval_s))
        return wake

    def _tagged(self, name: str, fns: Sequence[int], tag: TimeTag, per_request: int) -> list[Step]:
        body: Record = tag_record(tag)
        points = self._points
        return [
            Step(name, tuple(DataUnit(pn, fn, body) for pn in points[i : i + per_request] for fn in fns))
            for i in range(0, len(points), per_request)
            if fns
        ]

    async def _run(self, state: TerminalState, groups: list[tuple[str, object, list[Step]]]) -> None:
        session = state.session
        try:
            for what, marker, steps in groups:
                if what == "events":
                    await self._events(state)
                    state.events_at = self._now()
                    state.events_wanted = False
                    continue
                for step in steps:
                    await self._history(session, step)
                if what == "daily":
                    state.daily_done = marker  # type: ignore[assignment]
                else:
                    state.monthly_done = marker  # type: ignore[assignment]
            state.backoff.succeeded()
            self.completed_jobs += 1
        except ChannelClosed:
            return
        except ResponseTimeout as exc:
            delay = state.backoff.failed(self._now())
            session.log.warning("%s; backed off for %s", exc, delay)
        except (HeadendError, ProtocolError) as exc:
            delay = state.backoff.failed(self._now())
            session.log.warning("collection failed (%s); backed off for %s", exc, delay)

    async def _request(
        self, session: TerminalSession, afn: int, plan: str, units: Sequence[DataUnit]
    ) -> list[DataUnit]:
        """One request under the global limit, counted by plan and result; a deny returns ``[]``."""
        try:
            async with self._limit:
                answer = await session.request_units(afn, units, priority=Priority.SCHEDULED)
        except Gdw376Denied:
            self._metrics.collection_jobs.labels(plan, "denied").inc()
            return []
        except ResponseTimeout:
            self._metrics.collection_jobs.labels(plan, "timeout").inc()
            raise
        except ChannelClosed:
            self._metrics.collection_jobs.labels(plan, "closed").inc()
            raise
        except (HeadendError, ProtocolError):
            self._metrics.collection_jobs.labels(plan, "error").inc()
            raise
        self._metrics.collection_jobs.labels(plan, "ok").inc()
        return answer

    async def _history(self, session: TerminalSession, step: Step) -> None:
        try:
            units = await self._request(session, Afn.REQUEST_CLASS2, step.plan, step.units)
        except ChannelClosed as exc:
            self._record(session, step, None, Reason.TERMINAL_OFFLINE, str(exc))
            raise
        except ResponseTimeout as exc:
            self._record(session, step, None, Reason.TERMINAL_NOT_ANSWERING, str(exc))
            raise
        except ProtocolError as exc:
            self._record(session, step, None, Reason.DECODE_ERROR, f"{type(exc).__name__}: {exc}")
            raise
        if not units and len(halves := step.halves()) > 1:
            # a whole-frame deny (AFN00 F2 全部否认) of a request for several points: many terminals deny it all
            # when one point has nothing; asking each half again keeps one dead meter from costing the others
            # their first pass (bisection: a single bad point costs about 2·log2(points) extra requests)
            for half in halves:
                await self._history(session, half)
            return
        readings = history_readings(
            units, terminal=session.terminal, zone=self._config.zone, received_at=self._now(), quality=Quality.OK
        )
        self._metrics.readings_invalid.inc(sum(1 for r in readings if r.value is None))
        if not units:
            self._record(session, step, None, Reason.DENIED, "the terminal denied the request")
        else:
            valued = {r.pn for r in readings if r.value is not None}
            self._record(session, step, valued, Reason.METER_NOT_ANSWERING, "no value in the answer")
        if readings:
            await self._sink(readings)

    def _record(
        self, session: TerminalSession, step: Step, answered: set[int] | None, reason: Reason, detail: str
    ) -> None:
        """Note why the points of a daily step have no frozen data (and clear those that now have it), keyed by
        the freeze date — the day after Td_d (docs/collection.md "Success rate")."""
        if self.failures is None or step.plan != "daily" or not step.units:
            return
        body = step.units[0].value
        td_d = body.get("td_d") if isinstance(body, Mapping) else None
        if not isinstance(td_d, date):
            return
        freeze_date = td_d + timedelta(days=1)
        pns = sorted({u.pn for u in step.units})
        if answered:
            self.failures.clear(session.terminal, sorted(answered), freeze_date)
        missing = [pn for pn in pns if not answered or pn not in answered]
        if missing:
            self.failures.record(session.terminal, missing, freeze_date, reason, detail, self._now())

    async def _events(self, state: TerminalState) -> None:
        """AFN0E F1/F2 from the last pointer read up to the terminal's event counter (EC1 for F1, EC2 for F2):
        the first request of a terminal (pointer unknown) is Pm = Pn = 0, which returns the counters only when
        the terminal has none; the records between the pointer and the counter are asked for next."""
        session = state.session
        for fn in state.plan.event_fns:
            pm = state.pointers.get(fn, 0)
            report = await self._event_report(session, fn, pm, pm if state.ec is None else state.ec[fn - 1])
            if report is None:
                continue
            state.ec = (report.ec1, report.ec2)
            target = state.ec[fn - 1]
            if report.pointer_pn != target:  # more records than this answer held: ask for the rest
                report = await self._event_report(session, fn, report.pointer_pn, target)
            state.pointers[fn] = target

    async def _event_report(self, session: TerminalSession, fn: int, pm: int, pn: int) -> EventReport | None:
        units = await self._request(
            session, Afn.REQUEST_CLASS3, "events", [DataUnit(0, fn, Record({"pointer_pm": pm, "pointer_pn": pn}))]
        )
        reports = [u for u in units if isinstance(u.value, EventReport)]
        await self._reports.ingest(session.terminal, Afn.REQUEST_CLASS3, reports)
        return reports[0].value if reports else None  # type: ignore[return-value]
