"""The daemon's periodic storage upkeep: :meth:`Store.maintain` now and then every ``interval_s``.

What it does depends on the store (docs/schema.md "Editions", "Retention"): refresh ``energy_daily_agg`` up to
the ingest watermark (Apache edition, plain PostgreSQL, SQLite) and apply the retention of ``readings`` (drop
chunks, delete rows, or install the Community policy). Frozen registers are never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from headend.storage.base import MaintenanceResult, Store

_LOGGER = logging.getLogger(__name__)


async def maintain_periodically(
    store: Store,
    *,
    keep_readings: timedelta | None,
    interval_s: float,
    on_done: Callable[[MaintenanceResult], None] | None = None,
) -> None:
    """Forever: ``store.maintain(keep_readings=…)``, then wait ``interval_s``. A failure (the database is away)
    is logged and tried again at the next interval. Cancel to stop."""
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    while True:
        try:
            result = await store.maintain(keep_readings=keep_readings)
        except Exception as exc:  # noqa: BLE001 - upkeep must never stop the daemon; it runs again later
            _LOGGER.warning("storage maintenance failed, next try in %.0f s: %s", interval_s, exc)
        else:
            if result.dropped:
                _LOGGER.info("retention: dropped %d old chunks/rows of readings", result.dropped)
            if on_done is not None:
                on_done(result)
        await asyncio.sleep(interval_s)
