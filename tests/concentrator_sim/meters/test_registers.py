"""The meter clock, the register history and the demand ledger, against direct computations from the model."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from concentrator_sim.meters.clock import MeterClock
from concentrator_sim.meters.registers import DemandLedger, EnergyRegisters
from concentrator_sim.model import DEFAULT_TZ, meter_model

T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
MODEL = meter_model(3, "0645", 0, 1)


def model_ticks(t: datetime) -> tuple[int, ...]:
    return tuple(int(v.scaleb(4)) for v in MODEL.tariffs_kwh(t))


def registers() -> EnergyRegisters:
    return EnergyRegisters(MODEL, random.Random(0), Fraction(1, 3))


@given(
    offset=st.integers(min_value=-3600, max_value=3600),
    ppm=st.floats(min_value=-200, max_value=200),
    later=st.integers(min_value=0, max_value=400 * 86400),
)
def test_the_clock_maps_back_and_forth(offset: int, ppm: float, later: int) -> None:
    clock = MeterClock(DEFAULT_TZ, offset=timedelta(seconds=offset), ppm=ppm)
    clock.local(T0)  # anchors the drift
    now = T0 + timedelta(seconds=later)
    shown = clock.local(now)
    expected = now + timedelta(seconds=offset) + timedelta(seconds=later) * (ppm / 1e6)
    assert abs(shown - expected.astimezone(DEFAULT_TZ).replace(tzinfo=None)) < timedelta(microseconds=2)
    assert abs(clock.true_instant(shown, now) - now) < timedelta(microseconds=2)


def test_setting_the_clock_returns_the_correction() -> None:
    clock = MeterClock(DEFAULT_TZ, offset=timedelta(seconds=40))
    right = T0.astimezone(DEFAULT_TZ).replace(tzinfo=None)
    assert clock.set(T0, right) == timedelta(seconds=-40)
    assert clock.error(T0) == timedelta(0)


def test_the_history_of_pauses_and_a_clear_stays_exact() -> None:
    regs = registers()
    t1, t2, t3, t4 = (T0 + timedelta(hours=h) for h in (2, 5, 7, 9))
    regs.pause(t1)
    regs.resume(t2)
    regs.clear(t3)
    now = t4
    before = T0 + timedelta(hours=1)
    assert regs.forward(before) == model_ticks(before)
    assert regs.forward(t1 + timedelta(hours=1)) == model_ticks(t1)  # frozen while paused
    between = t2 + timedelta(hours=1)
    gap = [a - b for a, b in zip(model_ticks(t2), model_ticks(t1), strict=True)]
    assert regs.forward(between) == tuple(m - g for m, g in zip(model_ticks(between), gap, strict=True))
    assert regs.forward(now) == tuple(a - b for a, b in zip(model_ticks(now), model_ticks(t3), strict=True))
    assert regs.snapshot(now).values(0x02) == (Decimal("0.00"),) * 5  # reverse cleared too


@settings(max_examples=12)
@given(start=st.integers(min_value=0, max_value=2 * 86400), span=st.integers(min_value=0, max_value=3 * 86400))
def test_the_ledger_finds_the_same_maxima_as_a_plain_scan(start: int, span: int) -> None:
    regs = registers()
    ledger = DemandLedger(regs.forward, MeterClock(DEFAULT_TZ))
    begin, end = T0 + timedelta(seconds=start), T0 + timedelta(seconds=start + span)
    ledger.maxima(T0, T0 + timedelta(days=6))  # fill the day cache first: the cache must not change the answer
    result = ledger.maxima(begin, end)
    slot = timedelta(minutes=15)
    t = T0 + -((T0 - begin) // slot) * slot
    best: list[tuple[int, datetime] | None] = [None] * 5
    while t + slot <= end:
        delta = [a - b for a, b in zip(model_ticks(t + slot), model_ticks(t), strict=True)]
        for i, d in enumerate((sum(delta), *delta)):
            current = best[i]
            if d > 0 and (current is None or d > current[0]):
                best[i] = (d, t + slot)
        t += slot
    expected = [
        None if b is None else (Decimal(b[0] * 4).scaleb(-4), b[1].astimezone(DEFAULT_TZ).replace(tzinfo=None))
        for b in best
    ]
    assert [None if r is None else (r.kw, r.at) for r in result] == expected
