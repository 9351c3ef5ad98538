"""Daemon configuration: a TOML file parsed into typed, frozen models.

Precedence (highest first): command-line flags > environment (``HEADEND_<SECTION>__<KEY>``, e.g.
``HEADEND_STORAGE__DSN``) > the file > the defaults below. Every problem is reported with the file, the line
and the dotted key, e.g. ``config/headend.toml:12: server.port: Input should be less than or equal to 65535``.

Every timeout, retry and interval is a field here, so tests shorten timings through configuration.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from headend.config_collection import ArchiveConfig, BackfillConfig, TimeSyncConfig
from headend.errors import ConfigError, ConfigProblem

ENV_PREFIX = "HEADEND_"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Model):
    """The TCP listener that GPRS/4G terminals connect to (Q/GDW 376.1 §A.11: the terminal is the client)."""

    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 9001
    #: a connection that has not logged in (AFN02 F1) within this time is closed
    login_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    #: a logged-in terminal silent for this long (no heartbeat, no frame) is closed; field practice is
    #: 2–3 missed heartbeat periods
    heartbeat_timeout_s: Annotated[float, Field(gt=0)] = 900.0
    #: silence after which a partial frame is given up (framer.idle())
    frame_idle_s: Annotated[float, Field(gt=0)] = 5.0
    max_frame_bytes: Annotated[int, Field(ge=64, le=16383 + 8)] = 16383 + 8
    #: strict mode rejects frames with deviations that lenient mode accepts with a warning
    strict: bool = False
    #: connections from one peer address beyond this are refused (0 = unlimited)
    max_connections: Annotated[int, Field(ge=0)] = 0


class SessionConfig(_Model):
    """Per-terminal request/response behaviour (§A.11)."""

    #: our master station address (MSA, A3 D7..D1) put in every request
    msa: Annotated[int, Field(ge=1, le=127)] = 1
    response_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    #: retransmissions with unchanged PSEQ after the first attempt (the standard allows up to 3)
    retries: Annotated[int, Field(ge=0, le=3)] = 2


_HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_TERMINALS_RE = re.compile(r"^([0-9A-Fa-f]{4}):(\*|[0-9]{1,5}(?:-[0-9]{1,5})?)$")


class PlanConfig(_Model):
    """What the collection engine reads from one class of terminals (docs/collection.md "Plans").

    Q/GDW 376.1-2009 §5.1.3.12 AFN0C 请求1类数据 (real time), §5.1.3.14 AFN0D 请求2类数据 (frozen history, with a
    Td_d / Td_m / Td_c 数据时标), §5.1.3.15 AFN0E 请求3类数据 (events). An empty list switches that plan off.
    """

    #: AFN0C Fn read every ``realtime_interval_s`` (F129 当前正向有功电能示值 …)
    realtime_fns: list[Annotated[int, Field(ge=1, le=248)]] = [129]
    #: seconds between real-time reads of this class's terminals; unset = ``[collection] interval_s``
    #: (e.g. load-control terminals every 60 s, concentrators every 900 s)
    realtime_interval_s: Annotated[float, Field(gt=0)] | None = None
    #: AFN0D Fn of daily frozen data (日冻结, Td_d = yesterday): F161 正向有功电能示值 …, or F1/F2
    daily_fns: list[Annotated[int, Field(ge=1, le=248)]] = [161]
    #: local time after midnight from which yesterday's daily frozen data is read ("HH:MM")
    daily_after: str = "00:05"
    #: terminals are spread over this many seconds after ``daily_after`` (default to 02:00), by address
    daily_spread_s: Annotated[float, Field(ge=0)] = 6900.0
    #: AFN0D Fn of monthly frozen data (月冻结, Td_m = last month), read on the 1st with the daily plan's timing
    monthly_fns: list[Annotated[int, Field(ge=1, le=248)]] = [177]
    #: AFN0D curve Fn (F81–F104 曲线, Td_c) of yesterday, read with the daily plan's timing; none by default
    curve_fns: list[Annotated[int, Field(ge=1, le=248)]] = []
    #: minutes between curve points (数据冻结密度 m: 15 → 1, 30 → 2, 60 → 3)
    curve_minutes: Literal[15, 30, 60] = 15
    #: AFN0E Fn read (F1 重要事件, F2 一般事件) every ``event_interval_s`` and when a frame signals ACD=1
    event_fns: list[Literal[1, 2]] = [1]
    #: 0 = only on ACD
    event_interval_s: Annotated[float, Field(ge=0)] = 3600.0

    @field_validator("daily_after")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM_RE.match(value):
            raise ValueError(f'{value!r} must be HH:MM, e.g. "00:05"')
        return value


class TerminalClassConfig(PlanConfig):
    """``[[collection.classes]]``: a class of terminals (by address) with its own plans; terminals in no class
    use ``[collection.plans]``. The first class that matches wins."""

    name: str
    #: "4403:*" (every terminal of A1 4403), "4403:1-100" (A2 range, decimal), "4403:17"
    terminals: list[str]

    @field_validator("terminals")
    @classmethod
    def _terminal_specs(cls, value: list[str]) -> list[str]:
        for spec in value:
            if not _TERMINALS_RE.match(spec):
                raise ValueError(f'terminal spec {spec!r} must be "A1:*", "A1:lo-hi" or "A1:n", e.g. "4403:1-100"')
        return value


class CollectionConfig(_Model):
    """The poll plan: what is read, how often, spread how."""

    #: read AFN0C F129 from every online terminal every this many seconds
    interval_s: Annotated[float, Field(gt=0)] = 900.0
    #: measurement points read on every terminal, as ranges: "1-32" or "1-8,17,20-24"
    points: str = "1-32"
    #: the first poll of a terminal happens at a random offset within this fraction of the interval after login,
    #: and each later poll is shifted by up to ± this fraction / 2, so thousands of terminals do not fire at once
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: global cap on requests in flight across all terminals
    max_concurrent_requests: Annotated[int, Field(ge=1)] = 256
    #: time zone of device clocks and stored timestamps
    timezone: str = "Asia/Shanghai"
    #: how often the collection engine looks at the clock for due work (seconds of real time)
    tick_s: Annotated[float, Field(gt=0)] = 1.0
    #: a terminal that does not answer is left alone for base × 2^(failures-1) s (head-end clock), at most cap
    backoff_base_s: Annotated[float, Field(ge=0)] = 60.0
    backoff_cap_s: Annotated[float, Field(ge=0)] = 3600.0
    #: plans of terminals in no class
    plans: PlanConfig = PlanConfig()
    classes: list[TerminalClassConfig] = []

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("points")
    @classmethod
    def _points_parse(cls, value: str) -> str:
        parse_points(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def point_list(self) -> tuple[int, ...]:
        return parse_points(self.points)


class StorageConfig(_Model):
    """Where readings go: the durable spool, then TimescaleDB (``dsn``) or the embedded SQLite store."""

    #: PostgreSQL/TimescaleDB connection string; empty = embedded SQLite store at ``sqlite_path``
    dsn: str = ""
    sqlite_path: Path = Path("var/headend.sqlite3")
    spool_path: Path = Path("var/spool.sqlite3")
    #: the spool refuses new readings beyond this size (an alarm is raised; what it holds is kept)
    spool_max_bytes: Annotated[int, Field(ge=1 << 20)] = 2 << 30
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    #: instantaneous readings and curves older than this are dropped (0 = keep for ever); frozen registers never
    readings_retention_days: Annotated[int, Field(ge=0)] = 0
    #: how often the daemon runs storage maintenance (daily_energy refresh; retention where TimescaleDB policies
    #: are not available)
    maintenance_interval_s: Annotated[float, Field(gt=0)] = 3600.0


class MetricsConfig(_Model):
    """Prometheus endpoint; bound to localhost by default — put a reverse proxy in front to expose it."""

    enabled: bool = True
    host: str = "127.0.0.1"
    #: 0 picks a free port (tests)
    port: Annotated[int, Field(ge=0, le=65535)] = 9108


class LoggingConfig(_Model):
    level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


# -- meters reached directly (DL/T 645 on an RS-485 bus: serial port, serial device server, modem) -----------

_ADDRESS_RE = re.compile(r"^[0-9]{12}$")
_WINDOW_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


class DirectMeterConfig(_Model):
    """One meter on a direct channel: its 12-digit address (表地址, as on the name plate) and the edition of
    DL/T 645 it speaks; ``auto`` probes 2007 first, then 1997, and remembers the answer."""

    address: str
    edition: Literal["2007", "1997", "auto"] = "auto"

    @field_validator("address")
    @classmethod
    def _twelve_digits(cls, value: str) -> str:
        if not _ADDRESS_RE.match(value):
            raise ValueError(f'meter address {value!r} must be 12 decimal digits, e.g. "000000000161"')
        return value


class BusConfig(_Model):
    """What a DL/T 645 bus master needs to know about one bus: line settings, timing, retries, what to read.

    Timeouts are derived from the baud rate (DL/T 645-2007 §4.1 / PROTOCOLS.md B.1: 1 start + 8 data + even
    parity + 1 stop = 11 bits per byte), see :class:`headend.sessions.dlt645_master.BusTiming`.
    """

    #: a short name for logs ("ch1"); defaults to the port or host
    name: str = ""
    #: the bus's line speed: 2400 for most smart meters, 1200 for older ones
    baud: Literal[300, 600, 1200, 2400, 4800, 9600, 19200] = 2400
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    #: the longest a meter takes to start its reply after our last byte (PROTOCOLS.md B.1: 20–500 ms)
    reply_delay_s: Annotated[float, Field(gt=0, le=10)] = 0.5
    #: a silence of this many character times inside a reply ends it (the partial frame is dropped)
    inter_byte_chars: Annotated[float, Field(ge=1, le=1000)] = 16.0
    #: but never less than this: USB adapters deliver bytes in bursts (FTDI latency timer 16 ms), and the
    #: event loop itself has latency
    min_inter_byte_s: Annotated[float, Field(ge=0, le=5)] = 0.05
    #: extra allowance of links that add delay (serial device server over TCP, modem): added to every timeout
    latency_s: Annotated[float, Field(ge=0, le=30)] = 0.0
    #: silence kept on the bus after a reply before the next request (some meters need it)
    turnaround_s: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: FE wake-up bytes before each request (前导字节, at most 4)
    preamble: Annotated[int, Field(ge=0, le=4)] = 4
    #: requests sent again after no (or a garbled) reply; a meter already failing gets one attempt only
    retries: Annotated[int, Field(ge=0, le=5)] = 2
    #: a meter that did not answer is left alone for base × 2^(failures-1) s, at most cap (scheduled reads)
    backoff_base_s: Annotated[float, Field(ge=0)] = 60.0
    backoff_cap_s: Annotated[float, Field(ge=0)] = 3600.0
    #: read every meter of this channel every this many seconds; the first round starts within jitter × interval
    interval_s: Annotated[float, Field(gt=0)] = 900.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.1
    #: DIs read from every meter, hex as the standard writes them ("0001FF00"); empty = forward active energy,
    #: total and tariffs: 0001FF00 (2007) / 901F (1997)
    dis: list[str] = []
    meters: list[DirectMeterConfig] = []
    #: 日冻结 (DL/T 645-2007 表A.6): read every 2007 meter's last daily freeze once per local day, from
    #: ``daily_after`` + a spread offset; missing days are backfilled (补抄) per ``[backfill]`` (docs/direct-meters.md)
    daily_frozen: bool = False
    #: the daily frozen DIs (上1次), "05060101" forward active total + tariffs; "05060201" reverse active …
    daily_dis: list[str] = ["05060101"]
    #: local time after midnight from which the daily frozen data is read ("HH:MM")
    daily_after: Annotated[str, Field(pattern=_HHMM_RE.pattern)] = "00:05"
    #: channels are spread over this many seconds after ``daily_after``, by name
    daily_spread_s: Annotated[float, Field(ge=0)] = 1800.0
    #: load profiles (负荷记录) of yesterday read with the daily frozen data: 0610xxxx curves, 06000001 records
    curve_dis: list[str] = []

    @field_validator("dis", "daily_dis", "curve_dis")
    @classmethod
    def _dis_are_hex(cls, value: list[str]) -> list[str]:
        for di in value:
            if len(di) not in (4, 8) or not all(c in "0123456789abcdefABCDEF" for c in di):
                raise ValueError(f'DI {di!r} must be 8 hex digits (2007) or 4 (1997), e.g. "0001FF00"')
        return value


class _ReconnectConfig(_Model):
    #: reopen a lost port / connection after base × 2^n s with jitter, at most cap
    reconnect_base_s: Annotated[float, Field(gt=0)] = 1.0
    reconnect_cap_s: Annotated[float, Field(gt=0)] = 60.0


class SerialChannelConfig(BusConfig, _ReconnectConfig):
    """``[[direct.serial]]``: an RS-485 bus on a local serial port (USB adapter, on-board UART)."""

    port: str


class TcpChannelConfig(BusConfig, _ReconnectConfig):
    """``[[direct.tcp]]``: a serial device server (串口服务器/DTU) in transparent mode; the head-end connects out."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)]
    connect_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    latency_s: Annotated[float, Field(ge=0, le=30)] = 0.3


class ModemChannelConfig(BusConfig):
    """``[[direct.modem]]``: a Hayes modem on a local serial port dials the meter bus's modem (AT commands).

    ``baud`` and the timing keys describe the far bus; ``port_baud`` is the speed to the local modem.
    """

    port: str
    port_baud: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    number: str
    #: sent (each must answer OK) before every call
    init: list[str] = ["ATZ", "ATE0V1"]
    command_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    #: CONNECT must come within this after ATD
    dial_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    #: silence before and after "+++" (Hayes escape guard time, S12 = 1 s)
    guard_s: Annotated[float, Field(ge=0)] = 1.0
    #: calls are placed only inside these local-time windows, "HH:MM-HH:MM" (may wrap midnight); empty = any time
    call_windows: list[str] = []
    #: calls per poll round before giving up until the next round (BUSY, NO ANSWER, a dropped call …)
    max_call_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    redial_delay_s: Annotated[float, Field(ge=0)] = 30.0
    latency_s: Annotated[float, Field(ge=0, le=30)] = 0.5

    @field_validator("call_windows")
    @classmethod
    def _windows_parse(cls, value: list[str]) -> list[str]:
        for window in value:
            if not _WINDOW_RE.match(window):
                raise ValueError(f'call window {window!r} must be HH:MM-HH:MM, e.g. "01:00-05:00"')
        return value

    @field_validator("number")
    @classmethod
    def _dialable(cls, value: str) -> str:
        if not value or not all(c in "0123456789*#,PTW+" for c in value.upper()):
            raise ValueError(f"number {value!r}: only digits and the dial modifiers * # , P T W +")
        return value


class DirectConfig(_Model):
    """Meters the head-end reaches itself (no concentrator): ``[[direct.serial]]``, ``[[direct.tcp]]``,
    ``[[direct.modem]]``. See docs/direct-meters.md."""

    serial: list[SerialChannelConfig] = []
    tcp: list[TcpChannelConfig] = []
    modem: list[ModemChannelConfig] = []


# -- Modbus devices (meters, inverters, PLC gateways read from register maps; docs/collection.md "Modbus") ----

ModbusDataType = Literal["uint16", "int16", "uint32", "int32", "float32", "uint64", "int64", "float64"]
#: 16-bit registers each data type spans (Modbus Application Protocol V1.1b3 §4.2: registers are 16 bits)
MODBUS_TYPE_WORDS: dict[str, int] = {
    "uint16": 1,
    "int16": 1,
    "uint32": 2,
    "int32": 2,
    "float32": 2,
    "uint64": 4,
    "int64": 4,
    "float64": 4,
}


class ModbusRegisterConfig(_Model):
    """``[[modbus.devices.registers]]``: one value of a device's register map (寄存器表).

    ``address`` is the 0-based protocol address in the request PDU (Modbus Application Protocol V1.1b3 §4.4):
    register 40001 of a data sheet is holding address 0, 30001 is input address 0.
    """

    #: the register name the value is stored under (docs/schema.md "Registers"), e.g. "energy.active.forward"
    name: str
    address: Annotated[int, Field(ge=0, le=65535)]
    #: registers read; defaults to the width of ``type`` (a larger count is refused: one value per entry)
    count: Annotated[int, Field(ge=1, le=4)] | None = None
    #: holding registers (function 03) or input registers (function 04)
    function: Literal["holding", "input"] = "holding"
    type: ModbusDataType = "uint16"
    #: "big": the first register holds the most significant word (Modbus convention, "ABCD");
    #: "little": the first register holds the least significant word ("CDAB", word swap)
    word_order: Literal["big", "little"] = "big"
    #: "big": each register is sent high byte first (the standard); "little": bytes swapped in every register
    byte_order: Literal["big", "little"] = "big"
    #: exact multiplier of the raw value, as a string ("0.01"); floats are written "1" and scaled after rounding
    scale: str = "1"
    #: significant digits a float is rounded to before scaling (float32 carries 6–9, float64 15–17)
    precision: Annotated[int, Field(ge=1, le=17)] | None = None
    unit: str = ""
    #: 0 = total, 1..M = tariff (费率)
    tariff: Annotated[int, Field(ge=0, le=63)] = 0

    @field_validator("scale")
    @classmethod
    def _exact_decimal(cls, value: str) -> str:
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f'scale {value!r} must be a decimal number, e.g. "0.01"') from exc
        if not number.is_finite() or number == 0:
            raise ValueError(f"scale {value!r} must be a finite, non-zero number")
        return value

    @property
    def words(self) -> int:
        return MODBUS_TYPE_WORDS[self.type]

    def model_post_init(self, context: Any, /) -> None:
        if self.count is not None and self.count != self.words:
            raise ValueError(f"count {self.count} does not match type {self.type} ({self.words} registers)")


class ModbusDeviceConfig(_ReconnectConfig):
    """``[[modbus.devices]]``: one Modbus slave (从站) on TCP or on an RS-485 line (RTU).

    Devices with the same TCP ``host``/``port`` (a gateway with several unit ids) or the same serial ``port`` share
    one connection, one request at a time; their connection settings must then agree.
    """

    #: the meter identity its readings carry (Reading.meter), unique
    id: Annotated[str, Field(min_length=1)]
    transport: Literal["tcp", "rtu"] = "tcp"
    #: tcp: the device or gateway
    host: str = ""
    #: tcp: 502 by default; rtu: the serial port path ("/dev/ttyUSB0")
    port: Annotated[int, Field(ge=1, le=65535)] | str = 502
    #: rtu line settings
    baud: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    #: the unit identifier (TCP MBAP) / slave address (RTU) (Modbus over Serial Line V1.02 §2.2: 1..247; 0 on TCP)
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    interval_s: Annotated[float, Field(gt=0)] = 60.0
    #: the first round starts within jitter × interval; later rounds every interval ± jitter × interval / 2
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.1
    #: connect timeout and the wait for each response
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    #: requests sent again after no response
    retries: Annotated[int, Field(ge=0, le=5)] = 1
    #: a device that did not answer is skipped for base × 2^(failures-1) s, at most cap
    backoff_base_s: Annotated[float, Field(ge=0)] = 60.0
    backoff_cap_s: Annotated[float, Field(ge=0)] = 3600.0
    registers: list[ModbusRegisterConfig] = []

    def model_post_init(self, context: Any, /) -> None:
        if self.transport == "tcp" and (not self.host or not isinstance(self.port, int)):
            raise ValueError("transport tcp needs host and a numeric port")
        if self.transport == "rtu" and not isinstance(self.port, str):
            raise ValueError('transport rtu needs port = the serial port path, e.g. "/dev/ttyUSB0"')
        if self.transport == "rtu" and not 1 <= self.unit <= 247:
            raise ValueError(f"unit {self.unit}: an RTU slave address is 1..247")


class ModbusConfig(_Model):
    """Modbus devices read from register maps (``[[modbus.devices]]``); see docs/collection.md "Modbus"."""

    devices: list[ModbusDeviceConfig] = []

    @field_validator("devices")
    @classmethod
    def _unique_ids(cls, value: list[ModbusDeviceConfig]) -> list[ModbusDeviceConfig]:
        seen: set[str] = set()
        for device in value:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} appears twice")
            seen.add(device.id)
        return value


class Config(_Model):
    """The whole daemon configuration (see config/headend.example.toml)."""

    server: ServerConfig = ServerConfig()
    session: SessionConfig = SessionConfig()
    collection: CollectionConfig = CollectionConfig()
    storage: StorageConfig = StorageConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()
    direct: DirectConfig = DirectConfig()
    modbus: ModbusConfig = ModbusConfig()
    archive: ArchiveConfig = ArchiveConfig()
    timesync: TimeSyncConfig = TimeSyncConfig()
    backfill: BackfillConfig = BackfillConfig()


_POINTS_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_points(spec: str) -> tuple[int, ...]:
    """Parse "1-8,17,20-24" into sorted, unique measurement point numbers 1..2040 (Q/GDW 376.1 DA range).

    >>> parse_points("1-3, 7")
    (1, 2, 3, 7)
    """
    points: set[int] = set()
    for part in spec.split(","):
        match = _POINTS_RE.match(part)
        if not match:
            raise ValueError(f'bad point range {part.strip()!r}; use e.g. "1-32" or "1-8,17"')
        lo = int(match.group(1))
        hi = int(match.group(2) or lo)
        if not 1 <= lo <= hi <= 2040:
            raise ValueError(f"point range {part.strip()!r} must be within 1..2040, low to high")
        points.update(range(lo, hi + 1))
    return tuple(sorted(points))


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        out.setdefault(section, {})[key] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Find the line defining the dotted key ``loc`` in TOML ``text`` (tables, arrays of tables such as
    ``[[direct.serial]]`` — ``loc`` then holds the index — and plain keys; good enough to point a human at the right
    place). A key inside an inline table or array (``meters = [{address = …}]``) points at the line of the outer key.
    Falls back to the table header, then None."""
    if not loc:
        return None
    parts = [str(p) for p in loc]
    current: list[str] = []
    counts: dict[str, int] = {}
    best: tuple[int, int] | None = None  # (components of loc matched, line)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^(\[\[?)\s*([A-Za-z0-9_.\- ]+?)\s*\]", stripped)
        if header:
            names = header.group(2).replace(" ", "").split(".")
            if header.group(1) == "[[":
                key = ".".join(names)
                counts[key] = counts.get(key, -1) + 1
                current = [*names, str(counts[key])]
            else:
                current = names
            if parts[: len(current)] == current and (best is None or len(current) > best[0]):
                best = (len(current), number)
            continue
        keymatch = re.match(r'^"?([A-Za-z0-9_\-]+)"?\s*=', stripped)
        depth = len(current)
        is_key = keymatch is not None and len(parts) > depth and keymatch.group(1) == parts[depth]
        if is_key and parts[:depth] == current and (best is None or depth + 1 > best[0]):
            best = (depth + 1, number)
    return best[1] if best is not None else None


def load_config(
    path: Path | None, *, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Read, merge and validate. Raises :class:`ConfigError` listing every problem with file, line and key."""
    source = str(path) if path is not None else "<defaults>"
    text = ""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([ConfigProblem(source, None, "", f"cannot read: {exc.strerror}")]) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            match = re.search(r"\(at line (\d+)", str(exc))
            if line is None and match:
                line = int(match.group(1))
            raise ConfigError([ConfigProblem(source, line, "", f"not valid TOML: {exc}")]) from exc
    env = _env_overrides(os.environ if environ is None else environ)
    merged = _merge(_merge(data, env), overrides or {})
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc)
            in_env = bool(loc) and str(loc[0]) in env and len(loc) > 1 and str(loc[1]) in env[str(loc[0])]
            if in_env:
                env_name = f"{ENV_PREFIX}{str(loc[0]).upper()}__{str(loc[1]).upper()}"
                problems.append(ConfigProblem(f"environment {env_name}", None, key, err["msg"]))
            else:
                message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                problems.append(ConfigProblem(source, _line_of(text, loc), key, message))
        raise ConfigError(problems) from exc
