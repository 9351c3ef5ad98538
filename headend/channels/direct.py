"""The meters the head-end reaches itself: builds a channel and a poll plan for every ``[[direct.serial]]``,
``[[direct.tcp]]`` and ``[[direct.modem]]`` section, starts and stops them with the daemon (docs/direct-meters.md);
with :meth:`DirectMeters.start_clock_checks`, each channel's meter clocks are kept right too (DL/T 645 广播校时,
:mod:`headend.collection.meter_clock`); with :meth:`DirectMeters.start_frozen`, channels with ``daily_frozen`` read
daily frozen data, load profiles and backfill (日冻结, 负荷记录, 补抄: :mod:`headend.collection.meter_frozen`).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from headend.channels.modem import ModemChannel
from headend.channels.serial_bus import BusChannel
from headend.channels.serial_port import SerialChannel
from headend.channels.tcp_client import TcpClientChannel
from headend.collection.archive import ArchiveEntry
from headend.collection.meter_clock import MeterClockPlan, MeterClockSync
from headend.collection.meter_frozen import MeterFrozenPlan, check_frozen_dis
from headend.collection.success import FailureLog
from headend.collection.timesync import HostClock, LinkSink
from headend.config import DirectConfig
from headend.config_collection import BackfillConfig, TimeSyncConfig
from headend.metrics import Metrics
from headend.readings import Reading
from headend.scheduling.meter_poll import MeterPollPlan, check_dis
from headend.storage.collection import CollectionQueries


def build_channels(config: DirectConfig, metrics: Metrics, *, zone_now: Callable[[], datetime]) -> list[BusChannel]:
    """One channel per configured section, in file order (serial, tcp, modem). Raises ConfigError for DIs that
    have no register."""
    channels: list[BusChannel] = []
    for index, serial_config in enumerate(config.serial):
        check_dis(serial_config.dis, f"direct.serial.{index}")
        check_frozen_dis(serial_config, f"direct.serial.{index}")
        channels.append(SerialChannel(serial_config, metrics=metrics))
    for index, tcp_config in enumerate(config.tcp):
        check_dis(tcp_config.dis, f"direct.tcp.{index}")
        check_frozen_dis(tcp_config, f"direct.tcp.{index}")
        channels.append(TcpClientChannel(tcp_config, metrics=metrics))
    for index, modem_config in enumerate(config.modem):
        check_dis(modem_config.dis, f"direct.modem.{index}")
        check_frozen_dis(modem_config, f"direct.modem.{index}")
        channels.append(ModemChannel(modem_config, metrics=metrics, now=zone_now))
    return channels


class DirectMeters:
    """Every direct channel and its poll plan."""

    def __init__(
        self,
        config: DirectConfig,
        metrics: Metrics,
        sink: Callable[[Sequence[Reading]], Awaitable[None]],
        *,
        now: Callable[[], datetime],
        rng: random.Random | None = None,
    ) -> None:
        self.channels = build_channels(config, metrics, zone_now=now)
        self.plans = [MeterPollPlan(channel, metrics, sink, now=now, rng=rng) for channel in self.channels]
        self._metrics = metrics
        self._now = now
        self.clock_plans: list[MeterClockPlan] = []
        self.clock_sync: MeterClockSync | None = None
        self.frozen_plans: list[MeterFrozenPlan] = []
        self._sink = sink

    @property
    def completed_rounds(self) -> int:
        return sum(plan.completed_rounds for plan in self.plans)

    def start(self) -> None:
        for channel, plan in zip(self.channels, self.plans, strict=True):
            channel.start()
            plan.start()

    def start_clock_checks(
        self, config: TimeSyncConfig, *, zone: ZoneInfo, link_events: LinkSink, host: HostClock
    ) -> None:
        """Check every channel's meter clocks every ``[timesync] interval_s`` (in its poll rounds) and broadcast the
        time where needed (``[timesync] enabled``; channels without meters are left alone). ``host`` is the
        daemon's NTP guard, shared with the terminals' time sync (one alarm)."""
        if not config.enabled:
            return
        self.clock_sync = MeterClockSync.from_config(
            config, zone=zone, now=self._now, metrics=self._metrics, link_events=link_events, host=host
        )
        interval = timedelta(seconds=config.interval_s)
        for plan in self.plans:
            if plan.channel.config.meters:
                plan.clock = MeterClockPlan(plan.channel, self.clock_sync, interval)
                self.clock_plans.append(plan.clock)

    def start_frozen(
        self,
        *,
        zone: ZoneInfo,
        store: CollectionQueries | None = None,
        backfill: BackfillConfig | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        """Daily frozen data and load profiles of every channel with ``daily_frozen`` (and meters), in its poll
        rounds; with ``store`` and ``backfill`` (``[backfill] enabled``), missing days are backfilled too; why a
        meter's day is missing goes to ``failures`` (the success report's reasons)."""
        for plan in self.plans:
            config = plan.channel.config
            if config.daily_frozen and config.meters:
                plan.frozen = MeterFrozenPlan(
                    plan.channel, self._sink, zone=zone, now=self._now, metrics=self._metrics, store=store,
                    backfill=backfill, failures=failures,
                )  # fmt: skip
                self.frozen_plans.append(plan.frozen)

    def success_entries(self) -> list[ArchiveEntry]:
        """The direct meters expected in the success rate (:meth:`MeterFrozenPlan.entries`)."""
        return [entry for plan in self.frozen_plans for entry in plan.entries()]

    async def stop(self) -> None:
        for plan in self.plans:
            await plan.stop()
        for channel in self.channels:
            await channel.stop()
