"""Readings for the storage tests: deterministic, synthetic addresses (000000000001…), exact decimals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from headend.readings import Quality, Reading

TZ = ZoneInfo("Asia/Shanghai")
#: a device read time on a day boundary of the configured zone (00:00 local = 16:00 UTC the day before)
T0 = datetime(2024, 5, 1, 0, 0, tzinfo=TZ)


def reading(
    n: int,
    value: Decimal | None = Decimal("123456.7891"),
    *,
    register: str = "energy.active.forward",
    tariff: int = 0,
    ts: datetime = T0,
    unit: str = "kWh",
    quality: Quality | None = None,
    source: str = "gdw376.1 AFN0C F129",
    received_at: datetime | None = None,
) -> Reading:
    """Reading of synthetic meter ``n`` (address 0000000000nn behind terminal 4403:00012, point n)."""
    return Reading(
        meter=f"{n:012d}",
        register=register,
        tariff=tariff,
        ts=ts,
        value=value,
        unit=unit,
        quality=quality if quality is not None else (Quality.INVALID if value is None else Quality.OK),
        source=source,
        terminal="4403:00012",
        pn=n,
        received_at=received_at if received_at is not None else ts + timedelta(seconds=7),
    )


def batch(index: int, size: int) -> list[Reading]:
    """Batch ``index`` of a deterministic stream: distinct keys, values with 4 decimals that differ per row."""
    return [
        reading(
            index * size + i,
            Decimal(index * size + i) + Decimal("0.0001") * (i + 1),
            ts=T0 + timedelta(minutes=15 * index),
            tariff=i % 5,
        )
        for i in range(size)
    ]


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``. For waiting on progress, not for timing."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)
