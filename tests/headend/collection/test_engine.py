"""The collection engine against scripted terminals over real loopback TCP: when it asks (the injected head-end
clock decides), what it asks (AFN0D with Td_d, AFN0E with Pm/Pn), what it makes of the answers, how a silent
terminal is backed off without holding up the others, and how pushed reports are confirmed and ingested."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from headend.channels.tcp_server import TerminalServer
from headend.collection.engine import CollectionEngine
from headend.collection.reports import ReportIngest
from headend.collection.success import FailureLog, Reason
from headend.config import CollectionConfig, PlanConfig, ServerConfig, SessionConfig
from headend.metrics import Metrics
from headend.readings import Reading
from headend.sessions.gdw376_station import SessionRegistry, TerminalSession
from headend.storage.records import Event
from protocols.gdw376 import messages
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Afn, Control, Dir, LinkFrame, Seq, build_frame
from protocols.gdw376.units import DataUnit, decode_units, encode_units
from protocols.gdw376.units.afn0e import EventReport
from protocols.gdw376.units.erc import decode_event
from tests.headend.scripted_terminal import ANSWER_TIMEOUT_S, ScriptedTerminal

ZONE = ZoneInfo("Asia/Shanghai")
T1, T2 = Address("4403", 1), Address("4403", 2)
#: 00:05 + spread 0: every terminal is due at 00:05 local
PLANS = PlanConfig(
    realtime_fns=[], daily_fns=[161], daily_spread_s=0, monthly_fns=[], event_fns=[1], event_interval_s=0
)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    server: TerminalServer
    registry: SessionRegistry
    engine: CollectionEngine
    metrics: Metrics
    clock: Clock
    readings: list[Reading] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    async def online(self, address: Address) -> TerminalSession:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            while (session := self.registry.get(address.a1, address.a2)) is None:
                await asyncio.sleep(0.005)
        return session

    async def settle(self) -> None:
        """Wait for every job the engine started."""
        jobs = [s.job for s in self.engine.states.values() if s.job is not None]
        await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), ANSWER_TIMEOUT_S * 2)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    metrics = Metrics()
    registry = SessionRegistry(metrics)
    server = TerminalServer(
        ServerConfig(host="127.0.0.1", port=0), SessionConfig(response_timeout_s=0.3, retries=0), registry, metrics
    )
    clock = Clock(datetime(2026, 11, 23, 0, 4, tzinfo=ZONE))
    readings: list[Reading] = []
    events: list[Event] = []

    async def sink(batch: Sequence[Reading]) -> None:
        readings.extend(batch)

    async def event_sink(batch: Sequence[Event]) -> int:
        events.extend(batch)
        return len(batch)

    config = CollectionConfig(points="1-2", backoff_base_s=60, backoff_cap_s=600, plans=PLANS)
    reports = ReportIngest(sink, metrics, zone=ZONE, now=clock, event_sink=event_sink)
    engine = CollectionEngine(config, registry, metrics, sink, now=clock, reports=reports)
    server.on_frame.extend((engine.on_frame, reports.on_frame))
    await server.start()
    yield Rig(server, registry, engine, metrics, clock, readings, events)
    await engine.stop()
    await reports.stop()
    await server.stop()


@pytest.fixture
async def terminals(rig: Rig) -> AsyncIterator[tuple[ScriptedTerminal, ScriptedTerminal]]:
    pair = (ScriptedTerminal(T1), ScriptedTerminal(T2))
    for term in pair:
        await term.connect(rig.server.port)
        await term.login()
        await rig.online(term.address)
    yield pair
    for term in pair:
        await term.close()


def body(unit: DataUnit) -> Record:
    assert isinstance(unit.value, Record)
    return unit.value


def f161(pn: int, day: date, total: str) -> DataUnit:
    values = (Decimal(total), Decimal(total), Decimal("0.0000"), Decimal("0.0000"), Decimal("0.0000"))
    read_time = datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(minute=1)
    return DataUnit(pn, 161, Record({"td_d": day, "read_time": read_time, "m": 4, "values": values}))


ERC14 = decode_event(14, bytes.fromhex("0403221126" + "3005221126"))  # 停/上电: 22 Nov 03:04 → 05:30


def event_report(ec1: int, pm: int, pn: int, records: int) -> EventReport:
    return EventReport(ec1, 0, pm, pn, (ERC14,) * records)


async def test_yesterday_is_read_from_the_due_time_and_only_once(
    rig: Rig, terminals: tuple[ScriptedTerminal, ...]
) -> None:
    t1, _ = terminals
    state = rig.engine.states[rig.registry.require("4403", 1)]
    assert rig.engine.due(state, rig.clock.now) == []  # 00:04: not yet
    rig.clock.now = datetime(2026, 11, 23, 0, 5, tzinfo=ZONE)
    rig.engine.tick()
    request = await t1.next_frame()
    assert request.afn == Afn.REQUEST_CLASS2
    asked = decode_units(Afn.REQUEST_CLASS2, request.data, Dir.DOWN)
    assert [(u.pn, u.fn, body(u)["td_d"]) for u in asked] == [
        (1, 161, date(2026, 11, 22)),
        (2, 161, date(2026, 11, 22)),
    ]
    t1.send(messages.response(request, [f161(1, date(2026, 11, 22), "10.5000"), f161(2, date(2026, 11, 22), "7.0000")]))
    request2 = await terminals[1].next_frame()  # T2 asked in the same tick
    terminals[1].send(messages.response(request2, [f161(1, date(2026, 11, 22), "1.0000")]))
    await rig.settle()
    totals = {(r.meter, r.ts, r.value) for r in rig.readings if r.tariff == 0}
    midnight = datetime(2026, 11, 23, tzinfo=ZONE)
    assert totals == {
        ("4403:00001/p1", midnight, Decimal("10.5000")),
        ("4403:00001/p2", midnight, Decimal("7.0000")),
        ("4403:00002/p1", midnight, Decimal("1.0000")),
    }
    assert {r.register for r in rig.readings} == {"daily.energy.active.forward"}
    assert rig.engine.due(state, datetime(2026, 11, 23, 23, 59, tzinfo=ZONE)) == []  # done for today
    assert [what for what, _, _ in rig.engine.due(state, datetime(2026, 11, 24, 0, 6, tzinfo=ZONE))] == ["daily"]


async def test_a_silent_terminal_is_backed_off_and_the_other_is_still_read(
    rig: Rig, terminals: tuple[ScriptedTerminal, ...]
) -> None:
    t1, t2 = terminals
    rig.clock.now = datetime(2026, 11, 23, 1, 0, tzinfo=ZONE)
    rig.engine.tick()
    await t1.next_frame()  # T1 says nothing
    request = await t2.next_frame()
    t2.send(messages.response(request, [f161(1, date(2026, 11, 22), "3.0000")]))
    await rig.settle()
    assert {r.meter for r in rig.readings} == {"4403:00002/p1"}
    silent = rig.engine.states[rig.registry.require("4403", 1)]
    assert silent.backoff.failures == 1 and silent.daily_done is None
    assert (
        rig.metrics.registry.get_sample_value("headend_collection_jobs_total", {"plan": "daily", "result": "timeout"})
        == 1
    )
    rig.engine.tick()  # still backed off: no request
    assert rig.metrics.registry.get_sample_value("headend_terminals_backed_off") == 1
    assert silent.job is not None and silent.job.done()
    rig.clock.now += timedelta(seconds=60)
    rig.engine.tick()
    again = await t1.next_frame()
    assert again.afn == Afn.REQUEST_CLASS2
    t1.send(messages.response(again, [f161(2, date(2026, 11, 22), "4.0000")]))
    await rig.settle()
    assert silent.backoff.failures == 0 and silent.daily_done == date(2026, 11, 22)


async def test_first_pass_failures_are_recorded_with_their_reason(
    rig: Rig, terminals: tuple[ScriptedTerminal, ...]
) -> None:
    rig.engine.failures = FailureLog()
    t1, t2 = terminals
    rig.clock.now = datetime(2026, 11, 23, 1, 0, tzinfo=ZONE)
    rig.engine.tick()
    await t1.next_frame()  # T1 says nothing
    request = await t2.next_frame()
    t2.send(messages.response(request, [f161(1, date(2026, 11, 22), "3.0000")]))  # p1 answered, p2 not
    await rig.settle()
    freeze = date(2026, 11, 23)  # Td_d 22 Nov = the freeze taken at 23 Nov 00:00
    silent = [rig.engine.failures.get("4403:00001", pn, freeze) for pn in (1, 2)]
    assert [f.reason if f else None for f in silent] == [Reason.TERMINAL_NOT_ANSWERING] * 2
    assert rig.engine.failures.get("4403:00002", 1, freeze) is None
    missing = rig.engine.failures.get("4403:00002", 2, freeze)
    assert missing is not None and missing.reason == Reason.METER_NOT_ANSWERING


async def test_a_whole_deny_is_asked_again_point_by_point(rig: Rig, terminals: tuple[ScriptedTerminal, ...]) -> None:
    """A terminal that denies a whole frame (AFN00 F2) because one of its meters has nothing: the engine asks the
    halves again, so the meter that has data is read at the first pass and only the other is recorded denied."""
    rig.engine.failures = FailureLog()
    t1, t2 = terminals
    rig.clock.now = datetime(2026, 11, 23, 1, 0, tzinfo=ZONE)
    rig.engine.tick()
    day = date(2026, 11, 22)
    both = await t1.next_frame()
    assert sorted(u.pn for u in decode_units(both.afn, both.data, Dir.DOWN)) == [1, 2]
    t1.send(messages.deny(both))
    asked: list[list[int]] = []
    for answer in (lambda r: messages.response(r, [f161(1, day, "5.0000")]), messages.deny):
        request = await t1.next_frame()
        asked.append([u.pn for u in decode_units(request.afn, request.data, Dir.DOWN)])
        t1.send(answer(request))
    t2.send(messages.response(await t2.next_frame(), [f161(1, day, "1.0000"), f161(2, day, "2.0000")]))
    await rig.settle()
    assert asked == [[1], [2]]
    assert {(r.terminal, r.pn) for r in rig.readings if r.tariff == 0} == {
        ("4403:00001", 1),
        ("4403:00002", 1),
        ("4403:00002", 2),
    }
    freeze = date(2026, 11, 23)
    assert rig.engine.failures.get("4403:00001", 1, freeze) is None
    denied = rig.engine.failures.get("4403:00001", 2, freeze)
    assert denied is not None and denied.reason == Reason.DENIED
    assert rig.engine.states[rig.registry.require("4403", 1)].daily_done == day


async def test_the_first_pass_is_pending_until_the_plan_read_or_failed_it(
    rig: Rig, terminals: tuple[ScriptedTerminal, ...]
) -> None:
    """What backfill asks before it takes today's freeze date (23 Nov, Td_d 22 Nov) for a terminal."""
    t1, t2 = terminals
    freeze, older = date(2026, 11, 23), date(2026, 11, 22)
    pending = rig.engine.first_pass_pending
    assert pending("4403:00001", freeze) and pending("4403:00002", freeze)  # before the due time
    assert not pending("4403:00001", older) and not pending("4403:00099", freeze)  # not the plan's / offline
    rig.clock.now = datetime(2026, 11, 23, 1, 0, tzinfo=ZONE)
    rig.engine.tick()
    await t1.next_frame()  # T1 says nothing: the plan failed, backfill may try
    request = await t2.next_frame()
    t2.send(messages.response(request, [f161(pn, older, "3.0000") for pn in (1, 2)]))
    await rig.settle()
    assert not pending("4403:00001", freeze) and not pending("4403:00002", freeze)


async def test_acd_with_a_new_event_counter_reads_events(rig: Rig, terminals: tuple[ScriptedTerminal, ...]) -> None:
    t1, _ = terminals
    rig.clock.now = datetime(2026, 11, 23, 1, 0, tzinfo=ZONE)
    rig.engine.tick()  # the daily plan first; T1's answer carries ACD=1 with EC1 = 2 (T2's none)
    for term, acd in zip(terminals, ((2, 0), None), strict=True):
        request = await term.next_frame()
        term.send(messages.response(request, [f161(1, date(2026, 11, 22), "1.0000")], acd_ec=acd))
    await rig.settle()
    state = rig.engine.states[rig.registry.require("4403", 1)]
    assert state.events_wanted
    rig.engine.tick()
    first = await t1.next_frame()  # pointer unknown: Pm = Pn = 0 to learn the counters
    assert first.afn == Afn.REQUEST_CLASS3
    (unit,) = decode_units(Afn.REQUEST_CLASS3, first.data, Dir.DOWN)
    assert (unit.fn, body(unit)["pointer_pm"], body(unit)["pointer_pn"]) == (1, 0, 0)
    t1.send(messages.response(first, [DataUnit(0, 1, event_report(2, 0, 0, 0))]))
    second = await t1.next_frame()
    (unit,) = decode_units(Afn.REQUEST_CLASS3, second.data, Dir.DOWN)
    assert (body(unit)["pointer_pm"], body(unit)["pointer_pn"]) == (0, 2)
    t1.send(messages.response(second, [DataUnit(0, 1, event_report(2, 0, 2, 2))]))
    await rig.settle()
    assert [(e.code, e.terminal, e.ts) for e in rig.events] == [
        ("ERC14", "4403:00001", datetime(2026, 11, 22, 3, 4, tzinfo=ZONE))
    ] * 2
    after = rig.engine.states[rig.registry.require("4403", 1)]
    assert not after.events_wanted and after.pointers == {1: 2}


async def test_pushed_reports_are_confirmed_and_ingested(rig: Rig, terminals: tuple[ScriptedTerminal, ...]) -> None:
    t1, _ = terminals
    for afn, unit in (
        (Afn.REQUEST_CLASS3, DataUnit(0, 1, event_report(1, 0, 1, 1))),
        (Afn.REQUEST_CLASS2, f161(2, date(2026, 11, 22), "9.0000")),
    ):
        t1.pseq = (t1.pseq + 1) & 0x0F
        push = build_frame(
            Control(Dir.UP, True, False, False, 4),
            T1,
            afn,
            Seq(False, True, True, True, t1.pseq),
            encode_units(afn, [unit], Dir.UP),
        )
        t1.send(push)
        confirm: LinkFrame = await t1.next_frame()
        assert (confirm.afn, confirm.seq.seq) == (Afn.CONFIRM_DENY, t1.pseq)
    async with asyncio.timeout(ANSWER_TIMEOUT_S):
        while len(rig.events) < 1 or len(rig.readings) < 5:
            await asyncio.sleep(0.005)
    assert [(e.code, e.source) for e in rig.events] == [("ERC14", "gdw376.1 AFN0E F1")]
    assert {(r.meter, r.register, r.ts) for r in rig.readings} == {
        ("4403:00001/p2", "daily.energy.active.forward", datetime(2026, 11, 23, tzinfo=ZONE))
    }
