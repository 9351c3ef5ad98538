"""The production store: TimescaleDB (or plain PostgreSQL) through psycopg 3, async.

``write`` is one transaction:

* fast path, when the keys of the batch are distinct: binary ``COPY`` straight into ``readings`` inside a
  savepoint. A batch of new readings, the usual case, costs what a raw COPY costs. If any key is already stored
  the COPY fails with a unique violation, the savepoint is rolled back, and the batch takes the staging path;
* staging path:

  1. binary ``COPY`` of the batch into a session-local staging table (``readings_stage``, a temporary table
     with ``ON COMMIT DELETE ROWS``, created once per connection rather than per batch so the catalog does not
     churn), each row numbered by its position in the batch;
  2. ``INSERT INTO readings … SELECT DISTINCT ON (key) … ORDER BY key, seq … ON CONFLICT DO NOTHING``: the
     first row of each new key is inserted, existing keys are left untouched;
  3. only if some rows were not inserted: the staged rows whose value, unit or quality differ from the stored
     row go to ``reading_conflicts`` (one per distinct new content, and not again if that content is already
     recorded).

Everything else is a duplicate. A replay of the same batch therefore inserts nothing anywhere.

Edition (``SHOW timescaledb.license``, read as ``current_setting('timescaledb.license', true)`` so that plain
PostgreSQL does not raise): ``timescale`` = Community, ``apache`` = Apache-2 build; without the extension in the
database the same tables are created as ordinary tables.

Checked against the psycopg 3.3 documentation (COPY, ``AsyncCopy.set_types``, transactions in autocommit mode)
and the TimescaleDB ``create_hypertable(relation, time_column, chunk_time_interval, if_not_exists)`` signature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import psycopg
from psycopg.pq import TransactionStatus

from headend.readings import Reading
from headend.storage.base import Edition, WriteResult, validate_readings
from headend.storage.migrations import check_version, load_migrations

_LOGGER = logging.getLogger(__name__)

#: pg_advisory_xact_lock key held while a migration step runs, so two instances do not race ("headend" in ASCII)
_MIGRATION_LOCK = 0x68_65_61_64_65_6E_64

_COLUMNS = "meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at"
_TYPES = ["text", "text", "int2", "timestamptz", "numeric", "text", "text", "text", "text", "int4", "timestamptz"]
_CREATE_STAGE = """
CREATE TEMPORARY TABLE readings_stage (
    seq int NOT NULL, meter text NOT NULL, register text NOT NULL, tariff smallint NOT NULL,
    ts timestamptz NOT NULL, value numeric, unit text NOT NULL, quality text NOT NULL, source text NOT NULL,
    terminal text NOT NULL, pn int NOT NULL, received_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""
_COPY_STAGE = f"COPY readings_stage (seq, {_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_COPY_DIRECT = f"COPY readings ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_INSERT_NEW = """
INSERT INTO readings (meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at)
SELECT DISTINCT ON (meter, register, tariff, ts)
       meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at
  FROM readings_stage
 ORDER BY meter, register, tariff, ts, seq
    ON CONFLICT (meter, register, tariff, ts) DO NOTHING
"""
# Rows of the batch that differ from what is stored under their key. DISTINCT ON keeps one per new content
# (numeric equality: 12.0 and 12.00 are the same value); NOT EXISTS skips a content already recorded.
_INSERT_CONFLICTS = """
INSERT INTO reading_conflicts (meter, register, tariff, ts,
       original_value, original_unit, original_quality, original_source, original_received_at,
       new_value, new_unit, new_quality, new_source, new_terminal, new_pn, new_received_at)
SELECT DISTINCT ON (s.meter, s.register, s.tariff, s.ts, s.value, s.unit, s.quality)
       s.meter, s.register, s.tariff, s.ts,
       r.value, r.unit, r.quality, r.source, r.received_at,
       s.value, s.unit, s.quality, s.source, s.terminal, s.pn, s.received_at
  FROM readings_stage s
  JOIN readings r ON r.meter = s.meter AND r.register = s.register AND r.tariff = s.tariff AND r.ts = s.ts
 WHERE (r.value IS DISTINCT FROM s.value OR r.unit <> s.unit OR r.quality <> s.quality)
   AND NOT EXISTS (
       SELECT 1 FROM reading_conflicts c
        WHERE c.meter = s.meter AND c.register = s.register AND c.tariff = s.tariff AND c.ts = s.ts
          AND c.new_value IS NOT DISTINCT FROM s.value AND c.new_unit = s.unit AND c.new_quality = s.quality)
 ORDER BY s.meter, s.register, s.tariff, s.ts, s.value, s.unit, s.quality, s.seq
"""
_CREATE_MIGRATIONS = """
CREATE TABLE schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class TimescaleStore:
    """:class:`~headend.storage.base.Store` on TimescaleDB / PostgreSQL.

    One connection (a pool is not needed for one writer), reconnected on the next call after it broke, so the
    spool writer's retries are enough to ride out a database restart. Calls are serialized.
    """

    def __init__(self, dsn: str, *, tz: ZoneInfo) -> None:
        self.tz = tz
        self._dsn = dsn
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._lock = asyncio.Lock()
        self._edition = Edition.POSTGRESQL
        self._migrations = load_migrations("postgres")

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

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        await self._discard()
        conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        try:
            # timestamptz values come back in the configured zone; server-side date arithmetic uses it too
            await conn.execute("SELECT set_config('TimeZone', %s, false)", (self.tz.key,))
            await conn.execute(_CREATE_STAGE)
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

    async def _recover(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
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

    async def _migrate(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> int:
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
        return await _version(conn)

    async def schema_version(self) -> int:
        async with self._lock:
            return await _version(await self._connection())

    # -- data ------------------------------------------------------------------------------------------------

    async def write(self, readings: Sequence[Reading]) -> WriteResult:
        validate_readings(readings)
        if not readings:
            return WriteResult(inserted=0, duplicates=0, conflicts=0)
        async with self._lock:
            conn = await self._connection()
            try:
                return await self._write(conn, readings)
            except BaseException:
                await self._recover(conn)
                raise

    async def _write(
        self, conn: psycopg.AsyncConnection[tuple[object, ...]], readings: Sequence[Reading]
    ) -> WriteResult:
        async with conn.transaction(), conn.cursor() as cur:
            if len({r.key for r in readings}) == len(readings):
                try:
                    async with conn.transaction():  # a savepoint: a clash undoes only this attempt
                        await _copy(cur, readings, staged=False)
                except psycopg.errors.UniqueViolation:
                    pass  # some keys are stored already: sort it out through the staging table
                else:
                    return WriteResult(inserted=len(readings), duplicates=0, conflicts=0)
            await _copy(cur, readings, staged=True)
            await cur.execute(_INSERT_NEW)
            inserted = cur.rowcount
            conflicts = 0
            if inserted < len(readings):
                await cur.execute(_INSERT_CONFLICTS)
                conflicts = cur.rowcount
        return WriteResult(inserted=inserted, duplicates=len(readings) - inserted - conflicts, conflicts=conflicts)

    async def count_readings(self) -> int:
        return await self._count("SELECT count(*) FROM readings")

    async def count_conflicts(self) -> int:
        """Rows in ``reading_conflicts``."""
        return await self._count("SELECT count(*) FROM reading_conflicts")

    async def _count(self, query: str) -> int:
        async with self._lock:
            conn = await self._connection()
            row = await (await conn.execute(query.encode())).fetchone()
        assert row is not None
        count = row[0]
        assert isinstance(count, int)
        return count


async def _copy(cur: psycopg.AsyncCursor[tuple[object, ...]], readings: Sequence[Reading], *, staged: bool) -> None:
    """Binary COPY of ``readings`` into ``readings``, or into the staging table with each row's position."""
    async with cur.copy(_COPY_STAGE if staged else _COPY_DIRECT) as copy:
        copy.set_types(["int4", *_TYPES] if staged else _TYPES)
        for seq, r in enumerate(readings):
            row = (r.meter, r.register, r.tariff, r.ts, r.value, r.unit, r.quality.value, r.source, r.terminal, r.pn,
                   r.received_at)  # fmt: skip
            await copy.write_row((seq, *row) if staged else row)


async def _scalar(conn: psycopg.AsyncConnection[tuple[object, ...]], query: bytes) -> object:
    row = await (await conn.execute(query)).fetchone()
    return None if row is None else row[0]


async def _has_migrations_table(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
    return await _scalar(conn, b"SELECT to_regclass('schema_migrations') IS NOT NULL") is True


async def _version(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> int:
    if not await _has_migrations_table(conn):
        return 0
    version = await _scalar(conn, b"SELECT coalesce(max(version), 0) FROM schema_migrations")
    assert isinstance(version, int)
    return version


async def _detect_edition(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> Edition:
    license_ = await _scalar(
        conn,
        b"SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
        b" THEN coalesce(current_setting('timescaledb.license', true), 'apache') END",
    )
    if license_ is None:
        return Edition.POSTGRESQL
    return Edition.COMMUNITY if license_ == Edition.COMMUNITY.value else Edition.APACHE


async def _try_create_timescaledb(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    """On a fresh database, install TimescaleDB when the server offers it, so ``readings`` becomes a hypertable.

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
