"""The daemon keeps direct meters' clocks right (headend/collection/meter_clock.py): simulated DL/T 645 meters
(concentrator_sim.meters) with drifting clocks on an RS-485 bus behind a serial device server on loopback TCP, the
head-end's own channel and poll plan (DirectMeters, as the daemon builds them), a real SQLite store for the link
history. The head-end clock and the meters' true time are the same shifted clock, so a test can stand at any hour.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from concentrator_sim.meters.bus import BusMeter, MeterFault, Rs485Bus
from concentrator_sim.meters.model import Dlt645Meter, MeterConfig, TimeSync
from concentrator_sim.meters.profiles import GENERIC_1997
from concentrator_sim.meters.tcp_server import SerialServer
from headend.app import HeadendApp
from headend.channels.direct import DirectMeters
from headend.collection.meter_clock import Outcome, after_midnight_guard, near_midnight
from headend.collection.timesync import NOT_SYNCHRONISED, HostClock
from headend.config import (
    Config,
    DirectConfig,
    DirectMeterConfig,
    MetricsConfig,
    ServerConfig,
    StorageConfig,
    TcpChannelConfig,
)
from headend.config_collection import TimeSyncConfig
from headend.metrics import Metrics
from headend.readings import Reading
from headend.storage.sqlite_store import SqliteStore
from tests.headend.direct.helpers import DEADLINE_S, eventually
from tests.headend.storage.helpers import TZ

BAUD: Literal[9600] = 9600
SILENT = "000000000009"
OLD = "000000000097"  # DL/T 645-1997: C010 + C011
#: meter → how far its clock is ahead of true time
OFFSETS = {"000000000001": 95.0, "000000000002": -40.0, "000000000003": 0.0, OLD: 70.0}
TIMESYNC = TimeSyncConfig(threshold_s=30, interval_s=86400, ntp_check="assume")


class ShiftedClock:
    """Real time moved to ``at`` (aware, in TZ): the head-end's ``now`` and the meters' true time."""

    def __init__(self, at: datetime) -> None:
        self.jump_to(at)

    def jump_to(self, at: datetime) -> None:
        self.shift = at - datetime.now(UTC)

    def __call__(self) -> datetime:
        return (datetime.now(UTC) + self.shift).astimezone(TZ)


@dataclass
class Rig:
    clock: ShiftedClock
    bus: Rs485Bus
    direct: DirectMeters
    metrics: Metrics
    store: SqliteStore
    host: HostClock

    def meter(self, address: str) -> Dlt645Meter:
        return self.bus.meter(address).meter

    def error_s(self, address: str) -> float:
        """How far the simulated meter's clock is off true time now."""
        return self.meter(address).clock.error(self.clock()).total_seconds()

    async def round(self) -> None:
        """One poll round of the channel (its clock check runs in it when due)."""
        await self.direct.plans[0].poll_round()

    def outcome(self) -> Outcome | None:
        """What the channel's last clock check came to."""
        last = self.direct.clock_plans[0].last
        return None if last is None else last.outcome

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def log(self) -> list[tuple[str, str, str, int | None, dict[str, Any]]]:
        with sqlite3.connect(self.store.path) as db:
            rows = db.execute("SELECT terminal, event, peer, clock_drift_ms, detail FROM terminal_link_log ORDER BY id")
            return [(t, e, p, d, json.loads(x)) for t, e, p, d, x in rows]


def sim_meter(address: str, offset_s: float = 0.0, **bus_meter: Any) -> BusMeter:
    extra: dict[str, Any] = {"profile": GENERIC_1997} if address == OLD else {}
    config = MeterConfig(address, tz=TZ, baud=BAUD, clock_offset=timedelta(seconds=offset_s), **extra)
    return BusMeter(Dlt645Meter(config), reply_delay_s=0.05, **bus_meter)


@asynccontextmanager
async def rig(
    tmp_path: Path, at: datetime, offsets: dict[str, float], *, synchronized: bool = True
) -> AsyncIterator[Rig]:
    clock = ShiftedClock(at)
    store = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    metrics = Metrics()
    async with sim_bus(clock, offsets) as (bus, channel):
        direct = DirectMeters(DirectConfig(tcp=[channel]), metrics, _drop, now=clock)
        host = HostClock(lambda: synchronized, metrics)
        direct.start_clock_checks(TIMESYNC, zone=TZ, link_events=store.write_link_events, host=host)
        (bus_channel,) = direct.channels
        bus_channel.start()
        try:
            async with asyncio.timeout(DEADLINE_S):
                await bus_channel.wait_up()
            yield Rig(clock, bus, direct, metrics, store, host)
        finally:
            await direct.stop()
            await store.close()


@asynccontextmanager
async def sim_bus(
    clock: ShiftedClock, offsets: dict[str, float], **channel: Any
) -> AsyncIterator[tuple[Rs485Bus, TcpChannelConfig]]:
    """The simulated meters (and a silent one) behind a serial device server; the channel settings to reach it."""
    meters = [sim_meter(a, o) for a, o in offsets.items()] + [sim_meter(SILENT, fault=MeterFault.SILENT)]
    bus = Rs485Bus(meters, baud=BAUD, clock=clock)
    server = await SerialServer(bus).start()
    try:
        yield bus, TcpChannelConfig(
            name="bus1", host="127.0.0.1", port=server.port, baud=BAUD, reply_delay_s=0.3, retries=1,
            latency_s=0.05, meters=[DirectMeterConfig(address=a) for a in [*offsets, SILENT]], **channel,
        )  # fmt: skip
    finally:
        await server.close()
        bus.close()


async def _drop(readings: Any) -> None:
    assert all(isinstance(r, Reading) for r in readings)


NOON = datetime(2024, 5, 2, 10, 0, 0, tzinfo=TZ)


async def test_drifted_meters_are_corrected_and_every_read_and_sync_recorded(tmp_path: Path) -> None:
    async with rig(tmp_path, NOON, OFFSETS) as r:
        await r.round()
        plan = r.direct.clock_plans[0]
        result = plan.last
        assert result is not None and result.outcome is Outcome.SYNCED
        checks = {c.meter: c for c in result.meters}
        for address, offset in OFFSETS.items():
            before, after = checks[address].drift_before, checks[address].drift_after
            assert before is not None and after is not None, address
            assert abs(before.total_seconds() - offset) <= 2, (address, before)
            assert abs(after.total_seconds()) <= 2, (address, after)
            assert abs(r.error_s(address)) <= 2  # the simulated meter took the broadcast
            assert r.meter(address).last_timesync is TimeSync.ACCEPTED
        assert checks[SILENT].drift_before is None and "MeterIsolated" in checks[SILENT].error  # the round failed it
        log = r.log()
        reads = {t: (p, d, x) for t, e, p, d, x in log if e == "clock_read"}
        sets = {t: (p, d, x) for t, e, p, d, x in log if e == "clock_set"}
        assert set(reads) == {*OFFSETS, SILENT} and set(sets) == set(OFFSETS)
        assert reads[SILENT] == ("bus1", None, {"target": "meter", "error": checks[SILENT].error})
        for address, offset in OFFSETS.items():
            peer, drift_ms, detail = sets[address]
            assert peer == "bus1" and drift_ms is not None and abs(drift_ms / 1000 - offset) <= 2
            assert detail["target"] == "meter" and abs(detail["drift_after_ms"]) <= 2000
            assert datetime.fromisoformat(detail["set_to"]) == result.sent.replace(tzinfo=None)  # type: ignore[union-attr]
            assert reads[address][1] == drift_ms
        assert r.sample("headend_clock_syncs_total", target="meter", result="ok") == 1
        assert r.sample("headend_clock_reads_total", target="meter", result="ok") == 2 * len(OFFSETS)
        assert r.sample("headend_clock_reads_total", target="meter", result="failed") == 1
        assert abs(r.sample("headend_clock_drift_max_seconds", target="meter") - 95) <= 2
        # not due again until [timesync] interval_s has passed: the next round reads energy only
        await r.round()
        assert len(r.log()) == len(log)
        # once a day: a meter drifts again the same day, the check is forced — postponed to tomorrow 00:05
        meter = r.meter("000000000001")
        meter.clock.set(r.clock(), meter.clock.local(r.clock()) + timedelta(seconds=50))
        plan.next_due = None
        await r.round()
        assert r.outcome() is Outcome.ALREADY_TODAY
        assert plan.next_due == datetime(2024, 5, 3, 0, 5, tzinfo=TZ)
        assert r.sample("headend_clock_syncs_total", target="meter", result="postponed") == 1
        assert abs(r.error_s("000000000001") - 50) <= 2


async def test_a_meter_beyond_the_maximum_correction_needs_a_visit_but_does_not_hold_up_its_bus(
    tmp_path: Path,
) -> None:
    """20 min off: flagged for a field visit; the broadcast still corrects its neighbour, and the far meter ignores
    it as DL/T 645-2007 §7.6 has it (the simulated meter enforces ±5 min)."""
    offsets = {"000000000001": 95.0, "000000000002": 20 * 60.0}
    async with rig(tmp_path, NOON, offsets) as r:
        await r.round()
        result = r.direct.clock_plans[0].last
        assert result is not None and result.outcome is Outcome.SYNCED
        assert [c.meter for c in result.meters if c.field_visit] == ["000000000002"]
        assert r.meter("000000000001").last_timesync is TimeSync.ACCEPTED
        assert abs(r.error_s("000000000001")) <= 2
        assert r.meter("000000000002").last_timesync is TimeSync.TOO_LARGE  # the meter's own safeguard
        assert abs(r.error_s("000000000002") - 20 * 60) <= 1
        log = r.log()
        flagged = {(t, e): x.get("field_visit", False) for t, e, _, _, x in log}
        assert flagged == {
            ("000000000001", "clock_read"): False,
            ("000000000002", "clock_read"): True,
            (SILENT, "clock_read"): False,
            ("000000000001", "clock_set"): False,
            ("000000000002", "clock_set"): True,
        }
        assert r.sample("headend_clock_syncs_total", target="meter", result="field_visit") == 1
        assert r.sample("headend_clock_syncs_total", target="meter", result="ok") == 1


async def test_nothing_is_sent_when_every_meter_that_answers_is_beyond_the_maximum(tmp_path: Path) -> None:
    offsets = {"000000000002": 20 * 60.0}
    async with rig(tmp_path, NOON, offsets) as r:
        await r.round()
        result = r.direct.clock_plans[0].last
        assert result is not None and result.outcome is Outcome.TOO_LARGE
        assert r.meter("000000000002").last_timesync is None  # nothing was broadcast
        assert {e for _, e, _, _, _ in r.log()} == {"clock_read"}
        assert r.sample("headend_clock_syncs_total", target="meter", result="ok") == 0


async def test_near_midnight_the_check_is_postponed_past_the_guard(tmp_path: Path) -> None:
    late = datetime(2024, 5, 2, 23, 57, 0, tzinfo=TZ)
    async with rig(tmp_path, late, {"000000000001": 95.0}) as r:
        await r.round()
        plan = r.direct.clock_plans[0]
        assert r.outcome() is Outcome.NEAR_MIDNIGHT
        assert plan.next_due == datetime(2024, 5, 3, 0, 5, tzinfo=TZ)
        assert r.log() == [] and r.meter("000000000001").last_timesync is None
        assert r.sample("headend_clock_syncs_total", target="meter", result="postponed") == 1
        r.clock.jump_to(datetime(2024, 5, 3, 0, 4, tzinfo=TZ))
        assert not plan.due()
        r.clock.jump_to(datetime(2024, 5, 3, 0, 6, tzinfo=TZ))
        await r.round()
        assert r.outcome() is Outcome.SYNCED
        assert abs(r.error_s("000000000001")) <= 2


async def test_an_unsynchronised_host_sends_nothing_and_raises_the_alarm(tmp_path: Path) -> None:
    async with rig(tmp_path, NOON, {"000000000001": 95.0}, synchronized=False) as r:
        await r.round()
        assert r.outcome() is Outcome.HOST_UNSYNCHRONISED
        assert r.host.alarm == NOT_SYNCHRONISED
        assert r.sample("headend_host_ntp_synchronized") == 0
        assert r.sample("headend_clock_syncs_total", target="meter", result="refused") == 1
        assert r.log() == [] and r.meter("000000000001").last_timesync is None
        assert abs(r.error_s("000000000001") - 95) <= 1


async def test_the_daemon_checks_direct_meter_clocks_in_its_poll_rounds(tmp_path: Path) -> None:
    clock = ShiftedClock(NOON)
    async with sim_bus(clock, {"000000000001": 95.0}, interval_s=0.2, jitter=0) as (bus, channel):
        config = Config(
            server=ServerConfig(host="127.0.0.1", port=0),
            metrics=MetricsConfig(enabled=False),
            storage=StorageConfig(sqlite_path=tmp_path / "h.sqlite3", spool_path=tmp_path / "spool.sqlite3"),
            direct=DirectConfig(tcp=[channel]),
            timesync=TIMESYNC,
        )
        app = HeadendApp(config, now=clock)
        await app.start()
        try:
            assert app.direct is not None
            (plan,) = app.direct.clock_plans
            await eventually(lambda: plan.last is not None and plan.last.synced, "a broadcast time in a poll round")
        finally:
            await app.stop()
        assert abs(bus.meter("000000000001").meter.clock.error(clock()).total_seconds()) <= 2
    with sqlite3.connect(config.storage.sqlite_path) as db:
        rows = db.execute("SELECT terminal, event FROM terminal_link_log ORDER BY id").fetchall()
    assert sorted(rows) == [
        ("000000000001", "clock_read"),
        ("000000000001", "clock_set"),
        (SILENT, "clock_read"),
    ]


@pytest.mark.parametrize(
    ("at", "near", "after"),
    [
        (datetime(2024, 5, 2, 23, 54, 59, tzinfo=TZ), False, datetime(2024, 5, 2, 23, 54, 59, tzinfo=TZ)),
        (datetime(2024, 5, 2, 23, 55, 1, tzinfo=TZ), True, datetime(2024, 5, 3, 0, 5, tzinfo=TZ)),
        (datetime(2024, 5, 3, 0, 0, tzinfo=TZ), True, datetime(2024, 5, 3, 0, 5, tzinfo=TZ)),
        (datetime(2024, 5, 3, 0, 4, 59, tzinfo=TZ), True, datetime(2024, 5, 3, 0, 5, tzinfo=TZ)),
        (datetime(2024, 5, 3, 0, 5, tzinfo=TZ), False, datetime(2024, 5, 3, 0, 5, tzinfo=TZ)),
    ],
)
def test_midnight_guard_and_the_end_of_it(at: datetime, near: bool, after: datetime) -> None:
    assert near_midnight(at) is near
    assert after_midnight_guard(at) == after
