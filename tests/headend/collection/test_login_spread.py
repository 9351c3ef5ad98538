"""A terminal that logs in after the daily due time (daemon restart, back from an outage) catches up on yesterday,
spread by its per-terminal offset rather than all terminals at the same instant."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from headend.collection.engine import CollectionEngine
from headend.collection.plans import spread_offset
from headend.config import CollectionConfig, PlanConfig
from headend.metrics import Metrics
from headend.sessions.gdw376_station import FrameSink, SessionRegistry, TerminalSession
from protocols.gdw376.link import Address

ZONE = ZoneInfo("Asia/Shanghai")
SPREAD_S = 6900.0
PLANS = PlanConfig(realtime_fns=[], daily_fns=[161], daily_spread_s=SPREAD_S, monthly_fns=[], event_fns=[])


def engine_at(clock: list[datetime]) -> CollectionEngine:
    async def sink(readings: object) -> None:
        del readings

    metrics = Metrics()
    config = CollectionConfig(points="1-2", plans=PLANS)
    return CollectionEngine(config, SessionRegistry(metrics), metrics, sink, now=lambda: clock[0])


def session(a2: int) -> TerminalSession:
    """A real session object; nothing is sent in these tests (scheduling decisions only)."""
    return TerminalSession(Address("4403", a2), FrameSink(), msa=1, response_timeout_s=1, retries=0, metrics=Metrics())


def test_login_after_the_due_time_waits_for_its_offset_then_is_due() -> None:
    clock = [datetime(2026, 11, 23, 15, 0, tzinfo=ZONE)]  # long after 00:05 + spread
    engine = engine_at(clock)
    terminals = [session(a2) for a2 in range(1, 41)]
    for term in terminals:
        engine._online(term)  # type: ignore[arg-type]
    offsets = {term.terminal: spread_offset(term.terminal, SPREAD_S) for term in terminals}
    waits = {s.session.terminal: s.idle_until - clock[0] for s in engine.states.values()}  # type: ignore[operator]
    assert waits == offsets
    assert len(set(waits.values())) == len(terminals)  # 40 terminals, 40 different moments
    assert max(waits.values()) <= timedelta(seconds=SPREAD_S)
    assert min(waits.values()) > timedelta(0)
    engine.tick()  # nothing is asked at the login instant
    assert all(state.job is None for state in engine.states.values())
    for state in engine.states.values():
        assert engine.due(state, clock[0])  # what is due stays due: only *when* it is asked is spread
        assert (state.idle_until is not None and state.idle_until > clock[0]) or offsets[
            state.session.terminal
        ] == timedelta(0)


def test_login_before_the_due_time_is_not_delayed() -> None:
    clock = [datetime(2026, 11, 23, 0, 1, tzinfo=ZONE)]  # before 00:05
    engine = engine_at(clock)
    engine._online(session(7))  # type: ignore[arg-type]
    (state,) = engine.states.values()
    assert state.idle_until is None
