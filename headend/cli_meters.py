"""The field engineer's meter commands: ``headend read | scan | sniff | timesync`` (DL/T 645, see
docs/direct-meters.md).

Every command reaches the bus one of three ways: ``--port /dev/ttyUSB0 [--baud 2400]`` (an RS-485 adapter),
``--tcp HOST:PORT`` (a serial device server) or ``--dial NUMBER --port /dev/ttyS0`` (a modem). The bus logic is the
daemon's own (:class:`~headend.sessions.dlt645_master.BusMaster`); reads from here take the bus ahead of the
daemon's scheduled polls when they share a master (Priority.ON_DEMAND).

Exit codes: 0 everything asked for was done; 1 some meter did not answer or refused; 2 bad options, or the bus
could not be reached.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

F = TypeVar("F", bound=Callable[..., Any])

#: short names for ``--di``: (2007 DI, 1997 DI)
DI_NAMES: dict[str, tuple[int, int | None]] = {
    "energy": (0x0001FF00, 0x901F),  # 正向有功电能数据块 (total + tariffs)
    "energy-total": (0x00010000, 0x9010),
    "reverse-energy": (0x0002FF00, 0x902F),
    "voltage": (0x0201FF00, None),
    "current": (0x0202FF00, None),
    "power": (0x0203FF00, None),
    "date": (0x04000101, 0xC010),
    "time": (0x04000102, 0xC011),
    "address": (0x04000401, None),
}
EXIT_FAILED, EXIT_UNREACHABLE = 1, 2


@dataclass(frozen=True, slots=True)
class BusOptions:
    port: str | None
    baud: int
    parity: str
    tcp: str | None
    dial: str | None
    port_baud: int
    reply_delay: float
    retries: int
    connect_timeout: float


def bus_options(command: F) -> F:
    """The options that say how to reach the bus (shared by every meter command)."""
    options = [
        click.option("--port", help="Serial port of the RS-485 adapter, or of the modem with --dial."),
        click.option("--baud", type=int, default=2400, show_default=True, help="Bus baud rate."),
        click.option(
            "--parity", type=click.Choice(["E", "N", "O"]), default="E", show_default=True, help="Bus parity."
        ),
        click.option("--tcp", metavar="HOST:PORT", help="Serial device server (transparent TCP)."),
        click.option("--dial", metavar="NUMBER", help="Dial the bus's modem through the modem on --port."),
        click.option("--port-baud", type=int, default=9600, show_default=True, help="Speed to a local modem."),
        click.option("--reply-delay", type=float, default=0.5, show_default=True, help="Longest meter reply delay, s."),
        click.option("--retries", type=int, default=2, show_default=True, help="Retries after no answer."),
        click.option(
            "--connect-timeout", type=float, default=10.0, show_default=True, help="Give up reaching the bus after, s."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _bus(kwargs: dict[str, Any]) -> BusOptions:
    opts = BusOptions(**{name: kwargs.pop(name) for name in BusOptions.__slots__})
    valid = bool(opts.port) and not opts.tcp if opts.dial else bool(opts.port) != bool(opts.tcp)
    if not valid:
        raise click.UsageError("give exactly one of --port, --tcp HOST:PORT, or --dial NUMBER with --port")
    return opts


@asynccontextmanager
async def open_bus(opts: BusOptions) -> AsyncIterator[Any]:
    """Reach the bus; yield its :class:`BusMaster`. Raises ``click.ClickException`` (exit 2) when it cannot."""
    from headend.channels.modem import ModemChannel
    from headend.channels.serial_bus import BusChannel
    from headend.channels.serial_port import SerialChannel
    from headend.channels.tcp_client import TcpClientChannel
    from headend.config import ModemChannelConfig, SerialChannelConfig, TcpChannelConfig
    from headend.errors import ChannelClosed

    common: dict[str, Any] = {
        "baud": opts.baud,
        "parity": opts.parity,
        "reply_delay_s": opts.reply_delay,
        "retries": opts.retries,
        "backoff_base_s": 0.0,  # a field engineer's command: every read is tried
    }
    try:
        if opts.dial:
            assert opts.port is not None
            config = ModemChannelConfig.model_validate(
                {
                    "port": opts.port,
                    "number": opts.dial,
                    "port_baud": opts.port_baud,
                    "dial_timeout_s": opts.connect_timeout,
                    **common,
                }
            )
            modem = ModemChannel(config)
            try:
                async with modem.session() as master:
                    yield master
            except ChannelClosed as exc:
                raise _Unreachable(str(exc)) from exc
            return
        channel: BusChannel
        if opts.tcp:
            host, _, port = opts.tcp.rpartition(":")
            if not host or not port.isdigit():
                raise click.UsageError(f"--tcp {opts.tcp!r}: use HOST:PORT")
            channel = TcpClientChannel(
                TcpChannelConfig(host=host, port=int(port), connect_timeout_s=opts.connect_timeout, **common)
            )
        else:
            assert opts.port is not None
            channel = SerialChannel(SerialChannelConfig(port=opts.port, **common))
    except ValueError as exc:  # pydantic: a bad baud rate, number …
        raise click.UsageError(str(exc)) from exc
    channel.start()
    try:
        try:
            async with asyncio.timeout(opts.connect_timeout):
                await channel.wait_up()
        except TimeoutError:
            raise _Unreachable(f"cannot reach the bus ({channel.name}) within {opts.connect_timeout:g} s") from None
        yield channel.master
    finally:
        await channel.stop()


class _Unreachable(click.ClickException):
    exit_code = EXIT_UNREACHABLE


def _parse_di(text: str) -> tuple[int | None, int | None]:
    """``--di`` → (2007 DI, 1997 DI): a name of :data:`DI_NAMES`, a catalogue name, or hex (8 digits 2007, 4 1997)."""
    from protocols.dlt645.data_items import DATA_ITEMS, DATA_ITEMS_1997

    key = text.strip().lower()
    if key in DI_NAMES:
        return DI_NAMES[key]
    digits = key.removeprefix("0x")
    if len(digits) in (4, 8) and all(c in "0123456789abcdef" for c in digits):
        return (int(digits, 16), None) if len(digits) == 8 else (None, int(digits, 16))
    by_name_2007 = [di for di, item in DATA_ITEMS.items() if item.name.lower() == key]
    by_name_1997 = [di for di, item in DATA_ITEMS_1997.items() if item.name.lower() == key]
    if by_name_2007 or by_name_1997:
        return (by_name_2007[0] if by_name_2007 else None, by_name_1997[0] if by_name_1997 else None)
    names = ", ".join(DI_NAMES)
    raise click.BadParameter(
        f"{text!r} is neither a DI in hex, a catalogue name, nor one of: {names}", param_hint="--di"
    )


def _check_address(address: str) -> str:
    if len(address) != 12 or not address.isdigit():
        raise click.BadParameter(f"{address!r} is not a 12-digit meter address", param_hint="--meter")
    return address


def _edition(text: str) -> Any:
    from protocols.dlt645.control import Edition

    return None if text == "auto" else Edition(f"dlt645-{text}")


def _format(item: Any, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date | time | datetime):
        return value.isoformat()
    return str(item.format_value(value))


def _report(read: Any) -> dict[str, Any]:
    from protocols.dlt645.data_items import lookup

    item = lookup(read.di, edition=read.edition)
    return {
        "meter": read.address,
        "di": read.di_text,
        "name": item.name,
        "protocol": read.edition.value,
        "frames": read.frames,
        "values": [{"name": v.name, "value": _format(item, v.value), "unit": v.unit} for v in read.values],
    }


# -- read -------------------------------------------------------------------------------------------------------


@click.command()
@bus_options
@click.option("--meter", "meters", multiple=True, help="12-digit meter address (repeat for several).")
@click.option("--di", "dis", multiple=True, default=("energy",), show_default=True, help="DI (hex) or name; repeat.")
@click.option("--edition", type=click.Choice(["auto", "2007", "1997"]), default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def read(meters: tuple[str, ...], dis: tuple[str, ...], edition: str, as_json: bool, **kwargs: Any) -> None:
    """Read meters now (DL/T 645 读数据 11H / 1997 01H, follow-up frames included).

    Without --meter, the only meter on the bus is asked its address first (13H to AAAAAAAAAAAA).
    """
    opts = _bus(kwargs)
    wanted = [_parse_di(text) for text in dis]
    addresses = [_check_address(m) for m in meters]
    failures = asyncio.run(_read(opts, addresses, wanted, _edition(edition), as_json))
    if failures:
        sys.exit(EXIT_FAILED)


async def _read(
    opts: BusOptions, addresses: list[str], wanted: list[tuple[int | None, int | None]], edition: Any, as_json: bool
) -> int:
    from headend.errors import ChannelClosed, ResponseTimeout
    from headend.sessions.priority import Priority
    from protocols.dlt645.control import Edition
    from protocols.errors import DecodeError, DeviceError

    failures = 0
    async with open_bus(opts) as master:
        if not addresses:
            found = await master.read_address()
            if len(found.frames) != 1 or found.collided:
                raise _Unreachable("no single meter answered 13H: give --meter (or run headend scan)")
            addresses = [found.frames[0].address]
        for address in addresses:
            try:
                known = edition or await master.detect_edition(address, priority=Priority.ON_DEMAND)
            except ResponseTimeout as exc:
                failures += len(wanted)
                _emit({"meter": address, "error": str(exc)}, as_json)
                continue
            for di_2007, di_1997 in wanted:
                di = di_2007 if known is Edition.V2007 else di_1997
                if di is None:
                    failures += 1
                    _emit({"meter": address, "error": f"no {known.value} DI for this item"}, as_json)
                    continue
                try:
                    result = await master.read(address, di, edition=known, priority=Priority.ON_DEMAND)
                except ChannelClosed as exc:
                    raise _Unreachable(str(exc)) from exc
                except (ResponseTimeout, DeviceError, DecodeError) as exc:
                    failures += 1
                    _emit({"meter": address, "di": f"{di:X}", "error": f"{type(exc).__name__}: {exc}"}, as_json)
                    continue
                _emit(_report(result), as_json)
    return failures


def _emit(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    if "error" in report:
        click.echo(f"{report['meter']} {report.get('di', '')}: {report['error']}".replace("  ", " "))
        return
    click.echo(f"{report['meter']} {report['protocol']} DI {report['di']} {report['name']}")
    for value in report["values"]:
        shown = "no value" if value["value"] is None else f"{value['value']} {value['unit']}".rstrip()
        click.echo(f"  {value['name']}: {shown}")


# -- scan -------------------------------------------------------------------------------------------------------


@click.command()
@bus_options
@click.option(
    "--edition", type=click.Choice(["auto", "2007", "1997"]), default="auto", show_default=True, help="Sweep with."
)
@click.option(
    "--low-bytes", default="00-99", show_default=True, help="Sweep only addresses whose last two digits are here."
)
@click.option("--no-sweep", is_flag=True, help="Only ask 13H (finds the meter of a one-meter bus).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the addresses found.")
def scan(edition: str, low_bytes: str, no_sweep: bool, as_json: bool, **kwargs: Any) -> None:
    """Find the meters on a bus: 读通信地址 (13H to AAAAAAAAAAAA), then a sweep with wildcard addresses
    (缩位寻址): AAAAAAAAAAxx for each xx, narrowing down where several meters answer at once."""
    opts = _bus(kwargs)
    lo, _, hi = low_bytes.partition("-")
    if not (lo.isdigit() and (hi or lo).isdigit() and 0 <= int(lo) <= int(hi or lo) <= 99):
        raise click.BadParameter(f"{low_bytes!r}: use e.g. 00-99", param_hint="--low-bytes")
    span = range(int(lo), int(hi or lo) + 1)
    found = asyncio.run(_scan(opts, _edition(edition), span, sweep=not no_sweep, quiet=as_json))
    if as_json:
        click.echo(json.dumps(found))
    else:
        click.echo(f"{len(found)} meter(s) found")
        for address in found:
            click.echo(address)
    if not found:
        sys.exit(EXIT_FAILED)


async def _scan(opts: BusOptions, edition: Any, span: range, *, sweep: bool, quiet: bool) -> list[str]:
    from rich.progress import Progress

    from protocols.dlt645.apdu import build_read
    from protocols.dlt645.exchange import PROBES

    probes = [(ed, di) for ed, di in PROBES if edition is None or ed is edition]
    found: set[str] = set()
    async with open_bus(opts) as master:
        answer = await master.read_address()
        if not answer.collided:
            found.update(frame.address for frame in answer.frames)
        if not sweep:
            return sorted(found)

        async def ask(pattern: str) -> bool:
            """Probe ``pattern``; True when several meters answered at once (look closer)."""
            collided = False
            for ed, di in probes:
                request = build_read(pattern, di, preamble=master.config.preamble, edition=ed)
                result = await master.probe(pattern, request)
                if result.collided:
                    collided = True
                else:
                    found.update(frame.address for frame in result.frames)
            return collided

        async def narrow(suffix: str) -> None:
            """Every address ending in ``suffix`` (collided at this level): one more byte, 00..99."""
            if len(suffix) == 12:
                return
            for byte in range(100):
                deeper = f"{byte:02d}{suffix}"
                if await ask("AA" * ((12 - len(deeper)) // 2) + deeper):
                    await narrow(deeper)

        with Progress(transient=True, disable=quiet, console=_stderr_console()) as progress:
            task = progress.add_task("sweeping", total=len(span))
            for low in span:
                suffix = f"{low:02d}"
                if await ask("AA" * 5 + suffix):
                    await narrow(suffix)
                progress.advance(task)
    return sorted(found)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


# -- sniff ------------------------------------------------------------------------------------------------------


@click.command()
@click.option("--port", help="Serial port to listen on (passive: nothing is sent).")
@click.option("--tcp", metavar="HOST:PORT", help="Or a serial device server to listen through.")
@click.option("--baud", type=int, default=2400, show_default=True)
@click.option("--parity", type=click.Choice(["E", "N", "O"]), default="E", show_default=True)
@click.option("--count", type=int, default=0, help="Stop after this many frames (0: until Ctrl-C).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per frame (the decode --json contract).")
def sniff(port: str | None, tcp: str | None, baud: int, parity: str, count: int, as_json: bool) -> None:
    """Decode what passes on a DL/T 645 line, live, until Ctrl-C or --count frames."""
    if bool(port) == bool(tcp):
        raise click.UsageError("give exactly one of --port or --tcp HOST:PORT")
    try:
        asyncio.run(_sniff(port, tcp, baud, parity, count, as_json))
    except KeyboardInterrupt:
        pass


async def _sniff(port: str | None, tcp: str | None, baud: int, parity: str, count: int, as_json: bool) -> None:
    from headend.channels.serial_bus import BusProtocol
    from headend.channels.serial_port import open_serial
    from headend.config import SerialChannelConfig
    from headend.sessions.dlt645_master import BusTiming
    from protocols.common.framing import Discarded
    from protocols.dlt645.describe import describe_frame
    from protocols.dlt645.framer import Dlt645Framer

    config = SerialChannelConfig(port=port or "-", baud=baud, parity=parity)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    framer = Dlt645Framer()
    done: asyncio.Future[None] = loop.create_future()
    seen = 0
    last_rx = loop.time()
    # a silence of 20 character times ends a frame on the line (at least 50 ms: adapters deliver in bursts)
    gap = BusTiming(baud=baud, inter_byte_chars=20, min_inter_byte_s=0.05).inter_byte_timeout

    def show(events: list[Any]) -> None:
        nonlocal seen
        for event in events:
            stamp = datetime.now().isoformat(timespec="milliseconds")
            report: dict[str, object]
            if isinstance(event, Discarded):
                report = {"t": stamp, "discarded": event.data.hex().upper(), "reason": event.reason}
                line = f"{stamp} -- {len(event.data)} bytes discarded ({event.reason}): {event.data.hex(' ')}"
            else:
                report = {"t": stamp, **describe_frame(event)}
                line = f"{stamp} {_frame_line(report)}"
                seen += 1
            click.echo(json.dumps(report, ensure_ascii=False) if as_json else line)
            if count and seen >= count and not done.done():
                done.set_result(None)

    def received(data: bytes) -> None:
        nonlocal last_rx
        last_rx = loop.time()
        show(list(framer.feed(data)))

    protocol: BusProtocol
    if tcp:
        host, _, tcp_port = tcp.rpartition(":")
        _, protocol = await loop.create_connection(lambda: BusProtocol(received), host, int(tcp_port))
    else:
        assert port is not None
        try:
            _, made = await open_serial(port, config, lambda: BusProtocol(received))
        except OSError as exc:
            raise _Unreachable(f"cannot open {port}: {exc}") from exc
        assert isinstance(made, BusProtocol)
        protocol = made
    try:
        while not done.done() and not protocol.lost.done():
            await asyncio.wait((done, protocol.lost), timeout=gap, return_when=asyncio.FIRST_COMPLETED)
            if framer.buffered and loop.time() - last_rx >= gap:
                show(list(framer.idle()) + list(framer.feed(b"")))
    finally:
        protocol.close()


def _frame_line(report: dict[str, Any]) -> str:
    arrow = "<-" if report.get("direction") == "reply" else "->"
    parts = [arrow, str(report.get("address")), f"C={report.get('control', 0):02X}H"]
    if report.get("di"):
        parts.append(f"DI {report['di']}")
    for value in report.get("values", []):
        parts.append(f"{value['name']}={value['value']}{value['unit']}")
    if report.get("error_word") is not None:
        parts.append(f"error word {report['error_word']:02X}H")
    parts.extend(f"!{error}" for error in report.get("errors", []))
    return " ".join(parts)


# -- timesync ---------------------------------------------------------------------------------------------------


@click.command()
@bus_options
@click.option("--meter", "meters", multiple=True, required=True, help="Meter to check the drift of (repeat).")
@click.option("--tz", default="Asia/Shanghai", show_default=True, help="Time zone of the meters' clocks.")
@click.option(
    "--max-correction", type=float, default=300.0, show_default=True, help="Refuse when a meter is off by more, s."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the drift report as JSON.")
def timesync(meters: tuple[str, ...], tz: str, max_correction: float, yes: bool, as_json: bool, **kwargs: Any) -> None:
    """Broadcast the time (广播校时 08H to 999999999999), with the safeguards meters need: never within 5 minutes
    of midnight, only when every checked meter is off by at most --max-correction, after confirmation; reports
    each meter's drift (04000101 + 04000102) before and after. The daemon does the same on its direct channels
    every [timesync] interval_s (headend/collection/meter_clock.py)."""
    from headend.collection.meter_clock import near_midnight

    opts = _bus(kwargs)
    addresses = [_check_address(m) for m in meters]
    zone = ZoneInfo(tz)
    now = datetime.now(zone)
    if near_midnight(now):
        raise click.ClickException(f"{now:%H:%M:%S} is within 5 minutes of midnight: meters refuse (and freeze) then")
    report = asyncio.run(_timesync(opts, addresses, zone, max_correction, yes, as_json))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    if not report.get("synced") or any(m.get("error") for m in report["meters"]):
        sys.exit(EXIT_FAILED)


async def _timesync(
    opts: BusOptions, addresses: list[str], zone: ZoneInfo, max_correction: float, yes: bool, as_json: bool
) -> dict[str, Any]:
    """The shared implementation (:class:`~headend.collection.meter_clock.MeterClockSync`) at on-demand priority,
    with the operator's confirmation, whatever the drift; the report as JSON-ready dict."""
    from headend.collection.meter_clock import MeterClockCheck, MeterClockSync, Outcome
    from headend.sessions.priority import Priority

    def on_read(check: MeterClockCheck, when: str) -> None:
        if not as_json:
            _show_drift(_meter_report(check), when)

    async def confirm(worst: timedelta) -> bool:
        if yes:
            return True
        question = f"Broadcast the time to every meter on the bus (largest correction {worst.total_seconds():g} s)?"
        return bool(click.confirm(question, err=True))

    sync = MeterClockSync(
        zone=zone,
        now=lambda: datetime.now(zone),
        max_correction=timedelta(seconds=max_correction),
        priority=Priority.ON_DEMAND,
    )
    async with open_bus(opts) as master:
        result = await sync.check_bus(master, addresses, confirm=confirm, on_read=on_read)
    report: dict[str, Any] = {"synced": result.synced, "meters": [_meter_report(m) for m in result.meters]}
    worst = result.worst.total_seconds() if result.worst is not None else 0.0
    refused = {
        Outcome.NO_ANSWER: "no meter answered: nothing to compare the bus time with",
        Outcome.TOO_LARGE: f"every meter is off by more than --max-correction {max_correction:g} s (up to {worst:g} s)",
        Outcome.NEAR_MIDNIGHT: "midnight came close while checking",
        Outcome.NOT_CONFIRMED: "not confirmed",
    }.get(result.outcome)
    if refused is not None:
        report["refused"] = refused
        if result.outcome is not Outcome.NOT_CONFIRMED:
            _say(refused, as_json)
    if result.sent is not None:
        report["sent"] = result.sent.isoformat()
        _say(f"time broadcast: {report['sent']}", as_json)
    return report


def _meter_report(check: Any) -> dict[str, Any]:
    """One meter of the ``timesync`` report: ``drift_before_s`` / ``drift_after_s`` or ``error``."""
    report: dict[str, Any] = {"meter": check.meter}
    if check.drift_before is not None:
        report["drift_before_s"] = check.drift_before.total_seconds()
    if check.drift_after is not None:
        report["drift_after_s"] = check.drift_after.total_seconds()
    if check.error:
        report["error"] = check.error
    return report


def _show_drift(meter: dict[str, Any], when: str) -> None:
    if "error" in meter:
        click.echo(f"{meter['meter']}: {meter['error']}")
    else:
        click.echo(f"{meter['meter']}: drift {when} {meter[f'drift_{when}_s']:+g} s")


def _say(message: str, as_json: bool) -> None:
    click.echo(message, err=as_json)


#: registered on the ``headend`` group by headend/cli.py
METER_COMMANDS = (read, scan, sniff, timesync)
