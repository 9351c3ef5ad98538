"""Collection success rate (采集成功率) per freeze date, per terminal and overall, and why meters are missing.

For a freeze date D (the local date of the daily freeze instant, ``freeze_date`` in the billing views; a 376.1
Td_d labels the day the freeze closes, so Td_d = D − 1, see :func:`headend.collect.frozen_ts`):

- *expected*: the meters of the archive (:class:`~headend.collection.archive.Archive`);
- *complete, first pass*: meters with a daily frozen total (``daily.energy.active.forward``, tariff 0, a value)
  of quality ``ok`` — read by the plan;
- *complete*: with such a row of any quality — after backfill (补抄, quality ``backfilled``) as well.

The rows go to the store (``collection_success``, ``collection_missing``: :mod:`headend.storage.collection`) and
the overall figures to gauges (``headend_collection_*``, labelled by pass only). Every meter still missing gets
the reason of the last failed request for it (:class:`FailureLog`: terminal offline, terminal not answering, meter
not answering, denied, decode error), else ``terminal_offline`` if its terminal is not logged in, else
``not_requested``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from headend.collect import meter_id as fallback_meter_id
from headend.collection.archive import Archive, ArchiveEntry
from headend.collection.ops_metrics import ops_metrics
from headend.metrics import Metrics
from headend.storage.collection import CollectionQueries, MissingMeter, SuccessRow


class Reason(enum.StrEnum):
    """Why a meter's daily frozen data is missing."""

    TERMINAL_OFFLINE = "terminal_offline"  #: the terminal was not logged in (or the link dropped)
    TERMINAL_NOT_ANSWERING = "terminal_not_answering"  #: no response after the retries
    METER_NOT_ANSWERING = "meter_not_answering"  #: the terminal answered without a value (EE, or no unit)
    DENIED = "denied"  #: the terminal denied the request (AFN00 F2 / F3)
    DECODE_ERROR = "decode_error"  #: the response could not be decoded
    NOT_REQUESTED = "not_requested"  #: nothing asked yet (plan not due, backfill budget spent)


def td_d_of(freeze_date: date) -> date:
    """The 376.1 Td_d (附录A.20) asking for the freeze taken at the start of ``freeze_date``."""
    return freeze_date - timedelta(days=1)


def freeze_date_of(td_d: date) -> date:
    """The freeze date of the data a Td_d labels (the day after the day it closes)."""
    return td_d + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: Reason
    detail: str
    at: datetime


class FailureLog:
    """The last failure per (terminal, pn, freeze date), recorded by whoever requested the data (plan, backfill);
    a success clears it. Days older than ``keep_days`` before the newest recorded are dropped."""

    def __init__(self, keep_days: int = 31) -> None:
        self._failures: dict[tuple[str, int, date], Failure] = {}
        self._keep = timedelta(days=keep_days)
        self._oldest: date | None = None

    def record(self, terminal: str, pns: Iterable[int], day: date, reason: Reason, detail: str, at: datetime) -> None:
        failure = Failure(reason, detail, at)
        for pn in pns:
            self._failures[(terminal, pn, day)] = failure
        cutoff = day - self._keep
        self._oldest = min(self._oldest or day, day)
        if self._oldest < cutoff:  # prune only when something has aged out (not a scan per record)
            self._failures = {k: v for k, v in self._failures.items() if k[2] >= cutoff}
            self._oldest = min((k[2] for k in self._failures), default=None)

    def clear(self, terminal: str, pns: Iterable[int], day: date) -> None:
        for pn in pns:
            self._failures.pop((terminal, pn, day), None)

    def get(self, terminal: str, pn: int, day: date) -> Failure | None:
        return self._failures.get((terminal, pn, day))

    def __len__(self) -> int:
        return len(self._failures)


def presence(entry: ArchiveEntry, day: date, present: Mapping[tuple[str, date], bool]) -> bool | None:
    """None: no daily frozen total for the meter on ``day``; True: first pass; False: backfilled only. Rows stored
    under the point identity (``"<terminal>/p<pn>"``, before the archive knew the meter) count too."""
    found = present.get((entry.meter, day))
    other = present.get((fallback_meter_id(entry.terminal, entry.pn), day))
    if found is None:
        return other
    return found or bool(other)


def compute(
    day: date,
    entries: Iterable[ArchiveEntry],
    present: Mapping[tuple[str, date], bool],
    *,
    failures: FailureLog,
    online: Collection[str],
    computed_at: datetime,
) -> tuple[list[SuccessRow], list[MissingMeter]]:
    """The success rows of ``day`` (overall first, terminal ``''``, then one per terminal) and the missing meters."""
    counts: dict[str, list[int]] = {}
    missing: list[MissingMeter] = []
    for entry in entries:
        tally = counts.setdefault(entry.terminal, [0, 0, 0])
        tally[0] += 1
        state = presence(entry, day, present)
        if state is not None:
            tally[1] += state
            tally[2] += 1
            continue
        failure = failures.get(entry.terminal, entry.pn, day)
        if failure is not None:
            reason, detail = failure.reason, failure.detail
        elif entry.terminal not in online:
            reason, detail = Reason.TERMINAL_OFFLINE, "not logged in"
        else:
            reason, detail = Reason.NOT_REQUESTED, ""
        missing.append(MissingMeter(day, entry.terminal, entry.pn, entry.meter, reason.value, detail))
    rows = [SuccessRow(day, t, e, f, c, computed_at) for t, (e, f, c) in sorted(counts.items())]
    total = [sum(column) for column in zip(*counts.values(), strict=True)] if counts else [0, 0, 0]
    return [SuccessRow(day, "", total[0], total[1], total[2], computed_at), *rows], missing


class SuccessRate:
    """Computes, stores and exports the success rate of a freeze date."""

    def __init__(
        self,
        archive: Archive,
        store: CollectionQueries,
        *,
        metrics: Metrics,
        failures: FailureLog,
        online: Callable[[], Collection[str]],
        now: Callable[[], datetime],
    ) -> None:
        self.archive = archive
        self._store = store
        self._metrics = ops_metrics(metrics)
        self.failures = failures
        self._online = online
        self._now = now
        #: meters on direct channels (DL/T 645 日冻结, :meth:`headend.channels.direct.DirectMeters.success_entries`:
        #: terminal ``"direct:<channel>"``, pn = the meter's place on it), expected beside the archive's; their
        #: channels count as online (a call-based channel is reached when needed)
        self.direct: Callable[[], Iterable[ArchiveEntry]] | None = None

    async def update(self, day: date) -> tuple[list[SuccessRow], list[MissingMeter]]:
        """Recompute ``day`` from what the store holds, save it, and set the gauges from its overall row."""
        present = await self._store.frozen_days(day, day + timedelta(days=1))
        direct = list(self.direct()) if self.direct is not None else []
        rows, missing = compute(
            day,
            [*self.archive.entries(), *direct],
            present,
            failures=self.failures,
            online={*self._online(), *(e.terminal for e in direct)},
            computed_at=self._now(),
        )
        await self._store.save_success(rows, missing)
        overall = rows[0]
        m = self._metrics
        m.meters_expected.set(overall.expected)
        m.meters_complete.labels("first").set(overall.complete_first_pass)
        m.meters_complete.labels("final").set(overall.complete)
        m.success_ratio.labels("first").set(overall.first_pass_ratio)
        m.success_ratio.labels("final").set(overall.ratio)
        return rows, missing
