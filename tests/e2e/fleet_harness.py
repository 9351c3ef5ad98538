"""Run the real daemon (HeadendApp) and the real simulator (Fleet) together over loopback TCP, and check what
reached the store against the simulator's meter model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from concentrator_sim.fleet import Fleet, FleetConfig, SimClock
from concentrator_sim.model import expected_indication
from headend.app import HeadendApp
from headend.config import CollectionConfig, Config, MetricsConfig, ServerConfig, SessionConfig, StorageConfig
from headend.readings import Reading

SEED = 7
ZONE = ZoneInfo("Asia/Shanghai")
#: bound for "eventually": a broken pipeline fails here instead of hanging the suite
DEADLINE_S = 60.0


def daemon_config(tmp: Path, *, dsn: str, points: int, interval_s: float = 0.5) -> Config:
    return Config(
        server=ServerConfig(host="127.0.0.1", port=0, heartbeat_timeout_s=30, login_timeout_s=10),
        session=SessionConfig(response_timeout_s=5, retries=1),
        collection=CollectionConfig(interval_s=interval_s, points=f"1-{points}", jitter=0.5),
        storage=StorageConfig(
            dsn=dsn, sqlite_path=tmp / "headend.sqlite3", spool_path=tmp / "spool.sqlite3", batch_size=500
        ),
        metrics=MetricsConfig(port=0),
    )


def fleet_config(port: int, *, concentrators: int, meters: int, **extra: Any) -> FleetConfig:
    return FleetConfig(
        port=port,
        concentrators=concentrators,
        meters_per_concentrator=meters,
        heartbeat_s=5,
        seed=SEED,
        backoff_base_s=0.05,
        backoff_cap_s=0.5,
        connect_rate=1000,
        **extra,
    )


@dataclass
class Acknowledged:
    """Every reading the daemon acknowledged (durable in the spool), recorded by wrapping its submit()."""

    readings: list[Reading] = field(default_factory=list)

    def wrap(self, app: HeadendApp) -> None:
        original: Callable[[Sequence[Reading]], Any] = app.submit

        async def submit(readings: Sequence[Reading]) -> None:
            await original(readings)
            self.readings.extend(readings)  # only after the spool said "durable"

        app.submit = submit  # type: ignore[method-assign]
        assert app.poller is not None
        app.poller._sink = submit  # the poll plan was built with the bound method

    @property
    def keys(self) -> set[tuple[str, str, int, datetime]]:
        return {r.key for r in self.readings}


def sample(app: HeadendApp, name: str, **labels: str) -> float:
    return app.metrics.registry.get_sample_value(name, labels) or 0.0


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


@asynccontextmanager
async def running(config: Config, **fleet: Any) -> AsyncIterator[tuple[HeadendApp, Fleet, Acknowledged]]:
    app = HeadendApp(config)
    await app.start()
    ack = Acknowledged()
    ack.wrap(app)
    assert app.server is not None
    sim = Fleet(fleet_config(app.server.port, **fleet))
    try:
        await sim.start()
        yield app, sim, ack
    finally:
        await sim.stop()
        await app.stop()


@dataclass
class SimulatedDays:
    """The daemon and a fleet on one fast clock (:func:`simulated_days`); ``clocks[-1]`` is the clock in force."""

    app: HeadendApp
    sim: Fleet
    clocks: list[SimClock]

    def clock(self) -> datetime:
        return self.clocks[-1]()

    def set_speed(self, speed: float) -> None:
        """From now on, ``speed`` simulated seconds per real second (for the daemon and the fleet alike)."""
        self.clocks.append(SimClock(self.clock(), speed))


@asynccontextmanager
async def simulated_days(
    config: Config, start: datetime, speed: float, *, hold: bool = False, **fleet: Any
) -> AsyncIterator[SimulatedDays]:
    """The daemon with an injected clock and the fleet sharing it: the clock stands at ``start`` while the daemon
    starts (migrations take real seconds: hours of simulated time), then runs at ``speed`` — or, with ``hold``,
    keeps standing until the test calls :meth:`SimulatedDays.set_speed` (logins and their clock checks measured
    without a millisecond of latency turning into seconds of apparent drift)."""
    clocks = [SimClock(start, 0.0)]
    app = HeadendApp(config, now=lambda: clocks[-1]())
    await app.start()
    clocks.append(SimClock(start, 0.0 if hold else speed))
    assert app.server is not None
    config_ = fleet_config(app.server.port, as_of=start.isoformat(), speed=speed, tick_s=0.05, **fleet)
    sim = Fleet(config_, clock=lambda: clocks[-1]())
    try:
        await sim.start()
        yield SimulatedDays(app, sim, clocks)
    finally:
        await sim.stop()
        await app.stop()


def expected_value(meter: str, tariff: int, ts: datetime) -> Decimal | None:
    """What the simulated meter behind ``meter`` ("4403:00012/p3") reported at ``ts``."""
    terminal, _, point = meter.partition("/p")
    a1, _, a2 = terminal.partition(":")
    indication = expected_indication(SEED, a1, int(a2), int(point), ts.astimezone(ZONE).replace(tzinfo=None))
    return indication.total if tariff == 0 else indication.tariffs[tariff - 1]


def pg_rows(dsn: str) -> list[tuple[str, str, int, datetime, Decimal | None, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT meter, register, tariff, ts, value, quality FROM readings ORDER BY meter, tariff, ts"
        ).fetchall()
