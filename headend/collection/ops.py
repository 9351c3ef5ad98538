"""The archive, time sync, backfill and success rate together, as the daemon runs them (docs/collection.md
"Archive, time sync, backfill, success rate").

- At start the archive is the database's archive tables merged with ``[archive]`` (configuration wins) and
  written back, so billing's views see the configured meters and ratios.
- When a terminal logs in: its archive is verified and repaired (AFN0A/AFN04 F10, ``[archive] verify_on_login``),
  then its clock checked (AFN0C F2 → AFN05 F31, ``[timesync]``); later heartbeats with a clock (AFN02 F3, 2013
  terminals) are judged the same way once per ``[timesync] interval_s`` (:meth:`CollectionOps.on_frame`).
- Every ``[timesync] interval_s`` of head-end time: every online terminal's clock is checked.
- Every ``[backfill] interval_s`` of head-end time: a backfill run, then the success rate of every freeze date
  it covers is recomputed, stored and exported (only when meters are expected: a non-empty archive, or direct
  meters with daily frozen data, ``SuccessRate.direct``; otherwise nothing is expected).
- :meth:`CollectionOps.map_meters` gives readings of archived points the meter address (the app applies it to
  everything submitted).

All schedules follow the injected head-end clock ``now()``; the loop looks every ``tick_s`` of real time, so a
test with a fast clock runs a simulated day in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from headend.collect import meter_id as fallback_meter_id
from headend.collection.archive import Archive, ArchiveSync, unknown_meter_events
from headend.collection.backfill import Backfill, BackfillResult
from headend.collection.ops_metrics import ops_metrics
from headend.collection.success import FailureLog, SuccessRate
from headend.collection.timesync import TimeSync
from headend.config import Config
from headend.errors import HeadendError
from headend.metrics import Metrics
from headend.readings import Reading
from headend.sessions.gdw376_station import SessionRegistry, TerminalSession
from headend.storage.records import Event
from protocols.errors import ProtocolError
from protocols.gdw376.auth import Authenticator
from protocols.gdw376.link import Afn, Dir, LinkFrame
from protocols.gdw376.units import Heartbeat, decode_units

_LOGGER = logging.getLogger(__name__)


class CollectionOps:
    def __init__(
        self,
        config: Config,
        registry: SessionRegistry,
        store: Any,  #: a Store that also implements headend.storage.collection.CollectionQueries
        metrics: Metrics,
        submit: Callable[[Sequence[Reading]], Awaitable[object]],
        *,
        now: Callable[[], datetime],
        authenticator: Authenticator | None = None,
        host_synchronized: Callable[[], bool] | None = None,
        tick_s: float = 1.0,
        events: Callable[[Sequence[Event]], Awaitable[object]] | None = None,  #: the spool (app); else the store
    ) -> None:
        self.config = config
        self._registry = registry
        self._store = store
        self._now = now
        self._tick_s = tick_s
        self._metrics = ops_metrics(metrics)
        zone = config.collection.zone
        self.archive = Archive.from_config(config.archive)
        self.failures = FailureLog(keep_days=config.backfill.days)
        self.archive_sync = ArchiveSync(
            self.archive, config.archive, metrics=metrics, events=events or store.write_events, now=now,
            authenticator=authenticator,
        )  # fmt: skip
        self.timesync = TimeSync(
            config.timesync, zone=zone, metrics=metrics, link_events=store.write_link_events, now=now,
            host_synchronized=host_synchronized, authenticator=authenticator,
        )  # fmt: skip
        self.backfill = Backfill(
            config.backfill, self.archive, store, registry, submit=submit, zone=zone, metrics=metrics,
            failures=self.failures, now=now, collection=config.collection,
        )  # fmt: skip
        self.success = SuccessRate(
            self.archive, store, metrics=metrics, failures=self.failures,
            online=lambda: [s.terminal for s in registry], now=now,
        )  # fmt: skip
        self._task: asyncio.Task[None] | None = None
        self._login_tasks: set[asyncio.Task[None]] = set()
        self._clock_due: dict[str, datetime] = {}  #: next clock judgement per terminal (head-end time)
        self.next_timesync: datetime | None = None
        self.next_backfill: datetime | None = None
        self.last_backfill: BackfillResult | None = None

    def _use(self, archive: Archive) -> None:
        self.archive = self.archive_sync.archive = self.backfill.archive = self.success.archive = archive

    async def load_archive(self) -> Archive:
        """Database archive merged with the configuration (which wins), written back."""
        stored = await self._store.load_archive()
        configured = Archive.from_config(self.config.archive)
        archive = Archive.from_stored(stored).merged(configured)
        if len(configured):
            await archive.save(self._store, valid_from=self._now(), stored_ratios=stored.ratios)
        self._use(archive)
        _LOGGER.info("archive: %d meters on %d terminals", len(archive), len(archive.terminals()))
        return archive

    def map_meters(self, readings: Sequence[Reading]) -> Sequence[Reading]:
        """Readings of archived points under the meter address instead of ``"<terminal>/p<pn>"``."""
        if not len(self.archive):
            return readings
        mapped: list[Reading] | None = None
        for i, r in enumerate(readings):
            if r.terminal and r.meter == fallback_meter_id(r.terminal, r.pn):
                meter = self.archive.meter_id(r.terminal, r.pn)
                if meter != r.meter:
                    if mapped is None:
                        mapped = list(readings)
                    mapped[i] = dataclasses.replace(r, meter=meter)
        return readings if mapped is None else mapped

    def with_unknown_meters(self, events: Sequence[Event]) -> Sequence[Event]:
        """``events`` plus an ``unknown_meter`` event per meter an ERC35 among them reports (counted in
        ``headend_unknown_meters_total``)."""
        found = unknown_meter_events(events, self.archive)
        if not found:
            return events
        self._metrics.unknown_meters.inc(len(found))
        for event in found:
            _LOGGER.warning("term %s reports unknown meter %s (ERC35)", event.terminal, event.meter)
        return [*events, *found]

    def on_frame(self, session: TerminalSession, frame: LinkFrame) -> None:
        """TerminalServer hook: a heartbeat (AFN02 F3) carrying the terminal clock (2013 terminals) is judged like
        an AFN0C F2 read, at most once per ``[timesync] interval_s`` of head-end time per terminal."""
        if not self.config.timesync.enabled or frame.afn != Afn.LINK_CHECK or not frame.control.prm:
            return
        now = self._now()
        due = self._clock_due.get(session.terminal)
        if due is not None and now < due:
            return
        try:
            units = decode_units(frame.afn, frame.data, Dir.UP)
        except ProtocolError:
            return  # the listener counts and logs it
        clock = next((u.value.clock for u in units if isinstance(u.value, Heartbeat) and u.value.clock), None)
        if clock is None:
            return
        self._clock_due[session.terminal] = now + timedelta(seconds=self.config.timesync.interval_s)
        self._spawn(self._heartbeat_clock(session, clock, now), f"heartbeat clock {session.terminal}")

    async def _heartbeat_clock(self, session: TerminalSession, clock: datetime, received_at: datetime) -> None:
        try:
            await self.timesync.observe_heartbeat(session, clock, received_at)
        except (HeadendError, ProtocolError) as exc:
            session.log.warning("time sync after heartbeat failed: %s", exc)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._login_tasks.add(task)
        task.add_done_callback(self._login_tasks.discard)

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._registry.on_online.append(self._online)
        self._task = asyncio.create_task(self.run(), name="collection-ops")

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self._registry.on_online.remove(self._online)
        tasks = [t for t in (self._task, *self._login_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _online(self, session: TerminalSession) -> None:
        self._spawn(self.on_login(session), f"login-checks {session.terminal}")

    async def on_login(self, session: TerminalSession) -> None:
        """Archive verify/repair, then the clock, for a terminal that just logged in (failures are logged)."""
        try:
            if self.config.archive.verify_on_login and self.archive.entries(session.terminal):
                await self.archive_sync.reconcile(session)
            if self.config.timesync.enabled:
                self._clock_due[session.terminal] = self._now() + timedelta(seconds=self.config.timesync.interval_s)
                await self.timesync.check(session)
        except (HeadendError, ProtocolError) as exc:
            session.log.warning("login checks failed: %s", exc)

    async def run(self) -> None:
        """Time sync and backfill rounds on the head-end clock."""
        try:
            await self.load_archive()
        except Exception as exc:  # noqa: BLE001 - a store down at start: the configured archive still works
            _LOGGER.error("archive not loaded from the store (%s); using the configuration only", exc)
        while True:
            try:
                await self.tick()
            except Exception:  # a store or terminal error must not end the rounds
                _LOGGER.exception("time-sync / backfill round failed; next at its interval")
            await asyncio.sleep(self._tick_s)

    async def tick(self) -> None:
        """One look at the schedules: run what is due."""
        now = self._now()
        cfg = self.config
        if cfg.timesync.enabled and (self.next_timesync is None or now >= self.next_timesync):
            self.next_timesync = now + timedelta(seconds=cfg.timesync.interval_s)
            await self.timesync.run_round(list(self._registry))
        due = self.next_backfill is None or now >= self.next_backfill
        if cfg.backfill.enabled and due and self._expects_meters():
            self.next_backfill = now + timedelta(seconds=cfg.backfill.interval_s)
            await self.backfill_round()

    def _expects_meters(self) -> bool:
        """Whether a success rate means anything: archived terminal meters, or daily-frozen direct meters."""
        direct = self.success.direct
        return bool(len(self.archive)) or (direct is not None and any(True for _ in direct()))

    async def backfill_round(self) -> BackfillResult:
        """A backfill run, then the success rate of each freeze date it covers (oldest first)."""
        try:
            result = await self.backfill.run()
        finally:
            for day in reversed(self.backfill.days()):
                await self.success.update(day)
        self.last_backfill = result
        _LOGGER.info(
            "backfill: %d missing, %d requests, %d filled, failed %s",
            result.missing, result.requests, len(result.filled), result.failed or "none",
        )  # fmt: skip
        return result

    def health(self) -> dict[str, object]:
        """For /healthz: the clock alarm (host not NTP-synchronised) while it stands."""
        return {"clock_alarm": self.timesync.alarm or None}
