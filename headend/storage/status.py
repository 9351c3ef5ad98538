"""What ``headend db status`` reports: the store (edition, schema version, zone, rows, conflicts, ingest
watermark) and the spool (depth, size, the oldest reading not yet written to the store).

:func:`collect_status` returns plain JSON-able values (numbers, strings, ISO 8601 times, None), so the CLI can
print them as text or JSON. It never fails because a part is unreachable: the store part then holds ``error``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from headend.storage.base import open_store
from headend.storage.spool import Spool

if TYPE_CHECKING:
    from headend.config import Config


async def collect_status(config: Config, *, now: datetime | None = None) -> dict[str, Any]:
    """``{"store": {...}, "spool": {...}}`` for ``config`` (see the module docstring).

    store: ``kind`` (timescaledb / sqlite), ``edition``, ``schema_version``, ``time_zone``, ``readings``,
    ``frozen_readings``, ``conflicts``, ``last_conflict_at``, ``events``, ``ingest_batch`` (the watermark),
    ``last_ingest_at`` — or ``error`` when the database cannot be reached.

    spool: ``path``, ``exists``, and when it exists ``format``, ``depth`` (readings and events acknowledged but
    not yet in the store), ``events`` (the events among them), ``bytes``, ``max_bytes``, ``oldest`` (the oldest
    reading: ``meter``, ``register``, ``tariff``, ``ts``, ``received_at``, ``age_s``) and ``oldest_event``
    (``code``, ``terminal``, ``ts``, ``received_at``, ``age_s``), each None when there is none.
    """
    zone = config.collection.zone
    moment = now or datetime.now(zone)
    return {
        "store": await store_status(config.storage.dsn or None, config.storage.sqlite_path, zone),
        "spool": await asyncio.to_thread(
            spool_status, config.storage.spool_path, config.storage.spool_max_bytes, moment
        ),
    }


async def store_status(dsn: str | None, sqlite_path: Path, zone: ZoneInfo) -> dict[str, Any]:
    """The store part of :func:`collect_status`."""
    kind = "timescaledb" if dsn else "sqlite"
    if not dsn and not await asyncio.to_thread(sqlite_path.exists):
        return {"kind": kind, "path": str(sqlite_path), "error": "no store yet (run `headend db migrate`)"}
    store = open_store(dsn, sqlite_path, tz=zone)
    try:
        await store.open()
        details = await store.status()
    except Exception as exc:  # noqa: BLE001 - any driver error is a status to show, not a crash
        return {"kind": kind, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        await store.close()
    return {"kind": kind, **{key: _plain(value) for key, value in details.items()}}


def spool_status(path: Path, max_bytes: int | None, now: datetime) -> dict[str, Any]:
    """The spool part of :func:`collect_status` (read-only: safe beside a running daemon)."""
    result: dict[str, Any] = {"path": str(path), "exists": path.exists()}
    if not path.exists():
        return result
    spool = Spool(path, readonly=True)
    try:
        _, oldest = spool.peek(1)
        _, oldest_event = spool.peek_events(1)
        result.update(
            format=spool.format,
            depth=spool.depth(),
            events=spool.event_depth(),
            bytes=spool.size_bytes(),
            max_bytes=max_bytes,
        )
    finally:
        spool.close()
    result["oldest"] = None
    result["oldest_event"] = None
    if oldest:
        first = oldest[0]
        result["oldest"] = {
            "meter": first.meter,
            "register": first.register,
            "tariff": first.tariff,
            "ts": first.ts.isoformat(),
            "received_at": first.received_at.isoformat(),
            "age_s": round((now - first.received_at).total_seconds(), 3),
        }
    if oldest_event:
        event = oldest_event[0]
        result["oldest_event"] = {
            "code": event.code,
            "terminal": event.terminal,
            "ts": event.ts.isoformat(),
            "received_at": event.received_at.isoformat(),
            "age_s": round((now - event.received_at).total_seconds(), 3),
        }
    return result


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value
