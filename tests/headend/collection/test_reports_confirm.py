"""Pushed reports (主动上报, Q/GDW 376.1-2009 §4.3.4.5 SEQ CON, §5.1.3.15) are confirmed (AFN00 F1) only once
what they carry is durable: with :meth:`ReportIngest.attach`, the confirm of an AFN0E event report follows the
event sink's return, a report the sink could not keep is not confirmed (the terminal sends it again), and an
undecodable report is confirmed at once. Also the daemon's path end to end: an event pushed while the database
is down is confirmed after it is in the spool, and reaches the store once the writer runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from headend.channels.tcp_server import TerminalServer
from headend.collection.reports import EventSink, ReportIngest
from headend.config import ServerConfig, SessionConfig
from headend.ingest import Ingest
from headend.metrics import Metrics
from headend.readings import Reading
from headend.sessions.gdw376_station import SessionRegistry
from headend.storage.errors import SpoolFull
from headend.storage.records import Event
from headend.storage.spool import Spool
from headend.storage.sqlite_store import SqliteStore
from headend.storage.writer import SpoolWriter
from protocols.gdw376.link import Address, Afn, Control, Dir, LinkFrame, Seq, build_frame
from protocols.gdw376.units import DataUnit, encode_units
from protocols.gdw376.units.afn0e import EventReport
from protocols.gdw376.units.erc import decode_event
from tests.headend.scripted_terminal import ANSWER_TIMEOUT_S, ScriptedTerminal

ZONE = ZoneInfo("Asia/Shanghai")
T1 = Address("4403", 1)
NOW = datetime(2026, 11, 23, 0, 4, tzinfo=ZONE)
ERC14 = decode_event(14, bytes.fromhex("0403221126" + "3005221126"))  # 停/上电: 22 Nov 03:04 → 05:30


@dataclass
class Sink:
    """An event sink the test controls: records what it was given, fails while ``failures`` > 0."""

    failures: int = 0
    kept: list[Event] = field(default_factory=list)
    calls: int = 0
    gate: asyncio.Event | None = None  #: when given, each call waits for it before keeping anything

    async def __call__(self, events: Sequence[Event]) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise SpoolFull(size_bytes=2, max_bytes=1, rejected=len(events))
        self.kept.extend(events)


async def no_readings(_: Sequence[Reading]) -> None:
    raise AssertionError("no readings expected")


@dataclass
class Rig:
    server: TerminalServer
    terminal: ScriptedTerminal


RigFor = Callable[[EventSink], Awaitable[Rig]]


@pytest.fixture
async def rig_for() -> AsyncIterator[RigFor]:
    started: list[tuple[TerminalServer, ReportIngest, ScriptedTerminal]] = []

    async def make(event_sink: EventSink) -> Rig:
        metrics = Metrics()
        registry = SessionRegistry(metrics)
        server = TerminalServer(ServerConfig(host="127.0.0.1", port=0), SessionConfig(), registry, metrics)
        reports = ReportIngest(no_readings, metrics, zone=ZONE, now=lambda: NOW, event_sink=event_sink)
        reports.attach(server)
        await server.start()
        terminal = ScriptedTerminal(T1)
        await terminal.connect(server.port)
        await terminal.login()
        started.append((server, reports, terminal))
        return Rig(server, terminal)

    yield make
    for server, reports, terminal in started:
        await terminal.close()
        await reports.stop()
        await server.stop()


def push(terminal: ScriptedTerminal, data: bytes | None = None) -> int:
    """Send an AFN0E F1 event report with one ERC14 record (CON=1); returns its SEQ."""
    terminal.pseq = (terminal.pseq + 1) & 0x0F
    body = data if data is not None else encode_units(
        Afn.REQUEST_CLASS3, [DataUnit(0, 1, EventReport(1, 0, 0, 1, (ERC14,)))], Dir.UP
    )  # fmt: skip
    terminal.send(
        build_frame(
            Control(Dir.UP, True, False, False, 4),
            T1,
            Afn.REQUEST_CLASS3,
            Seq(False, True, True, True, terminal.pseq),
            body,
        )
    )
    return terminal.pseq


async def confirm_of(terminal: ScriptedTerminal) -> int:
    frame: LinkFrame = await terminal.next_frame()
    assert frame.afn == Afn.CONFIRM_DENY
    return frame.seq.seq


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(ANSWER_TIMEOUT_S):
        while not condition():
            await asyncio.sleep(0.005)


async def test_an_event_report_is_confirmed_after_its_events_are_kept(rig_for: RigFor) -> None:
    sink = Sink(gate=asyncio.Event())
    rig = await rig_for(sink)

    seq = push(rig.terminal)
    await wait_for(lambda: sink.calls == 1)  # the sink holds the events, not kept yet
    heartbeat = rig.terminal.link_check(3)
    # a confirm of the report sent on arrival would come before the heartbeat's (one TCP stream, in order)
    assert await confirm_of(rig.terminal) == heartbeat
    sink.gate.set()  # type: ignore[union-attr]
    assert await confirm_of(rig.terminal) == seq
    assert [e.code for e in sink.kept] == ["ERC14"]


async def test_a_report_that_was_not_kept_is_not_confirmed(rig_for: RigFor) -> None:
    sink = Sink(failures=1)
    rig = await rig_for(sink)

    first = push(rig.terminal)
    await wait_for(lambda: sink.calls == 1)
    again = push(rig.terminal)  # the terminal sends it again (new SEQ as its own retransmission would)

    # had the first been confirmed, that confirm would have been sent before the second push was even made
    assert await confirm_of(rig.terminal) == again != first
    assert [e.code for e in sink.kept] == ["ERC14"]


async def test_an_undecodable_report_is_confirmed_at_once(rig_for: RigFor) -> None:
    sink = Sink()
    rig = await rig_for(sink)

    seq = push(rig.terminal, data=b"\x00\x00\x01\x00\x07")  # F1 body cut short
    assert await confirm_of(rig.terminal) == seq
    assert sink.calls == 0


async def test_a_pushed_event_is_in_the_spool_when_confirmed_and_in_the_store_after(
    rig_for: RigFor, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    ingest = Ingest(spool, Metrics(), on_durable=lambda: None)
    ingest.start()
    rig = await rig_for(lambda events: ingest.submit((), events))
    store = SqliteStore(tmp_path / "store.sqlite3", tz=ZONE)
    try:
        seq = push(rig.terminal)
        assert await confirm_of(rig.terminal) == seq
        assert spool.event_depth() == 1  # durable before the confirm; the store has not seen it (database down)
        push(rig.terminal)  # the same record pushed again (a lost confirm): one row in the end
        await confirm_of(rig.terminal)

        await store.open()
        await store.migrate()
        assert await SpoolWriter(spool, store).drain(30)
        assert (await store.status())["events"] == 1
    finally:
        await ingest.stop()
        await store.close()
        spool.close()
