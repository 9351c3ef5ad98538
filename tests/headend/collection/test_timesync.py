"""Terminal time sync (headend/collection/timesync.py) over loopback TCP against a scripted terminal with a drifting
clock: read (AFN0C F2), set (AFN05 F31 with PW) beyond the threshold, never from an unsynchronised host, every read
and setting recorded in the link history (real SQLite store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from headend.collection.ops import CollectionOps
from headend.collection.timesync import NOT_SYNCHRONISED, ClockCheck, TimeSync, ntp_checker
from headend.config import Config
from headend.config_collection import TimeSyncConfig
from headend.storage.sqlite_store import SqliteStore
from protocols.gdw376 import messages
from protocols.gdw376.auth import FixedAuthenticator
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Afn, Dir
from protocols.gdw376.units import DataUnit, TerminalClock, decode_units
from tests.headend import test_terminal_server
from tests.headend.collection.logged_in import logged_in, serving
from tests.headend.scripted_terminal import ANSWER_TIMEOUT_S, ScriptedTerminal
from tests.headend.storage.helpers import TZ
from tests.headend.test_terminal_server import Harness

A = Address("4403", 12)
PW = bytes(range(16, 32))
HOST = datetime(2024, 5, 2, 10, 0, 0, tzinfo=TZ)

#: a terminal listener on a free loopback port with its registry and metrics
harness = test_terminal_server.harness


class DriftingTerminal:
    """Answers AFN0C F2 with host time + ``offset``; AFN05 F31 (PW checked) sets the clock and confirms."""

    def __init__(self, terminal: ScriptedTerminal, offset: timedelta) -> None:
        self.terminal = terminal
        self.offset = offset
        self.set_to: list[datetime] = []

    async def serve(self) -> None:
        while True:
            request = await self.terminal.frames.get()
            if request.afn == Afn.CONTROL:
                assert request.aux.pw == PW
                (unit,) = decode_units(request.afn, request.data, Dir.DOWN)
                assert isinstance(unit.value, Record) and unit.fn == 31
                clock: datetime = unit.value["clock"]
                self.set_to.append(clock)
                self.offset = clock.replace(tzinfo=TZ) - HOST
                self.terminal.send(messages.confirm(request))
            else:
                clock = (HOST + self.offset).replace(tzinfo=None)
                self.terminal.send(messages.response(request, [DataUnit(0, 2, TerminalClock(clock))]))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    await s.open()
    await s.migrate()
    yield s
    await s.close()


async def _run(
    harness: Harness, store: SqliteStore, offset: timedelta, host_synchronized: Callable[[], bool]
) -> tuple[TimeSync, DriftingTerminal, list[ClockCheck]]:
    sync = TimeSync(
        TimeSyncConfig(threshold_s=30),
        zone=TZ,
        metrics=harness.metrics,
        link_events=store.write_link_events,
        now=lambda: HOST,
        host_synchronized=host_synchronized,
        authenticator=FixedAuthenticator(PW),
    )
    async with logged_in(harness, A) as (terminal, session):
        drifting = DriftingTerminal(terminal, offset)
        async with serving(drifting.serve()):
            checks = await sync.run_round([session])
    return sync, drifting, checks


def _log(store: SqliteStore) -> list[tuple[str, int | None, str]]:
    import sqlite3

    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT event, clock_drift_ms, detail FROM terminal_link_log ORDER BY id").fetchall()
    return [(e, d, x) for e, d, x in rows]


async def test_drift_beyond_threshold_is_set_and_recorded(harness: Harness, store: SqliteStore) -> None:
    sync, drifting, checks = await _run(harness, store, timedelta(seconds=-95), lambda: True)
    assert drifting.set_to == [HOST.replace(tzinfo=None)]
    (check,) = checks
    assert check == ClockCheck(A.terminal, timedelta(seconds=-95), set=True, drift_after=timedelta(0))
    assert _log(store) == [
        ("clock_read", -95000, "{}"),
        ("clock_set", -95000, '{"drift_after_ms":0,"set_to":"2024-05-02T10:00:00"}'),
    ]
    assert sync.alarm == ""
    assert harness.sample("headend_clock_syncs_total", target="terminal", result="ok") == 1
    assert harness.sample("headend_clock_drift_max_seconds", target="terminal") == 95


async def test_drift_within_threshold_is_only_recorded(harness: Harness, store: SqliteStore) -> None:
    _, drifting, _ = await _run(harness, store, timedelta(seconds=20), lambda: True)
    assert drifting.set_to == []
    assert _log(store) == [("clock_read", 20000, "{}")]


async def test_unsynchronised_host_never_sets_and_raises_the_alarm(harness: Harness, store: SqliteStore) -> None:
    sync, drifting, checks = await _run(harness, store, timedelta(hours=2), lambda: False)
    assert drifting.set_to == []
    assert [c.refused for c in checks] == [NOT_SYNCHRONISED]
    assert sync.alarm == NOT_SYNCHRONISED
    assert harness.sample("headend_host_ntp_synchronized") == 0
    assert harness.sample("headend_clock_syncs_total", target="terminal", result="refused") == 1
    assert _log(store) == [("clock_read", 7_200_000, "{}")]


@pytest.mark.parametrize(("answer", "expected"), [("yes", True), ("no", False)])
def test_timedatectl_checker_reads_ntp_synchronized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, expected: bool
) -> None:
    fake = tmp_path / "timedatectl"
    fake.write_text(f'#!/bin/sh\n[ "$*" = "show -p NTPSynchronized --value" ] && echo {answer}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ntp_checker("timedatectl")() is expected
    assert ntp_checker("assume")() is True


def test_timedatectl_missing_counts_as_unsynchronised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ntp_checker("timedatectl")() is False


async def test_heartbeat_clock_is_judged_once_per_interval(harness: Harness, store: SqliteStore) -> None:
    config = Config(timesync=TimeSyncConfig(threshold_s=30))
    ops = CollectionOps(
        config, harness.registry, store, harness.metrics, store.write, now=lambda: HOST, host_synchronized=lambda: False
    )
    harness.server.on_frame.append(ops.on_frame)
    async with logged_in(harness, A) as (terminal, _):
        for _ in range(2):  # the second heartbeat is within interval_s: not judged again
            terminal.link_check(3, clock=(HOST + timedelta(minutes=5)).replace(tzinfo=None))
            await terminal.next_frame()  # confirmed: on_frame has run
        async with asyncio.timeout(ANSWER_TIMEOUT_S):  # the judgement started by the first heartbeat
            while not ops.timesync.alarm:
                await asyncio.sleep(0.01)
        await ops.stop()
    assert _log(store) == [("clock_read", 300_000, "{}")]
    assert ops.timesync.alarm == NOT_SYNCHRONISED
    assert harness.sample("headend_clock_syncs_total", target="terminal", result="refused") == 1
