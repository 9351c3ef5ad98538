"""A DL/T 645 meter's energy and demand registers: exact, non-decreasing, known at every past instant (sans-IO).

Energy (电能量, DL/T 645-2007 附录A 表A.1, DI3 = 00; DI2 = quantity 00..08, DI1 = total / tariff 1..4)
    Forward active energy (正向有功, DI2 = 01) per tariff is the closed-form integral of
    :class:`concentrator_sim.model.MeterModel` — the same load shapes and 尖峰平谷 bands as the concentrator fleet
    — kept in 0.0001 kWh ticks. The other quantities follow from it: reverse active (反向有功, 02) and the
    quadrant II–IV reactive registers (第二～四象限无功, 06..08) hold constant values from the seed (a consumer
    does not export); quadrant I reactive (第一象限无功, 05) is forward energy times the meter's tan φ;
    combined active (组合有功, 00) = forward + reverse and combined reactive 1/2 (组合无功1/2, 03/04) = I + II and
    III + IV, the factory-default combination words (组合有功/无功特征字 04000601..03). Totals are the sum of the
    tariff registers at tick resolution; a meter shows them truncated to 0.01 (``XXXXXX.XX``), never rounded up,
    so no register ever decreases.

History
    While the relay is open (拉闸) or the meter has no supply (掉电) no energy flows: the registers freeze at the
    pause and resume from there, the model's energy in between left out exactly. 电表清零 (1AH) restarts every
    register from zero. Each such change opens a new segment, and the segments are kept, so the registers at
    any past instant — a midnight freeze read a week later, a load-profile record, a settlement — are exactly
    what they were then.

Demand (最大需量, 表A.2, DI3 = 01)
    Block demand (区间式) over 15-minute periods aligned to the quarter hour: a period's average power is its
    forward-energy increase × 4 (kW, exact in ticks: 0.0001 kWh × 4 = 0.0004 kW, within ``XX.XXXX``). Each tariff
    keeps its own maximum (DI1 = 1..4) next to the total (DI1 = 00), with the meter time its period ended
    (``YYMMDDhhmm``). :class:`DemandLedger` finds the maxima of any span; whole days are scanned once and cached.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from concentrator_sim.meters.clock import MeterClock
from concentrator_sim.model import TARIFF_COUNT, MeterModel

#: 0.0001 kWh per tick, the resolution of :class:`MeterModel`.
TICKS_PER_KWH = 10_000
#: Ticks per displayed step: registers are ``XXXXXX.XX`` (0.01 kWh).
TICKS_PER_STEP = 100

COMBINED_ACTIVE = 0x00  #: DI2 of 组合有功 = forward + reverse
FORWARD_ACTIVE = 0x01  #: 正向有功
REVERSE_ACTIVE = 0x02  #: 反向有功
COMBINED_REACTIVE_1 = 0x03  #: 组合无功1 = quadrant I + II
COMBINED_REACTIVE_2 = 0x04  #: 组合无功2 = quadrant III + IV
REACTIVE_Q1, REACTIVE_Q2, REACTIVE_Q3, REACTIVE_Q4 = 0x05, 0x06, 0x07, 0x08  #: 第一～四象限无功
#: Every quantity DI2 = 00..08 of 表A.1 the meter keeps.
QUANTITIES = tuple(range(9))
#: The six totals event records and load records snapshot: forward, reverse, quadrant I..IV reactive.
SIX = (FORWARD_ACTIVE, REVERSE_ACTIVE, REACTIVE_Q1, REACTIVE_Q2, REACTIVE_Q3, REACTIVE_Q4)

#: Demand period (需量周期): block demand, 15 minutes.
DEMAND_PERIOD = timedelta(minutes=15)
_PERIODS_PER_HOUR = 4
_DAY = timedelta(days=1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

Ticks = tuple[int, ...]  #: one value per tariff 1..TARIFF_COUNT, in 0.0001 kWh (or kvarh)


def ticks_to_register(ticks: int) -> Decimal:
    """A register value as the meter shows it: truncated to 0.01 (``XXXXXX.XX``).

    >>> ticks_to_register(1234567)
    Decimal('123.45')
    """
    return Decimal(ticks // TICKS_PER_STEP).scaleb(-2)


def _model_ticks(model: MeterModel, t: datetime) -> Ticks:
    return tuple(int(v.scaleb(4)) for v in model.tariffs_kwh(t))


def _add(a: Ticks, b: Ticks) -> Ticks:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _sub(a: Ticks, b: Ticks) -> Ticks:
    return tuple(x - y for x, y in zip(a, b, strict=True))


_ZERO: Ticks = (0,) * TARIFF_COUNT


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every quantity's tariff registers at one instant, in ticks."""

    ticks: dict[int, Ticks]

    def values(self, quantity: int) -> tuple[Decimal, ...]:
        """Total then tariffs 1..4 of ``quantity`` (DI2), as shown (0.01 resolution)."""
        per_tariff = self.ticks[quantity]
        return tuple(ticks_to_register(v) for v in (sum(per_tariff), *per_tariff))

    def total(self, quantity: int) -> Decimal:
        return ticks_to_register(sum(self.ticks[quantity]))

    def six(self) -> list[Decimal]:
        """Forward, reverse, quadrant I..IV totals (what event and load records keep)."""
        return [self.total(q) for q in SIX]


@dataclass(frozen=True, slots=True)
class _Segment:
    """From ``start`` on: forward = model − ``offset`` (frozen at ``paused_at``), constants as given."""

    start: datetime
    offset: Ticks
    paused_at: datetime | None
    constants: dict[int, Ticks]
    q1_base: Ticks


class EnergyRegisters:
    """The 表A.1 registers of one meter with their whole history; see the module docstring."""

    __slots__ = ("_model", "_segments", "_starts", "_tan_phi")

    def __init__(self, model: MeterModel, rng: random.Random, tan_phi: Fraction) -> None:
        self._model = model
        self._tan_phi = tan_phi

        def small() -> Ticks:  # a few kWh from the factory test or a previous installation
            return tuple(rng.choice((0, 0, 0, rng.randrange(0, 5 * TICKS_PER_KWH))) for _ in range(TARIFF_COUNT))

        constants = {REVERSE_ACTIVE: small(), REACTIVE_Q2: small(), REACTIVE_Q3: small(), REACTIVE_Q4: small()}
        first = _Segment(datetime.min.replace(tzinfo=UTC), _ZERO, None, constants, small())
        self._segments = [first]
        self._starts = [first.start]

    def _segment(self, t: datetime) -> _Segment:
        return self._segments[bisect.bisect_right(self._starts, t) - 1]

    def _open(self, segment: _Segment) -> None:
        if segment.start < self._starts[-1]:
            raise ValueError("register history only grows forward in time")
        self._segments.append(segment)
        self._starts.append(segment.start)

    @property
    def paused(self) -> bool:
        """No energy flows now (relay open or no supply)."""
        return self._segments[-1].paused_at is not None

    def forward(self, t: datetime) -> Ticks:
        """正向有功 per tariff at ``t``."""
        segment = self._segment(t)
        if segment.paused_at is not None:
            t = segment.paused_at
        return _sub(_model_ticks(self._model, t), segment.offset)

    def snapshot(self, t: datetime) -> Snapshot:
        """All quantities at ``t``."""
        segment = self._segment(t)
        forward = self.forward(t)
        q1 = tuple(b + int(f * self._tan_phi) for b, f in zip(segment.q1_base, forward, strict=True))
        c = segment.constants
        return Snapshot(
            {
                FORWARD_ACTIVE: forward,
                REACTIVE_Q1: q1,
                **c,
                COMBINED_ACTIVE: _add(forward, c[REVERSE_ACTIVE]),
                COMBINED_REACTIVE_1: _add(q1, c[REACTIVE_Q2]),
                COMBINED_REACTIVE_2: _add(c[REACTIVE_Q3], c[REACTIVE_Q4]),
            }
        )

    def pause(self, t: datetime) -> None:
        """Stop the flow of energy at ``t`` (relay opened, supply lost). Idempotent."""
        last = self._segments[-1]
        if last.paused_at is None:
            self._open(_Segment(t, last.offset, t, last.constants, last.q1_base))

    def resume(self, t: datetime) -> None:
        """Let energy flow again from ``t``: what the model integrated while paused is not counted."""
        last = self._segments[-1]
        if last.paused_at is None:
            return
        gap = _sub(_model_ticks(self._model, t), _model_ticks(self._model, last.paused_at))
        self._open(_Segment(t, _add(last.offset, gap), None, last.constants, last.q1_base))

    def clear(self, t: datetime) -> None:
        """电表清零 (DL/T 645-2007 §7.11, 1AH): every register restarts from zero at ``t``."""
        last = self._segments[-1]
        at = last.paused_at if last.paused_at is not None else t
        self._open(
            _Segment(t, _model_ticks(self._model, at), last.paused_at, dict.fromkeys(last.constants, _ZERO), _ZERO)
        )


@dataclass(frozen=True, slots=True)
class DemandMax:
    """One maximum demand register: kW (``XX.XXXX``) and the meter time its period ended."""

    kw: Decimal
    at: datetime  #: naive meter time, minute resolution


_Best = list[tuple[int, datetime] | None]  #: per total/tariff: (ticks in the period, true end instant)


class DemandLedger:
    """Maximum forward active demand (正向有功最大需量) over any span, total and per tariff (see the module
    docstring). ``ticks_at`` gives forward energy per tariff at a true instant."""

    __slots__ = ("_clock", "_days", "_ticks_at")

    def __init__(self, ticks_at: Callable[[datetime], Ticks], clock: MeterClock) -> None:
        self._ticks_at = ticks_at
        self._clock = clock
        self._days: dict[int, _Best] = {}  #: cached maxima of whole UTC days, by day number

    def maxima(self, start: datetime, end: datetime) -> tuple[DemandMax | None, ...]:
        """Total then tariffs 1..4 over the demand periods inside ``[start, end]``; ``None`` where no demand."""
        best: _Best = [None] * (TARIFF_COUNT + 1)
        t = _ceil(start)
        while t + DEMAND_PERIOD <= end:
            day_start = _EPOCH + (t - _EPOCH) // _DAY * _DAY
            day_end = day_start + _DAY
            if t == day_start and day_end <= end:
                day = (t - _EPOCH) // _DAY
                if day not in self._days:
                    self._days[day] = self._scan(t, day_end)
                _merge(best, self._days[day])
            else:
                _merge(best, self._scan(t, min(day_end, end)))
            t = day_end
        return tuple(
            None if b is None else DemandMax(Decimal(b[0] * _PERIODS_PER_HOUR).scaleb(-4), self._minute(b[1]))
            for b in best
        )

    def _minute(self, end: datetime) -> datetime:
        return self._clock.local(end).replace(second=0, microsecond=0)

    def _scan(self, start: datetime, stop: datetime) -> _Best:
        best: _Best = [None] * (TARIFF_COUNT + 1)
        last = self._ticks_at(start)
        t = start
        while t + DEMAND_PERIOD <= stop:
            end = t + DEMAND_PERIOD
            ticks = self._ticks_at(end)
            delta = _sub(ticks, last)
            _merge(best, [(sum(delta), end), *((d, end) for d in delta)])
            last, t = ticks, end
        return best


def _merge(best: _Best, other: _Best) -> None:
    for i, candidate in enumerate(other):
        if candidate is None or candidate[0] <= 0:
            continue
        current = best[i]
        if current is None or candidate[0] > current[0]:
            best[i] = candidate


def _ceil(t: datetime) -> datetime:
    """The next quarter-hour boundary at or after ``t``."""
    return _EPOCH - (_EPOCH - t) // DEMAND_PERIOD * DEMAND_PERIOD
