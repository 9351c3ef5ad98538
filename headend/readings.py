"""The unit of data that flows from a session to the store: one register value of one meter at one time.

Identity (the idempotency key in every store) is ``(meter, register, tariff, ts)``: the same reading delivered
twice — a retransmission, a re-poll within the same device minute, a spool replay after a crash — is one row.
A *different* value for an existing key is a conflict, recorded beside the original, never written over it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class Quality(enum.StrEnum):
    """How much billing may trust a value (stored as text)."""

    OK = "ok"  #: read from the device as requested
    BACKFILLED = "backfilled"  #: re-read later to fill a gap (补抄)
    ESTIMATED = "estimated"  #: computed, not read
    INVALID = "invalid"  #: the device answered "no value" (EE filler); ``value`` is None


@dataclass(frozen=True, slots=True)
class Reading:
    """One register value.

    ``ts`` is timezone-aware, in the configured zone (default Asia/Shanghai): the device's own read time
    (for 376.1 the A.15 "终端抄表时间"), not the time we received it, which is ``received_at``.
    """

    meter: str  #: meter identity: its 12-digit address when the archive knows it, else "<terminal>/p<pn>"
    register: str  #: register name, e.g. "energy.active.forward" (see docs/schema.md)
    tariff: int  #: 0 = total, 1..M = tariff (费率) index
    ts: datetime
    value: Decimal | None
    unit: str  #: "kWh", "kvarh", "kW", "V", "A", …
    quality: Quality
    source: str  #: protocol and code, e.g. "gdw376.1 AFN0C F129"
    terminal: str  #: terminal logical address "A1:A2" as printed, e.g. "4403:00012" ("" for direct meters)
    pn: int  #: measurement point (测量点号) on that terminal; 0 for direct meters
    received_at: datetime

    @property
    def key(self) -> tuple[str, str, int, datetime]:
        return (self.meter, self.register, self.tariff, self.ts)
