"""Instantaneous values of a simulated meter (瞬时量, DL/T 645-2007 附录A 表A.3), exact at the catalogue's resolution.

The active power is the derivative of the energy registers (:meth:`concentrator_sim.model.MeterModel.power_kw`),
split over the phases of a three-phase meter in fixed, slightly unbalanced shares. From it, per phase:

* voltage (电压, ``XXX.X`` V): 226.0 V at no load, sagging 2 V per kW, plus a per-minute wobble of ±1.5 V;
* current (电流, ``XXX.XXX`` A) = P / (U × PF);
* reactive power (无功功率) = P × tan φ, apparent power (视在功率) = P / PF, with the meter's load power factor
  PF (功率因数, 0.900–0.995, from the seed) and phase angle φ (相角, ``XXX.X`` °);
* frequency (频率) 50.00 Hz ± 0.05 per minute, meter temperature (表内温度) 24 ℃ + 2 ℃ per kW ± 1 ℃,
  battery voltages (电池电压) and battery work time constant.

With the relay open or the supply off, power and current are zero and the power factor reads 1.000. Phases a
single-phase meter does not have are ``None`` (its profile decides whether they go out as EE or FF). The
"noise" is a hash of (seed, address, quantity, minute): the same instant always gives the same values.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from concentrator_sim.model import MeterModel

_ZERO = Decimal(0)

#: 表A.3 DI2 of the per-phase quantities.
VOLTAGE, CURRENT, ACTIVE, REACTIVE, APPARENT, POWER_FACTOR, ANGLE = range(1, 8)


@dataclass(frozen=True, slots=True)
class Instant:
    """Instantaneous values: ``phased`` by 表A.3 DI2 (01 voltage … 07 angle) as DI1 orders them (a total first
    where the catalogue has one, then A, B, C), ``singles`` by DI (0280000x)."""

    phased: dict[int, list[Decimal | None]]
    singles: dict[int, Decimal | None]

    def power(self, quantity: int) -> list[Decimal | None]:
        """Total, A, B, C of active (03) or reactive (04) power, or power factor (06)."""
        return self.phased[quantity]


class Physics:
    """The instantaneous values of one meter at any instant."""

    __slots__ = ("_key", "_model", "_shares", "pf", "phases", "tan_phi")

    def __init__(self, model: MeterModel, rng: random.Random, phases: int, key: str) -> None:
        self._model = model
        self.phases = phases
        self._key = key
        self.pf = Decimal(rng.randrange(900, 996)).scaleb(-3)  #: power factor of the load
        self.tan_phi = Fraction((1 - self.pf * self.pf).sqrt() / self.pf)  #: tan φ (exact to 28 digits)
        if phases == 1:
            self._shares: tuple[Fraction, ...] = (Fraction(1),)
        else:
            a, b = Fraction(rng.randrange(28, 40), 100), Fraction(rng.randrange(28, 40), 100)
            self._shares = (a, b, 1 - a - b)

    def share(self, phase: int) -> Fraction:
        """The share of the load on phase ``phase`` (0 = A); 0 for phases the meter does not have."""
        return self._shares[phase] if phase < len(self._shares) else Fraction(0)

    def instant(self, now: datetime, *, flowing: bool) -> Instant:
        """Values at true instant ``now``; ``flowing`` is False when the relay is open or the supply is off."""
        minute = int(now.timestamp()) // 60
        total = self._model.power_kw(now).quantize(Decimal("0.0001"), ROUND_HALF_UP) if flowing else _ZERO
        power = _split(total, self._shares, Decimal("0.0001"))
        missing: list[Decimal | None] = [None] * (3 - self.phases)
        voltage: list[Decimal | None] = []
        current: list[Decimal | None] = []
        for i, p in enumerate(power):
            volts = _q(Decimal("226.0") - 2 * p + Decimal(self._noise("u", i, minute, -15, 15)) / 10, "0.1")
            voltage.append(volts)
            current.append(_q(p * 1000 / (volts * self.pf), "0.001"))
        pf = self.pf if flowing and total else Decimal("1.000")
        reactive = [_q(p * self.tan_phi.numerator / self.tan_phi.denominator, "0.0001") for p in power]
        apparent = [_q(p / self.pf, "0.0001") for p in power]
        angle = Decimal(str(round(math.degrees(math.acos(float(pf))), 1)))
        total_q, total_s = sum(reactive, _ZERO), sum(apparent, _ZERO)
        phased: dict[int, list[Decimal | None]] = {
            VOLTAGE: [*voltage, *missing],
            CURRENT: [*current, *missing],
            ACTIVE: [total, *power, *missing],
            REACTIVE: [total_q, *reactive, *missing],
            APPARENT: [total_s, *apparent, *missing],
            POWER_FACTOR: [pf, *([pf] * self.phases), *missing],
            ANGLE: [*([angle] * self.phases), *missing],
        }
        load = min(total, Decimal(10))
        temperature = _q(24 + load * 2 + Decimal(self._noise("t", 0, minute // 10, -10, 10)) / 10, "0.1")
        singles: dict[int, Decimal | None] = {
            0x02800001: current[0] if self.phases == 1 else _ZERO,  # 零线电流
            0x02800002: Decimal(5000 + self._noise("f", 0, minute, -5, 5)).scaleb(-2),  # 频率
            0x02800003: total,  # 一分钟有功总平均功率
            0x02800004: total,  # 当前有功需量
            0x02800005: total_q,  # 当前无功需量
            0x02800006: total_s,  # 当前视在需量
            0x02800007: temperature,  # 表内温度
            0x02800008: Decimal("3.62"),  # 时钟电池电压
            0x02800009: Decimal("6.05"),  # 停电抄表电池电压
            0x0280000A: _ZERO,  # 内部电池工作时间
        }
        return Instant(phased, singles)

    def _noise(self, kind: str, index: int, bucket: int, low: int, high: int) -> int:
        """A deterministic integer in ``low..high`` for one meter, quantity and time bucket."""
        digest = hashlib.blake2b(f"{self._key}/{kind}/{index}/{bucket}".encode(), digest_size=4).digest()
        return low + int.from_bytes(digest, "big") % (high - low + 1)


def _q(value: Decimal, step: str) -> Decimal:
    return value.quantize(Decimal(step), rounding=ROUND_HALF_UP)


def _split(total: Decimal, shares: Sequence[Fraction], step: Decimal) -> list[Decimal]:
    """``total`` split by ``shares`` on ``step``, the last part taking the rounding (so the parts add up)."""
    parts = [(total * s.numerator / s.denominator).quantize(step, rounding=ROUND_HALF_UP) for s in shares[:-1]]
    return [*parts, total - sum(parts, _ZERO)]
