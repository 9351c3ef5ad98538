"""The supervisor: builds every part from the configuration, runs them, and shuts them down in order.

Start order: spool → store (migrate) → spool writer → ingest → sessions/poll plan → terminal listener →
metrics endpoint → sd_notify READY. Stop order is the reverse, and it drains: the listener closes (pending
requests fail), readings already submitted are committed to the spool, the spool writer writes everything it
holds to the store (bounded by ``drain_timeout_s``), then the store closes. What is still in the spool then stays
there, safe on disk, for the next start.

The systemd watchdog is pinged only when the loop has made progress since the last ping (frames received,
batches written) or when there is genuinely nothing to do — a wedged process stops pinging and systemd restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from headend.channels.direct import DirectMeters
from headend.channels.modbus import ModbusDevices
from headend.channels.tcp_server import TerminalServer
from headend.collection.engine import CollectionEngine
from headend.collection.ops import CollectionOps
from headend.collection.reports import ReportIngest
from headend.config import Config
from headend.http import MetricsEndpoint
from headend.ingest import Ingest
from headend.metrics import Metrics
from headend.readings import Reading
from headend.scheduling.poll import PollPlan
from headend.sdnotify import SystemdNotifier
from headend.sessions.gdw376_station import SessionRegistry
from headend.signals import take_pending
from headend.storage.base import Store, WriteResult, open_store
from headend.storage.maintenance import maintain_periodically
from headend.storage.records import Event
from headend.storage.spool import Spool
from headend.storage.writer import SpoolWriter

_LOGGER = logging.getLogger(__name__)


class _MigrateFirst:
    """A store whose schema is brought up to date before the first write — for when the database was down at
    start and collection began on the spool alone."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.migrated = False

    async def migrate(self) -> int:
        version = await self._store.migrate()
        self.migrated = True
        return version

    async def write(self, readings: Sequence[Reading]) -> WriteResult:
        if not self.migrated:
            await self.migrate()
        return await self._store.write(readings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class HeadendApp:
    def __init__(
        self,
        config: Config,
        *,
        metrics: Metrics | None = None,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.monotonic,
        notifier: SystemdNotifier | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        zone = config.collection.zone
        self.now = now or (lambda: datetime.now(zone))
        self.clock = clock
        self.notifier = notifier or SystemdNotifier()
        self.registry = SessionRegistry(self.metrics)
        self.spool: Spool | None = None
        self.store: _MigrateFirst | None = None
        self.writer: SpoolWriter | None = None
        self.ingest: Ingest | None = None
        self.poller: PollPlan | None = None
        self.collector: CollectionEngine | None = None
        self.reports: ReportIngest | None = None
        self.ops: CollectionOps | None = None
        self.direct: DirectMeters | None = None
        self.modbus: ModbusDevices | None = None
        self.server: TerminalServer | None = None
        self.endpoint: MetricsEndpoint | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        for path in (cfg.storage.spool_path, cfg.storage.sqlite_path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.spool = await asyncio.to_thread(Spool, cfg.storage.spool_path, max_bytes=cfg.storage.spool_max_bytes)
        self.store = _MigrateFirst(open_store(cfg.storage.dsn or None, cfg.storage.sqlite_path, tz=cfg.collection.zone))
        await self._open_store()
        self.writer = SpoolWriter(
            self.spool,
            self.store,
            batch_size=cfg.storage.batch_size,
            on_written=self._written,
            on_error=self._store_error,
            on_events_written=self._events_written,
        )
        self._tasks.append(asyncio.create_task(self.writer.run(), name="spool-writer"))
        self.writer.notify()  # drain what a previous run left in the spool
        keep = cfg.storage.readings_retention_days
        self._tasks.append(
            asyncio.create_task(
                maintain_periodically(
                    self.store,
                    keep_readings=timedelta(days=keep) if keep else None,
                    interval_s=cfg.storage.maintenance_interval_s,
                ),
                name="storage-maintenance",
            )
        )
        self.ingest = Ingest(self.spool, self.metrics, on_durable=self._durable)
        self.ingest.start()
        self.poller = PollPlan(cfg.collection, self.registry, self.metrics, self.submit, now=self.now)
        # frozen data, curves, events and terminal-initiated reports (docs/collection.md "Plans")
        self.reports = ReportIngest(
            self.submit, self.metrics, zone=cfg.collection.zone, now=self.now, event_sink=self._store_events
        )
        self.collector = CollectionEngine(
            cfg.collection,
            self.registry,
            self.metrics,
            self.submit,
            now=self.now,
            limit=self.poller.limit,
            reports=self.reports,
        )
        # meters on serial ports, serial device servers and modems (docs/direct-meters.md)
        self.direct = DirectMeters(cfg.direct, self.metrics, lambda readings: self.submit(readings), now=self.now)
        self.direct.start()
        # Modbus devices read from register maps (docs/collection.md "Modbus")
        self.modbus = ModbusDevices(cfg.modbus, self.metrics, lambda readings: self.submit(readings), now=self.now)
        self.modbus.start()
        # archive, time sync, backfill, success rate (docs/collection.md "Archive, time sync, backfill, success rate")
        self.ops = CollectionOps(
            cfg, self.registry, self.store, self.metrics, self.submit, now=self.now, events=self.submit_events
        )
        self.collector.failures = self.ops.failures  # first-pass failures feed the success report's reasons
        self.ops.backfill.plan_pending = self.collector.first_pass_pending  # backfill waits for the first pass
        # direct meters' clocks (DL/T 645 广播校时) in their poll rounds, behind the terminals' NTP guard and alarm
        self.direct.start_clock_checks(
            cfg.timesync,
            zone=cfg.collection.zone,
            link_events=self.store.write_link_events,
            host=self.ops.timesync.host,
        )
        # direct meters' daily frozen data, load profiles, backfill (docs/direct-meters.md "Frozen data and curves")
        self.direct.start_frozen(
            zone=cfg.collection.zone, store=self.store, backfill=cfg.backfill, failures=self.ops.failures
        )
        self.ops.success.direct = self.direct.success_entries
        self.ops.start()
        self.server = TerminalServer(cfg.server, cfg.session, self.registry, self.metrics, clock=self.clock)
        self.server.on_frame.append(self.collector.on_frame)
        self.reports.attach(self.server)  # pushed reports: ingested, confirmed once durable in the spool
        self.server.on_frame.append(self.ops.on_frame)  # heartbeat clocks (对时)
        await self.server.start()
        self.collector.start()
        if cfg.metrics.enabled:
            self.endpoint = MetricsEndpoint(self.metrics, cfg.metrics.host, cfg.metrics.port, health=self.health)
            await self.endpoint.start()
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        self.notifier.ready()
        self.notifier.status(f"listening on port {self.server.port}")

    async def _open_store(self) -> None:
        """Open and migrate the store. With the database down at start, collection still starts: readings
        wait in the spool and the writer connects when the database returns."""
        assert self.store is not None
        try:
            await self.store.open()
            await self.store.migrate()
        except Exception as exc:  # noqa: BLE001 - any driver error: run on the spool, retry in the writer
            self.metrics.store_up.set(0)
            _LOGGER.error("store unavailable at start (%s); readings are kept in the spool", exc)

    async def submit(self, readings: Sequence[Reading]) -> None:
        assert self.ingest is not None
        if self.ops is not None:
            readings = self.ops.map_meters(readings)  # the archive's meter addresses
        await self.ingest.submit(readings)

    async def submit_events(self, events: Sequence[Event]) -> None:
        """Events into the durable spool, group-committed with readings; returns once they are acknowledged
        (the spool writer then writes them to the store, exactly once)."""
        assert self.ingest is not None
        await self.ingest.submit((), events)

    async def _store_events(self, events: Sequence[Event]) -> None:
        """Terminal events (AFN0E records, pushed or polled) into the spool."""
        if self.ops is not None:
            events = self.ops.with_unknown_meters(events)  # ERC35: one unknown_meter event per address
        await self.submit_events(events)

    async def stop(self, drain_timeout_s: float = 30.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.notifier.stopping()
        _LOGGER.info("stopping: draining in-flight work")
        if self.endpoint is not None:
            await self.endpoint.stop()
        if self.server is not None:
            await self.server.stop()
        if self.poller is not None:
            await self.poller.stop()
        if self.collector is not None:
            await self.collector.stop()
        if self.reports is not None:
            await self.reports.stop()
        if self.ops is not None:
            await self.ops.stop()
        if self.direct is not None:
            await self.direct.stop()
        if self.modbus is not None:
            await self.modbus.stop()
        if self.ingest is not None:
            await self.ingest.stop()
        if self.writer is not None:
            drained = await self.writer.drain(drain_timeout_s)
            if not drained:
                _LOGGER.warning(
                    "store not reachable: %d readings and events stay in the spool for the next start",
                    self.spool.depth() if self.spool else -1,
                )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.store is not None:
            await self.store.close()
        if self.spool is not None:
            await asyncio.to_thread(self.spool.close)
        self.notifier.close()
        _LOGGER.info("stopped")

    async def serve(self, shutdown_trigger: Callable[[], Awaitable[object]] | None = None) -> None:
        """Run until ``shutdown_trigger`` completes (default: SIGTERM or SIGINT), then stop and drain."""
        trigger = shutdown_trigger or _install_signal_trigger()
        await self.start()
        try:
            await trigger()
        finally:
            await self.stop()

    # -- callbacks ------------------------------------------------------------------------------------------
    def _durable(self) -> None:
        if self.writer is not None:
            self.writer.notify()

    def _written(self, result: WriteResult, remaining: int) -> None:
        self.metrics.store_up.set(1)
        self.metrics.readings_stored.labels("inserted").inc(result.inserted)
        self.metrics.readings_stored.labels("duplicate").inc(result.duplicates)
        self.metrics.readings_stored.labels("conflict").inc(result.conflicts)
        self.metrics.spool_depth.set(remaining)
        if result.conflicts:
            _LOGGER.warning("%d readings conflict with stored values (see reading_conflicts)", result.conflicts)

    def _events_written(self, new: int, written: int, remaining: int) -> None:
        self.metrics.store_up.set(1)
        self.metrics.spool_depth.set(remaining)

    def _store_error(self, exc: BaseException) -> None:
        self.metrics.store_up.set(0)
        self.metrics.store_errors.inc()

    # -- health ---------------------------------------------------------------------------------------------
    def health(self) -> dict[str, object]:
        store_ok = self.writer.healthy if self.writer is not None else False
        spool_full = self.ingest.spool_full if self.ingest is not None else False
        return {
            "ok": store_ok and not spool_full,
            "terminals_online": len(self.registry),
            "store_healthy": store_ok,
            "spool_full": spool_full,
            "spool_depth": self.spool.depth() if self.spool is not None else None,  # readings and events
            "spool_events": self.spool.event_depth() if self.spool is not None else None,
            **(self.ops.health() if self.ops is not None else {}),
        }

    async def _housekeeping(self) -> None:
        """Every few seconds: refresh gauges, and ping the watchdog when the loop made progress."""
        interval = self.notifier.watchdog_interval_s
        tick = min(5.0, interval / 3) if interval else 5.0
        last_progress: tuple[int, int] = (-1, -1)
        while True:
            await asyncio.sleep(tick)
            assert self.spool is not None and self.server is not None and self.poller is not None
            depth = await asyncio.to_thread(self.spool.depth)
            size = await asyncio.to_thread(self.spool.size_bytes)
            self.metrics.spool_depth.set(depth)
            self.metrics.spool_bytes.set(size)
            direct_rounds = self.direct.completed_rounds if self.direct is not None else 0
            direct_rounds += self.modbus.completed_rounds if self.modbus is not None else 0
            collected = self.collector.completed_jobs if self.collector is not None else 0
            progress = (self.server.frames_in, self.poller.completed_polls + direct_rounds + collected)
            # progress, or a quiet system (nothing connected and nothing to write) both count as alive
            if progress != last_progress or (not self.server.connections and depth == 0):
                self.notifier.watchdog()
            last_progress = progress


def _install_signal_trigger() -> Callable[[], Awaitable[None]]:
    """Install SIGTERM/SIGINT handlers now (before anything starts, so an early SIGTERM still drains) and return
    the awaitable that completes on the first signal."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    early = take_pending()  # a stop asked for while the daemon was still importing (headend.signals)
    if early is not None:
        _LOGGER.info("stop signal %s arrived during start-up", signal.Signals(early).name)
        stop.set()

    async def wait() -> None:
        try:
            await stop.wait()
            _LOGGER.info("signal received")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    return wait


def run(config: Config) -> None:
    """Entry point of ``headend run``: uvloop when installed, then serve until SIGTERM/SIGINT."""
    app = HeadendApp(config)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional (not on Windows)
        asyncio.run(app.serve())
    else:
        uvloop.run(app.serve())
