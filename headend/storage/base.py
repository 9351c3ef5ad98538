"""The store contract shared by the TimescaleDB store and the embedded SQLite store.

A store keeps :class:`~headend.readings.Reading` rows under the key ``(meter, register, tariff, ts)``
(docs/schema.md): frozen registers in ``frozen_readings``, everything else in ``readings``. ``write`` is one
transaction and idempotent: a reading whose key is new is *inserted*; one with the same content as the stored row
is a *duplicate* and changes nothing; one that differs is a *conflict*: it is recorded in ``reading_conflicts``
beside the untouched original, with a ``reading_conflict`` event — billing registers are never silently
overwritten. A conflict already recorded with the same content counts as a duplicate, so a replay of the spool
after a crash adds nothing anywhere.

*Same content* means: the same value compared as a number (``12.0`` = ``12.00``), the same unit, and the same
quality — where ``ok`` and ``backfilled`` count as the same (a 补抄 re-read that finds the value already stored
is a duplicate; the row keeps its first quality). ``estimated`` and ``invalid`` differ from everything else.

Every write transaction takes the *ingest lock* and a new ingest batch number, so batches commit in number order
and ``ingest_batch`` is an exact watermark for incremental readers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from headend.readings import Quality, Reading
from headend.storage._pgcopy import check_numeric
from headend.storage.records import (
    Event,
    LinkEvent,
    MeasurementPoint,
    MeterInfo,
    MeterRatio,
    TerminalInfo,
    detail_json,
)

#: upper bounds of the integer columns (PostgreSQL smallint / integer)
_TARIFF_MAX = 32767
_PN_MAX = 2**31 - 1


class Edition(StrEnum):
    """Which database a store runs on; for TimescaleDB the value of ``SHOW timescaledb.license``."""

    COMMUNITY = "timescale"  #: TimescaleDB Community (TSL licence): compression, continuous aggregates, policies
    APACHE = "apache"  #: TimescaleDB Apache-2 edition: hypertables only
    POSTGRESQL = "postgresql"  #: plain PostgreSQL, no TimescaleDB in this database
    SQLITE = "sqlite"  #: the embedded store


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one :meth:`Store.write` did; the three counts add up to the number of readings given."""

    inserted: int  #: new keys, now in ``readings`` / ``frozen_readings``
    duplicates: int  #: the same content as what was already stored (or already recorded as a conflict)
    conflicts: int  #: different content for an existing key, recorded in ``reading_conflicts`` (and ``events``)


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    """What one :meth:`Store.maintain` did."""

    refreshed: bool  #: ``energy_daily_agg`` recomputed (Apache edition, plain PostgreSQL)
    dropped: int  #: chunks (Apache edition) or rows (plain PostgreSQL, SQLite) of ``readings`` removed


#: content classes of the qualities: ``ok`` and ``backfilled`` are the same content (module docstring)
QUALITY_CLASS = {q: (Quality.OK if q is Quality.BACKFILLED else q) for q in Quality}


class Store(Protocol):
    """Where readings end up: TimescaleDB (:class:`~headend.storage.timescale.TimescaleStore`) or SQLite
    (:class:`~headend.storage.sqlite_store.SqliteStore`)."""

    async def open(self) -> None:
        """Connect (PostgreSQL) or open the file (SQLite). Raises if the database cannot be reached."""

    async def close(self) -> None:
        """Release the connection; safe to call twice."""

    async def migrate(self) -> int:
        """Apply the pending migrations, each in its own transaction; return the schema version. Safe twice."""

    async def write(self, readings: Sequence[Reading]) -> WriteResult:
        """Store a batch in one transaction, idempotently (see the module docstring)."""

    async def write_events(self, events: Sequence[Event]) -> int:
        """Store events in one transaction; an event whose key is stored already is skipped. Returns how many
        were new."""

    async def write_link_events(self, events: Sequence[LinkEvent]) -> None:
        """Append to the terminals' link history."""

    async def save_archive(
        self,
        *,
        terminals: Sequence[TerminalInfo] = (),
        meters: Sequence[MeterInfo] = (),
        points: Sequence[MeasurementPoint] = (),
        ratios: Sequence[MeterRatio] = (),
    ) -> None:
        """Insert or update archive entries (terminals, meters, measurement points, CT/PT ratios) in one
        transaction."""

    async def maintain(self, *, keep_readings: timedelta | None) -> MaintenanceResult:
        """Periodic upkeep the daemon runs: refresh ``energy_daily_agg`` where it is a plain materialized view,
        and drop ``readings`` older than ``keep_readings`` (None keeps everything). ``frozen_readings`` are
        never dropped."""

    async def count_readings(self) -> int:
        """Rows in ``readings`` and ``frozen_readings``."""

    async def schema_version(self) -> int:
        """The highest applied migration, 0 for an empty database."""

    async def count_conflicts(self) -> int:
        """Rows in ``reading_conflicts``."""

    async def status(self) -> dict[str, object]:
        """What ``headend db status`` shows about the store (see :mod:`headend.storage.status`)."""

    @property
    def edition(self) -> Edition:
        """Which database this is (known once the store is open)."""


def validate_reading(reading: Reading) -> None:
    """Raise ``ValueError`` for a reading no store can keep exactly.

    Checked before anything is acknowledged (spool append) so that a batch in the spool can always be written:
    one bad row must not block the writer forever.
    """
    _check_times(reading, "Reading")
    value = reading.value
    if value is not None:
        if not (isinstance(value, Decimal) and value.is_finite()):
            raise ValueError(f"Reading.value must be a finite Decimal or None, got {value!r}")
        try:
            check_numeric(value)
        except ValueError as exc:
            raise ValueError(f"Reading.value does not fit PostgreSQL numeric: {exc}") from None
    if not isinstance(reading.quality, Quality):
        raise ValueError(f"Reading.quality must be a Quality, got {reading.quality!r}")
    if not 0 <= reading.tariff <= _TARIFF_MAX:
        raise ValueError(f"Reading.tariff out of range 0..{_TARIFF_MAX}: {reading.tariff}")
    _check_pn_and_texts(reading, "Reading", ("meter", "register", "unit", "source", "terminal"))
    if not reading.meter or not reading.register:
        raise ValueError(f"Reading.meter and Reading.register must not be empty: {reading.key!r}")


def _check_times(record: Reading | Event, kind: str) -> None:
    """``ts`` and ``received_at`` must be aware (a naive time has no instant)."""
    for name in ("ts", "received_at"):
        moment: datetime = getattr(record, name)
        if moment.utcoffset() is None:  # also for tzinfo None
            raise ValueError(f"{kind}.{name} must be timezone-aware, got {moment!r}")


def _check_pn_and_texts(record: Reading | Event, kind: str, texts: tuple[str, ...]) -> None:
    """``pn`` fits PostgreSQL integer (and is not negative); the ``texts`` fields are storable text."""
    if not 0 <= record.pn <= _PN_MAX:
        raise ValueError(f"{kind}.pn out of range 0..{_PN_MAX}: {record.pn}")
    for name in texts:
        text: str = getattr(record, name)
        problem = _text_problem(text)
        if problem:
            raise ValueError(f"{kind}.{name} {problem}: {text!r}")


@functools.lru_cache(maxsize=8192)
def _text_problem(text: str) -> str:
    """Why ``text`` cannot be stored ("" if it can): no NUL (PostgreSQL text), valid UTF-8. Texts repeat a lot
    (registers, units, sources, terminals): cached."""
    if "\x00" in text:
        return "contains NUL"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "is not encodable as UTF-8"
    return ""


def validate_readings(readings: Sequence[Reading]) -> None:
    """:func:`validate_reading` for each one."""
    for reading in readings:
        validate_reading(reading)


def validate_event(event: Event) -> None:
    """Raise ``ValueError`` for an event no store can keep: checked before it is acknowledged into the spool,
    like :func:`validate_reading`, so that a spooled event can always be written."""
    _check_times(event, "Event")
    _check_pn_and_texts(event, "Event", ("code", "terminal", "meter", "source", "key"))
    if not event.code:
        raise ValueError("Event.code must not be empty")
    try:
        detail = detail_json(event.detail)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Event.detail is not JSON: {exc}") from None
    # PostgreSQL jsonb refuses the NUL escape (a literal backslash-u0000 text could trip this too: refused alike)
    problem = "contains NUL" if "\\u0000" in detail else _text_problem(detail)
    if problem:
        raise ValueError(f"Event.detail {problem}")


def validate_events(events: Sequence[Event]) -> None:
    """:func:`validate_event` for each one."""
    for event in events:
        validate_event(event)


def open_store(dsn: str | None, sqlite_path: Path, *, tz: ZoneInfo) -> Store:
    """The TimescaleDB store when a DSN is configured, else the embedded SQLite store at ``sqlite_path``.

    Nothing is opened yet: call :meth:`Store.open`.
    """
    if dsn:
        from headend.storage.timescale import TimescaleStore

        return TimescaleStore(dsn, tz=tz)
    from headend.storage.sqlite_store import SqliteStore

    return SqliteStore(sqlite_path, tz=tz)
