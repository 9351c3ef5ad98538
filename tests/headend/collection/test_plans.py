"""Plans: terminal classes, the post-midnight spread and the back-off, as functions of the configuration and
the head-end clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from headend.collection.engine import CollectionEngine, TerminalState
from headend.collection.plans import Backoff, daily_due, plan_for, previous_month, spread_offset, terminal_matches
from headend.config import CollectionConfig, PlanConfig, TerminalClassConfig
from headend.metrics import Metrics
from headend.sessions.gdw376_station import FrameSink, SessionRegistry, TerminalSession
from protocols.gdw376.formats import YearMonth
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("spec", "a1", "a2", "matches"),
    [
        ("4403:*", "4403", 1, True),
        ("4403:*", "4404", 1, False),
        ("4403:1-100", "4403", 100, True),
        ("4403:1-100", "4403", 101, False),
        ("4403:17", "4403", 17, True),
        ("4403:17", "4403", 18, False),
        ("44ab:5", "44AB", 5, True),
    ],
)
def test_terminal_specs(spec: str, a1: str, a2: int, matches: bool) -> None:
    assert terminal_matches(spec, a1, a2) is matches


def test_first_matching_class_wins_else_default_plans() -> None:
    special = TerminalClassConfig(name="load", terminals=["4403:1-9"], daily_fns=[1], event_fns=[1, 2])
    broad = TerminalClassConfig(name="all", terminals=["4403:*"], daily_fns=[161, 162])
    config = CollectionConfig(classes=[special, broad])
    assert plan_for(config, "4403", 5) is config.classes[0]
    assert plan_for(config, "4403", 10) is config.classes[1]
    assert plan_for(config, "4404", 5) is config.plans
    assert config.plans.daily_fns == [161]


def test_bad_terminal_spec_and_time_are_refused() -> None:
    with pytest.raises(ValidationError, match="terminal spec"):
        TerminalClassConfig(name="x", terminals=["4403"])
    with pytest.raises(ValidationError, match="HH:MM"):
        PlanConfig(daily_after="24:00")


def test_daily_due_times_spread_over_the_window() -> None:
    plan = PlanConfig(daily_after="00:05", daily_spread_s=6900)
    day = date(2026, 11, 23)
    start = datetime(2026, 11, 23, 0, 5, tzinfo=ZONE)
    dues = [daily_due(plan, f"4403:{a2:05d}", day, ZONE) for a2 in range(1, 2001)]
    assert all(start <= due < start + timedelta(seconds=6900) for due in dues)
    # spread: every 10-minute slice of the 115-minute window gets terminals; no slice gets more than twice its share
    slices = [sum(1 for d in dues if int((d - start).total_seconds() // 600) == s) for s in range(12)]
    assert all(count > 0 for count in slices)
    assert max(slices[:11]) < 2 * 2000 * 600 / 6900
    # stable per terminal, day after day
    assert daily_due(plan, "4403:00001", day + timedelta(days=1), ZONE) - dues[0] == timedelta(days=1)


def test_no_spread_means_all_at_daily_after() -> None:
    plan = PlanConfig(daily_after="01:30", daily_spread_s=0)
    assert spread_offset("4403:00001", 0) == timedelta(0)
    assert daily_due(plan, "4403:00007", date(2026, 1, 1), ZONE) == datetime(2026, 1, 1, 1, 30, tzinfo=ZONE)


def test_previous_month_wraps_the_year() -> None:
    assert previous_month(date(2026, 1, 1)) == (2025, 12)
    assert previous_month(date(2026, 3, 1)) == (2026, 2)


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    t0 = datetime(2026, 11, 23, 1, 0, tzinfo=ZONE)
    backoff = Backoff(base_s=60, cap_s=300)
    assert backoff.ready(t0)
    delays = [backoff.failed(t0).total_seconds() for _ in range(5)]
    assert delays == [60, 120, 240, 300, 300]
    assert not backoff.ready(t0 + timedelta(seconds=299))
    assert backoff.ready(t0 + timedelta(seconds=300))
    backoff.succeeded()
    assert backoff.ready(t0) and backoff.failures == 0


def _state(plan: PlanConfig) -> tuple[CollectionEngine, TerminalState]:
    metrics = Metrics()
    registry = SessionRegistry(metrics)
    config = CollectionConfig(points="1-20", plans=plan)

    async def sink(readings: object) -> None:
        del readings

    engine = CollectionEngine(config, registry, metrics, sink, now=lambda: datetime.now(ZONE))
    session = TerminalSession(Address("4403", 7), FrameSink(), msa=1, response_timeout_s=1, retries=0, metrics=metrics)
    registry.add(session)
    return engine, engine.states[session]


async def test_on_the_first_the_monthly_plan_and_curves_come_with_the_daily() -> None:
    plan = PlanConfig(daily_spread_s=0, curve_fns=[81, 101], curve_minutes=30, monthly_fns=[177], event_fns=[])
    engine, state = _state(plan)
    groups = engine.due(state, datetime(2026, 12, 1, 0, 5, tzinfo=ZONE))
    assert [(what, marker) for what, marker, _ in groups] == [("daily", date(2026, 11, 30)), ("monthly", (2026, 11))]
    daily_steps = groups[0][2]
    # F161 for 20 points: 16 + 4 per request; curves one point per request, both Fn, 48 half-hours of the 30th
    assert [(s.plan, len(s.units)) for s in daily_steps] == [("daily", 16), ("daily", 4)] + [("curve", 2)] * 20
    curve = daily_steps[2].units[0].value
    assert isinstance(curve, Record)
    assert (curve["start"], curve["density"], curve["points"]) == (datetime(2026, 11, 30, 0, 0), 2, 48)
    assert {u.value["td_m"] for s in groups[1][2] for u in s.units if isinstance(u.value, Record)} == {
        YearMonth(2026, 11)
    }
    assert [what for what, _, _ in engine.due(state, datetime(2026, 12, 2, 0, 5, tzinfo=ZONE))] == ["daily"]


async def test_events_are_due_every_period() -> None:
    engine, state = _state(PlanConfig(daily_fns=[], event_fns=[1, 2], event_interval_s=600))
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=ZONE)
    assert [what for what, _, _ in engine.due(state, t0)] == ["events"]
    state.events_at = t0
    assert engine.due(state, t0 + timedelta(seconds=599)) == []
    assert [what for what, _, _ in engine.due(state, t0 + timedelta(seconds=600))] == ["events"]


async def test_an_idle_terminal_sleeps_until_its_next_due_time() -> None:
    engine, state = _state(PlanConfig(daily_spread_s=0, event_fns=[1], event_interval_s=3600))
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)
    assert engine.next_due(state, t0) == datetime(2026, 11, 24, 0, 5, tzinfo=ZONE)  # today's 00:05 is past
    assert engine.next_due(state, datetime(2026, 11, 23, 0, 1, tzinfo=ZONE)) == datetime(
        2026, 11, 23, 0, 5, tzinfo=ZONE
    )
    state.events_at = t0
    assert engine.next_due(state, t0) == t0 + timedelta(hours=1)
