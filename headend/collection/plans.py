"""Plans: what is read from which terminal, and when — pure functions of the configuration and the head-end clock.

- Terminal classes (``[[collection.classes]]``) match terminals by address: ``"4403:*"``, ``"4403:1-100"``
  (A2 range, decimal as printed), ``"4403:17"``; the first match wins, else ``[collection.plans]``.
- Daily frozen data (日冻结, Q/GDW 376.1-2009 §5.1.3.14 AFN0D with Td_d 附录A.20) of *yesterday* is read from
  ``daily_after`` past local midnight, each terminal at its own offset inside ``daily_spread_s`` (a stable hash of
  its address), so thousands of terminals do not all ask at 00:05. Monthly frozen data (月冻结, Td_m 附录A.21) of
  last month is read on the 1st with the same timing; curves (曲线, Td_c) of yesterday too.
- The freeze instant a Td_d / Td_m labels is computed where readings are built
  (:func:`headend.collect.frozen_ts`).
- A terminal that does not answer is backed off exponentially (base × 2^(failures-1), capped): :class:`Backoff`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from headend.config import CollectionConfig, PlanConfig, TerminalClassConfig

#: 数据冻结密度 m per curve interval (Q/GDW 376.1-2009 附录 Td_c: 1 = 15 min, 2 = 30 min, 3 = 60 min)
DENSITY_OF_MINUTES = {15: 1, 30: 2, 60: 3}


def terminal_matches(spec: str, a1: str, a2: int) -> bool:
    """Does ``spec`` ("A1:*", "A1:lo-hi", "A1:n"; A1 hex as printed, A2 decimal) cover terminal ``a1``/``a2``?"""
    spec_a1, _, rest = spec.partition(":")
    if spec_a1.upper() != a1.upper():
        return False
    if rest == "*":
        return True
    lo, _, hi = rest.partition("-")
    return int(lo) <= a2 <= int(hi or lo)


def plan_for(config: CollectionConfig, a1: str, a2: int) -> PlanConfig:
    """The plans of terminal ``a1``/``a2``: the first class that lists it, else the default plans."""
    return class_of(config.classes, a1, a2) or config.plans


def class_of(classes: Sequence[TerminalClassConfig], a1: str, a2: int) -> TerminalClassConfig | None:
    for cls in classes:
        if any(terminal_matches(spec, a1, a2) for spec in cls.terminals):
            return cls
    return None


def spread_offset(terminal: str, spread_s: float) -> timedelta:
    """A terminal's stable offset within the spread window (CRC-32 of its printed address, not Python's salted
    hash, so it is the same in every run and on every host)."""
    if spread_s <= 0:
        return timedelta(0)
    fraction = zlib.crc32(terminal.encode()) / 0x1_0000_0000
    return timedelta(seconds=fraction * spread_s)


def daily_due(plan: PlanConfig, terminal: str, day: date, zone: ZoneInfo) -> datetime:
    """When terminal ``terminal`` is due to read the daily frozen data of ``day - 1``: local midnight of ``day``
    + ``daily_after`` + its spread offset (aware, in ``zone``)."""
    hours, minutes = (int(part) for part in plan.daily_after.split(":"))
    start = datetime.combine(day, time(hours, minutes), tzinfo=zone)
    return start + spread_offset(terminal, plan.daily_spread_s)


def previous_month(day: date) -> tuple[int, int]:
    """(year, month) of the month before ``day``'s."""
    return (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)


@dataclass(slots=True)
class Backoff:
    """Exponential back-off of one terminal on the head-end clock: after the n-th consecutive failure it is left
    alone for ``base × 2^(n-1)`` seconds, at most ``cap``; a success resets it."""

    base_s: float
    cap_s: float
    failures: int = 0
    until: datetime | None = None

    def failed(self, now: datetime) -> timedelta:
        self.failures += 1
        delay = timedelta(seconds=min(self.cap_s, self.base_s * 2 ** min(self.failures - 1, 32)))
        self.until = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.until = None

    def ready(self, now: datetime) -> bool:
        return self.until is None or now >= self.until
