"""The durable local spool: readings and events are acknowledged once they are on disk here, before any database
sees them.

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

Terminal and head-end events (:class:`~headend.storage.records.Event`: AFN0E ERC records, pushed or polled,
``unknown_meter``, ``archive_mismatch``…) go through a second table, ``spool_events``, appended in the same
transaction as the readings of the same group commit and drained by the writer into ``Store.write_events``.
Each entry keeps the event's key (:func:`~headend.storage.records.event_key`) as computed when it was
acknowledged; the stores skip an event whose key is stored already (``events.event_key`` is unique), so a replay
after a crash between the store's commit and the release stores nothing twice.

Formats (``PRAGMA user_version``): 1 (readings as text only), 2 (plus the COPY form), 3 (plus ``spool_events``).
Older files are upgraded in place when opened, each step in one transaction.

Thread-safe. Two connections (the daemon calls the spool through ``asyncio.to_thread``):

* the *write* connection (appends, releases) behind a first-come-first-served lock (:class:`_FairLock`): a
  release waiting for the lock is not overtaken by the appends that arrive after it, however many there are;
* a *read* connection (``peek…``, depth, oldest) with its own lock: in WAL mode a reader sees the last committed
  state without waiting for the writer, so the spool writer reads its next batch while a group commit is being
  fsynced (issue 6: in a burst the appends used to hold the one connection and the writer's reads queued behind
  them).
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from headend.readings import Quality, Reading
from headend.storage._codec import datetime_from_text, datetime_to_text, decimal_to_text
from headend.storage._pgcopy import reading_row
from headend.storage.base import validate_events, validate_readings
from headend.storage.errors import SpoolFull, StorageError
from headend.storage.records import Event, EventOrigin, Severity, detail_json, event_key

_LOGGER = logging.getLogger(__name__)

#: on-disk format of the spool table (``PRAGMA user_version``); older formats are upgraded, newer ones refused
_FORMAT = 3
#: the WAL file is truncated back to this size after a checkpoint, so a burst does not leave a huge file behind
_JOURNAL_SIZE_LIMIT = 64 << 20
#: another process (``headend db status``) may hold a read lock briefly
_BUSY_TIMEOUT_MS = 10_000

#: format 3: events waiting for Store.write_events, in the order they were acknowledged
_CREATE_EVENTS = """
CREATE TABLE IF NOT EXISTS spool_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL,  -- records.event_key() at append time: the store's dedup key, fixed from here on
    origin TEXT NOT NULL, code TEXT NOT NULL, ts TEXT NOT NULL, received_at TEXT NOT NULL, terminal TEXT NOT NULL,
    pn INTEGER NOT NULL, meter TEXT NOT NULL, severity TEXT NOT NULL,
    detail TEXT NOT NULL,     -- records.detail_json()
    raw BLOB, source TEXT NOT NULL
) STRICT;
"""
_EVENT_COLUMNS = "event_key, origin, code, ts, received_at, terminal, pn, meter, severity, detail, raw, source"
_INSERT_EVENT = f"INSERT INTO spool_events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT_EVENTS = f"SELECT id, {_EVENT_COLUMNS} FROM spool_events WHERE id > ? ORDER BY id LIMIT ?"
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
{_CREATE_EVENTS}
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


def _encode_event(event: Event) -> tuple[object, ...]:
    return (
        event_key(event),
        event.origin.value,
        event.code,
        datetime_to_text(event.ts),
        datetime_to_text(event.received_at),
        event.terminal,
        event.pn,
        event.meter,
        event.severity.value,
        detail_json(event.detail),
        event.raw,
        event.source,
    )


def _decode_event(row: Sequence[Any]) -> Event:
    key, origin, code, ts, received_at, terminal, pn, meter, severity, detail, raw, source = row
    return Event(
        origin=EventOrigin(origin),
        code=code,
        ts=_datetime_from_text(ts),
        received_at=_datetime_from_text(received_at),
        terminal=terminal,
        pn=pn,
        meter=meter,
        severity=Severity(severity),
        detail=json.loads(detail),
        raw=raw,
        source=source,
        key=key,
    )


class _FairLock:
    """A lock granted in the order it was asked for (first come, first served).

    ``threading.Lock`` promises no order: a thread that releases it and asks again at once (the group commit of
    a burst, one append after the other) can take it again ahead of a thread that has been waiting (the spool
    writer's release). With tickets, whoever asked first goes first.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._cond.wait()

    def __exit__(self, *_: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


class Spool:
    """Durable FIFO of readings and events between collection and the store."""

    def __init__(self, path: Path, *, max_bytes: int | None = None, readonly: bool = False) -> None:
        """Open (or create) the spool at ``path``.

        ``max_bytes`` bounds the bytes in use by live entries (see :meth:`size_bytes`): an append that would go
        beyond it raises :class:`SpoolFull` and stores nothing of its batch.

        ``readonly`` opens an existing spool for inspection (``headend db status`` beside a running daemon):
        nothing is created, upgraded or written, and ``append``/``release`` fail.
        """
        self.path = path
        self.max_bytes = max_bytes
        self._lock = _FairLock()
        self._read_lock = threading.Lock()
        if readonly:
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._reader = self._conn
        self._has_events = False
        self._events_waiting = 0
        try:
            self._setup(readonly)
            self._has_events = bool(
                self._conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spool_events'"
                ).fetchone()
            )
            if self._has_events:
                self._events_waiting = _span(self._conn, "spool_events")
            if not readonly:
                # WAL: this connection reads the last committed state while the write connection commits
                self._reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._reader.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                self._reader.execute("PRAGMA query_only = ON")
        except BaseException:
            self._conn.close()
            raise

    @property
    def format(self) -> int:
        """The on-disk format version of the file (``PRAGMA user_version``)."""
        with self._read_lock:
            return int(self._reader.execute("PRAGMA user_version").fetchone()[0])

    def _setup(self, readonly: bool) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if readonly:
            if version not in (1, 2, _FORMAT):
                raise StorageError(f"{self.path}: not a spool this headend reads (format {version})")
            return
        if version not in (0, 1, 2, _FORMAT):
            raise StorageError(f"{self.path}: spool format {version}, this headend reads formats 1 to {_FORMAT}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StorageError(f"{self.path}: cannot put the spool in WAL mode (got {mode!r})")
        # FULL: the WAL is fsynced at every commit, so what append() acknowledged survives a power cut
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT}")
        if version == 1:
            self._upgrade(1, self._fill_copy_forms)
        if version in (1, 2):
            self._upgrade(2, lambda: conn.execute(_CREATE_EVENTS))
        conn.executescript(_CREATE)

    def _upgrade(self, old: int, step: Callable[[], object]) -> None:
        """Format ``old`` → ``old + 1`` in one transaction (a crash leaves format ``old``)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            step()
            conn.execute(f"PRAGMA user_version = {old + 1}")
            depth = self._depth()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        _LOGGER.info("%s: spool upgraded from format %d to %d (%d entries)", self.path, old, old + 1, depth)

    def _fill_copy_forms(self) -> None:
        """Format 1 → 2: add the COPY form to every entry."""
        conn = self._conn
        for statement in _UPGRADE_FROM_1.strip().split(";"):
            if statement.strip():
                conn.execute(statement)
        rows = conn.execute(f"SELECT id, {_COLUMNS} FROM spool ORDER BY id").fetchall()
        updates = []
        for row in rows:
            reading = _decode(row[1:])
            updates.append((int(reading.kind.frozen), reading_row(reading), row[0]))
        conn.executemany("UPDATE spool SET frozen = ?, copy = ? WHERE id = ?", updates)

    def append(self, readings: Sequence[Reading], events: Sequence[Event] = ()) -> None:
        """Add ``readings`` and ``events`` in one transaction; returns only once they are durable.

        Raises ``ValueError`` for a reading or event no store could keep (naive datetime, non-finite value, an
        event detail that is not JSON…) and :class:`SpoolFull` when the spool would exceed ``max_bytes``; in both
        cases nothing of the batch is kept.
        """
        if not readings and not events:
            return
        validate_readings(readings)
        validate_events(events)
        rows = [_encode(r) for r in readings]
        event_rows = [_encode_event(e) for e in events]
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if rows:
                    conn.executemany(_INSERT, rows)
                if event_rows:
                    conn.executemany(_INSERT_EVENT, event_rows)
                if self.max_bytes is not None:
                    size = self._used_bytes()
                    if size > self.max_bytes:
                        raise SpoolFull(size_bytes=size, max_bytes=self.max_bytes, rejected=len(rows) + len(event_rows))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._events_waiting += len(event_rows)

    @property
    def events_waiting(self) -> bool:
        """Whether events may be waiting: kept in memory by this process's appends and releases, so the writer
        asks the file only when there are (no thread hop per batch of readings). Not for another process."""
        return self._events_waiting > 0

    def peek(self, limit: int, *, after_id: int = 0) -> tuple[int, list[Reading]]:
        """The oldest readings with ids above ``after_id``, up to ``limit``, and the id of the last one (0 when
        none). Nothing is removed."""
        with self._read_lock:
            rows = self._reader.execute(_SELECT, (after_id, limit)).fetchall()
        if not rows:
            return 0, []
        return rows[-1][0], [_decode(row[1:]) for row in rows]

    def peek_encoded(self, limit: int, *, after_id: int = 0) -> EncodedBatch:
        """Like :meth:`peek`, as binary COPY rows split by target table (for the TimescaleDB store)."""
        with self._read_lock:
            rows = self._reader.execute(_SELECT_ENCODED, (after_id, limit)).fetchall()
        if not rows:
            return EncodedBatch(0, [], [])
        readings: list[bytes] = []
        frozen: list[bytes] = []
        for _, is_frozen, row in rows:
            (frozen if is_frozen else readings).append(row)
        return EncodedBatch(rows[-1][0], readings, frozen)

    def peek_events(self, limit: int, *, after_id: int = 0) -> tuple[int, list[Event]]:
        """The oldest events with ids above ``after_id``, up to ``limit``, and the id of the last one (0 when
        none), each with its key as acknowledged (``Event.key``). Nothing is removed."""
        if not self._has_events:
            return 0, []
        with self._read_lock:
            rows = self._reader.execute(_SELECT_EVENTS, (after_id, limit)).fetchall()
        if not rows:
            return 0, []
        return rows[-1][0], [_decode_event(row[1:]) for row in rows]

    def release(self, upto_id: int) -> int:
        """Delete the readings with ids up to ``upto_id``: call it after the store committed them. Returns the
        depth left (readings and events)."""
        return self._delete("DELETE FROM spool WHERE id <= ?", upto_id)

    def release_events(self, upto_id: int) -> int:
        """Delete the events with ids up to ``upto_id``: call it after the store committed them. Returns the
        depth left (readings and events)."""
        return self._delete("DELETE FROM spool_events WHERE id <= ?", upto_id)

    def _delete(self, statement: str, upto_id: int) -> int:
        with self._lock:
            conn = self._conn
            # Not fsynced: a release lost in a power cut only makes the writer replay the batch, which the store
            # counts as duplicates. The next append's FULL commit fsyncs the WAL, this release's frames included.
            conn.execute("PRAGMA synchronous = NORMAL")
            try:
                conn.execute(statement, (upto_id,))
            finally:
                conn.execute("PRAGMA synchronous = FULL")
            events = _span(conn, "spool_events") if self._has_events else 0
            self._events_waiting = events
            return _span(conn, "spool") + events

    def depth(self) -> int:
        """Entries (readings and events) not yet released. Live ids are contiguous per table, so this is two
        index lookups, not a scan."""
        with self._read_lock:
            return self._depth(self._reader)

    def event_depth(self) -> int:
        """Events not yet released."""
        if not self._has_events:
            return 0
        with self._read_lock:
            return _span(self._reader, "spool_events")

    def _depth(self, conn: sqlite3.Connection | None = None) -> int:
        conn = conn or self._conn
        return _span(conn, "spool") + (_span(conn, "spool_events") if self._has_events else 0)

    def oldest_received(self) -> datetime | None:
        """``received_at`` of the oldest reading or event not yet released, None when the spool is empty."""
        tables = ("spool", "spool_events") if self._has_events else ("spool",)
        with self._read_lock:
            found = [
                datetime_from_text(row[0])
                for table in tables
                if (row := self._reader.execute(f"SELECT received_at FROM {table} ORDER BY id LIMIT 1").fetchone())
            ]
        return min(found, default=None)

    def size_bytes(self) -> int:
        """Bytes of the spool file in use by entries (released space is reused; the file does not shrink)."""
        with self._read_lock:
            return self._used_bytes(self._reader)

    def _used_bytes(self, conn: sqlite3.Connection | None = None) -> int:
        conn = conn or self._conn
        pages: int = conn.execute("PRAGMA page_count").fetchone()[0]
        free: int = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def close(self) -> None:
        """Close the file; the data stays for the next open."""
        with self._lock, self._read_lock:
            if self._reader is not self._conn:
                self._reader.close()
            self._conn.close()


def _span(conn: sqlite3.Connection, table: str) -> int:
    low, high = conn.execute(f"SELECT min(id), max(id) FROM {table}").fetchone()
    return 0 if low is None else int(high - low + 1)
