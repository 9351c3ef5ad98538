"""The embedded store: the same tables and semantics as TimescaleDB, in one SQLite file, for the demo and small
sites with no database server.

``value`` is TEXT holding the exact decimal; timestamps are ISO 8601 texts in the configured zone (see
``migrations/sqlite/0001_readings.sql`` and ``0002_billing_contract.sql``). Since the zone is part of the text
of ``ts``, and ``ts`` is part of the key, the zone is recorded in ``store_meta`` at the first migration and a
different zone is refused afterwards.

sqlite3 is blocking: every operation runs in a worker thread (``asyncio.to_thread``) on one connection behind a
lock. WAL mode with ``synchronous=FULL``: a returned ``write`` is on disk, so the spool may release it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from headend.readings import Quality, Reading
from headend.storage._codec import decimal_from_text, decimal_to_numeric_text
from headend.storage.base import QUALITY_CLASS, Edition, MaintenanceResult, WriteResult, validate_readings
from headend.storage.collection import SqliteCollectionQueries
from headend.storage.errors import MigrationError, StorageError
from headend.storage.migrations import check_version, load_migrations
from headend.storage.records import (
    READING_CONFLICT,
    Event,
    LinkEvent,
    MeasurementPoint,
    MeterInfo,
    MeterRatio,
    Severity,
    TerminalInfo,
    detail_json,
    event_key,
)

_T = TypeVar("_T")

_BUSY_TIMEOUT_MS = 10_000
_KEY = "meter = ? AND register = ? AND tariff = ? AND ts = ?"
_COLUMNS = "meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at, ingested_at"
_INSERT = {
    table: f"INSERT INTO {table} ({_COLUMNS}, ingest_batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (meter, register, tariff, ts) DO NOTHING"
    for table in ("readings", "frozen_readings")
}
_ORIGINAL = {
    table: f"SELECT value, unit, quality, source, received_at FROM {table} WHERE {_KEY}"
    for table in ("readings", "frozen_readings")
}
_RECORDED = f"SELECT new_value, new_unit, new_quality FROM reading_conflicts WHERE {_KEY}"
_INSERT_CONFLICT = (
    "INSERT INTO reading_conflicts (meter, register, tariff, ts, original_value, original_unit,"
    " original_quality, original_source, original_received_at, new_value, new_unit, new_quality, new_source,"
    " new_terminal, new_pn, new_received_at, detected_at, ingest_batch)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = (
    "INSERT INTO events (origin, code, severity, terminal, pn, meter, ts, detail, raw, source, event_key,"
    " received_at, ingested_at, ingest_batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (event_key) DO NOTHING"
)
_INSERT_LINK = (
    "INSERT INTO terminal_link_log (terminal, ts, event, peer, clock_drift_ms, detail) VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_TERMINAL = (
    "INSERT INTO terminals (terminal, kind, protocol, name, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (terminal) DO UPDATE SET kind = excluded.kind, protocol = excluded.protocol,"
    " name = excluded.name, updated_at = excluded.updated_at"
)
_UPSERT_METER = (
    "INSERT INTO meters (meter, address, protocol, tariff_count, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (meter) DO UPDATE SET address = excluded.address, protocol = excluded.protocol,"
    " tariff_count = excluded.tariff_count, updated_at = excluded.updated_at"
)
_UPSERT_POINT = (
    "INSERT INTO measurement_points (terminal, pn, meter, port, baud, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (terminal, pn) DO UPDATE SET meter = excluded.meter, port = excluded.port,"
    " baud = excluded.baud, updated_at = excluded.updated_at"
)
_UPSERT_RATIO = (
    "INSERT INTO meter_ratios (meter, valid_from, ct_ratio, pt_ratio) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (meter, valid_from) DO UPDATE SET ct_ratio = excluded.ct_ratio, pt_ratio = excluded.pt_ratio"
)
_CLOSE_BATCH = "UPDATE ingest_batches SET inserted = ?, duplicates = ?, conflicts = ?, events = ? WHERE batch = ?"
_STATUS = """
SELECT (SELECT value FROM store_meta WHERE key = 'time_zone'),
       (SELECT count(*) FROM readings), (SELECT count(*) FROM frozen_readings),
       (SELECT count(*) FROM reading_conflicts),
       (SELECT detected_at FROM reading_conflicts ORDER BY id DESC LIMIT 1),
       (SELECT count(*) FROM events),
       (SELECT ingest_batch FROM ingest_watermark), (SELECT started_at FROM ingest_watermark)
"""
_STATUS_KEYS = ("time_zone", "readings", "frozen_readings", "conflicts", "last_conflict_at", "events",
                "ingest_batch", "last_ingest_at")  # fmt: skip

#: energy_daily_agg (migrations/sqlite/0002): recompute the days of the energy registers that got rows in the
#: ingest batches since the last refresh — first and last indication of the local day, and how many there are
_REFRESH = """
WITH touched AS (
    SELECT DISTINCT meter, register, tariff, substr(ts, 1, 10) AS day
      FROM readings
     WHERE ingest_batch > ? AND ingest_batch <= ?
       AND value IS NOT NULL AND (register LIKE 'energy.%' OR register LIKE 'curve.energy.%')
), e AS (
    SELECT r.meter, r.register, r.tariff, t.day, r.ts, r.value,
           row_number() OVER (PARTITION BY r.meter, r.register, r.tariff, t.day ORDER BY julianday(r.ts)) AS rn_first,
           row_number() OVER (PARTITION BY r.meter, r.register, r.tariff, t.day ORDER BY julianday(r.ts) DESC)
               AS rn_last,
           count(*) OVER (PARTITION BY r.meter, r.register, r.tariff, t.day) AS samples
      FROM touched t
      JOIN readings r ON r.meter = t.meter AND r.register = t.register AND r.tariff = t.tariff
                     AND substr(r.ts, 1, 10) = t.day
     WHERE r.value IS NOT NULL
)
INSERT INTO energy_daily_agg (meter, register, tariff, day, first_ts, first_value, last_ts, last_value, samples)
SELECT f.meter, f.register, f.tariff, f.day, f.ts, f.value, l.ts, l.value, f.samples
  FROM e f
  JOIN e l ON l.meter = f.meter AND l.register = f.register AND l.tariff = f.tariff AND l.day = f.day AND l.rn_last = 1
 WHERE f.rn_first = 1
    ON CONFLICT (meter, register, tariff, day) DO UPDATE SET
       first_ts = excluded.first_ts, first_value = excluded.first_value, last_ts = excluded.last_ts,
       last_value = excluded.last_value, samples = excluded.samples
"""
_REFRESHED_UPTO = "SELECT coalesce((SELECT value FROM store_meta WHERE key = 'energy_daily_batch'), '0')"
_SET_REFRESHED_UPTO = (
    "INSERT INTO store_meta (key, value) VALUES ('energy_daily_batch', ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

_Content = tuple[Decimal | None, str, str]


def _content(value: str | None, unit: str, quality: str) -> _Content:
    """What decides duplicate vs conflict (base module docstring): the value compared as a number (12.0 == 12.00,
    as PostgreSQL's numeric compares), the unit, and the quality's content class (backfilled = ok)."""
    return (decimal_from_text(value), unit, QUALITY_CLASS[Quality(quality)].value)


class SqliteStore(SqliteCollectionQueries):
    """:class:`~headend.storage.base.Store` in a local SQLite file."""

    def __init__(self, path: Path, *, tz: ZoneInfo) -> None:
        self.path = path
        self.tz = tz
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._migrations = load_migrations("sqlite")
        self._schema_current = False

    @property
    def edition(self) -> Edition:
        """Always :attr:`Edition.SQLITE` (cf. ``TimescaleStore.edition``)."""
        return Edition.SQLITE

    async def _run(self, func: Callable[[sqlite3.Connection], _T]) -> _T:
        return await asyncio.to_thread(self._locked, func)

    def _locked(self, func: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            if self._conn is None:
                raise StorageError(f"{self.path}: store is not open")
            return func(self._conn)

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        with self._lock:
            if self._conn is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                self._check_zone(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- schema ----------------------------------------------------------------------------------------------

    async def migrate(self) -> int:
        return await self._run(self._migrate_sync)

    def _migrate_sync(self, conn: sqlite3.Connection) -> int:
        for migration in self._migrations:
            # BEGIN IMMEDIATE takes the write lock first, so two processes cannot both apply the same step
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at TEXT NOT NULL) STRICT"
                )
                current = self._version(conn)
                check_version(current, self._migrations, str(self.path))
                if migration.version <= current:
                    conn.execute("COMMIT")
                    continue
                # executescript() would COMMIT the open transaction first; run the statements one by one
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, datetime.now(self.tz).isoformat()),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        conn.execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES ('time_zone', ?)", (self.tz.key,))
        self._check_zone(conn)
        version = self._version(conn)
        self._schema_current = version == len(self._migrations)
        return version

    def _check_zone(self, conn: sqlite3.Connection) -> None:
        if not _has_table(conn, "store_meta"):
            return
        row = conn.execute("SELECT value FROM store_meta WHERE key = 'time_zone'").fetchone()
        if row is not None and row[0] != self.tz.key:
            raise MigrationError(
                f"{self.path}: the store keeps timestamps in {row[0]}, configured zone is {self.tz.key}"
            )

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        if not _has_table(conn, "schema_migrations"):
            return 0
        version: int | None = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        return version or 0

    async def schema_version(self) -> int:
        return await self._run(self._version)

    # -- data ------------------------------------------------------------------------------------------------

    async def write(self, readings: Sequence[Reading]) -> WriteResult:
        validate_readings(readings)
        if not readings:
            return WriteResult(inserted=0, duplicates=0, conflicts=0)
        return await self._run(
            lambda conn: self._in_batch(conn, lambda batch, now: self._write_readings(conn, readings, batch, now))
        )

    def _in_batch(self, conn: sqlite3.Connection, work: Callable[[int, str], tuple[WriteResult, int]]) -> WriteResult:
        """One write transaction with its ingest batch (``BEGIN IMMEDIATE``: batches commit in number order)."""
        self._ensure_schema(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = datetime.now(self.tz).isoformat()  # taken under the write lock: ingested_at in commit order
            batch = conn.execute("INSERT INTO ingest_batches (started_at) VALUES (?)", (now,)).lastrowid
            assert batch is not None
            result, events = work(batch, now)
            conn.execute(_CLOSE_BATCH, (result.inserted, result.duplicates, result.conflicts, events, batch))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _write_readings(
        self, conn: sqlite3.Connection, readings: Sequence[Reading], batch: int, now: str
    ) -> tuple[WriteResult, int]:
        tz = self.tz
        inserted = duplicates = conflicts = 0
        for r in readings:
            table = "frozen_readings" if r.kind.frozen else "readings"
            key = (r.meter, r.register, r.tariff, r.ts.astimezone(tz).isoformat())
            value = decimal_to_numeric_text(r.value)
            received_at = r.received_at.astimezone(tz).isoformat()
            new = (value, r.unit, r.quality.value, r.source, r.terminal, r.pn, received_at)
            if conn.execute(_INSERT[table], (*key, *new, now, batch)).rowcount == 1:
                inserted += 1
                continue
            # the key exists (stored earlier or earlier in this batch): same content, or a conflict
            original = conn.execute(_ORIGINAL[table], key).fetchone()
            content = _content(value, r.unit, r.quality.value)
            if content == _content(*original[:3]) or any(
                content == _content(*row) for row in conn.execute(_RECORDED, key)
            ):
                duplicates += 1
                continue
            conflict_id = conn.execute(_INSERT_CONFLICT, (*key, *original, *new, now, batch)).lastrowid
            detail = {
                "conflict_id": conflict_id, "register": r.register, "tariff": r.tariff, "ts": key[3],
                "original_value": original[0], "original_quality": original[2], "new_value": value,
                "new_quality": r.quality.value, "new_unit": r.unit, "new_source": r.source,
            }  # fmt: skip
            conn.execute(
                _INSERT_EVENT,
                ("headend", READING_CONFLICT, Severity.WARNING.value, r.terminal, r.pn, r.meter, now,
                 json.dumps(detail, ensure_ascii=False), None, "headend", f"{READING_CONFLICT}:{conflict_id}",
                 received_at, now, batch),
            )  # fmt: skip
            conflicts += 1
        return WriteResult(inserted=inserted, duplicates=duplicates, conflicts=conflicts), conflicts

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        """Before the first write: migrate a file whose schema is behind this headend."""
        if not self._schema_current:
            if self._version(conn) < len(self._migrations):
                self._migrate_sync(conn)
            self._schema_current = True

    # -- events, link history, archive ------------------------------------------------------------------------

    async def write_events(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        counted: list[int] = []

        def work(conn: sqlite3.Connection, batch: int, now: str) -> tuple[WriteResult, int]:
            tz = self.tz
            new = 0
            for e in events:
                received_at = e.received_at.astimezone(tz).isoformat()
                new += conn.execute(
                    _INSERT_EVENT,
                    (e.origin.value, e.code, e.severity.value, e.terminal, e.pn, e.meter,
                     e.ts.astimezone(tz).isoformat(), detail_json(e.detail), e.raw, e.source, event_key(e),
                     received_at, now, batch),
                ).rowcount  # fmt: skip
            counted.append(new)
            return WriteResult(inserted=0, duplicates=0, conflicts=0), new

        await self._run(lambda conn: self._in_batch(conn, lambda batch, now: work(conn, batch, now)))
        return counted[0]

    async def write_link_events(self, events: Sequence[LinkEvent]) -> None:
        if not events:
            return
        tz = self.tz
        rows = [
            (e.terminal, e.ts.astimezone(tz).isoformat(), e.event.value, e.peer, e.clock_drift_ms,
             detail_json(e.detail))
            for e in events
        ]  # fmt: skip
        await self._run(lambda conn: self._transaction(conn, [(_INSERT_LINK, rows)]))

    async def save_archive(
        self,
        *,
        terminals: Sequence[TerminalInfo] = (),
        meters: Sequence[MeterInfo] = (),
        points: Sequence[MeasurementPoint] = (),
        ratios: Sequence[MeterRatio] = (),
    ) -> None:
        tz = self.tz
        now = datetime.now(tz).isoformat()
        work: list[tuple[str, Sequence[tuple[object, ...]]]] = [
            (_UPSERT_TERMINAL, [(t.terminal, t.kind, t.protocol, t.name, now) for t in terminals]),
            (_UPSERT_METER, [(m.meter, m.address, m.protocol, m.tariff_count, now) for m in meters]),
            (_UPSERT_POINT, [(p.terminal, p.pn, p.meter, p.port, p.baud, now) for p in points]),
            (
                _UPSERT_RATIO,
                [(r.meter, r.valid_from.astimezone(tz).isoformat(), decimal_to_numeric_text(r.ct_ratio),
                  decimal_to_numeric_text(r.pt_ratio)) for r in ratios],
            ),
        ]  # fmt: skip
        await self._run(lambda conn: self._transaction(conn, work))

    def _transaction(self, conn: sqlite3.Connection, work: Sequence[tuple[str, Sequence[tuple[object, ...]]]]) -> None:
        self._ensure_schema(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for query, rows in work:
                if rows:
                    conn.executemany(query, rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- upkeep and status -----------------------------------------------------------------------------------

    async def maintain(self, *, keep_readings: timedelta | None) -> MaintenanceResult:
        """Bring ``energy_daily_agg`` up to the ingest watermark, then delete ``readings`` older than
        ``keep_readings`` (the aggregate keeps their days)."""
        cutoff = None if keep_readings is None else (datetime.now(self.tz) - keep_readings).isoformat()

        def work(conn: sqlite3.Connection) -> MaintenanceResult:
            self._ensure_schema(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = int(conn.execute(_REFRESHED_UPTO).fetchone()[0])
                until = int(conn.execute("SELECT ingest_batch FROM ingest_watermark").fetchone()[0])
                conn.execute(_REFRESH, (last, until))
                conn.execute(_SET_REFRESHED_UPTO, (str(until),))
                dropped = 0
                if cutoff is not None:
                    dropped = conn.execute(
                        "DELETE FROM readings WHERE julianday(ts) < julianday(?)", (cutoff,)
                    ).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return MaintenanceResult(refreshed=True, dropped=dropped)

        return await self._run(work)

    async def status(self) -> dict[str, object]:
        def collect(conn: sqlite3.Connection) -> dict[str, object]:
            version = self._version(conn)
            result: dict[str, object] = {"edition": Edition.SQLITE.value, "schema_version": version}
            if version >= 2:
                result.update(zip(_STATUS_KEYS, conn.execute(_STATUS).fetchone(), strict=True))
            return result

        return await self._run(collect)

    async def count_readings(self) -> int:
        def count(conn: sqlite3.Connection) -> int:
            tables = ["readings", "frozen_readings"] if _has_table(conn, "frozen_readings") else ["readings"]
            return sum(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)

        return await self._run(count)

    async def count_conflicts(self) -> int:
        """Rows in ``reading_conflicts``."""
        return await self._run(lambda conn: int(conn.execute("SELECT count(*) FROM reading_conflicts").fetchone()[0]))


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements (``sqlite3.complete_statement`` knows quoting,
    comments and triggers)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise MigrationError(f"incomplete statement at the end of a migration: {pending.strip()[:80]!r}")
    return [s for s in statements if not _only_comments(s)]


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())
