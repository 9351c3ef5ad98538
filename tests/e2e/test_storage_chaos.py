"""The daemon as a real process, SIGKILLed again and again while it drains a backlog into a database that has
just crashed and come back (issue 5 "Proof"): nothing acknowledged is lost, nothing is stored twice, no replay is
mistaken for a conflict, and the ingest batch ledger adds up to the rows."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import psycopg
import pytest

from concentrator_sim.fleet import Fleet
from headend.storage.spool import Spool
from headend.storage.timescale import TimescaleStore
from tests.e2e.fleet_harness import ZONE, eventually, expected_value, fleet_config
from tests.pg_server import PgServer

Key = tuple[str, str, int, datetime]
#: the keys of every stored reading: instantaneous values in readings, frozen registers in frozen_readings
ALL_KEYS = (
    "SELECT meter, register, tariff, ts FROM readings UNION ALL SELECT meter, register, tariff, ts FROM frozen_readings"
)
ALL_ROWS = (
    "SELECT meter, register, tariff, ts, ingest_batch FROM readings"
    " UNION ALL SELECT meter, register, tariff, ts, ingest_batch FROM frozen_readings"
)
KILLS = 5
#: small batches: many write transactions, so a kill lands inside, between and after them
BATCH = 60


class Daemon:
    """``python -m headend run`` with a configuration file; killed with SIGKILL, started again."""

    def __init__(self, tmp_path: Path, dsn: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.spool_path = tmp_path / "spool.sqlite3"
        self.config = tmp_path / "headend.toml"
        self.config.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {self.port}\n[session]\nresponse_timeout_s = 5\n'
            f'[collection]\ninterval_s = 0.2\npoints = "1-8"\njitter = 0.5\n'
            f'[storage]\ndsn = "{dsn}"\nspool_path = "{self.spool_path}"\n'
            f'sqlite_path = "{tmp_path / "unused.sqlite3"}"\nbatch_size = {BATCH}\n[metrics]\nenabled = false\n'
        )
        self._log: IO[bytes] = (tmp_path / "daemon.log").open("ab")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "headend", "run", "-c", str(self.config),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=self._log,
        )  # fmt: skip
        await eventually(self._listening, "the daemon to listen for terminals")

    def _listening(self) -> bool:
        assert self.process is not None and self.process.returncode is None, "the daemon exited during start-up"
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    async def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)

    def spool_keys(self) -> set[Key]:
        spool = Spool(self.spool_path)
        try:
            return {r.key for r in spool.peek(10_000_000)[1]}
        finally:
            spool.close()

    def close(self) -> None:
        self._log.close()


@pytest.fixture
def daemon(tmp_path: Path, fresh_db_dsn: str) -> Iterator[Daemon]:
    process = Daemon(tmp_path, fresh_db_dsn)
    yield process
    if process.process is not None and process.process.returncode is None:
        process.process.kill()
    process.close()


def db_keys(dsn: str) -> set[Key]:
    with psycopg.connect(dsn) as conn:
        return {tuple(r) for r in conn.execute(ALL_KEYS)}  # type: ignore[misc]


@pytest.mark.timeout(600)  # five restarts of a real daemon and a database crash: slow on a busy 2-core machine
async def test_kill_9_while_draining_a_backlog_after_a_database_crash(
    daemon: Daemon, fresh_db_dsn: str, pg_server: PgServer
) -> None:
    rng = random.Random(5)
    store = TimescaleStore(fresh_db_dsn, tz=ZONE)  # as `headend db migrate` would, before the first start
    await store.open()
    await store.migrate()
    await store.close()
    # the fleet's clocks run 60x fast: every real second brings new read minutes, so new keys keep coming
    t0, origin = time.monotonic(), datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    sim = Fleet(fleet_config(daemon.port, concentrators=8, meters=8),
                clock=lambda: origin + timedelta(seconds=(time.monotonic() - t0) * 60))  # fmt: skip
    await sim.start()
    await daemon.start()
    acknowledged: set[Key] = set()
    try:
        await eventually(lambda: len(db_keys(fresh_db_dsn)) > 100, "the daemon to store readings")
        await asyncio.to_thread(pg_server.stop, "immediate")  # a database crash: WAL recovery on restart
        await eventually(lambda: len(daemon.spool_keys()) > 1500, "a backlog in the spool")
        await asyncio.to_thread(pg_server.start)
        for _ in range(KILLS):
            floor = len(db_keys(fresh_db_dsn))
            await eventually(lambda floor=floor: len(db_keys(fresh_db_dsn)) > floor, "the drain to make progress")
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # a random moment of the drain, not a timing assumption
            await daemon.kill()
            acknowledged |= daemon.spool_keys() | db_keys(fresh_db_dsn)
            await daemon.start()
        await eventually(lambda: not daemon.spool_keys() - db_keys(fresh_db_dsn), "the backlog to be written")
    finally:
        await sim.stop()
    assert await daemon.stop() == 0  # SIGTERM: drains and exits cleanly

    final = db_keys(fresh_db_dsn)
    assert acknowledged <= final, f"{len(acknowledged - final)} acknowledged readings lost"
    assert daemon.spool_keys() == set()
    with psycopg.connect(fresh_db_dsn) as conn:
        total, distinct = conn.execute(
            f"SELECT count(*), count(DISTINCT (meter, register, tariff, ts)) FROM ({ALL_ROWS}) AS stored"
        ).fetchone()  # type: ignore[misc]
        conflicts = conn.execute("SELECT count(*) FROM reading_conflicts").fetchone()
        ledger = conn.execute("SELECT sum(inserted), count(*) FROM ingest_batches").fetchone()
        per_batch = conn.execute(
            "SELECT count(*) FROM ingest_batches b"
            f" WHERE b.inserted <> (SELECT count(*) FROM ({ALL_ROWS}) AS r WHERE r.ingest_batch = b.batch)"
        ).fetchone()
        values = conn.execute("SELECT meter, tariff, ts, value FROM readings").fetchall()  # instantaneous values
    assert total == distinct == len(final)
    assert conflicts == (0,)  # every replay was a duplicate of what was stored: never a "changed value"
    assert ledger is not None and ledger[0] == total and ledger[1] > KILLS  # every committed batch is accounted
    assert per_batch == (0,)
    for meter, tariff, ts, value in values:
        assert value == expected_value(meter, tariff, ts.astimezone(ZONE))
