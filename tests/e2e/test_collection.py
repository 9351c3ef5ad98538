"""End to end over real loopback TCP: the simulated fleet → the daemon → the real TimescaleDB (or the embedded
SQLite store). Values are checked against the simulator's meter model: exact, every one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from concentrator_sim.fleet import Fleet
from headend.storage.spool import Spool
from tests.e2e.fleet_harness import (
    ZONE,
    daemon_config,
    eventually,
    expected_value,
    fleet_config,
    pg_rows,
    running,
    sample,
)
from tests.pg_server import PgServer

CONCENTRATORS, METERS = 12, 8


async def test_readings_reach_timescaledb_exactly(tmp_path: Path, fresh_db_dsn: str) -> None:
    config = daemon_config(tmp_path, dsn=fresh_db_dsn, points=METERS)
    async with running(config, concentrators=CONCENTRATORS, meters=METERS) as (app, _sim, ack):
        meters = {f"4403:{a2:05d}/p{pn}" for a2 in range(1, CONCENTRATORS + 1) for pn in range(1, METERS + 1)}
        await eventually(lambda: {r.meter for r in ack.readings} >= meters, "every meter read at least once")
        await eventually(lambda: sample(app, "headend_spool_depth") == 0 and app.spool.depth() == 0, "spool drained")
    rows = pg_rows(fresh_db_dsn)
    assert {row[0] for row in rows} == meters
    assert {(m, r, t, ts) for m, r, t, ts, _, _ in rows} == ack.keys  # every acknowledged reading, once
    assert len(rows) == len(ack.keys)
    for meter, register, tariff, ts, value, quality in rows:
        assert register == "energy.active.forward"
        assert quality == "ok"
        assert isinstance(value, Decimal)
        assert value == expected_value(meter, tariff, ts), (meter, tariff, ts)
    # total = sum of tariffs for each meter and read time, as the meter keeps them
    by_key: dict[tuple[str, datetime], dict[int, Decimal]] = {}
    for meter, _, tariff, ts, value, _ in rows:
        by_key.setdefault((meter, ts), {})[tariff] = value
    for values in by_key.values():
        assert values[0] == sum(v for t, v in values.items() if t)


async def test_embedded_sqlite_store_gets_the_same_readings(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, dsn="", points=4)
    async with running(config, concentrators=4, meters=4) as (app, _sim, ack):
        await eventually(lambda: len({r.meter for r in ack.readings}) == 16, "16 meters read")
        await eventually(lambda: app.spool.depth() == 0, "spool drained")
    with contextlib.closing(sqlite3.connect(config.storage.sqlite_path)) as db:
        rows = db.execute("SELECT meter, tariff, ts, value FROM readings").fetchall()
    assert len(rows) == len(ack.keys)
    for meter, tariff, ts, value in rows:
        moment = datetime.fromisoformat(ts)
        assert Decimal(value) == expected_value(meter, tariff, moment)


async def test_database_outage_loses_nothing(tmp_path: Path, fresh_db_dsn: str, pg_server: PgServer) -> None:
    config = daemon_config(tmp_path, dsn=fresh_db_dsn, points=4)
    async with running(config, concentrators=6, meters=4) as (app, _sim, ack):
        await eventually(lambda: sample(app, "headend_readings_stored_total", result="inserted") > 0, "first rows")
        pg_server.stop()
        stored_before = sample(app, "headend_readings_stored_total", result="inserted")
        acked_at_stop = len(ack.readings)
        # collection continues while the database is away: readings are acknowledged into the spool
        await eventually(lambda: sample(app, "headend_store_errors_total") >= 1, "the writer noticed the outage")
        await eventually(lambda: len(ack.readings) > acked_at_stop + 48, "collection continued during the outage")
        assert sample(app, "headend_readings_stored_total", result="inserted") == stored_before
        assert app.spool.depth() > 0
        pg_server.start()
        await eventually(lambda: app.spool.depth() == 0, "the backlog drained after the database returned")
    rows = pg_rows(fresh_db_dsn)
    assert {(m, r, t, ts) for m, r, t, ts, _, _ in rows} == ack.keys
    assert len(rows) == len(ack.keys)
    for meter, _, tariff, ts, value, _ in rows:
        assert value == expected_value(meter, tariff, ts.astimezone(ZONE))


async def test_kill_9_during_ingest_loses_and_duplicates_nothing(tmp_path: Path, fresh_db_dsn: str) -> None:
    """The daemon runs as a real process and is SIGKILLed three times at random moments while the fleet keeps
    sending. Whatever was acknowledged at each kill (in the spool file or already in the database) must be in
    the database at the end, once."""

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = tmp_path / "headend.toml"
    cfg.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        f"[session]\nresponse_timeout_s = 5\n"
        f'[collection]\ninterval_s = 0.3\npoints = "1-8"\njitter = 0.5\n'
        f'[storage]\ndsn = "{fresh_db_dsn}"\nspool_path = "{tmp_path / "spool.sqlite3"}"\n'
        f'sqlite_path = "{tmp_path / "unused.sqlite3"}"\nbatch_size = 200\n'
        f"[metrics]\nenabled = false\n"
    )

    def db_keys() -> set[tuple[str, str, int, datetime]]:
        with psycopg.connect(fresh_db_dsn) as conn:
            return {tuple(r) for r in conn.execute("SELECT meter, register, tariff, ts FROM readings")}  # type: ignore[misc]

    def spool_keys() -> set[tuple[str, str, int, datetime]]:
        spool = Spool(tmp_path / "spool.sqlite3")
        try:
            return {r.key for r in spool.peek(1_000_000)[1]}
        finally:
            spool.close()

    async def start_daemon() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "headend", "run", "-c", str(cfg),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=log_file,
        )  # fmt: skip

    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headend", "db", "migrate", "-c", str(cfg), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await migrate.communicate()
    assert migrate.returncode == 0
    assert b"TimescaleDB: schema at version" in out
    log_file = (tmp_path / "daemon.log").open("ab")
    rng = random.Random(1)
    acknowledged: set[tuple[str, str, int, datetime]] = set()
    # The fleet's clocks run 60× fast, so every real second brings a new read minute and so new keys
    # (re-reads within one device minute are, rightly, duplicates).

    t0, start = time.monotonic(), datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

    def fast_clock() -> datetime:
        return start + timedelta(seconds=(time.monotonic() - t0) * 60)

    sim = Fleet(fleet_config(port, concentrators=8, meters=8), clock=fast_clock)
    await sim.start()
    daemon = await start_daemon()
    try:
        for _ in range(3):
            floor = len(db_keys())
            await eventually(lambda floor=floor: len(db_keys()) > floor, "the daemon stores readings")
            await asyncio.sleep(rng.uniform(0.0, 0.4))  # a random moment of ingest, not a timing assumption
            os.kill(daemon.pid, signal.SIGKILL)
            await daemon.wait()
            acknowledged |= spool_keys() | db_keys()
            daemon = await start_daemon()
        await eventually(lambda: len(db_keys()) > len(acknowledged), "collection resumed after the last kill")
    finally:
        await sim.stop()
        if daemon.returncode is None:
            daemon.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(daemon.wait(), 60) == 0  # SIGTERM drains and exits 0
        log_file.close()
    final = db_keys()
    assert acknowledged <= final, f"{len(acknowledged - final)} acknowledged readings lost"
    assert spool_keys() == set()  # the clean stop drained the spool
    with psycopg.connect(fresh_db_dsn) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (meter, register, tariff, ts)) FROM readings"
        ).fetchone()  # type: ignore[misc]
        for meter, tariff, ts, value in conn.execute("SELECT meter, tariff, ts, value FROM readings"):
            assert value == expected_value(meter, tariff, ts.astimezone(ZONE))
    assert total == distinct == len(final)
