"""Fixtures for the store contract tests: each store with a reader of its tables that does not use the store's
own code, so the tests check what is really on disk / in the database."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from headend.readings import Quality, Reading
from headend.storage.spool import Spool
from headend.storage.sqlite_store import SqliteStore
from headend.storage.timescale import TimescaleStore
from tests.headend.storage.helpers import TZ
from tests.pg_server import PgServer

_READING_COLUMNS = "meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at"


@dataclass
class Backend:
    """A store plus raw access to its database."""

    kind: str
    store: TimescaleStore | SqliteStore
    dsn: str = ""
    path: Path | None = None

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "timescale":
            with psycopg.connect(self.dsn) as conn:
                return conn.execute(sql.encode()).fetchall()
        assert self.path is not None
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            return conn.execute(sql).fetchall()

    def execute(self, sql: str) -> None:
        """Run a statement that changes the database, and commit."""
        if self.kind == "timescale":
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute(sql.encode())
            return
        assert self.path is not None
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as conn:
            conn.execute(sql)

    def plain(self, sql: str) -> list[tuple[Any, ...]]:
        """:meth:`query` with the values in one form for both stores: times as aware ``datetime`` (SQLite keeps
        ISO text), JSON as ``dict`` (SQLite: text). Select numbers, dates and flags in a portable form:
        ``CAST(x AS TEXT)`` for numbers and dates, ``CASE WHEN flag THEN 1 ELSE 0 END`` for booleans."""
        return [tuple(_plain(value) for value in row) for row in self.query(sql)]

    def readings(self) -> list[Reading]:
        """Every row of ``readings`` as a Reading, by key."""
        rows = self.query(f"SELECT {_READING_COLUMNS} FROM readings ORDER BY meter, register, tariff, ts")
        return [self._reading(row) for row in rows]

    def value_texts(self) -> list[str | None]:
        """``value`` of every row as the database prints it, by key."""
        cast = "value::text" if self.kind == "timescale" else "value"
        return [row[0] for row in self.query(f"SELECT {cast} FROM readings ORDER BY meter, register, tariff, ts")]

    def conflicts(self) -> list[tuple[Any, ...]]:
        """(meter, tariff, original_value, new_value, new_quality, new_unit) of every conflict, in order."""
        rows = self.query(
            "SELECT meter, tariff, original_value, new_value, new_quality, new_unit FROM reading_conflicts ORDER BY id"
        )
        return [(m, t, _dec(o), _dec(n), q, u) for m, t, o, n, q, u in rows]

    def _reading(self, row: tuple[Any, ...]) -> Reading:
        meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at = row
        return Reading(
            meter=meter,
            register=register,
            tariff=tariff,
            ts=_dt(ts),
            value=_dec(value),
            unit=unit,
            quality=Quality(quality),
            source=source,
            terminal=terminal,
            pn=pn,
            received_at=_dt(received_at),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value[:1] == "{":
        return json.loads(value)
    if isinstance(value, str) and _ISO_INSTANT.fullmatch(value):
        return datetime.fromisoformat(value)
    return value


_ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")


def _dec(value: Decimal | str | None) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(value)


def _dt(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    """An empty spool in a temporary directory."""
    s = Spool(tmp_path / "spool.sqlite3")
    yield s
    s.close()


@pytest.fixture(params=[pytest.param("timescale", marks=pytest.mark.db), "sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each store, open, on an empty database (not migrated)."""
    if request.param == "timescale":
        dsn: str = request.getfixturevalue("fresh_db_dsn")
        result = Backend("timescale", TimescaleStore(dsn, tz=TZ), dsn=dsn)
    else:
        path = tmp_path / "store.sqlite3"
        result = Backend("sqlite", SqliteStore(path, tz=TZ), path=path)
    await result.store.open()
    try:
        yield result
    finally:
        await result.store.close()


@pytest.fixture
async def migrated(backend: Backend) -> Backend:
    """:func:`backend`, migrated."""
    await backend.store.migrate()
    return backend


@pytest.fixture
def plain_dsn(pg_server: PgServer) -> Iterator[str]:
    """A new database and a role that may not create extensions in it: TimescaleDB cannot be installed."""
    name = f"headend_plain_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(pg_server.dsn_for(name), autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(name)))
    yield make_conninfo(pg_server.dsn_for(name), user=name)
    pg_server.ensure_running()
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
