"""Post-midnight collection: N simulated concentrators × 32 meters, all due at once, until every daily frozen
register (Q/GDW 376.1-2009 AFN0D F161 日冻结正向有功电能示值, total + 4 tariffs) is committed to the database; compared
with the database ingest limit measured in the same run; and the memory a connected terminal costs.

Method:

* A throwaway PostgreSQL 15 + TimescaleDB cluster (``tests/pg_server.py``, as the test suite) or ``--dsn``.
* The daemon (:class:`headend.app.HeadendApp`, real-time plan off, daily plan F161 with ``--spread-s`` spread,
  default 0 = everyone at 00:05) runs in this process; the simulated fleet runs in ``--sim-processes``
  separate ``python -m concentrator_sim`` processes (as in the field, the terminals are not the head-end's
  problem: its event loop, descriptors and memory are its own). They talk over loopback TCP. The head-end's
  injected clock stands at 00:01 while the fleet logs in (the day before is marked collected), then jumps to
  00:05 and runs at real speed; the simulators run their own clocks from 00:01 of the same day. The
  **collection** figure is from that jump until the last F161 reading of the day is in ``frozen_readings``
  (requests, answers, decode, spool fsync, database commit — everything). Backfill (补抄, which would look for
  the days before in an empty database and compete for the same terminals) is off unless ``--backfill``;
  clock setting is off (the head-end's clock stands still during the logins).
* **Ingest limit**: then the same number of readings (another day) is written straight to the store with
  ``Store.write`` in batches of ``[storage] batch_size`` — the fastest the database path takes them.
  **Ratio** = collection readings/s ÷ ingest readings/s (1.0: collection is as fast as the database allows).
* **Memory per terminal**: ``tracemalloc`` during the login phase, counting only allocations made with a
  ``headend/`` frame on the stack (sessions, connections, framers, engine state); the sockets' and transports'
  memory allocated inside asyncio is not attributed, so the head-end process's RSS growth per terminal is
  printed too.

Both sides share the cores of one machine: on a small one the simulators take CPU from the head-end. Run:
``.venv/bin/python benchmarks/bench_collection.py [--terminals N] [--meters 32] [--sim-processes K]
[--spread-s S] [--quick] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from bench_decode import environment

from concentrator_sim.fleet import SimClock
from headend.app import HeadendApp
from headend.config import (
    CollectionConfig,
    Config,
    MetricsConfig,
    PlanConfig,
    ServerConfig,
    SessionConfig,
    StorageConfig,
)
from headend.config_collection import BackfillConfig, TimeSyncConfig
from headend.readings import Quality, Reading
from headend.storage.base import open_store

ZONE = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 22, tzinfo=ZONE)  #: the day collected (Td_d); the freeze is the midnight after it
TARIFFS = 4
HEADEND_DIR = str(Path(__file__).resolve().parents[1] / "headend")


class SwitchClock:
    """The injected clock: whatever clock was set last."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def __call__(self) -> datetime:
        return self.clock()


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def frozen_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM frozen_readings WHERE register = 'daily.energy.active.forward'"
        ).fetchone()
    return int(row[0]) if row else 0


async def ingest_limit(config: Config, rows: int) -> float:
    """Readings/s of ``Store.write`` in ``batch_size`` batches: another day's frozen registers, same shape."""
    store = open_store(config.storage.dsn, config.storage.sqlite_path, tz=ZONE)
    await store.open()
    ts = DAY - timedelta(days=7)
    now = datetime.now(ZONE)
    readings = [
        Reading(
            meter=f"bench/{i // (TARIFFS + 1)}",
            register="daily.energy.active.forward",
            tariff=i % (TARIFFS + 1),
            ts=ts,
            value=Decimal(i).scaleb(-4),
            unit="kWh",
            quality=Quality.OK,
            source="bench",
            terminal="4403:00001",
            pn=1,
            received_at=now,
        )
        for i in range(rows)
    ]
    batch = config.storage.batch_size
    started = time.perf_counter()
    for at in range(0, rows, batch):
        await store.write(readings[at : at + batch])
    elapsed = time.perf_counter() - started
    await store.close()
    return rows / elapsed


def sim_config(args: argparse.Namespace, port: int, part: int, terminals: int, a2_start: int) -> str:
    """The TOML of one simulator process (keys of :class:`concentrator_sim.fleet.FleetConfig`)."""
    values: dict[str, object] = {
        "port": port,
        "concentrators": terminals,
        "a2_start": a2_start,
        "meters_per_concentrator": args.meters,
        "heartbeat_s": 3000.0,
        "connect_rate": args.connect_rate / args.sim_processes,
        "as_of": (DAY + timedelta(days=1, minutes=1)).isoformat(),
        "history_days": 2,
        "tick_s": 1.0,
        "seed": part + 1,
    }
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


async def start_simulators(args: argparse.Namespace, port: int, work: Path) -> list[asyncio.subprocess.Process]:
    """``python -m concentrator_sim`` processes sharing the fleet (A2 ranges one after another)."""
    processes = []
    per, extra = divmod(args.terminals, args.sim_processes)
    a2 = 1
    for part in range(args.sim_processes):
        count = per + (1 if part < extra else 0)
        path = work / f"sim{part}.toml"
        path.write_text(sim_config(args, port, part, count, a2))
        a2 += count
        log = (work / f"sim{part}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "concentrator_sim", "--config", str(path), "--log-level", "WARNING",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        processes.append(process)
    return processes


async def stop_simulators(processes: Sequence[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.terminate()
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run(args: argparse.Namespace, dsn: str, work: Path) -> dict[str, Any]:
    terminals, meters = args.terminals, args.meters
    plans = PlanConfig(realtime_fns=[], daily_fns=[161], daily_spread_s=args.spread_s, monthly_fns=[], event_fns=[])
    config = Config(
        server=ServerConfig(host="127.0.0.1", port=0, heartbeat_timeout_s=3600, login_timeout_s=600),
        session=SessionConfig(response_timeout_s=60, retries=1),
        collection=CollectionConfig(points=f"1-{meters}", tick_s=0.1, plans=plans),
        storage=StorageConfig(dsn=dsn, sqlite_path=work / "h.sqlite3", spool_path=work / "spool.sqlite3"),
        metrics=MetricsConfig(enabled=False),
        # backfill (补抄) of the days before would compete for the same terminals: off unless asked for
        backfill=BackfillConfig(enabled=args.backfill),
        # the head-end's clock stands still during the logins while the simulators' run: no clock setting
        timesync=TimeSyncConfig(enabled=False),
    )
    # the head-end's clock stands at 00:01 while the fleet logs in (the day before DAY is marked collected),
    # then runs from 00:05, when DAY comes due; the simulators run their own clocks from 00:01 of the same day
    clock = SwitchClock(SimClock(DAY + timedelta(days=1, minutes=1), 0.0))
    app = HeadendApp(config, now=clock)
    await app.start()
    assert app.server is not None
    rss_before = rss_kib()
    if args.heap:
        tracemalloc.start(8)
    simulators: list[asyncio.subprocess.Process] = []
    try:
        progress(f"{terminals} terminals logging in from {args.sim_processes} simulator process(es)")
        simulators = await start_simulators(args, app.server.port, work)
        async with asyncio.timeout(args.login_timeout):
            while len(app.registry) < terminals:
                if any(p.returncode is not None for p in simulators):
                    raise RuntimeError(f"a simulator exited early: see {work}/sim*.log")
                await asyncio.sleep(0.1)
        progress("logged in; measuring the heap")
        snapshot = tracemalloc.take_snapshot() if args.heap else None
        tracemalloc.stop()
        headend_bytes = (
            0
            if snapshot is None
            else sum(
                stat.size
                for stat in snapshot.filter_traces(
                    [tracemalloc.Filter(True, f"{HEADEND_DIR}/*", all_frames=True)]
                ).statistics("filename")
            )
        )
        rss_after = rss_kib()
        expected = terminals * meters * (TARIFFS + 1)
        assert app.collector is not None
        for state in app.collector.states.values():
            state.daily_done = (DAY - timedelta(days=1)).date()
        progress(f"00:05: collecting {expected} readings")
        started = time.perf_counter()
        clock.clock = SimClock(DAY + timedelta(days=1, minutes=5), 1.0)
        first_stored: float | None = None
        async with asyncio.timeout(args.collect_timeout):
            while True:
                stored = await asyncio.to_thread(frozen_count, dsn)
                if stored and first_stored is None:
                    first_stored = time.perf_counter() - started
                if stored >= expected:
                    break
                if args.verbose:
                    sample = app.metrics.registry.get_sample_value
                    ok = sample("headend_collection_jobs_total", {"plan": "daily", "result": "ok"}) or 0
                    retried = sample("headend_retransmissions_total") or 0
                    progress(f"{stored} stored, {len(app.registry)} online, {ok:.0f} requests ok, {retried:.0f} resent")
                await asyncio.sleep(0.2)
        collect_s = time.perf_counter() - started
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        await stop_simulators(simulators)
        await app.stop()
    progress(f"collected in {collect_s:.1f} s; measuring the ingest limit")
    ingest_rps = await ingest_limit(config, expected)
    collect_rps = stored / collect_s
    return {
        "terminals": terminals,
        "meters_per_terminal": meters,
        "simulator_processes": args.sim_processes,
        "spread_s": args.spread_s,
        "backfill": args.backfill,
        "readings": stored,
        "collect_s": round(collect_s, 2),
        "first_reading_stored_after_s": None if first_stored is None else round(first_stored, 2),
        "collect_readings_per_s": round(collect_rps),
        "collect_meters_per_s": round(collect_rps / (TARIFFS + 1)),
        "ingest_limit_readings_per_s": round(ingest_rps),
        "ratio_to_ingest_limit": round(collect_rps / ingest_rps, 3),
        "headend_heap_bytes_per_terminal": round(headend_bytes / terminals) if args.heap else None,
        "headend_rss_growth_kib_per_terminal": round((rss_after - rss_before) / terminals, 1),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dsn", help="use this database server (default: a throwaway local cluster)")
    parser.add_argument("--terminals", type=int, help="concentrators (default 1000, quick 50; the target is 10000)")
    parser.add_argument("--meters", type=int, default=32, help="meters (measurement points) per concentrator")
    parser.add_argument("--spread-s", type=float, default=0.0, help="daily_spread_s (default 0: all due at 00:05)")
    parser.add_argument("--connect-rate", type=float, default=500.0, help="terminal logins started per second")
    parser.add_argument("--sim-processes", type=int, default=1, help="simulator processes sharing the fleet")
    parser.add_argument("--login-timeout", type=float, default=600.0, help="seconds for the fleet to log in")
    parser.add_argument("--collect-timeout", type=float, default=3600.0, help="seconds for the collection")
    parser.add_argument("--quick", action="store_true", help="a smoke run (50 terminals); its figures are rough")
    parser.add_argument(
        "--no-heap", dest="heap", action="store_false", help="skip tracemalloc (it slows the logins down 3-5x)"
    )
    parser.add_argument("--backfill", action="store_true", help="leave backfill on (it competes with the plan)")
    parser.add_argument("--verbose", action="store_true", help="print the progress of the collection")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    args = parser.parse_args(argv)
    args.terminals = args.terminals or (50 if args.quick else 1000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server = None
    if args.dsn:
        dsn = args.dsn
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.pg_server import LocalPgServer

        server = LocalPgServer.create()
        dsn = server.dsn
    work = Path(tempfile.mkdtemp(prefix="bench-collection-"))
    try:
        result = asyncio.run(run(args, dsn, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if server is not None:
            server.close()
    env = {k: v for k, v in environment().items() if k != "construct_compiled"}
    if args.json:
        print(json.dumps({"environment": env, "result": result}, indent=2))
        return 0
    for key, value in {**env, **result}.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
