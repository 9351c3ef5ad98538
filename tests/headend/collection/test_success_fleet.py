"""Archive, time sync, backfill and success rate together (headend/collection/ops.py) against the concentrator
simulator over loopback TCP, on a real SQLite store: at login the empty archives are repaired and drifted clocks
set; a backfill run fills every freeze date from the simulator's history; what ends up in the database is what
the simulator served, under the archive's meter addresses; the success rate counts the offline terminal's meter
as missing, with the reason."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from concentrator_sim.fleet import Fleet, FleetConfig, SimClock
from headend.collection.ops import CollectionOps
from headend.config import Config
from headend.config_collection import (
    ArchiveConfig,
    ArchiveMeterConfig,
    ArchiveTerminalConfig,
    BackfillConfig,
    TimeSyncConfig,
)
from headend.readings import Quality
from headend.storage.sqlite_store import SqliteStore
from tests.headend import test_terminal_server
from tests.headend.storage.helpers import TZ
from tests.headend.test_terminal_server import Harness

START = datetime(2024, 5, 4, 10, 0, tzinfo=TZ)
ONLINE, OFFLINE = "4403:00001", "4403:00009"
FREEZE_DATES = [date(2024, 5, 2), date(2024, 5, 3), date(2024, 5, 4)]
WAIT_S = 20.0

#: a terminal listener on a free loopback port with its registry and metrics
harness = test_terminal_server.harness


def address(pn: int) -> str:
    return f"{pn:012d}"


CONFIG = Config(
    archive=ArchiveConfig(
        terminals=[
            ArchiveTerminalConfig(
                terminal=ONLINE, meters=[ArchiveMeterConfig(pn=pn, address=address(pn)) for pn in (1, 2, 3)]
            ),
            ArchiveTerminalConfig(terminal=OFFLINE, meters=[ArchiveMeterConfig(pn=1, address=address(91))]),
        ]
    ),
    timesync=TimeSyncConfig(threshold_s=30),
    backfill=BackfillConfig(days=3, points_per_request=2),
)


async def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_login_checks_backfill_and_success_rate(harness: Harness, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    clock = SimClock(START)
    fleet = Fleet(
        FleetConfig(
            port=harness.server.port, concentrators=2, meters_per_concentrator=4, clock_drift_s=120, history_days=5
        ),
        clock=clock,
    )
    ops = CollectionOps(
        CONFIG, harness.registry, store, harness.metrics, store.write, now=clock, host_synchronized=lambda: True
    )
    ops.next_timesync = ops.next_backfill = START + timedelta(days=1)  # rounds run by the test, not the loop
    ops.start()
    await fleet.start()
    try:
        sim = fleet.terminals[0].model
        await until(lambda: len(sim.archive) == 3 and sim.time_syncs, "archive repair and time sync at login")
        result = await ops.backfill_round()
    finally:
        await ops.stop()
        await fleet.stop()
    try:
        # archive: pushed with our addresses; clock: 120 s ahead, set, ~0 after
        assert sorted((i, r["address"]) for i, r in sim.archive.items()) == [(pn, address(pn)) for pn in (1, 2, 3)]
        (before, after), *_ = sim.time_syncs
        assert before == timedelta(seconds=120) and abs(after) <= timedelta(seconds=2)
        # backfill: every archived meter of the online terminal, every freeze date; the offline one fails
        assert result.filled == {(address(pn), day) for pn in (1, 2, 3) for day in FREEZE_DATES}
        assert result.failed == {"terminal_offline": 3}
        served = fleet.served_daily()
        days = await store.frozen_days(FREEZE_DATES[0], FREEZE_DATES[-1] + timedelta(days=1))
        assert set(days) == result.filled and not any(days.values())  # backfilled, none first pass
        rows = await _daily_totals(store)
        assert rows == {
            (address(pn), day): served[(ONLINE, pn, day - timedelta(days=1))]
            for pn in (1, 2, 3)
            for day in FREEZE_DATES
        }
        # success rate of each freeze date: 3 of 4 archived meters, none at the first pass
        for day in FREEZE_DATES:
            success, missing = await store.load_success(day)
            assert [(r.terminal, r.expected, r.complete_first_pass, r.complete) for r in success] == [
                ("", 4, 0, 3),
                (ONLINE, 3, 0, 3),
                (OFFLINE, 1, 0, 0),
            ]
            assert [(m.terminal, m.meter, m.reason) for m in missing] == [(OFFLINE, address(91), "terminal_offline")]
        assert harness.sample("headend_collection_success_ratio", **{"pass": "final"}) == 0.75
    finally:
        await store.close()


async def _daily_totals(store: SqliteStore) -> dict[tuple[str, date], Decimal]:
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute(
            "SELECT meter, substr(ts, 1, 10), value, quality FROM frozen_readings"
            " WHERE register = 'daily.energy.active.forward' AND tariff = 0"
        ).fetchall()
    assert {q for *_, q in rows} == {Quality.BACKFILLED.value}
    return {(m, date.fromisoformat(d)): Decimal(v) for m, d, v, _ in rows}


async def test_rounds_follow_the_head_end_clock(harness: Harness, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    now = [START]
    ops = CollectionOps(
        CONFIG,
        harness.registry,
        store,
        harness.metrics,
        store.write,
        now=lambda: now[0],
        host_synchronized=lambda: True,
    )
    try:
        await ops.load_archive()
        await ops.tick()
        first = ops.last_backfill
        assert first is not None and first.failed == {"terminal_offline": 12}  # nobody online
        now[0] = START + timedelta(seconds=CONFIG.backfill.interval_s - 1)
        await ops.tick()
        assert ops.last_backfill is first
        now[0] = START + timedelta(seconds=CONFIG.backfill.interval_s)
        await ops.tick()
        assert ops.last_backfill is not first
        rows, missing = await store.load_success(FREEZE_DATES[0])
        assert [(r.terminal, r.expected, r.complete) for r in rows] == [("", 4, 0), (ONLINE, 3, 0), (OFFLINE, 1, 0)]
        assert {m.reason for m in missing} == {"terminal_offline"}
        stored = await store.load_archive()
        assert sorted(m.meter for m in stored.meters) == [address(pn) for pn in (1, 2, 3, 91)]
    finally:
        await store.close()
