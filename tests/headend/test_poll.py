"""The poll plan spreads a fleet's requests over time instead of firing them all at once."""

from __future__ import annotations

import random
import statistics
from datetime import datetime

from headend.config import CollectionConfig
from headend.metrics import Metrics
from headend.scheduling.poll import PollPlan
from headend.sessions.gdw376_station import SessionRegistry


async def _sink(readings: object) -> None:
    del readings


def plan(interval_s: float, jitter: float) -> PollPlan:
    metrics = Metrics()
    config = CollectionConfig(interval_s=interval_s, jitter=jitter)
    return PollPlan(config, SessionRegistry(metrics), metrics, _sink, now=datetime.now, rng=random.Random(42))


def test_first_polls_spread_over_the_jitter_window() -> None:
    p = plan(900, 0.5)
    first = [p.next_delay(first=True) for _ in range(2000)]
    assert min(first) >= 0 and max(first) <= 450
    # roughly uniform: every 45 s slice of the 450 s window gets some of 2000 terminals
    slices = {int(d // 45) for d in first}
    assert slices == set(range(10))
    assert 200 < statistics.mean(first) < 250


def test_later_polls_keep_the_interval_on_average() -> None:
    p = plan(900, 0.5)
    later = [p.next_delay(first=False) for _ in range(2000)]
    assert min(later) >= 900 - 225 and max(later) <= 900 + 225
    assert abs(statistics.mean(later) - 900) < 20


def test_no_jitter_means_fixed_interval() -> None:
    p = plan(60, 0.0)
    assert {p.next_delay(first=False) for _ in range(10)} == {60.0}
    assert {p.next_delay(first=True) for _ in range(10)} == {0.0}
