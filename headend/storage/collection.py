"""Store queries of the collection engine (issue 6): which meters have daily frozen data on which days, the meter
archive as stored, and the daily collection success rate (采集成功率) with the meters that are missing and why.

Both stores get these methods from a mixin (:class:`SqliteCollectionQueries`, :class:`TimescaleCollectionQueries`)
so the store modules change by one base class each. The two success tables come with migration 0003
(``collection_success``, ``collection_missing``; same columns in both stores, docs/schema.md); they are derived
data, recomputed from ``frozen_readings`` whenever the success rate is updated.

Days are *freeze dates*: the local date (configured zone) of the freeze instant ``ts``, as ``freeze_date`` in the
billing views (docs/schema.md "Frozen registers").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from headend.storage.records import MeasurementPoint, MeterInfo, MeterRatio, TerminalInfo

if TYPE_CHECKING:
    import psycopg

    _Cursor = psycopg.AsyncCursor[tuple[Any, ...]]

_T = TypeVar("_T")

#: the daily frozen register whose presence makes a meter's day complete (正向有功总电能示值 日冻结)
DAILY_REGISTER = "daily.energy.active.forward"


@dataclass(frozen=True, slots=True)
class SuccessRow:
    """The success rate of one freeze date for one terminal (``terminal=''``: overall)."""

    day: date
    terminal: str
    expected: int  #: meters in the archive
    complete_first_pass: int  #: meters whose daily frozen total was read by the plan (quality ok)
    complete: int  #: meters with a daily frozen total at all (ok or backfilled)
    computed_at: datetime

    @property
    def first_pass_ratio(self) -> float:
        return self.complete_first_pass / self.expected if self.expected else 1.0

    @property
    def ratio(self) -> float:
        return self.complete / self.expected if self.expected else 1.0


@dataclass(frozen=True, slots=True)
class MissingMeter:
    """A meter without daily frozen data on ``day``, and why (the last failure recorded, or ``unknown``)."""

    day: date
    terminal: str
    pn: int
    meter: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StoredArchive:
    """The archive tables (docs/schema.md "The meter archive")."""

    terminals: tuple[TerminalInfo, ...]
    meters: tuple[MeterInfo, ...]
    points: tuple[MeasurementPoint, ...]
    ratios: tuple[MeterRatio, ...] = ()  #: by meter, then valid_from


_SUCCESS_COLS = "day, terminal, expected, complete_first_pass, complete, computed_at"
_MISSING_COLS = "day, terminal, pn, meter, reason, detail"
_ARCHIVE = (
    "SELECT terminal, kind, protocol, name FROM terminals ORDER BY terminal",
    "SELECT meter, address, protocol, tariff_count FROM meters ORDER BY meter",
    "SELECT terminal, pn, meter, port, baud FROM measurement_points ORDER BY terminal, pn",
    "SELECT meter, valid_from, ct_ratio, pt_ratio FROM meter_ratios ORDER BY meter, valid_from",
)


def _archive(rows: Sequence[Sequence[Sequence[Any]]]) -> StoredArchive:
    terminals, meters, points, ratios = rows
    return StoredArchive(
        tuple(TerminalInfo(*r) for r in terminals),
        tuple(MeterInfo(*r) for r in meters),
        tuple(MeasurementPoint(*r) for r in points),
        tuple(
            MeterRatio(
                meter,
                valid_from if isinstance(valid_from, datetime) else datetime.fromisoformat(valid_from),
                Decimal(ct),  # SQLite keeps the exact decimal as text
                Decimal(pt),
            )
            for meter, valid_from, ct, pt in ratios
        ),
    )


def _days_filter(column: str, terminal: str | None, placeholder: str) -> tuple[str, list[object]]:
    if terminal is None:
        return "", []
    return f" AND {column} = {placeholder}", [terminal]


class SqliteCollectionQueries:
    """The collection queries on :class:`~headend.storage.sqlite_store.SqliteStore` (times are ISO texts in the
    configured zone, so the first ten characters of ``ts`` are the local date)."""

    tz: ZoneInfo

    async def _run(self, func: Callable[[sqlite3.Connection], _T]) -> _T:  # provided by SqliteStore
        raise NotImplementedError

    async def frozen_days(
        self, since: date, until: date, *, register: str = DAILY_REGISTER
    ) -> dict[tuple[str, date], bool]:
        """``(meter, freeze date) → first pass`` for every meter with a non-empty total (tariff 0) of ``register``
        frozen on a day in ``[since, until)``; *first pass* is True when a row has quality ``ok`` (read by the
        plan), False when only ``backfilled`` rows exist."""

        def query(conn: sqlite3.Connection) -> dict[tuple[str, date], bool]:
            rows = conn.execute(
                "SELECT meter, substr(ts, 1, 10), max(quality = 'ok') FROM frozen_readings"
                " WHERE register = ? AND tariff = 0 AND value IS NOT NULL AND substr(ts, 1, 10) >= ?"
                " AND substr(ts, 1, 10) < ? GROUP BY 1, 2",
                (register, since.isoformat(), until.isoformat()),
            )
            return {(meter, date.fromisoformat(day)): bool(ok) for meter, day, ok in rows}

        return await self._run(query)

    async def load_archive(self) -> StoredArchive:
        """The archive tables as stored."""
        return await self._run(lambda conn: _archive([conn.execute(q).fetchall() for q in _ARCHIVE]))

    async def save_success(self, rows: Sequence[SuccessRow], missing: Sequence[MissingMeter]) -> None:
        """Replace the success rows (and their missing meters) of the (day, terminal) pairs in ``rows``."""

        def save(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for r in rows:
                    key = (r.day.isoformat(), r.terminal)
                    conn.execute("DELETE FROM collection_missing WHERE day = ? AND terminal = ?", key)
                    conn.execute(
                        f"INSERT OR REPLACE INTO collection_success ({_SUCCESS_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                        (*key, r.expected, r.complete_first_pass, r.complete, r.computed_at.isoformat()),
                    )
                conn.executemany(
                    f"INSERT OR REPLACE INTO collection_missing ({_MISSING_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                    [(m.day.isoformat(), m.terminal, m.pn, m.meter, m.reason, m.detail) for m in missing],
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._run(save)

    async def load_success(
        self, day: date, *, terminal: str | None = None
    ) -> tuple[list[SuccessRow], list[MissingMeter]]:
        """The stored success rows of ``day`` (overall ``''`` first, then by terminal) and its missing meters;
        ``terminal`` narrows both to one terminal (and the overall row)."""

        def load(conn: sqlite3.Connection) -> tuple[list[SuccessRow], list[MissingMeter]]:
            extra, args = _days_filter("terminal", terminal, "?")
            where = "day = ? AND (terminal = '' OR terminal = ?)" if terminal is not None else "day = ?"
            success = conn.execute(
                f"SELECT {_SUCCESS_COLS} FROM collection_success WHERE {where} ORDER BY terminal",
                [day.isoformat(), *args],
            ).fetchall()
            missing = conn.execute(
                f"SELECT {_MISSING_COLS} FROM collection_missing WHERE day = ?{extra} ORDER BY terminal, pn",
                [day.isoformat(), *args],
            ).fetchall()
            return (
                [
                    SuccessRow(date.fromisoformat(d), t, e, f, c, datetime.fromisoformat(at))
                    for d, t, e, f, c, at in success
                ],
                [MissingMeter(date.fromisoformat(d), t, p, m, r, x) for d, t, p, m, r, x in missing],
            )

        return await self._run(load)


class TimescaleCollectionQueries:
    """The collection queries on :class:`~headend.storage.timescale.TimescaleStore`."""

    tz: ZoneInfo

    async def _transaction(self, work: Callable[[_Cursor], Awaitable[_T]]) -> _T:  # provided by TimescaleStore
        raise NotImplementedError

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz)

    async def frozen_days(
        self, since: date, until: date, *, register: str = DAILY_REGISTER
    ) -> dict[tuple[str, date], bool]:
        """See :meth:`SqliteCollectionQueries.frozen_days`."""

        async def query(cur: _Cursor) -> dict[tuple[str, date], bool]:
            await cur.execute(
                "SELECT meter, (ts AT TIME ZONE %s)::date, bool_or(quality = 'ok') FROM frozen_readings"
                " WHERE register = %s AND tariff = 0 AND value IS NOT NULL AND ts >= %s AND ts < %s GROUP BY 1, 2",
                (self.tz.key, register, self._midnight(since), self._midnight(until)),
            )
            return {(meter, day): bool(ok) for meter, day, ok in await cur.fetchall()}

        return await self._transaction(query)

    async def load_archive(self) -> StoredArchive:
        """The archive tables as stored."""

        async def load(cur: _Cursor) -> StoredArchive:
            rows = []
            for q in _ARCHIVE:
                await cur.execute(q.encode())
                rows.append(await cur.fetchall())
            return _archive(rows)

        return await self._transaction(load)

    async def save_success(self, rows: Sequence[SuccessRow], missing: Sequence[MissingMeter]) -> None:
        """See :meth:`SqliteCollectionQueries.save_success`."""

        async def save(cur: _Cursor) -> None:
            for r in rows:
                key = (r.day, r.terminal)
                await cur.execute("DELETE FROM collection_missing WHERE day = %s AND terminal = %s", key)
                await cur.execute(
                    f"INSERT INTO collection_success ({_SUCCESS_COLS}) VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (day, terminal) DO UPDATE SET expected = excluded.expected,"
                    " complete_first_pass = excluded.complete_first_pass, complete = excluded.complete,"
                    " computed_at = excluded.computed_at",
                    (*key, r.expected, r.complete_first_pass, r.complete, r.computed_at),
                )
            if missing:
                await cur.executemany(
                    f"INSERT INTO collection_missing ({_MISSING_COLS}) VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (day, terminal, pn) DO UPDATE SET meter = excluded.meter, reason = excluded.reason,"
                    " detail = excluded.detail",
                    [(m.day, m.terminal, m.pn, m.meter, m.reason, m.detail) for m in missing],
                )

        await self._transaction(save)

    async def load_success(
        self, day: date, *, terminal: str | None = None
    ) -> tuple[list[SuccessRow], list[MissingMeter]]:
        """See :meth:`SqliteCollectionQueries.load_success`."""

        async def load(cur: _Cursor) -> tuple[list[SuccessRow], list[MissingMeter]]:
            extra, args = _days_filter("terminal", terminal, "%s")
            where = "day = %s AND (terminal = '' OR terminal = %s)" if terminal is not None else "day = %s"
            await cur.execute(
                f"SELECT {_SUCCESS_COLS} FROM collection_success WHERE {where} ORDER BY terminal", [day, *args]
            )
            success = [SuccessRow(*row) for row in await cur.fetchall()]
            await cur.execute(
                f"SELECT {_MISSING_COLS} FROM collection_missing WHERE day = %s{extra} ORDER BY terminal, pn",
                [day, *args],
            )
            missing = [MissingMeter(*row) for row in await cur.fetchall()]
            return success, missing

        return await self._transaction(load)


class CollectionQueries(Protocol):
    """What the collection engine asks a store besides the :class:`~headend.storage.base.Store` contract (both
    stores implement it through the mixins above)."""

    async def frozen_days(
        self, since: date, until: date, *, register: str = DAILY_REGISTER
    ) -> dict[tuple[str, date], bool]: ...

    async def load_archive(self) -> StoredArchive: ...

    async def save_success(self, rows: Sequence[SuccessRow], missing: Sequence[MissingMeter]) -> None: ...

    async def load_success(
        self, day: date, *, terminal: str | None = None
    ) -> tuple[list[SuccessRow], list[MissingMeter]]: ...
