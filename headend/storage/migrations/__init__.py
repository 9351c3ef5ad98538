"""Versioned, forward-only schema migrations: ``<dialect>/NNNN_name.sql``, applied in order, each in its own
transaction, recorded in ``schema_migrations(version, name, applied_at)``.

A migration file is never edited once released; a change is a new file with the next number. The PostgreSQL and
SQLite directories keep the same numbers for the same change, so both stores report the same schema version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from headend.storage.errors import MigrationError

Dialect = Literal["postgres", "sqlite"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """The migrations shipped for ``dialect``, by version; numbered 1, 2, 3… without gaps."""
    folder = resources.files(__name__).joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file name not NNNN_name.sql: {dialect}/{entry.name}")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{dialect} migrations must be numbered 1..N without gaps, found {versions}")
    return tuple(found)


def check_version(current: int, known: tuple[Migration, ...], where: str) -> None:
    """Refuse a database migrated by a newer headend: forward-only means we cannot know its schema."""
    latest = known[-1].version if known else 0
    if current > latest:
        raise MigrationError(
            f"{where}: schema version {current} is newer than this headend knows ({latest}); upgrade headend"
        )
