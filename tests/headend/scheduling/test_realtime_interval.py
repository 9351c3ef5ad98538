"""Real-time reads at an interval per terminal class (``realtime_interval_s`` of ``[[collection.classes]]``):
two simulated concentrators over loopback TCP, one in a class read every minute, the other at the global
``[collection] interval_s``. The poll loops sleep on a virtual clock the test advances, so a simulated hour runs
in a second and the polls can be counted exactly."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from concentrator_sim.fleet import Fleet, FleetConfig, SimClock
from headend.config import CollectionConfig, TerminalClassConfig
from headend.metrics import Metrics
from headend.readings import Reading
from headend.scheduling.poll import PollPlan
from headend.sessions.gdw376_station import SessionRegistry
from tests.headend import test_terminal_server
from tests.headend.direct.helpers import eventually
from tests.headend.storage.helpers import TZ
from tests.headend.test_terminal_server import Harness

START = datetime(2024, 5, 4, 10, 0, tzinfo=TZ)
FAST, SLOW = "4403:00001", "4403:00002"
HOUR_S = 3600.0

#: a terminal listener on a free loopback port with its registry and metrics
harness = test_terminal_server.harness


class VirtualSleep:
    """An ``asyncio.sleep`` on a virtual clock: sleepers wake only when :meth:`run_until` advances past them."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.asked: dict[str, list[float]] = {}  #: task name → delays asked for

    async def __call__(self, delay: float) -> None:
        task = asyncio.current_task()
        self.asked.setdefault(task.get_name() if task else "?", []).append(delay)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._order), future))
        await future

    @property
    def asleep(self) -> int:
        return len(self._sleepers)

    async def run_until(self, end: float, loops: int) -> None:
        """Wake sleepers in due order up to ``end``; after each, wait until all ``loops`` are asleep again."""
        while True:
            await eventually(lambda: self.asleep == loops, f"{loops} poll loops asleep at t={self.now:g}")
            due, _, future = self._sleepers[0]
            if due > end:
                return
            heapq.heappop(self._sleepers)
            self.now = due
            future.set_result(None)


async def test_each_class_is_read_at_its_own_interval(harness: Harness) -> None:
    config = CollectionConfig(
        interval_s=900,
        points="1-4",
        jitter=0,
        classes=[TerminalClassConfig(name="load", terminals=["4403:1"], realtime_interval_s=60)],
    )
    polls: Counter[str] = Counter()

    async def sink(readings: Sequence[Reading]) -> None:
        polls.update({r.terminal for r in readings})  # one request per poll (4 points): one call

    sleep = VirtualSleep()
    plan = PollPlan(
        config, harness.registry, harness.metrics, sink, now=lambda: START, rng=random.Random(1), sleep=sleep
    )
    fleet = Fleet(
        FleetConfig(port=harness.server.port, concentrators=2, meters_per_concentrator=4, history_days=1),
        clock=SimClock(START),
    )
    await fleet.start()
    try:
        await sleep.run_until(HOUR_S, loops=2)
    finally:
        await plan.stop()
        await fleet.stop()
    # jitter 0: both read at login (t=0), then every 60 s resp. 900 s up to and including t=3600
    assert polls == {FAST: int(HOUR_S // 60) + 1, SLOW: int(HOUR_S // 900) + 1}
    # each loop asked for 0 (first poll), then its interval after every poll (the last one still asleep)
    assert sleep.asked[f"poll {FAST}"] == [0.0] + [60.0] * polls[FAST]
    assert sleep.asked[f"poll {SLOW}"] == [0.0] + [900.0] * polls[SLOW]
    assert harness.sample("headend_polls_total") == sum(polls.values())


def test_a_class_without_its_own_interval_uses_the_global_one() -> None:
    config = CollectionConfig(
        interval_s=300,
        jitter=0,
        classes=[
            TerminalClassConfig(name="load", terminals=["4403:1-9"], realtime_interval_s=60),
            TerminalClassConfig(name="dcu", terminals=["4403:10-20"]),
        ],
    )
    plan = PollPlan(config, SessionRegistry(Metrics()), Metrics(), _drop, now=lambda: START)
    assert [plan.interval_for("4403", a2) for a2 in (1, 9, 10, 21)] == [60.0, 60.0, 300.0, 300.0]
    assert [plan.next_delay(False, plan.interval_for("4403", a2)) for a2 in (1, 21)] == [60.0, 300.0]


async def _drop(readings: Sequence[Reading]) -> None:
    del readings
