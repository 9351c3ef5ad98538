"""What differs between TimescaleDB Community, the Apache-2 edition and plain PostgreSQL.

The migrations (``migrations/postgres``) create the same tables and views everywhere. On top of them:

=====================  ==============================================  =========================================
                       Community (``timescaledb.license = timescale``)  Apache edition, plain PostgreSQL
=====================  ==============================================  =========================================
``energy_daily_agg``   continuous aggregate, refreshed by a policy      a table the daemon refreshes
                                                                        incrementally (:func:`refresh`)
compression            ``readings`` after 14 days, ``frozen_readings``  none
                       after 60 days (policies)
retention of readings  ``add_retention_policy`` (:func:`retention`)     the daemon drops old chunks
                                                                        (``drop_chunks``; ``DELETE`` on plain
                                                                        PostgreSQL) (:func:`retention`)
=====================  ==============================================  =========================================

``daily_energy`` (the view billing and dashboards read) has the same columns on every edition. Frozen registers
(``frozen_readings``) are never dropped on any edition.

Why a table and not ``CREATE MATERIALIZED VIEW`` on Apache and plain PostgreSQL: ``REFRESH MATERIALIZED VIEW``
recomputes every day from ``readings`` — a cost that grows with the table — and forgets the days whose readings
retention has dropped. The table is refreshed like a continuous aggregate: only the local days that got rows in
the ingest batches since the last refresh (``store_meta.energy_daily_batch``) are recomputed, and older days stay.

The Community statements cannot run on this project's test server (Apache edition, built with
``-DAPACHE_ONLY=1``). tests/headend/storage/test_editions.py runs each of them there and requires the licence
refusal (SQLSTATE 0A000, "not supported under the current "apache" license"): PostgreSQL parses the statement and
resolves the TimescaleDB function with its named arguments before the licence check, so a syntax error (42601),
a wrong function or argument name (42883) or a missing relation (42P01) would show instead. Names and
signatures checked against the TimescaleDB 2.19 API reference (``add_compression_policy(hypertable,
compress_after, if_not_exists)``, ``add_retention_policy(relation, drop_after, if_not_exists)``,
``remove_retention_policy(relation, if_exists)``, ``add_continuous_aggregate_policy(continuous_aggregate,
start_offset, end_offset, schedule_interval, if_not_exists)``, ``time_bucket(bucket_width, ts, timezone)``,
``first(value, time)``/``last(value, time)``, ``drop_chunks(relation, older_than)``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg
from psycopg import sql

from headend.storage.base import Edition

_LOGGER = logging.getLogger(__name__)

_Conn = psycopg.AsyncConnection[tuple[object, ...]]
_Query = sql.SQL | sql.Composed

#: registers whose daily first/last values make ``daily_energy``: energy indications, instantaneous or curve
_ENERGY_FILTER = "value IS NOT NULL AND (register LIKE 'energy.%' OR register LIKE 'curve.energy.%')"

#: Community: compress chunks older than these (late backfill of frozen registers goes back up to 31 days)
COMPRESS_AFTER = {"readings": timedelta(days=14), "frozen_readings": timedelta(days=60)}

#: refresh window of the continuous aggregate (backfilled curve points up to 31 days late are picked up)
_CAGG_START_OFFSET = timedelta(days=45)


def community_statements(zone: str) -> list[_Query]:
    """The Community-only objects, in order: the continuous aggregate and its policy, compression settings and
    policies. ``zone`` is the configured time zone (local days of the aggregate)."""
    statements: list[_Query] = [
        sql.SQL(
            "CREATE MATERIALIZED VIEW energy_daily_agg WITH (timescaledb.continuous) AS"
            " SELECT meter, register, tariff, time_bucket(INTERVAL '1 day', ts, {zone}) AS bucket,"
            " min(ts) AS first_ts, first(value, ts) AS first_value, max(ts) AS last_ts,"
            " last(value, ts) AS last_value, count(*) AS samples"
            " FROM readings WHERE " + _ENERGY_FILTER + " GROUP BY meter, register, tariff, bucket WITH NO DATA"
        ).format(zone=sql.Literal(zone)),
        sql.SQL(
            "SELECT add_continuous_aggregate_policy('energy_daily_agg', start_offset => {start},"
            " end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => true)"
        ).format(start=sql.Literal(_CAGG_START_OFFSET)),
    ]
    for table, after in COMPRESS_AFTER.items():
        statements += [
            sql.SQL(
                "ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = 'meter',"
                " timescaledb.compress_orderby = 'register, tariff, ts DESC')"
            ).format(table=sql.Identifier(table)),
            sql.SQL("SELECT add_compression_policy({table}, compress_after => {after}, if_not_exists => true)").format(
                table=sql.Literal(table), after=sql.Literal(after)
            ),
        ]
    return statements


_AGG_TABLE = """
CREATE TABLE energy_daily_agg (
    meter       text     NOT NULL,
    register    text     NOT NULL,
    tariff      smallint NOT NULL,
    day         date     NOT NULL,
    first_ts    timestamptz NOT NULL,
    first_value numeric  NOT NULL,
    last_ts     timestamptz NOT NULL,
    last_value  numeric  NOT NULL,
    samples     bigint   NOT NULL,
    PRIMARY KEY (meter, register, tariff, day)
)
"""
#: Apache edition and plain PostgreSQL: recompute, from readings, the local days of the energy registers that got
#: rows in the ingest batches since the last refresh (an upsert: days whose readings retention dropped stay)
_REFRESH = """
WITH touched AS (
    SELECT DISTINCT r.meter, r.register, r.tariff, (r.ts AT TIME ZONE z.zone)::date AS day
      FROM readings r CROSS JOIN store_zone z
     WHERE r.ingest_batch > %(last)s AND r.ingest_batch <= %(until)s
       AND r.value IS NOT NULL AND (r.register LIKE 'energy.%%' OR r.register LIKE 'curve.energy.%%')
)
INSERT INTO energy_daily_agg (meter, register, tariff, day, first_ts, first_value, last_ts, last_value, samples)
SELECT r.meter, r.register, r.tariff, t.day, min(r.ts), (array_agg(r.value ORDER BY r.ts))[1],
       max(r.ts), (array_agg(r.value ORDER BY r.ts DESC))[1], count(*)
  FROM touched t CROSS JOIN store_zone z
  JOIN readings r ON r.meter = t.meter AND r.register = t.register AND r.tariff = t.tariff
                 AND r.ts >= t.day::timestamp AT TIME ZONE z.zone
                 AND r.ts < (t.day + 1)::timestamp AT TIME ZONE z.zone
 WHERE r.value IS NOT NULL
 GROUP BY r.meter, r.register, r.tariff, t.day
    ON CONFLICT (meter, register, tariff, day) DO UPDATE SET
       first_ts = excluded.first_ts, first_value = excluded.first_value, last_ts = excluded.last_ts,
       last_value = excluded.last_value, samples = excluded.samples
"""
_REFRESHED_UPTO = b"SELECT coalesce((SELECT value FROM store_meta WHERE key = 'energy_daily_batch'), '0')::bigint"
_SET_REFRESHED_UPTO = (
    "INSERT INTO store_meta (key, value) VALUES ('energy_daily_batch', %s)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
#: pg_advisory_xact_lock key of the refresh, so two instances do not recompute the same days at once
_REFRESH_LOCK = 0x72_65_66_72_65_73_68  # "refresh"


def _daily_energy_view(edition: Edition) -> _Query:
    day = "(a.bucket AT TIME ZONE z.zone)::date" if edition is Edition.COMMUNITY else "a.day"
    return sql.SQL(
        "CREATE VIEW daily_energy AS"
        " SELECT a.meter, a.register, a.tariff, " + day + " AS day, a.first_ts, a.first_value, a.last_ts,"
        " a.last_value, a.last_value - a.first_value AS used, a.samples"
        " FROM energy_daily_agg a CROSS JOIN store_zone z"
    )


def retention_statement(keep: timedelta | None) -> _Query:
    """Community: the retention policy of ``readings`` for ``keep`` (None removes it)."""
    if keep is None:
        return sql.SQL("SELECT remove_retention_policy('readings', if_exists => true)")
    return sql.SQL("SELECT add_retention_policy('readings', drop_after => {keep}, if_not_exists => true)").format(
        keep=sql.Literal(keep)
    )


async def setup(conn: _Conn, edition: Edition, zone: str) -> None:
    """Create the edition-dependent objects that do not exist yet (idempotent; call after the migrations)."""
    if await _exists(conn, "energy_daily_agg"):
        return
    async with conn.transaction():
        if edition is Edition.COMMUNITY:
            for statement in community_statements(zone):
                await conn.execute(statement)
        else:
            await conn.execute(_AGG_TABLE.encode())
        await conn.execute(_daily_energy_view(edition))
    _LOGGER.info("created the %s objects (energy_daily_agg, daily_energy)", edition.value)


async def refresh(conn: _Conn, edition: Edition) -> bool:
    """Apache / plain PostgreSQL: bring ``energy_daily_agg`` up to the ingest watermark (Community: the continuous
    aggregate's policy does). True if refreshed."""
    if edition is Edition.COMMUNITY or not await _exists(conn, "energy_daily_agg"):
        return False
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REFRESH_LOCK,))
        last = await (await conn.execute(_REFRESHED_UPTO)).fetchone()
        until = await (await conn.execute(b"SELECT ingest_batch FROM ingest_watermark")).fetchone()
        assert last is not None and until is not None
        await conn.execute(_REFRESH.encode(), {"last": last[0], "until": until[0]})
        await conn.execute(_SET_REFRESHED_UPTO, (str(until[0]),))
    return True


async def retention(conn: _Conn, edition: Edition, keep: timedelta | None) -> int:
    """Apply the retention of ``readings`` (instantaneous values and curve points; never ``frozen_readings``).

    Community: installs (or removes, for None) the retention policy and returns 0. Apache edition: drops the
    chunks entirely older than ``keep`` now and returns how many. Plain PostgreSQL: deletes the rows older than
    ``keep`` and returns how many.
    """
    if edition is Edition.COMMUNITY:
        await conn.execute(retention_statement(keep))
        return 0
    if keep is None:
        return 0
    if edition is Edition.APACHE:
        cursor = await conn.execute("SELECT drop_chunks('readings', older_than => now() - %s::interval)", (keep,))
        return len(await cursor.fetchall())
    cursor = await conn.execute("DELETE FROM readings WHERE ts < now() - %s::interval", (keep,))
    return cursor.rowcount


async def _exists(conn: _Conn, relation: str) -> bool:
    row = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,))).fetchone()
    return bool(row and row[0])
