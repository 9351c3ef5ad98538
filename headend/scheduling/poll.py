"""The real-time plan: read AFN0C (请求1类数据, Q/GDW 376.1-2009 §5.1.3.12) — by default F129 (current forward
active energy indications, total + tariffs) — for the configured measurement points of every online terminal,
every ``interval_s``. The Fn and the interval come from the terminal's class (``realtime_fns`` and
``realtime_interval_s`` of its plans, :func:`headend.collection.plans.plan_for`; no ``realtime_interval_s`` =
``[collection] interval_s``): load-control terminals can be read every minute while concentrators are read every
15 minutes. An empty ``realtime_fns`` switches real-time reads off for that class.

Spread, not stampede: a terminal's first poll comes at a random offset within ``jitter × interval`` after its
login, and every later poll is shifted by a random ± ``jitter × interval / 2``, so a fleet that logs in at once
after a restart does not fire thousands of requests in the same second. A global semaphore caps requests in
flight across all terminals. Each terminal has its own task, cancelled when it goes offline.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from headend.collect import readings_from_units
from headend.collection.plans import plan_for
from headend.config import CollectionConfig
from headend.errors import ChannelClosed, HeadendError
from headend.metrics import Metrics
from headend.readings import Reading
from headend.sessions.gdw376_station import SessionRegistry, TerminalSession
from headend.sessions.priority import Priority
from headend.storage.errors import StorageError
from protocols.errors import ProtocolError
from protocols.gdw376.link import Afn

_LOGGER = logging.getLogger(__name__)

#: points per request: 16 points × F129 with 4 tariffs is ~500 bytes of response, one frame on any link
POINTS_PER_REQUEST = 16


class PollPlan:
    def __init__(
        self,
        config: CollectionConfig,
        registry: SessionRegistry,
        metrics: Metrics,
        sink: Callable[[Sequence[Reading]], Awaitable[None]],
        *,
        now: Callable[[], datetime],
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._config = config
        self._sleep = sleep  #: injectable (tests drive a virtual clock)
        self._registry = registry
        self._metrics = metrics
        self._sink = sink
        self._now = now
        self._rng = rng or random.Random()
        #: the global cap on requests in flight, shared with the collection engine (headend.collection)
        self.limit = asyncio.Semaphore(config.max_concurrent_requests)
        self._tasks: dict[TerminalSession, asyncio.Task[None]] = {}
        self.completed_polls = 0  #: progress counter for the watchdog and the demo
        registry.on_online.append(self._online)
        registry.on_offline.append(self._offline)

    def _online(self, session: TerminalSession) -> None:
        if not plan_for(self._config, session.address.a1, session.address.a2).realtime_fns:
            return  # the terminal's class reads nothing in real time
        self._tasks[session] = asyncio.create_task(self._poll_forever(session), name=f"poll {session.terminal}")

    def _offline(self, session: TerminalSession) -> None:
        task = self._tasks.pop(session, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def interval_for(self, a1: str, a2: int) -> float:
        """Seconds between real-time reads of terminal ``a1``/``a2``: its class's ``realtime_interval_s``, else
        ``[collection] interval_s``."""
        interval = plan_for(self._config, a1, a2).realtime_interval_s
        return self._config.interval_s if interval is None else interval

    def next_delay(self, first: bool, interval_s: float | None = None) -> float:
        """Seconds until the next poll of a terminal polled every ``interval_s`` (default ``[collection]
        interval_s``): the first within jitter × interval of its login, later ones interval ± jitter × interval / 2."""
        interval = self._config.interval_s if interval_s is None else interval_s
        jitter = self._config.jitter
        if first:
            return self._rng.uniform(0, jitter * interval)
        return max(0.0, interval + self._rng.uniform(-jitter * interval / 2, jitter * interval / 2))

    async def _poll_forever(self, session: TerminalSession) -> None:
        first = True
        interval = self.interval_for(session.address.a1, session.address.a2)
        while not session.closed:
            await self._sleep(self.next_delay(first, interval))
            first = False
            try:
                await self.poll_once(session)
            except ChannelClosed:
                return
            except (HeadendError, ProtocolError) as exc:
                session.log.warning("poll failed: %s", exc)

    async def poll_once(self, session: TerminalSession, *, priority: Priority = Priority.SCHEDULED) -> int:
        """Read the real-time Fn for every configured point of one terminal; return the number of readings
        spooled."""
        points = self._config.point_list
        fns = plan_for(self._config, session.address.a1, session.address.a2).realtime_fns
        if not fns:
            return 0
        self._metrics.polls.inc()
        total = 0
        for start in range(0, len(points), POINTS_PER_REQUEST):
            chunk = points[start : start + POINTS_PER_REQUEST]
            items = [(pn, fn) for pn in chunk for fn in fns]
            async with self.limit:
                units = await session.request(Afn.REQUEST_CLASS1, items, priority=priority)
            readings = readings_from_units(
                Afn.REQUEST_CLASS1,
                units,
                terminal=session.terminal,
                zone=self._config.zone,
                received_at=self._now(),
            )
            self._metrics.readings_invalid.inc(sum(1 for r in readings if r.value is None))
            try:
                await self._sink(readings)
            except StorageError as exc:
                session.log.error("%d readings not accepted: %s", len(readings), exc)
                raise
            total += len(readings)
        self.completed_polls += 1
        return total
