"""SimTerminal and Fleet behaviour over loopback TCP with a test-driven clock: pushes (CON=1) resent until confirmed,
offline windows (disconnect, come back, ERC14), the fleet's simulated clock and its served_daily truth."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

from concentrator_sim.fleet import Fleet, FleetConfig, SimClock, choose_scenarios
from concentrator_sim.history import Scenario, UnknownMeter
from concentrator_sim.model import TerminalModel
from concentrator_sim.terminal import LinkTiming, SimTerminal
from protocols.gdw376 import messages
from protocols.gdw376.link import Address, Afn, Dir, LinkFrame
from protocols.gdw376.units import decode_units
from protocols.gdw376.units.afn0d import DailyTag
from protocols.gdw376.units.afn0e import EventReport
from protocols.gdw376.units.afn02 import F2_LOGOUT
from tests.concentrator_sim.master_stub import WAIT_S, Connection, MasterStub, link_fn

ADDRESS = Address("4403", 31)
SEED = 3
FAST = LinkTiming(
    heartbeat_s=0.05,
    response_timeout_s=0.1,
    retries=3,
    idle_s=0.1,
    connect_timeout_s=1.0,
    backoff_base_s=0.01,
    backoff_cap_s=0.05,
    logout_timeout_s=1.0,
    tick_s=0.01,
)
# 23:59 local (Asia/Shanghai) on 10 June 2025
BEFORE_MIDNIGHT = datetime(2025, 6, 10, 15, 59, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_S):
            while not predicate():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


@contextlib.asynccontextmanager
async def running(master: MasterStub, scenario: Scenario, clock: Clock) -> AsyncIterator[SimTerminal]:
    model = TerminalModel(ADDRESS, range(1, 4), seed=SEED, scenario=scenario)
    terminal = SimTerminal(model, "127.0.0.1", master.port, timing=FAST, rng=random.Random(1), clock=clock)
    terminal.start()
    try:
        yield terminal
    finally:
        await asyncio.wait_for(terminal.stop(), WAIT_S)


async def next_frame(conn: Connection) -> LinkFrame:
    return await asyncio.wait_for(conn.frames.get(), WAIT_S)


async def test_timed_report_is_resent_with_the_same_pseq_until_confirmed(master: MasterStub) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    async with running(master, Scenario(timed_report=True), clock) as terminal:
        conn = await master.next_login()
        await eventually(lambda: terminal.model._last_day is not None, "the terminal looked at its clock")
        assert conn.frames.empty()
        clock.now += timedelta(minutes=2)  # 00:01 on 11 June
        first = await next_frame(conn)
        again = await next_frame(conn)  # not confirmed: the same frame again
        assert (first.control.to_byte(), first.seq.con, first.afn) == (0xC4, True, Afn.REQUEST_CLASS2)
        assert again.raw == first.raw
        units = decode_units(first.afn, first.data, Dir.UP)
        assert [(u.pn, u.fn, u.value["td_d"]) for u in units] == [(pn, 161, date(2025, 6, 10)) for pn in (1, 2, 3)]  # type: ignore[index]
        conn.send(messages.confirm(again))
        await eventually(lambda: terminal.model.counters.pushes_confirmed == 1, "the push is confirmed")
        assert not terminal.model.outbox
        assert terminal.counters.retransmits >= 1


async def test_offline_window_disconnects_then_returns_with_erc14(master: MasterStub) -> None:
    start = BEFORE_MIDNIGHT + timedelta(hours=1)
    window = (start, start + timedelta(hours=24))
    clock = Clock(BEFORE_MIDNIGHT)
    scenario = Scenario(offline=(window,), report_events=True, history_start=BEFORE_MIDNIGHT - timedelta(days=3))
    async with running(master, scenario, clock) as terminal:
        conn = await master.next_login()
        clock.now = start + timedelta(minutes=5)
        await asyncio.wait_for(conn.closed.wait(), WAIT_S)
        assert F2_LOGOUT not in [link_fn(c) for c in conn.received_link_checks()]  # no logout: a power cut
        await eventually(lambda: terminal.counters.offline_windows == 1, "the terminal is offline")
        assert master.logins.empty()
        clock.now = window[1] + timedelta(minutes=1)
        back = await master.next_login()
        push = await next_frame(back)
        assert (push.control.to_byte(), push.seq.con, push.afn) == (0xC4, True, Afn.REQUEST_CLASS3)
        (unit,) = decode_units(push.afn, push.data, Dir.UP)
        assert isinstance(unit.value, EventReport)
        (record,) = unit.value.records
        assert record.erc == 14
        assert record.value is not None
        assert (record.value["power_off"], record.value["power_on"]) == (
            datetime(2025, 6, 11, 0, 59),
            datetime(2025, 6, 12, 0, 59),
        )
        back.send(messages.confirm(push))
        await eventually(lambda: not terminal.model.events.pending, "ACD cleared by the confirm")
        # the day it was away is still served (the meters froze it)
        raw = messages.history_request(ADDRESS, [(1, 161, DailyTag(date(2025, 6, 11)))], 5)
        back.send(raw)
        answer = await next_frame(back)
        assert answer.afn == Afn.REQUEST_CLASS2
        assert (1, date(2025, 6, 11)) in terminal.model.served_daily


def test_sim_clock_runs_from_as_of_at_speed() -> None:
    start = datetime(2025, 6, 10, 23, 0, tzinfo=UTC)
    clock = SimClock(start, speed=3600)
    first = clock()
    clock.advance(timedelta(days=1))
    assert start <= first < start + timedelta(hours=1)
    assert clock() >= first + timedelta(days=1)


def test_fleet_scenarios_from_the_config() -> None:
    config = FleetConfig(
        concentrators=10,
        meters_per_concentrator=4,
        as_of="2025-06-10T02:00:00+08:00",
        history_days=3,
        offline_fraction=0.2,
        offline_after_h=2,
        offline_hours=24,
        lost_fraction=0.1,
        timed_report=True,
        unknown_fraction=0.1,
    )
    assert config.start_time is not None
    scenarios = choose_scenarios(config, config.start_time)
    assert {s.history_start for s in scenarios.values()} == {datetime.fromisoformat("2025-06-07T00:00:00+08:00")}
    offline = [a2 for a2, s in scenarios.items() if s.offline]
    assert len(offline) == 2
    assert scenarios[offline[0]].offline == (
        (datetime.fromisoformat("2025-06-10T04:00+08:00"), datetime.fromisoformat("2025-06-11T04:00+08:00")),
    )
    assert sum(len(s.lost) for s in scenarios.values()) == 4
    assert all(s.timed_report for s in scenarios.values())
    (finder,) = [(a2, s.unknown_meters) for a2, s in scenarios.items() if s.unknown_meters]
    assert finder[1] == (UnknownMeter(datetime.fromisoformat("2025-06-10T04:00+08:00"), f"99{finder[0]:010d}"),)
    delays = {s.report_delay for s in scenarios.values()}
    assert len(delays) == 10
    assert all(timedelta(0) <= d <= timedelta(seconds=config.report_spread_s) for d in delays)


async def test_fleet_served_daily_is_what_the_terminals_sent(master: MasterStub) -> None:
    config = FleetConfig(
        port=master.port,
        concentrators=2,
        meters_per_concentrator=2,
        a1=ADDRESS.a1,
        heartbeat_s=0.05,
        response_timeout_s=0.1,
        backoff_base_s=0.01,
        backoff_cap_s=0.05,
        connect_rate=1000,
        tick_s=0.01,
        as_of="2025-06-10T12:00:00+08:00",
        history_days=2,
    )
    lost = {1: datetime.fromisoformat("2025-06-10T00:00:00+08:00")}  # p1 of A2=2 lost at the start of 10 June
    fleet = Fleet(
        config, scenarios={2: Scenario(history_start=datetime.fromisoformat("2025-06-08T00:00+08:00"), lost=lost)}
    )
    await fleet.start()
    try:
        conns = [await master.next_login(), await master.next_login()]
        for n, conn in enumerate(conns):
            assert conn.address is not None
            items = [
                (pn, 161, DailyTag(day))
                for pn in (1, 2)
                for day in (date(2025, 6, 7), date(2025, 6, 8), date(2025, 6, 9))
            ]
            conn.send(messages.history_request(conn.address, items, n + 1))
            await next_frame(conn)
    finally:
        await fleet.stop()
    served = fleet.served_daily()
    keys = {(t, pn, d.day) for t, pn, d in served}
    # history from 8 June 00:00: the freeze of 7 June (8 June 00:00) is the first; 9 June closes at 10 June 00:00
    assert keys == {
        ("4403:00001", 1, 7), ("4403:00001", 1, 8), ("4403:00001", 1, 9),
        ("4403:00001", 2, 7), ("4403:00001", 2, 8), ("4403:00001", 2, 9),
        ("4403:00002", 1, 7), ("4403:00002", 1, 8),
        ("4403:00002", 2, 7), ("4403:00002", 2, 8), ("4403:00002", 2, 9),
    }  # fmt: skip
    assert fleet.stats()["daily_served"] == len(keys)


def test_drift_fraction_picks_the_drifting_terminals() -> None:
    config = FleetConfig(concentrators=10, clock_drift_s=120, drift_fraction=0.3, drift_per_day_s=2)
    fleet = Fleet(config)
    drifts = [t.model.clock_drift for t in fleet.terminals]
    assert sorted(drifts) == [timedelta(0)] * 7 + [timedelta(seconds=120)] * 3
    assert {t.model.drift_per_day for t in fleet.terminals if t.model.clock_drift} == {timedelta(seconds=2)}


async def test_a_denied_push_stays_queued_and_comes_again_with_a_new_pseq(master: MasterStub) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    async with running(master, Scenario(timed_report=True), clock) as terminal:
        conn = await master.next_login()
        await eventually(lambda: terminal.model._last_day is not None, "the terminal looked at its clock")
        clock.now += timedelta(minutes=2)
        first = await next_frame(conn)
        conn.send(messages.deny(first))
        second = await next_frame(conn)
        while second.raw == first.raw:  # a resend that crossed the deny on a slow machine
            second = await next_frame(conn)
        assert second.seq.seq != first.seq.seq and second.data == first.data
        assert terminal.model.counters.pushes_confirmed == 0
        conn.send(messages.confirm(second))
        await eventually(lambda: terminal.model.counters.pushes_confirmed == 1, "the push is confirmed")
