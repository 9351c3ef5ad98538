"""Metrics of the archive, time sync, backfill and success rate (issue 6c), registered on a daemon's
:class:`~headend.metrics.Metrics` registry the first time they are asked for. Labels are scopes and outcomes
only, never a terminal or a meter (bounded cardinality)."""

from __future__ import annotations

import weakref

from prometheus_client import Counter, Gauge

from headend.metrics import Metrics


class OpsMetrics:
    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.archive_differences = Counter(
            "headend_archive_differences_total",
            "Archive entries (AFN0A F10) that differ from the master archive, by kind",
            ["kind"],
            registry=r,
        )
        self.archive_pushes = Counter(
            "headend_archive_pushes_total", "AFN04 F10 archive writes, by result", ["result"], registry=r
        )
        self.unknown_meters = Counter(
            "headend_unknown_meters_total", "Meters concentrators reported as unknown (ERC35)", registry=r
        )
        self.clock_reads = Counter(
            "headend_clock_reads_total",
            "Clock reads by target (terminal: AFN0C F2 or heartbeat; meter: DL/T 645 04000101+04000102) and result",
            ["target", "result"],
            registry=r,
        )
        self.clock_syncs = Counter(
            "headend_clock_syncs_total",
            "Time settings by target (terminal: AFN05 F31; meter: DL/T 645 broadcast time, one per bus) and result",
            ["target", "result"],
            registry=r,
        )
        self.clock_drift_max = Gauge(
            "headend_clock_drift_max_seconds",
            "Largest absolute clock drift seen in the last time-sync round, by target (terminal, meter)",
            ["target"],
            registry=r,
        )
        self.host_ntp_synchronized = Gauge(
            "headend_host_ntp_synchronized",
            "1 when the host clock is NTP-synchronised; 0 blocks every time sync (alarm)",
            registry=r,
        )
        self.backfill_requests = Counter(
            "headend_backfill_requests_total", "AFN0D backfill (补抄) requests, by result", ["result"], registry=r
        )
        self.backfill_readings = Counter(
            "headend_backfill_readings_total", "Readings obtained by backfill (补抄)", registry=r
        )
        self.meters_expected = Gauge(
            "headend_collection_meters_expected", "Meters in the archive for the last freeze date computed", registry=r
        )
        self.meters_complete = Gauge(
            "headend_collection_meters_complete",
            "Meters with daily frozen data for the last freeze date computed, by pass (first, final)",
            ["pass"],
            registry=r,
        )
        self.success_ratio = Gauge(
            "headend_collection_success_ratio",
            "Collection success rate (采集成功率) of the last freeze date computed, by pass (first, final)",
            ["pass"],
            registry=r,
        )


_BY_METRICS: weakref.WeakKeyDictionary[Metrics, OpsMetrics] = weakref.WeakKeyDictionary()


def ops_metrics(metrics: Metrics) -> OpsMetrics:
    """The :class:`OpsMetrics` of ``metrics`` (created and registered once)."""
    found = _BY_METRICS.get(metrics)
    if found is None:
        found = _BY_METRICS[metrics] = OpsMetrics(metrics)
    return found
