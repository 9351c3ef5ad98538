"""The unit of data that flows from a session to the store: one register value of one meter at one time.

Identity (the idempotency key in every store) is ``(meter, register, tariff, ts)``: the same reading delivered
twice — a retransmission, a re-poll within the same device minute, a backfill (补抄) of a value already read, a
spool replay after a crash — is one row. A *different* value for an existing key is a conflict, recorded beside
the original, never written over it.

Register names say what kind of reading it is (docs/schema.md "Registers"), and so which table keeps it:

* ``<quantity>`` (``energy.active.forward``, ``power.active``, ``voltage.a``…): an instantaneous value (实时数据,
  Q/GDW 376.1 AFN0C; DL/T 645-2007 current-value DIs) at the device's read time → ``readings``;
* ``curve.<quantity>``: a load-profile point (曲线, 376.1 AFN0D F81…; DL/T 645 06xxxxxx) at its point time →
  ``readings``;
* ``daily.<quantity>``, ``monthly.<quantity>``, ``settlement.<quantity>``: a frozen register (日冻结 / 月冻结 /
  结算日冻结, 376.1 AFN0D F161…/F177…/F169…; DL/T 645 05060101…) at the instant the device froze it →
  ``frozen_readings``, never dropped by retention.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class ReadingKind(enum.StrEnum):
    """What a register name says about a reading (the prefix before the first dot, see the module docstring)."""

    INSTANT = "instant"  #: instantaneous / current value (实时数据)
    CURVE = "curve"  #: a load-profile point (负荷曲线)
    DAILY = "daily"  #: daily frozen register (日冻结)
    MONTHLY = "monthly"  #: monthly frozen register (月冻结)
    SETTLEMENT = "settlement"  #: settlement-day (meter-reading day) frozen register (结算日/抄表日冻结)

    @property
    def frozen(self) -> bool:
        """Daily, monthly and settlement-day freezes: billing registers, kept for ever."""
        return self in _FROZEN

    @classmethod
    def of(cls, register: str) -> ReadingKind:
        """The kind a register name denotes: ``"daily.energy.active.forward"`` → DAILY, ``"power.active"`` →
        INSTANT."""
        return _PREFIXES.get(register.partition(".")[0], cls.INSTANT)

    def register(self, quantity: str) -> str:
        """The register name of ``quantity`` for this kind: ``ReadingKind.DAILY.register("energy.active.forward")``
        → ``"daily.energy.active.forward"`` (an INSTANT register is the quantity itself)."""
        return quantity if self is ReadingKind.INSTANT else f"{self.value}.{quantity}"


_FROZEN = frozenset({ReadingKind.DAILY, ReadingKind.MONTHLY, ReadingKind.SETTLEMENT})
_PREFIXES = {kind.value: kind for kind in ReadingKind if kind is not ReadingKind.INSTANT}


class Quality(enum.StrEnum):
    """How much billing may trust a value (stored as text)."""

    OK = "ok"  #: read from the device as requested
    BACKFILLED = "backfilled"  #: read later to fill a gap (补抄); the same value as an earlier read is a duplicate
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

    @property
    def kind(self) -> ReadingKind:
        """Instantaneous, curve point or frozen register, from the register name (module docstring)."""
        return ReadingKind.of(self.register)
