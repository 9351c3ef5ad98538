"""The store contract shared by the TimescaleDB store and the embedded SQLite store.

A store keeps :class:`~headend.readings.Reading` rows under the key ``(meter, register, tariff, ts)``
(docs/schema.md). ``write`` is one transaction and idempotent: a reading whose key is new is *inserted*; one
equal to the stored row (same value, unit and quality) is a *duplicate* and changes nothing; one that differs is
a *conflict*: it is recorded in ``reading_conflicts`` beside the untouched original — billing registers are never
silently overwritten. A conflict already recorded with the same value, unit and quality counts as a duplicate,
so a replay of the spool after a crash adds nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from headend.readings import Quality, Reading

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

    inserted: int  #: new keys, now in ``readings``
    duplicates: int  #: equal to what was already stored (or already recorded as a conflict)
    conflicts: int  #: a different value/unit/quality for an existing key, recorded in ``reading_conflicts``


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

    async def count_readings(self) -> int:
        """Rows in ``readings``."""

    async def schema_version(self) -> int:
        """The highest applied migration, 0 for an empty database."""

    async def count_conflicts(self) -> int:
        """Rows in ``reading_conflicts``."""

    @property
    def edition(self) -> Edition:
        """Which database this is (known once the store is open)."""


def validate_reading(reading: Reading) -> None:
    """Raise ``ValueError`` for a reading no store can keep exactly.

    Checked before anything is acknowledged (spool append) so that a batch in the spool can always be written:
    one bad row must not block the writer forever.
    """
    for name in ("ts", "received_at"):
        moment: datetime = getattr(reading, name)
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"Reading.{name} must be timezone-aware, got {moment!r}")
    value = reading.value
    if value is not None and not (isinstance(value, Decimal) and value.is_finite()):
        raise ValueError(f"Reading.value must be a finite Decimal or None, got {value!r}")
    if not isinstance(reading.quality, Quality):
        raise ValueError(f"Reading.quality must be a Quality, got {reading.quality!r}")
    if not 0 <= reading.tariff <= _TARIFF_MAX:
        raise ValueError(f"Reading.tariff out of range 0..{_TARIFF_MAX}: {reading.tariff}")
    if not 0 <= reading.pn <= _PN_MAX:
        raise ValueError(f"Reading.pn out of range 0..{_PN_MAX}: {reading.pn}")
    for name in ("meter", "register", "unit", "source", "terminal"):
        text: str = getattr(reading, name)
        if "\x00" in text:
            raise ValueError(f"Reading.{name} contains NUL: {text!r}")
    if not reading.meter or not reading.register:
        raise ValueError(f"Reading.meter and Reading.register must not be empty: {reading.key!r}")


def validate_readings(readings: Sequence[Reading]) -> None:
    """:func:`validate_reading` for each one."""
    for reading in readings:
        validate_reading(reading)


def open_store(dsn: str | None, sqlite_path: Path, *, tz: ZoneInfo) -> Store:
    """The TimescaleDB store when a DSN is configured, else the embedded SQLite store at ``sqlite_path``.

    Nothing is opened yet: call :meth:`Store.open`.
    """
    if dsn:
        from headend.storage.timescale import TimescaleStore

        return TimescaleStore(dsn, tz=tz)
    from headend.storage.sqlite_store import SqliteStore

    return SqliteStore(sqlite_path, tz=tz)
