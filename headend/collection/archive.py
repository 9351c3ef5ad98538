"""The meter archive (档案): which meter every terminal reads as which measurement point, pushed to concentrators
and verified.

- Loaded from the ``[archive]`` configuration and the database archive tables (docs/schema.md "The meter
  archive"); configuration wins for a (terminal, pn) both name. :meth:`Archive.save` writes it back to the store.
- Pushed with AFN04 F10 终端电能表/交流采样装置配置参数 (Q/GDW 376.1-2009 §5.5.1.3.10, 27-byte records: 序号, 所属
  测量点号, 通信速率及端口号, 通信协议类型, 通信地址, 通信密码, 电能费率个数, 示值位数, 采集器地址, 用户大小类号),
  PW from the authenticator (§5.5: parameter setting carries PW).
- Verified with AFN0A F10 (§5.11, the query body is n + n × 序号; this archive uses 序号 = pn), compared field by
  field (:func:`compare`); differences are logged, counted (``headend_archive_differences_total{kind}``) and
  stored as ``archive_mismatch`` events, then repaired by pushing the expected records again.
- :meth:`Archive.meter_id` gives Readings the real meter address once the archive knows the point
  (fallback: :func:`headend.collect.meter_id`, ``"<terminal>/p<pn>"``).

Codes checked against protocols/gdw376/units/afn04.py (METER layout: protocol 1 = DL/T 645-1997, 2 = 交流采样,
30 = DL/T 645-2007; baud code 0 默认, 1 600 … 7 19200).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from headend.collect import meter_id as fallback_meter_id
from headend.collection.ops_metrics import ops_metrics
from headend.config_collection import ArchiveConfig
from headend.logs import Prefixed
from headend.metrics import Metrics
from headend.sessions.gdw376_station import TerminalSession
from headend.sessions.priority import Priority
from headend.storage.base import Store
from headend.storage.collection import StoredArchive
from headend.storage.records import Event, EventOrigin, MeasurementPoint, MeterInfo, MeterRatio, Severity, TerminalInfo
from protocols.errors import Gdw376Denied
from protocols.gdw376.auth import Authenticator
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Afn
from protocols.gdw376.units import DataUnit
from protocols.gdw376.units.erc import decode_event

_LOGGER = logging.getLogger(__name__)

F10 = 10  #: AFN04 / AFN0A F10 终端电能表/交流采样装置配置参数
PROTOCOL_CODES = {"dlt645-1997": 1, "ac_sampling": 2, "dlt645-2007": 30}
PROTOCOL_NAMES = {code: name for name, code in PROTOCOL_CODES.items()}
BAUD_CODES = {0: 0, 600: 1, 1200: 2, 2400: 3, 4800: 4, 7200: 5, 9600: 6, 19200: 7}
BAUD_RATES = {code: baud for baud, code in BAUD_CODES.items()}
#: the head-end event code of a difference between a terminal's archive and the master's
ARCHIVE_MISMATCH = "archive_mismatch"


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One meter of a terminal's archive."""

    terminal: str  #: "A1:A2" as printed
    pn: int  #: measurement point (测量点号) = 电能表/交流采样装置序号
    address: str  #: 12-digit communication address (通信地址)
    protocol: str = "dlt645-2007"
    port: int = 2
    baud: int = 2400
    tariff_count: int = 4
    ct_ratio: Decimal | None = None
    pt_ratio: Decimal | None = None

    @property
    def meter(self) -> str:
        """The meter identity in readings (docs/schema.md: the 12-digit address when the archive knows it)."""
        return self.address

    def f10_record(self) -> Record:
        """The AFN04 F10 record (27 bytes; password, collector and user class zero)."""
        return Record(
            {
                "index": self.pn,
                "pn": self.pn,
                "port": Record({"port": self.port, "baud": BAUD_CODES[self.baud]}),
                "protocol": PROTOCOL_CODES[self.protocol],
                "address": self.address,
                "password": bytes(6),
                "tariffs": Record({"count": self.tariff_count}),
                "digits": Record({"decimals": 1, "integers": 2}),  # 2 decimals, 6 integer digits (XXXXXX.XX)
                "collector": "000000000000",
                "user_class": Record({"minor": 0, "major": 0}),
            }
        )

    @classmethod
    def from_f10(cls, terminal: str, record: Record) -> ArchiveEntry:
        """An entry as a terminal reports it in AFN0A F10 (unknown codes kept as ``code <n>``)."""
        protocol = record["protocol"]
        baud = record["port"]["baud"]
        return cls(
            terminal=terminal,
            pn=record["pn"],
            address=record["address"],
            protocol=PROTOCOL_NAMES.get(protocol, f"code {protocol}"),
            port=record["port"]["port"],
            baud=BAUD_RATES.get(baud, -1),
            tariff_count=record["tariffs"]["count"],
        )


@dataclass(frozen=True, slots=True)
class Difference:
    """A field where a terminal's archive differs from the master's: ``kind`` is ``missing`` (the terminal lacks
    the point or has it empty), ``unexpected`` (the terminal has a point the master does not) or the field name."""

    terminal: str
    pn: int
    kind: str
    expected: str
    actual: str


_COMPARED = ("address", "protocol", "port", "baud", "tariff_count")


def compare(expected: Iterable[ArchiveEntry], actual: Iterable[ArchiveEntry]) -> list[Difference]:
    """What differs between the master's entries and the terminal's (by pn; ratios are not in F10)."""
    theirs = {e.pn: e for e in actual if e.pn != 0}  # pn 0 = a deleted record (Q/GDW 376.1 F10: 测量点号 0 删除)
    found: list[Difference] = []
    ours = {e.pn: e for e in expected}
    for pn, entry in sorted(ours.items()):
        other = theirs.get(pn)
        if other is None:
            found.append(Difference(entry.terminal, pn, "missing", entry.address, ""))
            continue
        for name in _COMPARED:
            want, got = getattr(entry, name), getattr(other, name)
            if want != got:
                found.append(Difference(entry.terminal, pn, name, str(want), str(got)))
    for pn, other in sorted(theirs.items()):
        if pn not in ours:
            found.append(Difference(other.terminal, pn, "unexpected", "", other.address))
    return found


class Archive:
    """The master archive: entries by terminal and measurement point."""

    def __init__(self, entries: Iterable[ArchiveEntry] = (), terminals: Iterable[TerminalInfo] = ()) -> None:
        self._entries: dict[str, dict[int, ArchiveEntry]] = {}
        self._terminals: dict[str, TerminalInfo] = {t.terminal: t for t in terminals}
        for entry in entries:
            self._entries.setdefault(entry.terminal, {})[entry.pn] = entry
            self._terminals.setdefault(entry.terminal, TerminalInfo(entry.terminal))

    @classmethod
    def from_config(cls, config: ArchiveConfig) -> Archive:
        entries = [
            ArchiveEntry(
                terminal=t.terminal.upper(),
                pn=m.pn,
                address=m.address,
                protocol=m.protocol,
                port=m.port,
                baud=m.baud,
                tariff_count=m.tariff_count,
                ct_ratio=Decimal(m.ct_ratio),
                pt_ratio=Decimal(m.pt_ratio),
            )
            for t in config.terminals
            for m in t.meters
        ]
        return cls(entries, [TerminalInfo(t.terminal.upper(), t.kind, name=t.name) for t in config.terminals])

    @classmethod
    def from_stored(cls, stored: StoredArchive) -> Archive:
        meters = {m.meter: m for m in stored.meters}
        entries: list[ArchiveEntry] = []
        for point in stored.points:
            meter = meters.get(point.meter)
            entries.append(
                ArchiveEntry(
                    terminal=point.terminal,
                    pn=point.pn,
                    address=(meter.address if meter is not None and meter.address else point.meter),
                    protocol=(meter.protocol if meter is not None and meter.protocol else "dlt645-2007"),
                    port=point.port if point.port is not None else 2,
                    baud=point.baud if point.baud is not None else 2400,
                    tariff_count=(meter.tariff_count if meter is not None and meter.tariff_count is not None else 4),
                )
            )
        return cls(entries, stored.terminals)

    def merged(self, override: Archive) -> Archive:
        """This archive with every (terminal, pn) and terminal of ``override`` replacing ours."""
        entries = {(e.terminal, e.pn): e for e in self.entries()}
        entries.update({(e.terminal, e.pn): e for e in override.entries()})
        terminals = {**self._terminals, **override._terminals}
        return Archive(entries.values(), terminals.values())

    def entries(self, terminal: str | None = None) -> list[ArchiveEntry]:
        """Every entry (or one terminal's), by terminal and pn."""
        if terminal is not None:
            return [e for _, e in sorted(self._entries.get(terminal, {}).items())]
        return [e for t in sorted(self._entries) for _, e in sorted(self._entries[t].items())]

    def terminals(self) -> list[str]:
        return sorted(self._terminals)

    def entry(self, terminal: str, pn: int) -> ArchiveEntry | None:
        return self._entries.get(terminal, {}).get(pn)

    def meter_id(self, terminal: str, pn: int) -> str:
        """The meter identity of point ``pn`` on ``terminal``: its address when known, else ``"<terminal>/p<pn>"``."""
        entry = self.entry(terminal, pn)
        return entry.meter if entry is not None else fallback_meter_id(terminal, pn)

    def __len__(self) -> int:
        return sum(len(points) for points in self._entries.values())

    async def save(self, store: Store, *, valid_from: datetime, stored_ratios: Sequence[MeterRatio] = ()) -> None:
        """Write the archive to the store's tables. A configured CT/PT ratio is written (in effect from
        ``valid_from``) only when it differs from the meter's latest in ``stored_ratios``: restarts do not add
        rows, and a changed ratio never rewrites the one billing used before."""
        latest = {r.meter: (r.ct_ratio, r.pt_ratio) for r in sorted(stored_ratios, key=lambda r: r.valid_from)}
        entries = self.entries()
        await store.save_archive(
            terminals=list(self._terminals.values()),
            meters=[MeterInfo(e.meter, e.address, e.protocol, e.tariff_count) for e in entries],
            points=[MeasurementPoint(e.terminal, e.pn, e.meter, e.port, e.baud) for e in entries],
            ratios=[
                MeterRatio(e.meter, valid_from, e.ct_ratio, e.pt_ratio)
                for e in entries
                if e.ct_ratio is not None and e.pt_ratio is not None and latest.get(e.meter) != (e.ct_ratio, e.pt_ratio)
            ],
        )


EventSink = Callable[[Sequence[Event]], Awaitable[object]]


class ArchiveSync:
    """Verify and repair terminals' archives against the master archive."""

    def __init__(
        self,
        archive: Archive,
        config: ArchiveConfig,
        *,
        metrics: Metrics,
        events: EventSink,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        authenticator: Authenticator | None = None,
    ) -> None:
        self.archive = archive
        self.config = config
        self._metrics = ops_metrics(metrics)
        self._events = events
        self._now = now
        self._auth = authenticator

    async def push(
        self, session: TerminalSession, entries: Sequence[ArchiveEntry], *, priority: Priority = Priority.SCHEDULED
    ) -> None:
        """AFN04 F10 with ``entries``, ``config.batch`` records per frame (the terminal answers AFN00 F1)."""
        for start in range(0, len(entries), self.config.batch):
            chunk = entries[start : start + self.config.batch]
            body = Record({"meters": [e.f10_record() for e in chunk]})
            try:
                await session.request_units(
                    Afn.SET_PARAM, [DataUnit(0, F10, body)], priority=priority, authenticator=self._auth
                )
            except Exception:
                self._metrics.archive_pushes.labels("failed").inc()
                raise
            self._metrics.archive_pushes.labels("ok").inc()

    async def read(
        self, session: TerminalSession, pns: Sequence[int], *, priority: Priority = Priority.SCHEDULED
    ) -> list[ArchiveEntry]:
        """AFN0A F10 for the 序号 ``pns`` (= measurement points in this archive), ``config.batch`` per request. A
        deny (AFN00 F2) means the terminal has none of them."""
        found: list[ArchiveEntry] = []
        for start in range(0, len(pns), self.config.batch):
            query = Record({"indexes": list(pns[start : start + self.config.batch])})
            try:
                units = await session.request_units(Afn.QUERY_PARAM, [DataUnit(0, F10, query)], priority=priority)
            except Gdw376Denied:
                continue  # none of these 序号 configured: terminals deny rather than answer n = 0
            for unit in units:
                if unit.fn == F10 and isinstance(unit.value, Record):
                    found.extend(ArchiveEntry.from_f10(session.terminal, r) for r in unit.value["meters"])
        return found

    async def reconcile(self, session: TerminalSession) -> list[Difference]:
        """Read the terminal's archive of the points the master knows; report differences (log, metric, event);
        repair them (push the expected records, read again) when ``config.repair``. Returns what still differs."""
        terminal = session.terminal
        expected = self.archive.entries(terminal)
        if not expected:
            return []
        log = Prefixed(_LOGGER, f"term {terminal}")
        pns = [e.pn for e in expected]
        differences = compare(expected, await self.read(session, pns))
        if not differences:
            return []
        for d in differences:
            self._metrics.archive_differences.labels(d.kind).inc()
            log.warning("archive p%d %s: master %r, terminal %r", d.pn, d.kind, d.expected, d.actual)
        await self._events([self._event(terminal, differences)])
        if not self.config.repair:
            return differences
        wrong = {d.pn for d in differences}
        await self.push(session, [e for e in expected if e.pn in wrong])
        remaining = compare(expected, await self.read(session, pns))
        if remaining:
            log.error("archive still differs after repair at points %s", sorted({d.pn for d in remaining}))
        else:
            log.info("archive repaired at points %s", sorted(wrong))
        return remaining

    def _event(self, terminal: str, differences: Sequence[Difference]) -> Event:
        now = self._now()
        return Event(
            origin=EventOrigin.HEADEND,
            code=ARCHIVE_MISMATCH,
            ts=now,
            received_at=now,
            terminal=terminal,
            severity=Severity.WARNING,
            detail={
                "differences": [
                    {"pn": d.pn, "kind": d.kind, "expected": d.expected, "actual": d.actual} for d in differences
                ],
                "repair": self.config.repair,
            },
            source="headend",
        )


#: the head-end event code of a meter a concentrator found on its bus but does not have in its archive (ERC35)
UNKNOWN_METER = "unknown_meter"
ERC35 = 35  #: 发现未知电表事件记录 (Q/GDW 376.1-2009 附录B, ERC35)


def unknown_meter_events(events: Sequence[Event], archive: Archive) -> list[Event]:
    """One ``unknown_meter`` event per meter address an ERC35 record of ``events`` reports (the record's
    ``raw`` is ERC, Le, body: 发现时间, 终端通信端口号, n × {通信地址, 相位及信号品质, 通信协议}), with the port, the
    protocol code and where the master's archive files that address, if anywhere. Keyed by terminal, address
    and day: the same discovery reported again that day is one row."""
    by_address = {e.address: e for e in archive.entries()}
    found: list[Event] = []
    for event in events:
        if event.origin is not EventOrigin.TERMINAL or event.raw is None or event.raw[:1] != bytes((ERC35,)):
            continue
        record = decode_event(ERC35, event.raw[2:])
        if record.value is None:
            continue
        for block in record.value["meters"]:
            address = str(block["address"])
            known = by_address.get(address)
            found.append(
                Event(
                    origin=EventOrigin.HEADEND,
                    code=UNKNOWN_METER,
                    ts=event.ts,
                    received_at=event.received_at,
                    terminal=event.terminal,
                    meter=address,
                    severity=Severity.WARNING,
                    detail={
                        "port": record.value["port"],
                        "protocol": block["protocol"],
                        "archived_as": f"{known.terminal}/p{known.pn}" if known is not None else "",
                    },
                    source="headend",
                    key=f"{UNKNOWN_METER}:{event.terminal}:{address}:{event.ts.date().isoformat()}",
                )
            )
    return found
