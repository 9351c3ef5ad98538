"""The production store: TimescaleDB (or plain PostgreSQL) through psycopg 3, async.

``write`` is one transaction (the contract is in :mod:`headend.storage.base` and docs/schema.md):

0. take the ingest lock (``pg_advisory_xact_lock``) and draw the batch number (``ingest_batches``): batches
   commit in number order, so ``ingest_batch`` is an exact incremental-read watermark;
1. per target table (``readings``, ``frozen_readings``), fast path: binary ``COPY`` of the rows straight into the
   table inside a savepoint. A batch of new readings, the usual case, costs what a raw COPY costs. If any key is
   stored already (or repeats within the batch) the COPY fails with a unique violation, the savepoint is rolled
   back, and the rows take the staging path:

   a. binary ``COPY`` into a session-local staging table (temporary, ``ON COMMIT DELETE ROWS``, created once per
      connection so the catalog does not churn), each row numbered by its position in the batch;
   b. ``INSERT … SELECT DISTINCT ON (key) … ORDER BY key, seq … ON CONFLICT DO NOTHING``: the first row of each new
      key is inserted, existing keys are left untouched;
   c. only if some rows were not inserted: the staged rows whose content differs from the stored row go to
      ``reading_conflicts`` (one per distinct new content, and not again if that content is already recorded),
      and each new conflict gets a ``reading_conflict`` row in ``events`` — one statement (a data-modifying CTE).

The rows arrive already encoded (``_pgcopy``): from the spool, which encoded them when they were acknowledged
(:meth:`TimescaleStore.write_encoded`), or encoded here (:meth:`TimescaleStore.write`).

Edition (``SHOW timescaledb.license``, read as ``current_setting('timescaledb.license', true)`` so that plain
PostgreSQL does not raise): ``timescale`` = Community, ``apache`` = Apache-2 build; without the extension in the
database the same tables are created as ordinary tables. :mod:`headend.storage.editions` adds what differs.

Checked against the psycopg 3.3 documentation (COPY ``write`` of raw binary data, transactions and savepoints in
autocommit mode) and the TimescaleDB ``create_hypertable(relation, time_column, chunk_time_interval,
if_not_exists)`` signature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from headend.readings import Reading
from headend.storage import editions
from headend.storage._pgcopy import COLUMNS, SIGNATURE, TRAILER, int4_field, int8_field, reading_row
from headend.storage.base import Edition, MaintenanceResult, WriteResult, validate_readings
from headend.storage.collection import TimescaleCollectionQueries
from headend.storage.errors import MigrationError
from headend.storage.migrations import check_version, load_migrations
from headend.storage.records import (
    Event,
    LinkEvent,
    MeasurementPoint,
    MeterInfo,
    MeterRatio,
    TerminalInfo,
    detail_json,
    event_key,
)
from headend.storage.spool import EncodedBatch

_LOGGER = logging.getLogger(__name__)

_Conn = psycopg.AsyncConnection[tuple[object, ...]]
_Cursor = psycopg.AsyncCursor[tuple[object, ...]]
_T = TypeVar("_T")

#: pg_advisory_xact_lock key held while a migration step runs, so two instances do not race ("headend" in ASCII)
_MIGRATION_LOCK = 0x68_65_61_64_65_6E_64
#: pg_advisory_xact_lock key held by every write transaction until it commits ("ingest" in ASCII)
INGEST_LOCK = 0x69_6E_67_65_73_74

_COLS = ", ".join(COLUMNS)
_TABLES = ("readings", "frozen_readings")
_STAGE = {"readings": "readings_stage", "frozen_readings": "frozen_readings_stage"}
_CREATE_STAGE = """
CREATE TEMPORARY TABLE {stage} (
    seq int NOT NULL, meter text NOT NULL, register text NOT NULL, tariff smallint NOT NULL,
    ts timestamptz NOT NULL, value numeric, unit text NOT NULL, quality text NOT NULL, source text NOT NULL,
    terminal text NOT NULL, pn int NOT NULL, received_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""
#: field counts of a COPY tuple: the reading's fields plus ingest_batch (tables) or plus seq (staging)
_TABLE_TUPLE = len(COLUMNS) + 1
_STAGE_TUPLE = len(COLUMNS) + 1
_NEW_BATCH = "INSERT INTO ingest_batches (batch) VALUES (nextval('ingest_batch_seq')) RETURNING batch"
_CLOSE_BATCH = "UPDATE ingest_batches SET inserted = %s, duplicates = %s, conflicts = %s, events = %s WHERE batch = %s"


def _quality_class(column: str) -> str:
    """SQL for the content class of a quality (base.QUALITY_CLASS): backfilled counts as ok."""
    return f"(CASE WHEN {column} = 'backfilled' THEN 'ok' ELSE {column} END)"


_INSERT_NEW = """
INSERT INTO {table} ({cols}, ingest_batch)
SELECT DISTINCT ON (meter, register, tariff, ts) {cols}, %(batch)s
  FROM {stage}
 ORDER BY meter, register, tariff, ts, seq
    ON CONFLICT (meter, register, tariff, ts) DO NOTHING
"""
# Rows of the batch whose content differs from what is stored under their key. DISTINCT ON keeps one per new
# content (numeric equality: 12.0 and 12.00 are the same value); NOT EXISTS skips a content already recorded.
# Each conflict inserted becomes a reading_conflict event in the same statement.
_INSERT_CONFLICTS = f"""
WITH found AS (
    INSERT INTO reading_conflicts (meter, register, tariff, ts,
           original_value, original_unit, original_quality, original_source, original_received_at,
           new_value, new_unit, new_quality, new_source, new_terminal, new_pn, new_received_at, ingest_batch)
    SELECT DISTINCT ON (s.meter, s.register, s.tariff, s.ts, s.value, s.unit, {_quality_class("s.quality")})
           s.meter, s.register, s.tariff, s.ts,
           r.value, r.unit, r.quality, r.source, r.received_at,
           s.value, s.unit, s.quality, s.source, s.terminal, s.pn, s.received_at, %(batch)s
      FROM {{stage}} s
      JOIN {{table}} r ON r.meter = s.meter AND r.register = s.register AND r.tariff = s.tariff AND r.ts = s.ts
     WHERE (r.value IS DISTINCT FROM s.value OR r.unit <> s.unit
            OR {_quality_class("r.quality")} <> {_quality_class("s.quality")})
       AND NOT EXISTS (
           SELECT 1 FROM reading_conflicts c
            WHERE c.meter = s.meter AND c.register = s.register AND c.tariff = s.tariff AND c.ts = s.ts
              AND c.new_value IS NOT DISTINCT FROM s.value AND c.new_unit = s.unit
              AND {_quality_class("c.new_quality")} = {_quality_class("s.quality")})
     ORDER BY s.meter, s.register, s.tariff, s.ts, s.value, s.unit, {_quality_class("s.quality")}, s.seq
    RETURNING *
)
INSERT INTO events (origin, code, severity, terminal, pn, meter, ts, detail, source, event_key, received_at,
                    ingest_batch)
SELECT 'headend', 'reading_conflict', 'warning', new_terminal, new_pn, meter, detected_at,
       jsonb_build_object('conflict_id', id, 'register', register, 'tariff', tariff,
                          'ts', to_jsonb(ts), 'original_value', original_value::text,
                          'original_quality', original_quality, 'new_value', new_value::text,
                          'new_quality', new_quality, 'new_unit', new_unit, 'new_source', new_source),
       'headend', 'reading_conflict:' || id, new_received_at, ingest_batch
  FROM found
"""
_INSERT_EVENT = """
INSERT INTO events (origin, code, severity, terminal, pn, meter, ts, detail, raw, source, event_key, received_at,
                    ingest_batch)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (event_key) DO NOTHING
"""
_INSERT_LINK = (
    "INSERT INTO terminal_link_log (terminal, ts, event, peer, clock_drift_ms, detail) VALUES (%s, %s, %s, %s, %s, %s)"
)
_UPSERT_TERMINAL = """
INSERT INTO terminals (terminal, kind, protocol, name) VALUES (%s, %s, %s, %s)
    ON CONFLICT (terminal) DO UPDATE SET kind = excluded.kind, protocol = excluded.protocol, name = excluded.name,
                                          updated_at = now()
"""
_UPSERT_METER = """
INSERT INTO meters (meter, address, protocol, tariff_count) VALUES (%s, %s, %s, %s)
    ON CONFLICT (meter) DO UPDATE SET address = excluded.address, protocol = excluded.protocol,
                                       tariff_count = excluded.tariff_count, updated_at = now()
"""
_UPSERT_POINT = """
INSERT INTO measurement_points (terminal, pn, meter, port, baud) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (terminal, pn) DO UPDATE SET meter = excluded.meter, port = excluded.port, baud = excluded.baud,
                                              updated_at = now()
"""
_UPSERT_RATIO = """
INSERT INTO meter_ratios (meter, valid_from, ct_ratio, pt_ratio) VALUES (%s, %s, %s, %s)
    ON CONFLICT (meter, valid_from) DO UPDATE SET ct_ratio = excluded.ct_ratio, pt_ratio = excluded.pt_ratio
"""
_CREATE_MIGRATIONS = """
CREATE TABLE schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class TimescaleStore(TimescaleCollectionQueries):
    """:class:`~headend.storage.base.Store` on TimescaleDB / PostgreSQL.

    One connection (a pool is not needed for one writer), reconnected on the next call after it broke, so the
    spool writer's retries are enough to ride out a database restart. Calls are serialized. A write on a
    database whose schema is behind (it was down when the daemon started) migrates it first.
    """

    def __init__(self, dsn: str, *, tz: ZoneInfo) -> None:
        self.tz = tz
        self._dsn = dsn
        self._conn: _Conn | None = None
        self._lock = asyncio.Lock()
        self._edition = Edition.POSTGRESQL
        self._migrations = load_migrations("postgres")
        self._schema_current = False

    @property
    def edition(self) -> Edition:
        """The edition found at the last (re)connection or migration."""
        return self._edition

    # -- connection ------------------------------------------------------------------------------------------

    async def open(self) -> None:
        async with self._lock:
            await self._connection()

    async def close(self) -> None:
        async with self._lock:
            await self._discard()

    async def _connection(self) -> _Conn:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        await self._discard()
        conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        try:
            # timestamptz values come back in the configured zone; server-side date arithmetic uses it too
            await conn.execute("SELECT set_config('TimeZone', %s, false)", (self.tz.key,))
            for stage in _STAGE.values():
                await conn.execute(_CREATE_STAGE.format(stage=stage).encode())
            self._edition = await _detect_edition(conn)
        except BaseException:
            await conn.close()
            raise
        _LOGGER.info("connected to the store (%s)", self._edition.value)
        self._conn = conn
        return conn

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _recover(self, conn: _Conn) -> None:
        """After a failed or cancelled call: keep the connection only if it is idle and usable."""
        if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            await self._discard()

    # -- schema ----------------------------------------------------------------------------------------------

    async def migrate(self) -> int:
        async with self._lock:
            conn = await self._connection()
            try:
                return await self._migrate(conn)
            except BaseException:
                await self._recover(conn)
                raise

    async def _migrate(self, conn: _Conn) -> int:
        if await _version(conn) == 0:
            await _try_create_timescaledb(conn)
        for migration in self._migrations:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                if not await _has_migrations_table(conn):
                    await conn.execute(_CREATE_MIGRATIONS)
                current = await _version(conn)
                check_version(current, self._migrations, "database")
                if migration.version <= current:
                    continue
                _LOGGER.info("applying migration %04d_%s", migration.version, migration.name)
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
        self._edition = await _detect_edition(conn)
        version = await _version(conn)
        if version >= 2:  # store_meta and the tables under the edition objects come with 0002
            await self._check_zone(conn)
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                await editions.setup(conn, self._edition, self.tz.key)
        self._schema_current = version == len(self._migrations)
        return version

    async def _check_zone(self, conn: _Conn) -> None:
        """Record the configured zone at the first migration; refuse another one afterwards (the local dates
        of the billing views would change under billing's feet)."""
        await conn.execute(
            "INSERT INTO store_meta (key, value) VALUES ('time_zone', %s) ON CONFLICT (key) DO NOTHING", (self.tz.key,)
        )
        zone = await _scalar(conn, b"SELECT value FROM store_meta WHERE key = 'time_zone'")
        if zone != self.tz.key:
            raise MigrationError(f"database: the billing views use the zone {zone}, configured zone is {self.tz.key}")

    async def _ensure_schema(self, conn: _Conn) -> None:
        """Before the first write on this store: migrate if the database is behind this headend."""
        if self._schema_current:
            return
        if await _version(conn) < len(self._migrations):
            await self._migrate(conn)
        self._schema_current = True

    async def schema_version(self) -> int:
        async with self._lock:
            return await _version(await self._connection())

    # -- readings --------------------------------------------------------------------------------------------

    async def write(self, readings: Sequence[Reading]) -> WriteResult:
        validate_readings(readings)
        batch = EncodedBatch(0, [], [])
        for reading in readings:
            (batch.frozen if reading.kind.frozen else batch.readings).append(reading_row(reading))
        return await self.write_encoded(batch)

    async def write_encoded(self, batch: EncodedBatch) -> WriteResult:
        """:meth:`write` for rows the spool encoded when they were acknowledged (:meth:`Spool.peek_encoded`)."""
        if not len(batch):
            return WriteResult(inserted=0, duplicates=0, conflicts=0)
        async with self._lock:
            conn = await self._connection()
            try:
                await self._ensure_schema(conn)
                return await self._write(conn, batch)
            except BaseException:
                await self._recover(conn)
                raise

    async def _write(self, conn: _Conn, batch: EncodedBatch) -> WriteResult:
        inserted = conflicts = 0
        async with conn.transaction(), conn.cursor() as cur:
            number = await _begin_batch(cur)
            for table, rows in zip(_TABLES, (batch.readings, batch.frozen), strict=True):
                if rows:
                    new, clashes = await _write_table(conn, cur, table, rows, number)
                    inserted += new
                    conflicts += clashes
            duplicates = len(batch) - inserted - conflicts
            await cur.execute(_CLOSE_BATCH, (inserted, duplicates, conflicts, conflicts, number))
        return WriteResult(inserted=inserted, duplicates=duplicates, conflicts=conflicts)

    # -- events, link history, archive ------------------------------------------------------------------------

    async def write_events(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        return await self._transaction(lambda cur: _write_events(cur, events))

    async def write_link_events(self, events: Sequence[LinkEvent]) -> None:
        if not events:
            return
        rows = [
            (e.terminal, e.ts, e.event.value, e.peer, e.clock_drift_ms, Jsonb(e.detail, dumps=detail_json))
            for e in events
        ]
        await self._transaction(lambda cur: cur.executemany(_INSERT_LINK, rows))

    async def save_archive(
        self,
        *,
        terminals: Sequence[TerminalInfo] = (),
        meters: Sequence[MeterInfo] = (),
        points: Sequence[MeasurementPoint] = (),
        ratios: Sequence[MeterRatio] = (),
    ) -> None:
        async def save(cur: _Cursor) -> None:
            for query, rows in (
                (_UPSERT_TERMINAL, [(t.terminal, t.kind, t.protocol, t.name) for t in terminals]),
                (_UPSERT_METER, [(m.meter, m.address, m.protocol, m.tariff_count) for m in meters]),
                (_UPSERT_POINT, [(p.terminal, p.pn, p.meter, p.port, p.baud) for p in points]),
                (_UPSERT_RATIO, [(r.meter, r.valid_from, r.ct_ratio, r.pt_ratio) for r in ratios]),
            ):
                if rows:
                    await cur.executemany(query, rows)

        await self._transaction(save)

    async def _transaction(self, work: Callable[[_Cursor], Awaitable[_T]]) -> _T:
        async with self._lock:
            conn = await self._connection()
            try:
                await self._ensure_schema(conn)
                async with conn.transaction(), conn.cursor() as cur:
                    return await work(cur)
            except BaseException:
                await self._recover(conn)
                raise

    # -- upkeep and status -----------------------------------------------------------------------------------

    async def maintain(self, *, keep_readings: timedelta | None) -> MaintenanceResult:
        async with self._lock:
            conn = await self._connection()
            try:
                await self._ensure_schema(conn)
                refreshed = await editions.refresh(conn, self._edition)  # first: the aggregate outlives retention
                dropped = await editions.retention(conn, self._edition, keep_readings)
            except BaseException:
                await self._recover(conn)
                raise
        return MaintenanceResult(refreshed=refreshed, dropped=dropped)

    async def count_readings(self) -> int:
        version = await self.schema_version()
        if version < 2:
            return await self._count("SELECT count(*) FROM readings")
        return await self._count("SELECT (SELECT count(*) FROM readings) + (SELECT count(*) FROM frozen_readings)")

    async def count_conflicts(self) -> int:
        """Rows in ``reading_conflicts``."""
        return await self._count("SELECT count(*) FROM reading_conflicts")

    async def _count(self, query: str) -> int:
        async with self._lock:
            conn = await self._connection()
            count = await _scalar(conn, query.encode())
        assert isinstance(count, int)
        return count

    async def status(self) -> dict[str, object]:
        async with self._lock:
            conn = await self._connection()
            version = await _version(conn)
            result: dict[str, object] = {"edition": self._edition.value, "schema_version": version}
            if version >= 2:
                row = await (
                    await conn.execute(
                        b"SELECT (SELECT value FROM store_meta WHERE key = 'time_zone'),"
                        b" (SELECT count(*) FROM readings), (SELECT count(*) FROM frozen_readings),"
                        b" (SELECT count(*) FROM reading_conflicts), (SELECT max(detected_at) FROM reading_conflicts),"
                        b" (SELECT count(*) FROM events),"
                        b" (SELECT ingest_batch FROM ingest_watermark), (SELECT started_at FROM ingest_watermark)"
                    )
                ).fetchone()
                assert row is not None
                keys = ("time_zone", "readings", "frozen_readings", "conflicts", "last_conflict_at", "events",
                        "ingest_batch", "last_ingest_at")  # fmt: skip
                result.update(zip(keys, row, strict=True))
        return result


async def _begin_batch(cur: _Cursor) -> int:
    """Take the ingest lock, then draw this transaction's batch number (so numbers commit in order)."""
    await cur.execute("SELECT pg_advisory_xact_lock(%s)", (INGEST_LOCK,))
    await cur.execute(_NEW_BATCH)
    row = await cur.fetchone()
    assert row is not None and isinstance(row[0], int)
    return row[0]


async def _write_table(conn: _Conn, cur: _Cursor, table: str, rows: list[bytes], batch: int) -> tuple[int, int]:
    """Write ``rows`` (binary COPY fields) to ``table``; returns (inserted, conflicts)."""
    batch_field = int8_field(batch)
    tuple_head = _TABLE_TUPLE.to_bytes(2, "big")
    try:
        async with conn.transaction():  # a savepoint: a clash undoes only this attempt
            # every tuple is: field count, the reading's fields, ingest_batch — joined in one go
            data = SIGNATURE + tuple_head + (batch_field + tuple_head).join(rows) + batch_field + TRAILER
            async with cur.copy(f"COPY {table} ({_COLS}, ingest_batch) FROM STDIN (FORMAT BINARY)".encode()) as copy:
                await copy.write(data)
    except psycopg.errors.UniqueViolation:
        pass  # some keys are stored already, or repeat in the batch: sort it out through the staging table
    else:
        return len(rows), 0
    stage = _STAGE[table]
    stage_head = _STAGE_TUPLE.to_bytes(2, "big")
    data = b"".join([SIGNATURE, *(stage_head + int4_field(seq) + row for seq, row in enumerate(rows)), TRAILER])
    async with cur.copy(f"COPY {stage} (seq, {_COLS}) FROM STDIN (FORMAT BINARY)".encode()) as copy:
        await copy.write(data)
    await cur.execute(_INSERT_NEW.format(table=table, stage=stage, cols=_COLS).encode(), {"batch": batch})
    inserted = cur.rowcount
    conflicts = 0
    if inserted < len(rows):
        await cur.execute(_INSERT_CONFLICTS.format(table=table, stage=stage).encode(), {"batch": batch})
        conflicts = cur.rowcount
    return inserted, conflicts


async def _write_events(cur: _Cursor, events: Sequence[Event]) -> int:
    number = await _begin_batch(cur)
    new = 0
    for e in events:
        await cur.execute(
            _INSERT_EVENT,
            (e.origin.value, e.code, e.severity.value, e.terminal, e.pn, e.meter, e.ts,
             Jsonb(e.detail, dumps=detail_json), e.raw, e.source, event_key(e), e.received_at, number),
        )  # fmt: skip
        new += cur.rowcount
    await cur.execute(_CLOSE_BATCH, (0, 0, 0, new, number))
    return new


async def _scalar(conn: _Conn, query: bytes) -> object:
    row = await (await conn.execute(query)).fetchone()
    return None if row is None else row[0]


async def _has_migrations_table(conn: _Conn) -> bool:
    return await _scalar(conn, b"SELECT to_regclass('schema_migrations') IS NOT NULL") is True


async def _version(conn: _Conn) -> int:
    if not await _has_migrations_table(conn):
        return 0
    version = await _scalar(conn, b"SELECT coalesce(max(version), 0) FROM schema_migrations")
    assert isinstance(version, int)
    return version


async def _detect_edition(conn: _Conn) -> Edition:
    license_ = await _scalar(
        conn,
        b"SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
        b" THEN coalesce(current_setting('timescaledb.license', true), 'apache') END",
    )
    if license_ is None:
        return Edition.POSTGRESQL
    return Edition.COMMUNITY if license_ == Edition.COMMUNITY.value else Edition.APACHE


async def _try_create_timescaledb(conn: _Conn) -> None:
    """On a fresh database, install TimescaleDB when the server offers it, so the tables become hypertables.

    Needs the library in ``shared_preload_libraries`` and the right to create the extension; without either the
    schema is created on plain PostgreSQL, and a warning says why.
    """
    available = await _scalar(
        conn,
        b"SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
        b" AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
    )
    if available is not True:
        return
    try:
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        _LOGGER.warning("TimescaleDB is installed on the server but cannot be created here (%s); "
                        "continuing on plain PostgreSQL", exc)  # fmt: skip
