"""The durable local spool: readings are acknowledged once they are on disk here, before any database sees them.

A SQLite file in WAL mode with ``synchronous=FULL``: :meth:`Spool.append` commits one transaction, and SQLite
fsyncs the WAL before the commit returns, so an append that returned survives ``kill -9`` and a power cut. The
:class:`~headend.storage.writer.SpoolWriter` reads the oldest entries (:meth:`Spool.peek`), writes them to the
store, and only after the store committed deletes them (:meth:`Spool.release`). A crash between the two replays
the batch, which the store absorbs as duplicates.

Entries get increasing ids (``AUTOINCREMENT``: never reused); ``append`` adds at the end and ``release`` deletes a
prefix, so the live ids are always contiguous. Values are stored exactly (``_codec``): decimals as text,
datetimes in ISO 8601 with their offset and zone.

Thread-safe: one connection behind a lock (the daemon calls it through ``asyncio.to_thread``).
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from headend.readings import Quality, Reading
from headend.storage._codec import datetime_from_text, datetime_to_text, decimal_to_text
from headend.storage.base import validate_readings
from headend.storage.errors import SpoolFull, StorageError

#: on-disk format of the spool table (``PRAGMA user_version``); a different version is refused
_FORMAT = 1
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
    received_at TEXT NOT NULL
) STRICT;
PRAGMA user_version = {_FORMAT};
"""
_INSERT = f"INSERT INTO spool ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT = f"SELECT id, {_COLUMNS} FROM spool ORDER BY id LIMIT ?"

_Row = tuple[str, str, int, str, str | None, str, str, str, str, int, str]


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

    def __init__(self, path: Path, *, max_bytes: int | None = None) -> None:
        """Open (or create) the spool at ``path``.

        ``max_bytes`` bounds the bytes in use by live entries (see :meth:`size_bytes`): an append that would go
        beyond it raises :class:`SpoolFull` and stores nothing of its batch.
        """
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            raise

    def _setup(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StorageError(f"{self.path}: cannot put the spool in WAL mode (got {mode!r})")
        # FULL: the WAL is fsynced at every commit, so what append() acknowledged survives a power cut
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _FORMAT):
            raise StorageError(f"{self.path}: spool format {version}, this headend reads format {_FORMAT}")
        conn.executescript(_CREATE)

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

    def peek(self, limit: int) -> tuple[int, list[Reading]]:
        """The oldest entries, up to ``limit``, and the id of the last one (0 when empty). Nothing is removed."""
        with self._lock:
            rows = self._conn.execute(_SELECT, (limit,)).fetchall()
        if not rows:
            return 0, []
        return rows[-1][0], [_decode(row[1:]) for row in rows]

    def release(self, upto_id: int) -> None:
        """Delete the entries with ids up to ``upto_id``: call it after the store committed them."""
        with self._lock:
            self._conn.execute("DELETE FROM spool WHERE id <= ?", (upto_id,))

    def depth(self) -> int:
        """Entries not yet released (live ids are contiguous, so this is an index lookup, not a scan)."""
        with self._lock:
            low, high = self._conn.execute("SELECT min(id), max(id) FROM spool").fetchone()
        return 0 if low is None else high - low + 1

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
