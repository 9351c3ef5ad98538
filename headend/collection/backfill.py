"""Backfill (补抄): daily frozen registers missing from storage are requested again, at the lowest priority.

One run (:meth:`Backfill.run`):

1. asks the store which meters have a daily frozen total on each of the last ``[backfill] days`` freeze dates
   (:meth:`~headend.storage.collection.CollectionQueries.frozen_days`) and lists, per terminal of the archive,
   the (freeze date, point) pairs without one — today's freeze date only once the terminal's daily plan has had
   ``[backfill] after_plan_s`` past its due time (:meth:`Backfill.first_pass_over`);
2. for each online terminal sends AFN0D F161 日冻结正向有功电能示值 (Q/GDW 376.1-2009 §5.13, Td_d 附录A.20 =
   freeze date − 1, the day the freeze closes) for up to ``points_per_request`` points per request, at
   :attr:`~headend.sessions.priority.Priority.BACKFILL` (every other request to the terminal goes first), at most
   ``max_requests_per_terminal`` requests per terminal per run, spread over the days in turn (newest first) so
   that every day gets its share of the effort;
3. hands the readings, quality ``backfilled``, meter = the archive's address, to ``submit`` (the ingest path);
4. records why a point stays missing (:class:`~headend.collection.success.FailureLog`): terminal offline,
   terminal not answering (the terminal is left alone for the rest of the run), meter not answering (no value or
   EE), denied, decode error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from headend.collect import history_readings
from headend.collection.archive import Archive, ArchiveEntry
from headend.collection.ops_metrics import ops_metrics
from headend.collection.plans import daily_due, plan_for
from headend.collection.success import FailureLog, Reason, presence, td_d_of
from headend.config import CollectionConfig
from headend.config_collection import BackfillConfig
from headend.errors import ChannelClosed, ResponseTimeout
from headend.metrics import Metrics
from headend.readings import Quality, Reading
from headend.sessions.gdw376_station import SessionRegistry, TerminalSession
from headend.sessions.priority import Priority
from headend.storage.collection import DAILY_REGISTER, CollectionQueries
from protocols.errors import Gdw376Denied, ProtocolError
from protocols.gdw376.link import Afn
from protocols.gdw376.units import DataUnit
from protocols.gdw376.units.afn0d import DailyTag, tag_record

_LOGGER = logging.getLogger(__name__)

F161 = 161  #: AFN0D F161 日冻结正向有功电能示值（总、费率1～M）


@dataclass(slots=True)
class BackfillResult:
    """What one run did."""

    missing: int = 0  #: (meter, freeze date) pairs missing when the run started
    requests: int = 0
    readings: int = 0
    filled: set[tuple[str, date]] = field(default_factory=set)  #: (meter, freeze date) now with a daily total
    failed: dict[str, int] = field(default_factory=dict)  #: points per reason


def missing_by_terminal(
    archive: Archive, days: Sequence[date], present: dict[tuple[str, date], bool]
) -> dict[str, dict[date, list[ArchiveEntry]]]:
    """Per terminal and freeze date, the archive's meters without a daily frozen total."""
    found: dict[str, dict[date, list[ArchiveEntry]]] = {}
    for entry in archive.entries():
        for day in days:
            if presence(entry, day, present) is None:
                found.setdefault(entry.terminal, {}).setdefault(day, []).append(entry)
    return found


class Backfill:
    def __init__(
        self,
        config: BackfillConfig,
        archive: Archive,
        store: CollectionQueries,
        registry: SessionRegistry,
        *,
        submit: Callable[[Sequence[Reading]], Awaitable[object]],
        zone: ZoneInfo,
        metrics: Metrics,
        failures: FailureLog,
        now: Callable[[], datetime],
        collection: CollectionConfig | None = None,
    ) -> None:
        self.config = config
        #: the plans: today's freeze date waits for each terminal's first pass (:meth:`first_pass_over`)
        self.collection = collection
        #: the collection engine's word on it (``CollectionEngine.first_pass_pending``, set by the app)
        self.plan_pending: Callable[[str, date], bool] | None = None
        self.archive = archive
        self._store = store
        self._registry = registry
        self._submit = submit
        self._zone = zone
        self._metrics = ops_metrics(metrics)
        self.failures = failures
        self._now = now

    def days(self) -> list[date]:
        """The freeze dates checked, newest first: today's and the ``days − 1`` before it (local dates)."""
        today = self._now().astimezone(self._zone).date()
        return [today - timedelta(days=i) for i in range(self.config.days)]

    def first_pass_over(self, terminal: str, day: date) -> bool:
        """Whether the daily plan has had its chance at ``terminal``'s freeze date ``day``: the engine does not
        still owe it (:attr:`plan_pending`), and ``[backfill] after_plan_s`` have passed since the terminal's due
        time (:func:`~.plans.daily_due`, spread offset included). Until then a missing value is the plan's to
        read, first pass (quality ``ok``): backfill racing it would turn first-pass reads into backfilled ones
        and load the terminal twice in its busiest hour."""
        if self.plan_pending is not None and self.plan_pending(terminal, day):
            return False  # e.g. a login catch-up after a restart, long after the due time, still to come
        if self.collection is None:
            return True
        a1, _, a2 = terminal.partition(":")
        due = daily_due(plan_for(self.collection, a1, int(a2)), terminal, day, self._zone)
        return self._now() >= due + timedelta(seconds=self.config.after_plan_s)

    async def run(self) -> BackfillResult:
        days = self.days()
        present = await self._store.frozen_days(days[-1], days[0] + timedelta(days=1), register=DAILY_REGISTER)
        wanted = missing_by_terminal(self.archive, days, present)
        for terminal, per_day in wanted.items():
            for day in [d for d in per_day if not self.first_pass_over(terminal, d)]:
                del per_day[day]
        wanted = {terminal: per_day for terminal, per_day in wanted.items() if per_day}
        result = BackfillResult(missing=sum(len(e) for per_day in wanted.values() for e in per_day.values()))
        for terminal, per_day in wanted.items():
            a1, _, a2 = terminal.partition(":")
            session = self._registry.get(a1, int(a2))
            if session is None or session.closed:
                for day, entries in per_day.items():
                    self._fail(result, terminal, entries, day, Reason.TERMINAL_OFFLINE, "not logged in")
                continue
            # asked again now: the terminal may have logged in while the run went on, owing its catch-up
            per_day = {day: entries for day, entries in per_day.items() if self.first_pass_over(terminal, day)}
            if per_day:
                await self._terminal(session, per_day, result)
        return result

    async def _terminal(
        self, session: TerminalSession, per_day: dict[date, list[ArchiveEntry]], result: BackfillResult
    ) -> None:
        """Requests for one terminal, days in turn (newest first), within the per-terminal budget."""
        size = self.config.points_per_request
        queues = {
            day: [entries[i : i + size] for i in range(0, len(entries), size)] for day, entries in per_day.items()
        }
        budget = self.config.max_requests_per_terminal
        while budget > 0 and any(queues.values()):
            for day in sorted(queues, reverse=True):
                if not queues[day] or budget == 0:
                    continue
                budget -= 1
                chunk = queues[day].pop(0)
                if not await self._request(session, day, chunk, result):
                    return  # the terminal is gone or silent: leave it for this run

    async def _request(
        self, session: TerminalSession, day: date, chunk: list[ArchiveEntry], result: BackfillResult
    ) -> bool:
        terminal = session.terminal
        tag = tag_record(DailyTag(td_d_of(day)))
        result.requests += 1
        try:
            units = await session.request_units(
                Afn.REQUEST_CLASS2, [DataUnit(e.pn, F161, tag) for e in chunk], priority=Priority.BACKFILL
            )
        except ChannelClosed as exc:
            return self._failed_request(result, terminal, chunk, day, Reason.TERMINAL_OFFLINE, exc)
        except ResponseTimeout as exc:
            return self._failed_request(result, terminal, chunk, day, Reason.TERMINAL_NOT_ANSWERING, exc)
        except Gdw376Denied as exc:
            return self._failed_request(result, terminal, chunk, day, Reason.DENIED, exc, go_on=True)
        except ProtocolError as exc:
            return self._failed_request(result, terminal, chunk, day, Reason.DECODE_ERROR, exc, go_on=True)
        self._metrics.backfill_requests.labels("ok").inc()
        readings = [
            dataclasses.replace(r, meter=self.archive.meter_id(terminal, r.pn))
            for r in history_readings(
                units, terminal=terminal, zone=self._zone, received_at=self._now(), quality=Quality.BACKFILLED
            )
        ]
        if readings:
            await self._submit(readings)
            result.readings += len(readings)
            self._metrics.backfill_readings.inc(len(readings))
        answered = {r.pn for r in readings if r.tariff == 0 and r.value is not None and r.register == DAILY_REGISTER}
        self.failures.clear(terminal, answered, day)
        result.filled.update((e.meter, day) for e in chunk if e.pn in answered)
        silent = [e for e in chunk if e.pn not in answered]
        if silent:
            self._fail(result, terminal, silent, day, Reason.METER_NOT_ANSWERING, "no value in the AFN0D F161 answer")
        return True

    def _failed_request(
        self,
        result: BackfillResult,
        terminal: str,
        chunk: list[ArchiveEntry],
        day: date,
        reason: Reason,
        exc: Exception,
        *,
        go_on: bool = False,
    ) -> bool:
        self._metrics.backfill_requests.labels(reason.value).inc()
        _LOGGER.info("term %s: backfill of %s failed (%s): %s", terminal, day, reason.value, exc)
        self._fail(result, terminal, chunk, day, reason, str(exc))
        return go_on

    def _fail(
        self, result: BackfillResult, terminal: str, entries: list[ArchiveEntry], day: date, reason: Reason, detail: str
    ) -> None:
        self.failures.record(terminal, [e.pn for e in entries], day, reason, detail, self._now())
        result.failed[reason.value] = result.failed.get(reason.value, 0) + len(entries)
