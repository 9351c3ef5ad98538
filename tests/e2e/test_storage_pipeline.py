"""The storage proofs of issue 5 through the whole daemon (fleet → TCP → sessions → ingest → spool → writer →
TimescaleDB): the same reading twice is one row, a changed value is one row plus a conflict and an event (and the
metric), a replayed spool adds nothing, and a full spool raises a clear alarm, keeps collecting, and drops nothing
it acknowledged."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg

from headend.app import HeadendApp
from headend.config import Config
from headend.readings import Quality, Reading, ReadingKind
from headend.storage.spool import Spool
from tests.e2e.fleet_harness import ZONE, daemon_config, eventually, expected_value, running, sample
from tests.pg_server import PgServer

Key = tuple[str, str, int, datetime]
#: the keys of every stored reading: instantaneous values in readings, frozen registers in frozen_readings
ALL_KEYS = (
    "SELECT meter, register, tariff, ts FROM readings UNION ALL SELECT meter, register, tariff, ts FROM frozen_readings"
)


def db_keys(dsn: str) -> list[Key]:
    with psycopg.connect(dsn) as conn:
        return [tuple(row) for row in conn.execute(ALL_KEYS)]  # type: ignore[misc]


def spool_keys(app: HeadendApp) -> set[Key]:
    assert app.spool is not None
    return {r.key for r in app.spool.peek(10_000_000)[1]}


def drained(app: HeadendApp) -> bool:
    return app.spool is not None and app.spool.depth() == 0


async def test_same_reading_twice_is_one_row_and_a_changed_value_a_conflict(tmp_path: Path, fresh_db_dsn: str) -> None:
    config = daemon_config(tmp_path, dsn=fresh_db_dsn, points=4)
    async with running(config, concentrators=4, meters=4) as (app, _sim, ack):
        await eventually(lambda: len(ack.readings) >= 80 and drained(app), "readings stored")
        stored = [r for r in ack.readings if r.value is not None and r.kind is ReadingKind.INSTANT][:40]
        # a retransmission, a backfill (补抄) that finds the same values, and a meter that now says otherwise
        again = list(stored)
        backfilled = [
            dataclasses.replace(r, quality=Quality.BACKFILLED, source="gdw376.1 AFN0D F161") for r in stored[:10]
        ]
        target = stored[0]
        assert target.value is not None
        changed = dataclasses.replace(target, value=target.value + Decimal("0.01"))
        duplicates_before = sample(app, "headend_readings_stored_total", result="duplicate")
        await app.submit(again)
        await app.submit(backfilled)
        await app.submit([changed])
        await app.submit([changed])  # the conflict delivered twice is recorded once
        await eventually(
            lambda: sample(app, "headend_readings_stored_total", result="duplicate") >= duplicates_before + 51,
            "the resubmitted readings written",
        )
        conflicts_metric = sample(app, "headend_readings_stored_total", result="conflict")

    rows = db_keys(fresh_db_dsn)
    assert len(rows) == len(set(rows)) == len(ack.keys)  # every key once, resubmissions included
    assert conflicts_metric == 1
    with psycopg.connect(fresh_db_dsn) as conn:
        conflict = conn.execute(
            "SELECT id, meter, tariff, ts, original_value, new_value FROM reading_conflicts"
        ).fetchall()
        events = conn.execute("SELECT code, meter, event_key FROM events").fetchall()
        kept = conn.execute(
            "SELECT value, quality FROM readings WHERE meter = %s AND register = %s AND tariff = %s AND ts = %s",
            target.key,
        ).fetchall()
    assert [row[1:] for row in conflict] == [(target.meter, target.tariff, target.ts, target.value, changed.value)]
    assert events == [("reading_conflict", target.meter, f"reading_conflict:{conflict[0][0]}")]
    assert kept == [(target.value, "ok")]  # the original stays, never overwritten
    assert target.value == expected_value(target.meter, target.tariff, target.ts.astimezone(ZONE))


async def test_a_replayed_spool_adds_nothing(tmp_path: Path, fresh_db_dsn: str) -> None:
    """A crash after the commit and before the release leaves written readings in the spool: the next start
    writes them again, and the database counts them as duplicates."""
    config = daemon_config(tmp_path, dsn=fresh_db_dsn, points=2)
    async with running(config, concentrators=2, meters=2) as (app, _sim, ack):
        await eventually(lambda: len(ack.readings) >= 20 and drained(app), "readings stored")
    written = list(ack.readings)
    rows_before = sorted(db_keys(fresh_db_dsn))
    spool = Spool(config.storage.spool_path)
    spool.append(written)  # as if none of them had been released
    spool.close()

    app = HeadendApp(config)
    await app.start()
    try:
        await eventually(lambda: drained(app), "the replay written")
        replayed = sample(app, "headend_readings_stored_total", result="duplicate")
        inserted = sample(app, "headend_readings_stored_total", result="inserted")
    finally:
        await app.stop()
    assert (replayed, inserted) == (len(written), 0)
    assert sorted(db_keys(fresh_db_dsn)) == rows_before


def _small_spool(config: Config) -> Config:
    storage = config.storage.model_copy(update={"spool_max_bytes": 1 << 20})  # the smallest the config allows
    return config.model_copy(update={"storage": storage})


async def test_a_full_spool_alarms_keeps_running_and_loses_nothing(
    tmp_path: Path, fresh_db_dsn: str, pg_server: PgServer
) -> None:
    config = _small_spool(daemon_config(tmp_path, dsn=fresh_db_dsn, points=8, interval_s=0.3))
    async with running(config, concentrators=6, meters=8) as (app, _sim, ack):
        await eventually(lambda: sample(app, "headend_readings_stored_total", result="inserted") > 0, "first rows")
        pg_server.stop()  # the database goes away: the spool fills up
        await eventually(lambda: sample(app, "headend_spool_full_total") > 0, "the spool to refuse a batch")
        health = app.health()
        acknowledged: list[Reading] = list(ack.readings)
        in_spool = spool_keys(app)
        depth_at_full = app.spool.depth() if app.spool is not None else 0
        assert app.server is not None
        frames_at_full = app.server.frames_in
        await eventually(
            lambda: app.server is not None and app.server.frames_in > frames_at_full + 20,
            "the terminals to go on answering polls while the spool is full",
        )
        assert len(app.registry) == 6  # every terminal still connected: no crash, no disconnect
        pg_server.start()
        await eventually(lambda: drained(app), "the backlog to drain")
        await eventually(lambda: not app.health()["spool_full"], "the alarm to clear once there is room")
        assert app.spool is not None
        size_limit_held = app.spool.size_bytes() <= (1 << 20)

    assert health["spool_full"] is True and health["ok"] is False
    assert size_limit_held
    stored = set(db_keys(fresh_db_dsn))
    assert {r.key for r in acknowledged} <= stored  # nothing acknowledged before the alarm was dropped
    assert ack.keys <= stored  # nor after
    assert len(db_keys(fresh_db_dsn)) == len(stored)
    # it really held a backlog when it was full (fewer keys: re-polls within one device minute repeat them)
    assert depth_at_full > 1000
    assert in_spool <= stored
