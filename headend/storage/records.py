"""What the stores keep besides readings: events, terminal link history and the meter archive (docs/schema.md).

Events go through the durable spool like readings (spool format 3, ``spool_events``): a pushed event report is
confirmed to its terminal only once its events are acknowledged there, and the spool writer writes them exactly
once (``event_key``). Link history and the archive are written straight to the store: they are rewritten on the
next login or archive load.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


class EventOrigin(enum.StrEnum):
    TERMINAL = "terminal"  #: a terminal event record (Q/GDW 376.1 AFN0E, ERC1…ERC41)
    METER = "meter"  #: a meter event record (DL/T 645-2007 03xxxxxx, e.g. 03300D00 meter-cover opened)
    HEADEND = "headend"  #: found by the head-end itself (reading_conflict, spool_full…)


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ALARM = "alarm"


#: codes of head-end events (``origin = 'headend'``)
READING_CONFLICT = "reading_conflict"


@dataclass(frozen=True, slots=True)
class Event:
    """One event. ``key`` is its identity at its origin; empty = derived from the other fields (see
    :func:`event_key`), so the same event delivered twice is stored once."""

    origin: EventOrigin
    code: str  #: "ERC14", "03300D00", "reading_conflict"…
    ts: datetime  #: when it happened: the device's time for device events (aware, configured zone)
    received_at: datetime  #: when the head-end received it (or detected it)
    terminal: str = ""  #: "A1:A2" as printed, "" when not tied to a terminal
    pn: int = 0  #: measurement point (测量点号), 0 when not tied to one
    meter: str = ""  #: meter identity as in ``readings.meter``, "" when not tied to a meter
    severity: Severity = Severity.INFO
    detail: Mapping[str, Any] = field(default_factory=dict)  #: decoded fields, JSON-serialisable
    raw: bytes | None = None  #: the record as received (ERC: ERC, Le, body), None for head-end events
    source: str = ""  #: "gdw376.1 AFN0E F1", "dlt645-2007 03300D01", "headend"
    key: str = ""


def event_key(event: Event) -> str:
    """The event's identity: ``key`` when given, else origin, terminal, pn, meter, code, the instant in UTC and
    the raw record (or, without one, the detail as canonical JSON)."""
    if event.key:
        return event.key
    body = event.raw.hex() if event.raw is not None else detail_json(event.detail)
    instant = event.ts.astimezone(UTC).isoformat()
    return "|".join((event.origin.value, event.terminal, str(event.pn), event.meter, event.code, instant, body))


def detail_json(detail: Mapping[str, Any]) -> str:
    """Canonical JSON of an event's detail (sorted keys; Decimal and datetime as text)."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable in an event detail: {value!r}")


class LinkEventKind(enum.StrEnum):
    LOGIN = "login"  #: AFN02 F1 confirmed
    LOGOUT = "logout"  #: AFN02 F2
    DISCONNECT = "disconnect"  #: the connection ended without a logout (timeout, reset, replaced)
    CLOCK_READ = "clock_read"  #: terminal clock read (AFN0C F2, heartbeat clock): clock_drift_ms set
    CLOCK_SET = "clock_set"  #: time set (AFN05 F31 对时): clock_drift_ms = drift before, detail the after


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """One line of a terminal's link history (``terminal_link_log``)."""

    terminal: str
    ts: datetime  #: head-end time of the event (aware)
    event: LinkEventKind
    peer: str = ""  #: "ip:port" of the connection
    clock_drift_ms: int | None = None  #: terminal clock minus host clock, when measured
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TerminalInfo:
    """A terminal (集中器 / 专变终端) of the archive."""

    terminal: str  #: "A1:A2" as printed
    kind: str = "concentrator"  #: concentrator, load_control, …
    protocol: str = "gdw376.1"  #: gdw376.1 (2009) or gdw1376.1 (2013)
    name: str = ""


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """A meter of the archive."""

    meter: str  #: identity as in ``readings.meter``
    address: str = ""  #: 12-digit communication address (通信地址)
    protocol: str = ""  #: dlt645-2007, dlt645-1997, ac_sampling, modbus
    tariff_count: int | None = None


@dataclass(frozen=True, slots=True)
class MeasurementPoint:
    """Which meter a terminal reads as measurement point ``pn`` (Q/GDW 376.1 AFN04 F10)."""

    terminal: str
    pn: int
    meter: str
    port: int | None = None
    baud: int | None = None


@dataclass(frozen=True, slots=True)
class MeterRatio:
    """Current and voltage transformer ratios (CT/PT, 电流/电压互感器变比) of a meter from ``valid_from`` on."""

    meter: str
    valid_from: datetime
    ct_ratio: Decimal
    pt_ratio: Decimal
