"""Properties of the simulated meter physics (concentrator_sim.model.MeterModel / expected_indication)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from concentrator_sim.model import DEFAULT_TZ, MeterModel, expected_indication, meter_model
from protocols.gdw376.formats import A14

A14_MAX = Decimal("999999.9999")

seeds = st.integers(min_value=0, max_value=2**32)
a2s = st.integers(min_value=1, max_value=65534)
pns = st.integers(min_value=1, max_value=2040)
# The range A.15 can carry (YY = 00..99), as aware UTC instants.
instants = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC))


def _fits_a14(value: Decimal | None) -> bool:
    assert value is not None
    return Decimal(0) <= value <= A14_MAX and value == value.quantize(Decimal("0.0001"))


@given(seeds, a2s, pns, instants, instants)
def test_registers_never_decrease(seed: int, a2: int, pn: int, t1: datetime, t2: datetime) -> None:
    meter = meter_model(seed, "4403", a2, pn)
    early, late = sorted((t1, t2))
    assert meter.energy_kwh(early) <= meter.energy_kwh(late)
    for before, after in zip(meter.tariffs_kwh(early), meter.tariffs_kwh(late), strict=True):
        assert before <= after


@given(seeds, a2s, pns, instants)
def test_total_is_exactly_the_sum_of_the_tariffs(seed: int, a2: int, pn: int, t: datetime) -> None:
    indication = expected_indication(seed, "4403", a2, pn, t)
    assert len(indication.tariffs) == 4
    assert all(v is not None for v in indication.tariffs)
    assert indication.total == sum(v for v in indication.tariffs if v is not None)
    assert meter_model(seed, "4403", a2, pn).energy_kwh(indication.read_time) == indication.total


@given(seeds, pns, instants, st.integers(min_value=0, max_value=59), st.integers(min_value=0, max_value=999_999))
def test_same_minute_same_value(seed: int, pn: int, t: datetime, second: int, micro: int) -> None:
    start = t.replace(second=0, microsecond=0)
    a = expected_indication(seed, "4403", 7, pn, start)
    b = expected_indication(seed, "4403", 7, pn, start.replace(second=second, microsecond=micro))
    assert a == b
    assert a.read_time.second == 0
    assert a.read_time.tzinfo is None


@given(seeds, a2s, pns, a2s, pns, instants)
def test_different_meters_differ(seed: int, a2: int, pn: int, other_a2: int, other_pn: int, t: datetime) -> None:
    assume((a2, pn) != (other_a2, other_pn))
    one = expected_indication(seed, "4403", a2, pn, t)
    other = expected_indication(seed, "4403", other_a2, other_pn, t)
    assert one.tariffs != other.tariffs


@given(seeds, pns)
def test_different_seeds_differ(seed: int, pn: int) -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    assert expected_indication(seed, "4403", 1, pn, t) != expected_indication(seed + 1, "4403", 1, pn, t)


@given(seeds, a2s, pns, instants)
def test_values_fit_a14(seed: int, a2: int, pn: int, t: datetime) -> None:
    indication = expected_indication(seed, "4403", a2, pn, t)
    for value in (indication.total, *indication.tariffs):
        assert _fits_a14(value)
        assert A14.decode(A14.encode(value)) == value


@given(seeds, a2s, pns)
def test_registers_still_fit_a14_at_the_end_of_2099(seed: int, a2: int, pn: int) -> None:
    # The largest value a meter ever reaches: the last minute A.15 can carry.
    indication = expected_indication(seed, "4403", a2, pn, datetime(2099, 12, 31, 23, 59))
    assert _fits_a14(indication.total)


@given(seeds, pns, st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2098, 1, 1)))
def test_energy_is_the_integral_of_power(seed: int, pn: int, start: datetime) -> None:
    """Independent check of the closed form: integrate power_kw numerically over one hour.

    Power is linear between 15-minute knots, so the trapezoid rule on whole minutes is exact; the registers
    are floored per tariff, so the difference may be short by less than one step per tariff (4 × 0.0001).
    """
    meter = meter_model(seed, "4403", 3, pn)
    t0 = start.replace(second=0, microsecond=0, tzinfo=DEFAULT_TZ)
    minutes = [t0 + timedelta(minutes=i) for i in range(61)]
    powers = [meter.power_kw(t) for t in minutes]
    kwh = sum(((a + b) / 2 for a, b in itertools.pairwise(powers)), Decimal(0)) / 60
    measured = meter.energy_kwh(minutes[-1]) - meter.energy_kwh(minutes[0])
    assert abs(measured - kwh) <= Decimal("0.0004")


@given(seeds, pns)
def test_night_runs_on_the_valley_tariff_only(seed: int, pn: int) -> None:
    # 谷 (tariff 4) covers 23:00–07:00 in TARIFF_BANDS: between 00:30 and 06:30 only register 4 moves.
    meter = meter_model(seed, "4403", 5, pn)
    before = meter.tariffs_kwh(datetime(2025, 3, 4, 0, 30))
    after = meter.tariffs_kwh(datetime(2025, 3, 4, 6, 30))
    assert after[:3] == before[:3]
    assert after[3] > before[3]


@given(seeds, pns)
def test_evening_peak_runs_on_sharp_tariff(seed: int, pn: int) -> None:
    # 尖 (tariff 1) covers 19:00–21:00: only register 1 moves between 19:05 and 20:55.
    meter = meter_model(seed, "4403", 5, pn)
    before = meter.tariffs_kwh(datetime(2025, 3, 4, 19, 5))
    after = meter.tariffs_kwh(datetime(2025, 3, 4, 20, 55))
    assert after[1:] == before[1:]
    assert after[0] > before[0]


def _mean_power(meter: MeterModel, day: datetime, hours: range) -> Decimal:
    points = [meter.power_kw(day + timedelta(hours=h, minutes=m)) for h in hours for m in range(0, 60, 5)]
    return sum(points, Decimal(0)) / len(points)


@given(seeds, a2s, pns)
def test_load_shape_is_believable(seed: int, a2: int, pn: int) -> None:
    meter = meter_model(seed, "4403", a2, pn)
    tuesday = datetime(2025, 3, 4)
    sunday = datetime(2025, 3, 9)
    if meter.kind == "residential":
        # evening peak well above the night base load
        assert _mean_power(meter, tuesday, range(18, 22)) > Decimal("1.5") * _mean_power(meter, tuesday, range(1, 5))
    else:
        # shops and offices work on weekdays
        assert _mean_power(meter, tuesday, range(10, 16)) > Decimal("1.5") * _mean_power(meter, sunday, range(10, 16))


def test_read_time_is_the_local_minute() -> None:
    # 04:05:59Z is 12:05:59 in Shanghai (UTC+8, no DST): A.15 carries 12:05.
    indication = expected_indication(1, "4403", 1, 1, datetime(2025, 6, 1, 4, 5, 59, tzinfo=UTC))
    assert indication.read_time == datetime(2025, 6, 1, 12, 5)
    naive = expected_indication(1, "4403", 1, 1, datetime(2025, 6, 1, 12, 5))
    assert naive == indication


def test_fleet_spans_residential_and_commercial() -> None:
    kinds = {meter_model(3, "4403", 1, pn).kind for pn in range(1, 101)}
    assert kinds == {"residential", "commercial"}


def test_values_are_the_same_in_another_process() -> None:
    """Meters must not depend on the (salted) built-in hash(): a test or the demo recomputes values in
    another process than the simulator."""
    t = datetime(2025, 6, 1, 4, 5, tzinfo=UTC)
    code = (
        "from datetime import datetime, UTC; from concentrator_sim.model import expected_indication; "
        "print(expected_indication(11, '4403', 2, 3, datetime(2025, 6, 1, 4, 5, tzinfo=UTC)).total)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert Decimal(out.stdout.strip()) == expected_indication(11, "4403", 2, 3, t).total
