"""Backfill (补抄) and the success rate over loopback TCP against a scripted concentrator, on both stores: missing
(meter, freeze date) pairs found from storage, AFN0D F161 with Td_d = freeze date − 1 at BACKFILL priority within
the per-terminal budget, values stored as ``backfilled``, failures recorded with their reason, success rows
first-pass vs final."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal

from headend.collection.archive import Archive, ArchiveEntry
from headend.collection.backfill import Backfill, BackfillResult
from headend.collection.plans import daily_due
from headend.collection.success import FailureLog, Reason, SuccessRate
from headend.config import CollectionConfig, PlanConfig
from headend.config_collection import BackfillConfig
from headend.metrics import Metrics
from headend.sessions.gdw376_station import SessionRegistry
from headend.storage.collection import MissingMeter
from protocols.gdw376 import messages
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Dir
from protocols.gdw376.units import DataUnit, decode_units
from tests.headend import test_terminal_server
from tests.headend.collection.logged_in import logged_in, serving
from tests.headend.scripted_terminal import ScriptedTerminal
from tests.headend.storage import conftest as storage_fixtures
from tests.headend.storage.conftest import Backend
from tests.headend.storage.helpers import TZ, reading
from tests.headend.test_terminal_server import Harness

backend = storage_fixtures.backend
migrated = storage_fixtures.migrated

A = Address("4403", 12)
T, T2 = A.terminal, "4403:00013"
NOW = datetime(2024, 5, 4, 10, 0, tzinfo=TZ)
MAY2, MAY3, MAY4 = date(2024, 5, 2), date(2024, 5, 3), date(2024, 5, 4)
DAILY = "daily.energy.active.forward"
ARCHIVE = Archive([*(ArchiveEntry(T, pn, f"{pn:012d}") for pn in range(1, 6)), ArchiveEntry(T2, 1, "000000000101")])

#: a terminal listener on a free loopback port with its registry and metrics
harness = test_terminal_server.harness


def value(pn: int, td_d: date) -> Decimal:
    return Decimal(f"{pn}{td_d.day:02d}.1234")


class Concentrator:
    """AFN0D F161: values for points 1–3, EE for point 4, nothing for point 5; every request for Td_d 1 May is
    denied."""

    def __init__(self, terminal: ScriptedTerminal) -> None:
        self.terminal = terminal
        self.asked: list[tuple[date, list[int]]] = []

    async def serve(self) -> None:
        while True:
            request = await self.terminal.frames.get()
            units = decode_units(request.afn, request.data, Dir.DOWN)
            td_d: date = units[0].value["td_d"]  # type: ignore[index]
            self.asked.append((td_d, [u.pn for u in units]))
            if td_d == date(2024, 5, 1):
                self.terminal.send(messages.deny(request))
                continue
            answer = [
                DataUnit(u.pn, 161, Record({"td_d": td_d, "read_time": datetime(2024, 5, 4, 0, 5), "m": 1,
                                             "values": [value(u.pn, td_d) if u.pn < 4 else None] * 2}))
                for u in units
                if u.pn < 5
            ]  # fmt: skip
            self.terminal.send(messages.response(request, answer))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TZ)


async def _backfill(
    harness: Harness, store: Backend, config: BackfillConfig
) -> tuple[BackfillResult, Concentrator, Backfill]:
    await store.store.write(
        [reading(1, register=DAILY, ts=_midnight(d)) for d in (MAY2, MAY3, MAY4)]
        + [reading(2, register=DAILY, ts=_midnight(d)) for d in (MAY3, MAY4)]
    )
    backfill = Backfill(
        config,
        ARCHIVE,
        store.store,
        harness.registry,
        submit=store.store.write,
        zone=TZ,
        metrics=harness.metrics,
        failures=FailureLog(),
        now=lambda: NOW,
    )
    async with logged_in(harness, A) as (terminal, _):
        concentrator = Concentrator(terminal)
        async with serving(concentrator.serve()):
            result = await backfill.run()
    return result, concentrator, backfill


async def test_missing_days_are_backfilled_and_the_success_rate_says_why(harness: Harness, migrated: Backend) -> None:
    result, concentrator, backfill = await _backfill(harness, migrated, BackfillConfig(points_per_request=2))
    assert result.missing == 1 + 3 * 3 + 3  # meter 2 on 2 May, meters 3–5 every day, the offline terminal's
    # newest day first, days in turn, 2 points per request, Td_d = freeze date − 1
    assert concentrator.asked == [
        (date(2024, 5, 3), [3, 4]),
        (date(2024, 5, 2), [3, 4]),
        (date(2024, 5, 1), [2, 3]),
        (date(2024, 5, 3), [5]),
        (date(2024, 5, 2), [5]),
        (date(2024, 5, 1), [4, 5]),
    ]
    assert result.filled == {("000000000003", MAY4), ("000000000003", MAY3)}
    assert result.failed == {"meter_not_answering": 4, "denied": 4, "terminal_offline": 3}
    days = await migrated.store.frozen_days(MAY2, date(2024, 5, 5))
    assert days[("000000000003", MAY3)] is False  # backfilled, not first pass
    assert days[("000000000001", MAY3)] is True
    stored = migrated.plain(
        "SELECT CAST(value AS TEXT), quality, source FROM frozen_readings"
        " WHERE meter = '000000000003' AND tariff = 0 ORDER BY ts"
    )
    assert stored == [
        ("302.1234", "backfilled", "gdw376.1 AFN0D F161"),
        ("303.1234", "backfilled", "gdw376.1 AFN0D F161"),
    ]
    assert harness.sample("headend_backfill_requests_total", result="denied") == 2

    success = SuccessRate(
        ARCHIVE,
        migrated.store,
        metrics=harness.metrics,
        failures=backfill.failures,
        online=lambda: {T},
        now=lambda: NOW,
    )
    rows, missing = await success.update(MAY3)
    assert [(r.terminal, r.expected, r.complete_first_pass, r.complete) for r in rows] == [
        ("", 6, 2, 3),
        (T, 5, 2, 3),
        (T2, 1, 0, 0),
    ]
    assert [(m.terminal, m.pn, m.meter, m.reason) for m in missing] == [
        (T, 4, "000000000004", "meter_not_answering"),
        (T, 5, "000000000005", "meter_not_answering"),
        (T2, 1, "000000000101", "terminal_offline"),
    ]
    assert harness.sample("headend_collection_success_ratio", **{"pass": "first"}) == 2 / 6
    assert harness.sample("headend_collection_success_ratio", **{"pass": "final"}) == 3 / 6
    stored_rows, stored_missing = await migrated.store.load_success(MAY3, terminal=T2)
    assert [(r.terminal, r.complete) for r in stored_rows] == [("", 3), (T2, 0)]
    assert stored_missing == [MissingMeter(MAY3, T2, 1, "000000000101", "terminal_offline", "not logged in")]
    _, denied = await success.update(MAY2)
    assert {(m.pn, m.reason) for m in denied if m.terminal == T} == {(p, "denied") for p in (2, 3, 4, 5)}


async def test_effort_per_terminal_is_bounded(harness: Harness, migrated: Backend) -> None:
    result, concentrator, _ = await _backfill(
        harness, migrated, BackfillConfig(points_per_request=2, max_requests_per_terminal=2)
    )
    assert result.requests == len(concentrator.asked) == 2
    assert concentrator.asked == [(date(2024, 5, 3), [3, 4]), (date(2024, 5, 2), [3, 4])]


def test_failure_log_keeps_the_last_failure_and_forgets_old_days() -> None:
    log = FailureLog(keep_days=3)
    log.record(T, [1, 2], MAY2, Reason.DENIED, "first", NOW)
    log.record(T, [2], MAY2, Reason.DECODE_ERROR, "second", NOW)
    assert [(f.reason, f.detail) for f in (log.get(T, 1, MAY2), log.get(T, 2, MAY2)) if f] == [
        (Reason.DENIED, "first"),
        (Reason.DECODE_ERROR, "second"),
    ]
    log.clear(T, [1], MAY2)
    assert log.get(T, 1, MAY2) is None and len(log) == 1
    log.record(T, [3], date(2024, 5, 5), Reason.TERMINAL_OFFLINE, "", NOW)  # 2 May is within 3 days
    assert len(log) == 2
    log.record(T, [3], date(2024, 5, 6), Reason.TERMINAL_OFFLINE, "", NOW)  # now it is not
    assert log.get(T, 2, MAY2) is None and len(log) == 2


def test_todays_freeze_date_waits_for_the_first_pass_of_each_terminal() -> None:
    """Backfill leaves today's freeze date to a terminal's daily plan until ``after_plan_s`` past its due time
    (00:05 + its spread offset), then takes it; older freeze dates are never held back."""
    plans = PlanConfig(daily_after="00:05", daily_spread_s=3600)
    collection = CollectionConfig(plans=plans)
    clock = [datetime(2024, 5, 4, 0, 0, tzinfo=TZ)]
    backfill = Backfill(
        BackfillConfig(after_plan_s=600), ARCHIVE, None, SessionRegistry(Metrics()),  # type: ignore[arg-type]
        submit=lambda _: asyncio.sleep(0), zone=TZ, metrics=Metrics(), failures=FailureLog(),
        now=lambda: clock[0], collection=collection,
    )  # fmt: skip
    for terminal in (T, T2):
        due = daily_due(plans, terminal, MAY4, TZ) + timedelta(seconds=600)
        clock[0] = due - timedelta(seconds=1)
        assert not backfill.first_pass_over(terminal, MAY4)
        assert backfill.first_pass_over(terminal, MAY3)
        clock[0] = due
        assert backfill.first_pass_over(terminal, MAY4)
    # the two terminals' due times differ by their spread offsets
    assert daily_due(plans, T, MAY4, TZ) != daily_due(plans, T2, MAY4, TZ)
    # long past the due time, a first pass the engine still owes (a login catch-up after a restart) is waited for
    backfill.plan_pending = lambda terminal, day: terminal == T and day == MAY4
    assert not backfill.first_pass_over(T, MAY4) and backfill.first_pass_over(T2, MAY4)
