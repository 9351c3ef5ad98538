"""Terminal-initiated reports (主动上报) turned into readings and events.

A terminal pushes, with C=C4 (PRM=1, 用户数据) and usually CON=1 (Q/GDW 376.1-2009 §4.3.4.5 SEQ, §5.1.3.15;
PROTOCOLS.md A.11): AFN0E F1/F2 event reports (the same body as the answer to 请求3类数据: EC1, EC2, Pm, Pn,
records), and AFN0C / AFN0D timed tasks (定时上报任务: 1类 / 2类数据 with the same bodies as the answers to
requests). :class:`ReportIngest` decodes and ingests them; attached to the server (:meth:`ReportIngest.attach`)
it also confirms them (AFN00 F1), and only once what they carry is durable in the spool: a terminal whose report
could not be kept (spool full, disk error) is not confirmed and sends it again, while a confirmed report — which
the terminal will not send again — is never lost. A report that does not decode is confirmed at once (there is
nothing to keep, and a retransmission would not decode either).

Event records (事件记录 ERC, 附录 / §5.1.3.15) become :class:`~headend.storage.records.Event` rows: ``ts`` is the
first time field of the record (e.g. ERC14 停/上电时间, ERC1 初始化时间), else the receive time; the event key is
derived from terminal, code, time and raw record, so the same record read twice (pushed, then polled) is one row.
The app's event sink appends them to the durable spool (``Ingest.submit``), like readings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from headend.channels.tcp_server import TerminalServer
from headend.collect import history_readings, readings_from_units
from headend.metrics import Metrics
from headend.readings import Reading
from headend.sessions.gdw376_station import TerminalSession
from headend.storage.records import Event, EventOrigin, Severity
from protocols.errors import ProtocolError
from protocols.gdw376.link import Afn, Dir, LinkFrame
from protocols.gdw376.units import DataUnit, decode_units
from protocols.gdw376.units.afn0e import F1_IMPORTANT, EventReport

_LOGGER = logging.getLogger(__name__)

ReadingSink = Callable[[Sequence[Reading]], Awaitable[None]]
EventSink = Callable[[Sequence[Event]], Awaitable[object]]

#: what terminals push (主动上报): 1类 / 2类 data (timed tasks) and 3类 data (event records)
REPORT_AFNS = frozenset({Afn.REQUEST_CLASS1, Afn.REQUEST_CLASS2, Afn.REQUEST_CLASS3})


def _first_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, Mapping):
        for item in value.values():
            found = _first_time(item)
            if found is not None:
                return found
    return None


def events_from_units(
    units: Iterable[DataUnit], *, terminal: str, zone: ZoneInfo, received_at: datetime
) -> list[Event]:
    """Event rows from AFN0E F1/F2 units (uplink value :class:`~protocols.gdw376.units.afn0e.EventReport`).
    F1 (重要事件) records are alarms, F2 (一般事件) warnings."""
    events: list[Event] = []
    for unit in units:
        report = unit.value
        if not isinstance(report, EventReport):
            continue
        severity = Severity.ALARM if unit.fn == F1_IMPORTANT else Severity.WARNING
        for record in report.records:
            when = _first_time(record.value) if record.value is not None else None
            ts = when.replace(tzinfo=zone) if when is not None and when.tzinfo is None else (when or received_at)
            raw = bytes((record.erc, len(record.raw))) + record.raw
            events.append(
                Event(
                    origin=EventOrigin.TERMINAL,
                    code=f"ERC{record.erc}",
                    ts=ts,
                    received_at=received_at,
                    terminal=terminal,
                    severity=severity,
                    detail={"name": record.name or "", **({"warning": record.warning} if record.warning else {})},
                    raw=raw,
                    source=f"gdw376.1 AFN0E F{unit.fn}",
                )
            )
    return events


class ReportIngest:
    """Ingests what terminals push on their own: hooked on :attr:`TerminalServer.on_frame`."""

    def __init__(
        self,
        sink: ReadingSink,
        metrics: Metrics,
        *,
        zone: ZoneInfo,
        now: Callable[[], datetime],
        event_sink: EventSink | None = None,
    ) -> None:
        self._sink = sink
        self._event_sink = event_sink
        self._metrics = metrics
        self._zone = zone
        self._now = now
        self._tasks: set[asyncio.Task[None]] = set()
        self._confirm = False  #: confirm pushed reports here (attach)
        self.ingested = 0  #: readings and events taken from reports (progress, tests)

    def attach(self, server: TerminalServer) -> None:
        """Receive the terminals' frames from ``server`` and confirm pushed reports here, once kept (see the
        module docstring), instead of on arrival."""
        self._confirm = True
        server.deferred_confirm = server.deferred_confirm | REPORT_AFNS
        server.on_frame.append(self.on_frame)

    def on_frame(self, session: TerminalSession, frame: LinkFrame) -> None:
        """A frame from a logged-in terminal: terminal-initiated (PRM=1) AFN0C/0D/0E frames are ingested."""
        if not frame.control.prm or frame.afn not in REPORT_AFNS:
            return
        try:
            units = decode_units(frame.afn, frame.data, Dir.UP, edition=session.version)
        except ProtocolError as exc:
            self._metrics.reports.labels(f"{frame.afn:02X}", "decode_error").inc()
            session.log.warning("undecodable AFN%02X report: %s", frame.afn, exc)
            self._confirm_report(session, frame)
            return
        self._metrics.reports.labels(f"{frame.afn:02X}", "ok").inc()
        task = asyncio.get_running_loop().create_task(self._keep(session, frame, units))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _keep(self, session: TerminalSession, frame: LinkFrame, units: Sequence[DataUnit]) -> None:
        """Ingest a pushed report, then confirm it; not confirmed when it could not be kept."""
        try:
            await self.ingest(session.terminal, frame.afn, units)
        except Exception as exc:  # noqa: BLE001 - spool full, disk error…: the terminal sends the report again
            self._metrics.reports.labels(f"{frame.afn:02X}", "not_kept").inc()
            session.log.error("AFN%02X report not kept, left unconfirmed for the terminal to send again: %s",
                              frame.afn, exc)  # fmt: skip
            return
        self._confirm_report(session, frame)

    def _confirm_report(self, session: TerminalSession, frame: LinkFrame) -> None:
        if self._confirm and frame.seq.con:
            session.confirm(frame)

    async def stop(self) -> None:
        """Finish ingesting the reports already received."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def ingest(self, terminal: str, afn: int, units: Sequence[DataUnit]) -> None:
        """Readings or events of a report (pushed or answered) to the sinks. Raises what a sink raised (the
        report was not kept: a pushed one stays unconfirmed, a polled one is asked for again)."""
        received_at = self._now()
        if afn == Afn.REQUEST_CLASS3:
            events = events_from_units(units, terminal=terminal, zone=self._zone, received_at=received_at)
            await self.store_events(events, terminal)
            return
        if afn == Afn.REQUEST_CLASS1:
            readings = readings_from_units(afn, units, terminal=terminal, zone=self._zone, received_at=received_at)
        else:
            readings = history_readings(units, terminal=terminal, zone=self._zone, received_at=received_at)
        if readings:
            await self._sink(readings)
        self.ingested += len(readings)

    async def store_events(self, events: Sequence[Event], terminal: str) -> None:
        """Events to the event sink (the durable spool) when the app gave one; else logged (and counted) only.
        Raises what the sink raised, after logging it."""
        if not events:
            return
        self._metrics.events_received.inc(len(events))
        if self._event_sink is None:
            for event in events:
                _LOGGER.info("term %s: event %s at %s", terminal, event.code, event.ts.isoformat())
        else:
            try:
                await self._event_sink(events)
            except Exception as exc:
                _LOGGER.error("term %s: %d events not kept (%s)", terminal, len(events), exc)
                raise
        self.ingested += len(events)
