"""The embedded store: the same tables and semantics as TimescaleDB, in one SQLite file, for the demo and small
sites with no database server.

``value`` is TEXT holding the exact decimal; timestamps are ISO 8601 texts in the configured zone (see
``migrations/sqlite/0001_readings.sql``). Since the zone is part of the text of ``ts``, and ``ts`` is part of the
key, the zone is recorded in ``store_meta`` at the first migration and a different zone is refused afterwards.

sqlite3 is blocking: every operation runs in a worker thread (``asyncio.to_thread``) on one connection behind a
lock. WAL mode with ``synchronous=FULL``: a returned ``write`` is on disk, so the spool may release it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from headend.readings import Reading
from headend.storage._codec import decimal_from_text, decimal_to_numeric_text
from headend.storage.base import Edition, WriteResult, validate_readings
from headend.storage.errors import MigrationError, StorageError
from headend.storage.migrations import check_version, load_migrations

_T = TypeVar("_T")

_BUSY_TIMEOUT_MS = 10_000
_KEY = "meter = ? AND register = ? AND tariff = ? AND ts = ?"
_INSERT = (
    "INSERT INTO readings (meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at,"
    " ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (meter, register, tariff, ts) DO NOTHING"
)
_ORIGINAL = f"SELECT value, unit, quality, source, received_at FROM readings WHERE {_KEY}"
_RECORDED = f"SELECT new_value, new_unit, new_quality FROM reading_conflicts WHERE {_KEY}"
_INSERT_CONFLICT = (
    "INSERT INTO reading_conflicts (meter, register, tariff, ts, original_value, original_unit,"
    " original_quality, original_source, original_received_at, new_value, new_unit, new_quality, new_source,"
    " new_terminal, new_pn, new_received_at, detected_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_Content = tuple[Decimal | None, str, str]


def _content(value: str | None, unit: str, quality: str) -> _Content:
    """What decides duplicate vs conflict: the value compared as a number (12.0 == 12.00, as PostgreSQL's
    numeric compares), the unit and the quality."""
    return (decimal_from_text(value), unit, quality)


class SqliteStore:
    """:class:`~headend.storage.base.Store` in a local SQLite file."""

    def __init__(self, path: Path, *, tz: ZoneInfo) -> None:
        self.path = path
        self.tz = tz
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._migrations = load_migrations("sqlite")

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
        return self._version(conn)

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
        return await self._run(lambda conn: self._write_sync(conn, readings))

    def _write_sync(self, conn: sqlite3.Connection, readings: Sequence[Reading]) -> WriteResult:
        tz = self.tz
        now = datetime.now(tz).isoformat()
        inserted = duplicates = conflicts = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for r in readings:
                key = (r.meter, r.register, r.tariff, r.ts.astimezone(tz).isoformat())
                value = decimal_to_numeric_text(r.value)
                received_at = r.received_at.astimezone(tz).isoformat()
                new = (value, r.unit, r.quality.value, r.source, r.terminal, r.pn, received_at)
                if conn.execute(_INSERT, (*key, *new, now)).rowcount == 1:
                    inserted += 1
                    continue
                # the key exists (stored earlier or earlier in this batch): same content, or a conflict
                o_value, o_unit, o_quality, o_source, o_received_at = conn.execute(_ORIGINAL, key).fetchone()
                content = _content(value, r.unit, r.quality.value)
                if content == _content(o_value, o_unit, o_quality) or any(
                    content == _content(*row) for row in conn.execute(_RECORDED, key)
                ):
                    duplicates += 1
                    continue
                original = (o_value, o_unit, o_quality, o_source, o_received_at)
                conn.execute(_INSERT_CONFLICT, (*key, *original, *new, now))
                conflicts += 1
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return WriteResult(inserted=inserted, duplicates=duplicates, conflicts=conflicts)

    async def count_readings(self) -> int:
        return await self._run(lambda conn: int(conn.execute("SELECT count(*) FROM readings").fetchone()[0]))

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
