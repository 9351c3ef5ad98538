"""Configuration of the simulated meter buses, serial servers and modems (``config/meters.example.toml``).

Typed, frozen dataclasses read from TOML; an unknown key, a wrong type or a bad value raises
:class:`MetersConfigError` whose message names the file and the key path (``meters.toml: bus[0].meter[1].fault:
must be one of …``). Field names are the TOML keys: ``[[bus]]`` tables each with ``[[bus.meter]]``, ``[[modem]]``
tables each with ``[[modem.number]]``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from concentrator_sim.meters.bus import MeterFault
from concentrator_sim.meters.modem import Result
from concentrator_sim.meters.pty import BAUD_RATES

T = TypeVar("T")


class MetersConfigError(ValueError):
    """A setting is invalid; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class MeterSettings:
    """One meter on a bus. Unset optional keys come from the profile (and the bus, for ``baud``)."""

    address: str  #: 12 digits (通信地址)
    profile: str = ""  #: firmware_fixtures/dlt645/<profile>/ (vendor quirks); "" = a plain meter of its edition
    edition: Literal["2007", "1997"] | None = None  #: overrides the profile's
    phases: Literal[1, 3] | None = None  #: overrides the profile's
    preamble: int | None = None  #: FE bytes before replies; overrides the profile's
    reply_delay_s: float | None = None  #: overrides the profile's
    baud: int | None = None  #: the meter's rate; default the bus's
    seed: int | None = None  #: default: the file's
    clock_offset_s: float = 0.0  #: meter clock ahead of true time at start (negative: behind)
    clock_ppm: float = 0.0  #: clock rate error
    relay_closed: bool = True
    close_delay_s: float = 0.0  #: after 1CH 合闸允许, when the customer presses the button
    settlement_day: int = 1  #: 结算日, day of the month (00:00)
    passwords: dict[str, str] | None = None  #: level ("0".."9") → 6 hex digits; default model.DEFAULT_PASSWORDS
    fault: str = "none"  #: none, silent, late, corrupt, wrong_address
    fault_rate: float = 1.0  #: share of requests the fault hits
    late_reply_s: float = 3.0  #: reply time of a ``late`` meter


@dataclass(frozen=True, slots=True)
class TcpSettings:
    """A serial device server in front of the bus."""

    host: str = "127.0.0.1"
    port: int = 0  #: 0 = any free port (printed when ready)
    paced: bool = True  #: replies at byte-time pace (false: in one piece after the reply delay)


@dataclass(frozen=True, slots=True)
class BusSettings:
    """One RS-485 bus on a pty (and optionally behind a TCP serial server)."""

    name: str
    baud: int = 2400
    link: str = ""  #: stable symlink to the pty; "" = ``link_dir/<name>`` if link_dir is set, else none
    pty: bool = True  #: expose the bus on a pty (false: only through tcp or a modem)
    check_line: bool = True  #: meters ignore requests sent at another baud rate
    tcp: TcpSettings | None = None
    meter: tuple[MeterSettings, ...] = ()


@dataclass(frozen=True, slots=True)
class NumberSettings:
    """A telephone number the modem can dial."""

    number: str
    answer: str = "CONNECT"  #: CONNECT, BUSY, NO ANSWER, NO CARRIER, NO DIALTONE
    bus: str = ""  #: the bus reached (for CONNECT)
    connect_delay_s: float = 2.0
    connect_baud: int | None = None  #: in CONNECT <baud>; default the bus's
    drop_after_bytes: int | None = None  #: carrier loss after this many bytes to the head-end


@dataclass(frozen=True, slots=True)
class ModemSettings:
    """An AT modem on a pty."""

    name: str
    link: str = ""
    baud: int = 9600  #: the pty's initial speed (the DTE rate; the call runs at the bus's)
    number: tuple[NumberSettings, ...] = ()


@dataclass(frozen=True, slots=True)
class MetersConfig:
    """The whole simulator."""

    seed: int = 0
    tz: str = "Asia/Shanghai"
    link_dir: str = ""  #: default directory for the symlinks (``<link_dir>/<name>``)
    fixtures: str = ""  #: profile directory root; "" = this checkout's firmware_fixtures/dlt645
    bus: tuple[BusSettings, ...] = ()
    modem: tuple[ModemSettings, ...] = ()

    def __post_init__(self) -> None:
        _validate(self)


def load(path: Path) -> MetersConfig:
    """Read and check a TOML file."""
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MetersConfigError(f"{path}: {exc}") from None
    return from_mapping(table, source=str(path))


def from_mapping(table: Mapping[str, Any], *, source: str = "config") -> MetersConfig:
    """Build from a parsed TOML table; errors name ``source`` and the key path."""
    try:
        return _build(MetersConfig, table, "")
    except MetersConfigError as exc:
        raise MetersConfigError(f"{source}: {exc}") from None


def _build(cls: type[T], table: Any, where: str) -> T:
    """A dataclass from a table, checking every key against the field types."""
    if not isinstance(table, Mapping):
        raise MetersConfigError(f"{where or 'top level'}: must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise MetersConfigError(f"{path}: unknown key")
        kwargs[key] = _value(hints[key], value, path)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key is missing
        raise MetersConfigError(f"{where or 'top level'}: {exc}") from None
    except ValueError as exc:
        if isinstance(exc, MetersConfigError):
            raise
        raise MetersConfigError(f"{where or 'top level'}: {exc}") from None


def _value(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, path)
    if origin is Literal:
        if value not in args:
            raise MetersConfigError(f"{path}: must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise MetersConfigError(f"{path}: must be an array of tables, got {value!r}")
        return tuple(_build(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise MetersConfigError(f"{path}: must be a table of strings, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)  # type: ignore[arg-type]
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, hint) and (hint is bool or not isinstance(value, bool)):
        return value
    raise MetersConfigError(f"{path}: must be {hint.__name__}, got {value!r}")


def _validate(config: MetersConfig) -> None:
    def need(ok: bool, where: str, problem: str) -> None:
        if not ok:
            raise MetersConfigError(f"{where}: {problem}")

    try:
        ZoneInfo(config.tz)
    except (ZoneInfoNotFoundError, ValueError):
        need(False, "tz", f"{config.tz!r} is not a known time zone")
    bus_names = [bus.name for bus in config.bus]
    need(len(set(bus_names)) == len(bus_names), "bus", "bus names must be unique")
    faults = {fault.value for fault in MeterFault}
    for i, bus in enumerate(config.bus):
        where = f"bus[{i}]"
        need(bus.baud in BAUD_RATES, f"{where}.baud", f"must be a serial rate, got {bus.baud}")
        need(
            bus.pty or bus.tcp is not None or _dialled(config, bus.name), where, "is reachable by no pty, tcp or modem"
        )
        if bus.tcp is not None:
            need(0 <= bus.tcp.port <= 65535, f"{where}.tcp.port", "must be 0..65535")
        addresses = [meter.address for meter in bus.meter]
        need(len(set(addresses)) == len(addresses), f"{where}.meter", "addresses must be unique on a bus")
        for j, meter in enumerate(bus.meter):
            at = f"{where}.meter[{j}]"
            need(len(meter.address) == 12 and meter.address.isdigit(), f"{at}.address", "must be 12 digits")
            need(meter.fault in faults, f"{at}.fault", f"must be one of {', '.join(sorted(faults))}")
            need(0.0 <= meter.fault_rate <= 1.0, f"{at}.fault_rate", "must be between 0 and 1")
            need(meter.baud is None or meter.baud in BAUD_RATES, f"{at}.baud", "must be a serial rate")
            need(meter.preamble is None or 0 <= meter.preamble <= 4, f"{at}.preamble", "must be 0..4")
            need(1 <= meter.settlement_day <= 28, f"{at}.settlement_day", "must be 1..28")
            for level, code in (meter.passwords or {}).items():
                good = level.isdigit() and int(level) <= 9 and len(code) == 6 and _is_hex(code)
                need(good, f"{at}.passwords.{level}", "levels are 0..9 and codes six hex digits")
            for key in ("reply_delay_s", "late_reply_s", "close_delay_s"):
                delay = getattr(meter, key)
                need(delay is None or delay >= 0, f"{at}.{key}", "must not be negative")
    answers = {result.value for result in Result} - {"OK", "ERROR", "RING"}
    modem_names = [modem.name for modem in config.modem]
    need(len(set(modem_names)) == len(modem_names), "modem", "modem names must be unique")
    for i, modem in enumerate(config.modem):
        need(modem.baud in BAUD_RATES, f"modem[{i}].baud", "must be a serial rate")
        for j, number in enumerate(modem.number):
            at = f"modem[{i}].number[{j}]"
            need(number.answer in answers, f"{at}.answer", f"must be one of {', '.join(sorted(answers))}")
            if number.answer == "CONNECT":
                need(number.bus in bus_names, f"{at}.bus", f"must name a bus ({', '.join(bus_names) or 'none'})")
            need(number.connect_delay_s >= 0, f"{at}.connect_delay_s", "must not be negative")


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


def _dialled(config: MetersConfig, bus: str) -> bool:
    return any(number.bus == bus for modem in config.modem for number in modem.number)
