"""Every Prometheus metric of the daemon, in one place (STYLE.md §3.5).

Names carry the ``headend_`` prefix and base units; counters end in ``_total``. Labels have low cardinality
only (``protocol``, ``direction``, ``reason``, ``result``): never a meter or terminal address — per-device
detail belongs in logs and the database, not in the time-series index.

Each :class:`Metrics` owns its registry, so several daemons (tests) can live in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.terminals_online = Gauge("headend_terminals_online", "Terminals logged in right now", registry=r)
        self.connections_open = Gauge("headend_connections_open", "TCP connections open (logged in or not)", registry=r)
        self.connections = Counter(
            "headend_connections_total", "TCP connections accepted, by how they ended", ["result"], registry=r
        )
        self.logins = Counter(
            "headend_logins_total",
            "AFN02 F1 logins confirmed; result=replaced when an address already online logged in again",
            ["result"],
            registry=r,
        )
        self.heartbeats = Counter("headend_heartbeats_total", "AFN02 F3 heartbeats confirmed", registry=r)
        self.frames = Counter(
            "headend_frames_total",
            "Frames received (in) and sent (out)",
            ["protocol", "direction"],
            registry=r,
        )
        self.decode_errors = Counter(
            "headend_decode_errors_total",
            "Bytes or frames thrown away, by reason (framer Discarded reason or decode error class)",
            ["protocol", "reason"],
            registry=r,
        )
        self.requests = Counter(
            "headend_requests_total",
            "Requests to devices by outcome: ok, timeout, denied, closed, decode_error",
            ["protocol", "result"],
            registry=r,
        )
        self.retransmissions = Counter(
            "headend_retransmissions_total", "Requests sent again after a response timeout", registry=r
        )
        self.request_latency = Histogram(
            "headend_request_latency_seconds",
            "Time from sending a request to its complete response",
            ["protocol"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
            registry=r,
        )
        self.readings_spooled = Counter(
            "headend_readings_spooled_total", "Readings acknowledged into the durable spool", registry=r
        )
        self.readings_stored = Counter(
            "headend_readings_stored_total",
            "Readings committed to the store, by result: inserted, duplicate, conflict",
            ["result"],
            registry=r,
        )
        self.readings_invalid = Counter(
            "headend_readings_invalid_total", "Values the device reported as 'no value' (EE)", registry=r
        )
        self.spool_depth = Gauge(
            "headend_spool_depth", "Readings and events in the spool not yet committed", registry=r
        )
        self.spool_bytes = Gauge("headend_spool_bytes", "Size of the spool file", registry=r)
        self.spool_full = Counter(
            "headend_spool_full_total", "Batches refused because the spool reached its size limit", registry=r
        )
        self.store_errors = Counter(
            "headend_store_errors_total", "Failed attempts to write a batch to the store", registry=r
        )
        self.store_up = Gauge("headend_store_up", "1 when the last write to the store succeeded", registry=r)
        self.polls = Counter("headend_polls_total", "Scheduled poll rounds started for a terminal", registry=r)
        # -- meters reached directly (DL/T 645 bus masters); kind = serial | tcp | modem --------------------------
        self.channels_up = Gauge(
            "headend_direct_channels_up", "Direct meter channels whose link is up now", ["kind"], registry=r
        )
        self.channel_opens = Counter(
            "headend_direct_channel_opens_total",
            "Attempts to open a direct channel's link, by result: ok, failed, lost (an open link went away)",
            ["kind", "result"],
            registry=r,
        )
        self.meters_isolated = Gauge(
            "headend_direct_meters_isolated", "Meters in backoff after failing to answer", ["kind"], registry=r
        )
        self.direct_reads = Counter(
            "headend_direct_reads_total",
            "Scheduled reads of directly reached meters, by result: ok, timeout, isolated, denied, error",
            ["kind", "result"],
            registry=r,
        )
        self.modem_calls = Counter(
            "headend_modem_calls_total",
            "Modem calls by result: connect, busy, no_carrier, no_answer, no_dialtone, error, timeout, dropped",
            ["result"],
            registry=r,
        )
        # collection engine (headend.collection)
        self.collection_jobs = Counter(
            "headend_collection_jobs_total",
            "Collection engine requests by plan (daily, monthly, curve, events) and result: ok, timeout, denied, "
            "error, closed",
            ["plan", "result"],
            registry=r,
        )
        self.terminals_backed_off = Gauge(
            "headend_terminals_backed_off", "Online terminals left alone after failing to answer", registry=r
        )
        self.reports = Counter(
            "headend_reports_total",
            "Terminal-initiated reports (主动上报) by AFN and result: ok, decode_error",
            ["afn", "result"],
            registry=r,
        )
        self.events_received = Counter(
            "headend_events_received_total", "Terminal event records (ERC) received, pushed or read", registry=r
        )
        # -- Modbus devices (headend/channels/modbus.py); transport = tcp | rtu -------------------------------------
        self.modbus_links_up = Gauge(
            "headend_modbus_links_up", "Modbus connections (TCP or serial port) up now", ["transport"], registry=r
        )
        self.modbus_connects = Counter(
            "headend_modbus_connects_total",
            "Attempts to open a Modbus connection, by result: ok, failed, lost (an open connection went away)",
            ["transport", "result"],
            registry=r,
        )
        self.modbus_requests = Counter(
            "headend_modbus_requests_total",
            "Modbus register reads by result: ok, timeout, exception (an exception response), closed, decode_error",
            ["transport", "result"],
            registry=r,
        )
        self.modbus_devices_failing = Gauge(
            "headend_modbus_devices_failing",
            "Modbus devices whose last round got no answer (skipped for their backoff time)",
            ["transport"],
            registry=r,
        )
