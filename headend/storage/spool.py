"""The durable local spool: readings are acknowledged once they are on disk here, before any database sees them.

A SQLite file in WAL mode with ``synchronous=FULL``: :meth:`Spool.append` commits one transaction, and SQLite
fsyncs the WAL before the commit returns, so an append that returned survives ``kill -9`` and a power cut. The
:class:`~headend.storage.writer.SpoolWriter` reads the oldest entries (:meth:`Spool.peek`), writes them to the
store, and only after the store committed deletes them (:meth:`Spool.release`). A crash between the two replays
the batch, which the store absorbs as duplicates.

Entries get increasing ids (``AUTOINCREMENT``: never reused); ``append`` adds at the end and ``release`` deletes a
prefix, so the live ids are always contiguous. Each entry is kept in two forms, both written at append time:

* exactly (``_codec``): decimals as text, datetimes in ISO 8601 with their offset and zone — what :meth:`peek`
  gives back, equal to what was appended, down to the decimal exponent and the ``ZoneInfo``;
* as its PostgreSQL binary ``COPY`` row (``_pgcopy``) with a flag for frozen registers — what
  :meth:`peek_encoded` gives the TimescaleDB store, which sends it as is. Encoding once, on the way in, keeps the
  drain path (spool → database) as cheap as a raw COPY (benchmarks/bench_storage.py).

Format 1 (text only) files are upgraded to format 2 in place when opened.

Thread-safe: one connection behind a lock (the daemon calls it through ``asyncio.to_thread``).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from headend.readings import Quality, Reading
from headend.storage._codec import datetime_from_text, datetime_to_text, decimal_to_text
from headend.storage._pgcopy import reading_row
from headend.storage.base import validate_readings
from headend.storage.errors import SpoolFull, StorageError

_LOGGER = logging.getLogger(__name__)

#: on-disk format of the spool table (``PRAGMA user_version``); older formats are upgraded, newer ones refused
_FORMAT = 2
#: the WAL file is truncated back to this size after a checkpoint, so a burst does not leave a huge file behind
_JOURNAL_SIZE_LIMIT = 64 << 20
#: another process (``headend db status``) may hold a read lock briefly
_BUSY_TIMEOUT_MS = 10_000

_COLUMNS = "meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at"
_CREATE = f"""
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter TEXT NOT NULL, register TEXT NOT NULL, tariff INTEGER NOT NULL, ts TEXT NOT NULL, value TEXT,
    unit TEXT NOT NULL, quality TEXT NOT NULL, source TEXT NOT NULL, terminal TEXT NOT NULL, pn INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    frozen INTEGER NOT NULL,  -- 1 for a frozen register (frozen_readings), 0 otherwise (readings)
    copy BLOB NOT NULL        -- the PostgreSQL binary COPY fields of the reading (_pgcopy.reading_row)
) STRICT;
PRAGMA user_version = {_FORMAT};
"""
_INSERT = f"INSERT INTO spool ({_COLUMNS}, frozen, copy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT = f"SELECT id, {_COLUMNS} FROM spool WHERE id > ? ORDER BY id LIMIT ?"
_SELECT_ENCODED = "SELECT id, frozen, copy FROM spool WHERE id > ? ORDER BY id LIMIT ?"
#: format 1 → 2: the two columns, filled in by _upgrade_from_1
_UPGRADE_FROM_1 = """
ALTER TABLE spool ADD COLUMN frozen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spool ADD COLUMN copy BLOB NOT NULL DEFAULT x'';
"""

_Row = tuple[str, str, int, str, str | None, str, str, str, str, int, str, int, bytes]


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """The oldest entries of the spool as PostgreSQL binary COPY rows (see ``_pgcopy``), split by table."""

    last_id: int  #: id of the last entry in the batch (0 when empty): release up to it once written
    readings: list[bytes]  #: rows for ``readings`` (instantaneous values and curve points)
    frozen: list[bytes]  #: rows for ``frozen_readings``

    def __len__(self) -> int:
        return len(self.readings) + len(self.frozen)


def _encode(reading: Reading) -> _Row:
    return (
        reading.meter,
        reading.register,
        reading.tariff,
        datetime_to_text(reading.ts),
        decimal_to_text(reading.value),
        reading.unit,
        reading.quality.value,
        reading.source,
        reading.terminal,
        reading.pn,
        datetime_to_text(reading.received_at),
        int(reading.kind.frozen),
        reading_row(reading),
    )


_QUALITY = {q.value: q for q in Quality}


def _decode(row: Sequence[Any]) -> Reading:
    # the columns are typed (STRICT table) and written only by _encode; the hot path of the writer
    meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at = row
    return Reading(
        meter,
        register,
        tariff,
        _datetime_from_text(ts),
        None if value is None else Decimal(value),
        unit,
        _QUALITY[quality],
        source,
        terminal,
        pn,
        _datetime_from_text(received_at),
    )


#: a batch holds few distinct times (one poll round, one receive instant per frame): parse each once
_datetime_from_text = functools.lru_cache(maxsize=4096)(datetime_from_text)


class Spool:
    """Durable FIFO of readings between collection and the store."""

    def __init__(self, path: Path, *, max_bytes: int | None = None, readonly: bool = False) -> None:
        """Open (or create) the spool at ``path``.

        ``max_bytes`` bounds the bytes in use by live entries (see :meth:`size_bytes`): an append that would go
        beyond it raises :class:`SpoolFull` and stores nothing of its batch.

        ``readonly`` opens an existing spool for inspection (``headend db status`` beside a running daemon):
        nothing is created, upgraded or written, and ``append``/``release`` fail.
        """
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        if readonly:
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._setup(readonly)
        except BaseException:
            self._conn.close()
            raise

    @property
    def format(self) -> int:
        """The on-disk format version of the file (``PRAGMA user_version``)."""
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _setup(self, readonly: bool) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if readonly:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (1, _FORMAT):
                raise StorageError(f"{self.path}: not a spool this headend reads (format {version})")
            return
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StorageError(f"{self.path}: cannot put the spool in WAL mode (got {mode!r})")
        # FULL: the WAL is fsynced at every commit, so what append() acknowledged survives a power cut
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 1:
            self._upgrade_from_1()
        elif version not in (0, _FORMAT):
            raise StorageError(f"{self.path}: spool format {version}, this headend reads formats 1 and {_FORMAT}")
        conn.executescript(_CREATE)

    def _upgrade_from_1(self) -> None:
        """Add the COPY form to every entry of a format-1 spool, in one transaction (a crash leaves format 1)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _UPGRADE_FROM_1.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            rows = conn.execute(f"SELECT id, {_COLUMNS} FROM spool ORDER BY id").fetchall()
            updates = []
            for row in rows:
                reading = _decode(row[1:])
                updates.append((int(reading.kind.frozen), reading_row(reading), row[0]))
            conn.executemany("UPDATE spool SET frozen = ?, copy = ? WHERE id = ?", updates)
            conn.execute(f"PRAGMA user_version = {_FORMAT}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        _LOGGER.info("%s: spool upgraded from format 1 to %d (%d entries)", self.path, _FORMAT, len(rows))

    def append(self, readings: Sequence[Reading]) -> None:
        """Add ``readings`` in one transaction; returns only once they are durable.

        Raises ``ValueError`` for a reading no store could keep (naive datetime, non-finite value…) and
        :class:`SpoolFull` when the spool would exceed ``max_bytes``; in both cases nothing of the batch is kept.
        """
        if not readings:
            return
        validate_readings(readings)
        rows = [_encode(r) for r in readings]
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                if self.max_bytes is not None:
                    size = self._used_bytes()
                    if size > self.max_bytes:
                        raise SpoolFull(size_bytes=size, max_bytes=self.max_bytes, rejected=len(rows))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def peek(self, limit: int, *, after_id: int = 0) -> tuple[int, list[Reading]]:
        """The oldest entries with ids above ``after_id``, up to ``limit``, and the id of the last one (0 when
        none). Nothing is removed."""
        with self._lock:
            rows = self._conn.execute(_SELECT, (after_id, limit)).fetchall()
        if not rows:
            return 0, []
        return rows[-1][0], [_decode(row[1:]) for row in rows]

    def peek_encoded(self, limit: int, *, after_id: int = 0) -> EncodedBatch:
        """Like :meth:`peek`, as binary COPY rows split by target table (for the TimescaleDB store)."""
        with self._lock:
            rows = self._conn.execute(_SELECT_ENCODED, (after_id, limit)).fetchall()
        if not rows:
            return EncodedBatch(0, [], [])
        readings: list[bytes] = []
        frozen: list[bytes] = []
        for _, is_frozen, row in rows:
            (frozen if is_frozen else readings).append(row)
        return EncodedBatch(rows[-1][0], readings, frozen)

    def release(self, upto_id: int) -> int:
        """Delete the entries with ids up to ``upto_id``: call it after the store committed them. Returns the
        depth left."""
        with self._lock:
            conn = self._conn
            # Not fsynced: a release lost in a power cut only makes the writer replay the batch, which the store
            # counts as duplicates. The next append's FULL commit fsyncs the WAL, this release's frames included.
            conn.execute("PRAGMA synchronous = NORMAL")
            try:
                conn.execute("DELETE FROM spool WHERE id <= ?", (upto_id,))
            finally:
                conn.execute("PRAGMA synchronous = FULL")
            return self._depth()

    def depth(self) -> int:
        """Entries not yet released (live ids are contiguous, so this is an index lookup, not a scan)."""
        with self._lock:
            return self._depth()

    def _depth(self) -> int:
        low, high = self._conn.execute("SELECT min(id), max(id) FROM spool").fetchone()
        return 0 if low is None else int(high - low + 1)

    def oldest_received(self) -> datetime | None:
        """``received_at`` of the oldest entry not yet released, None when the spool is empty."""
        with self._lock:
            row = self._conn.execute("SELECT received_at FROM spool ORDER BY id LIMIT 1").fetchone()
        return None if row is None else datetime_from_text(row[0])

    def size_bytes(self) -> int:
        """Bytes of the spool file in use by entries (released space is reused; the file does not shrink)."""
        with self._lock:
            return self._used_bytes()

    def _used_bytes(self) -> int:
        conn = self._conn
        pages: int = conn.execute("PRAGMA page_count").fetchone()[0]
        free: int = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def close(self) -> None:
        """Close the file; the data stays for the next open."""
        with self._lock:
            self._conn.close()
