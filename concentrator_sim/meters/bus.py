"""An emulated RS-485 bus (485总线): simulated meters sharing one half-duplex line, at real serial timing.

The wire
    Everything sent on the bus reaches every attached port except its sender, a byte at a time: byte ``i`` of a
    transmission starting at ``t`` is delivered at ``t + (i + 1) × 11 / baud`` (8E1: start, 8 data, even parity,
    stop — DL/T 645-2007 §4.1, PROTOCOLS.md B.1), so a 2400-baud read takes as long as on a real bus. A request
    a master writes all at once is on the wire from the moment it arrives; the meters hear it when its last
    byte would have passed (``arrival + len × byte time``) and answer after their reply delay (PROTOCOLS.md B.1:
    20–500 ms), at their own baud rate. Several meters answering at once (a wildcard address matching more than
    one) collide: the overlapping bytes are ANDed, and the master sees a broken frame as it would on a real bus.
    A frame the master starts while a reply is still on the wire is heard intact (the collision is only counted in
    ``overlaps``). After :data:`IDLE_S` of silence the meters drop a partial frame (inter-byte gap ≤ 500 ms).

Line settings
    A :class:`PtyPort` reads the speed the head-end set on its side of the pseudo-terminal (``termios.tcgetattr``
    — the slave's settings are visible on the master fd): a meter only understands a request sent at its own baud
    rate, as a real UART would (``check_line=False`` turns this off); parity cannot be seen on a pty. Ports that
    cannot tell (TCP) use the bus's configured baud.

Faults (per meter, :class:`MeterFault`)
    ``silent`` (dead meter, never answers), ``late`` (answers after ``late_reply_s``, beyond any master's timeout),
    ``corrupt`` (one byte of the reply flipped, so its checksum fails), ``wrong_address`` (answers with another
    address). ``fault_rate`` < 1 makes the fault intermittent (seeded, reproducible). A meter without supply
    (:meth:`BusMeter.set_supply`) is silent and records a power-down event.

The pseudo-terminal (:class:`PtyPort`)
    The bus behind a :class:`~concentrator_sim.meters.pty.PseudoTerminal`: the head-end opens the slave path
    (``/dev/pts/N``, and a stable symlink if ``link`` is given) like any serial port. :meth:`PtyPort.vanish`
    closes the pty (a USB adapter unplugged: the head-end gets EIO) and :meth:`PtyPort.reappear` makes a new one
    behind the same symlink.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from concentrator_sim.meters.model import Dlt645Meter
from concentrator_sim.meters.profiles import BITS_PER_BYTE
from concentrator_sim.meters.pty import LineSettings, OnPty, PseudoTerminal
from protocols.common.framing import Discarded
from protocols.dlt645.framer import Dlt645Framer
from protocols.dlt645.link import Dlt645Frame, build_frame, parse_frame

logger = logging.getLogger(__name__)

#: Silence after which a partial frame is dropped (DL/T 645 inter-byte gap ≤ 500 ms, PROTOCOLS.md B.1).
IDLE_S = 0.5
#: Default reply time of a ``late`` meter: longer than the 1–2 s masters wait at 2400 baud (PROTOCOLS.md B.1).
LATE_REPLY_S = 3.0


def utc_now() -> datetime:
    """The real time, aware (the default clock of a bus)."""
    return datetime.now(UTC)


def byte_time(baud: int) -> float:
    """Seconds one byte takes on the wire in 8E1 (11 bits)."""
    return BITS_PER_BYTE / baud


class MeterFault(enum.StrEnum):
    """How a meter misbehaves on the bus."""

    NONE = "none"
    SILENT = "silent"  #: never answers (dead meter, broken wire)
    LATE = "late"  #: answers after ``late_reply_s``
    CORRUPT = "corrupt"  #: one reply byte flipped: the checksum fails
    WRONG_ADDRESS = "wrong_address"  #: answers with another address (a misconfigured or swapped meter)


@dataclass(slots=True)
class BusMeter:
    """A meter on a bus, with what the bus adds: its reply delay, faults and supply."""

    meter: Dlt645Meter
    reply_delay_s: float | None = None  #: None: the profile's
    fault: MeterFault = MeterFault.NONE
    fault_rate: float = 1.0  #: share of requests the fault hits
    late_reply_s: float = LATE_REPLY_S
    powered: bool = True
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    @property
    def delay_s(self) -> float:
        return self.meter.profile.reply_delay_s if self.reply_delay_s is None else self.reply_delay_s

    def set_supply(self, on: bool, now: datetime) -> None:
        """Switch the meter's supply: off → it falls silent, energy stops, a power-down (掉电) event begins."""
        if on != self.powered:
            self.meter.set_supply(on, now)
            self.powered = on

    def faulted(self) -> MeterFault:
        """The fault that hits this request (``NONE`` when an intermittent fault spares it)."""
        if self.fault is MeterFault.NONE or self.rng.random() >= self.fault_rate:
            return MeterFault.NONE
        return self.fault


class BusPort(Protocol):
    """Something attached to the wire: a pseudo-terminal, a TCP client, a modem call."""

    name: str
    paced: bool  #: receives bytes at byte-time pace (False: each transmission in one piece when it starts)

    def deliver(self, data: bytes) -> None:
        """Bytes from the wire, for this port's user."""

    def line(self) -> LineSettings | None:
        """What the port's user set (pty), or None to use the bus's baud."""


@dataclass(slots=True)
class BusStats:
    """What a bus has carried."""

    frames: int = 0  #: request frames heard by the meters
    replies: int = 0  #: reply frames put on the wire
    discarded: int = 0  #: bytes groups the meters' framer threw away (garbage, bad CS …)
    line_mismatch: int = 0  #: frames a meter ignored because the line was not at its baud rate
    collisions: int = 0  #: replies that overlapped another reply
    overlaps: int = 0  #: requests that started while a reply was still on the wire


class _Transmission:
    """Bytes on the wire from ``start`` (loop time), one every ``bt`` seconds."""

    __slots__ = ("bt", "data", "delivered", "handle", "sender", "start")

    def __init__(self, start: float, data: bytes, bt: float, sender: BusPort | None) -> None:
        self.start, self.data, self.bt, self.sender = start, bytearray(data), bt, sender
        self.delivered = 0
        self.handle: asyncio.TimerHandle | None = None

    @property
    def end(self) -> float:
        return self.start + len(self.data) * self.bt


class Rs485Bus:
    """Meters on one line; attach ports (:class:`PtyPort`, a TCP client, a modem call) to talk to them."""

    def __init__(
        self,
        meters: Sequence[BusMeter],
        *,
        name: str = "bus",
        baud: int = 2400,
        check_line: bool = True,
        clock: Callable[[], datetime] = utc_now,
        idle_s: float = IDLE_S,
    ) -> None:
        self.name = name
        self.meters = list(meters)
        self.baud = baud
        self.check_line = check_line
        self.clock = clock
        self.idle_s = idle_s
        self.stats = BusStats()
        self.ports: list[BusPort] = []
        self._framer = Dlt645Framer()
        self._on_air: list[_Transmission] = []
        self._idle: asyncio.TimerHandle | None = None

    def meter(self, address: str) -> BusMeter:
        """The meter with this (current) address."""
        for bus_meter in self.meters:
            if bus_meter.meter.address == address:
                return bus_meter
        raise KeyError(address)

    def attach(self, port: BusPort) -> None:
        if port not in self.ports:
            self.ports.append(port)

    def detach(self, port: BusPort) -> None:
        if port in self.ports:
            self.ports.remove(port)

    def close(self) -> None:
        """Stop every transmission and timer."""
        for tx in self._on_air:
            if tx.handle is not None:
                tx.handle.cancel()
        self._on_air.clear()
        if self._idle is not None:
            self._idle.cancel()
        self.ports.clear()

    # -- from a port -------------------------------------------------------------------------------------------

    def receive(self, port: BusPort, data: bytes) -> None:
        """Bytes a port's user wrote: on the wire now; the meters act on every frame they complete."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        line = port.line() or LineSettings(self.baud)
        bt = byte_time(line.baud)
        if any(tx.sender is None and tx.start < now + len(data) * bt and tx.end > now for tx in self._on_air):
            self.stats.overlaps += 1
        if len(self.ports) > 1:
            self._transmit(now, data, bt, port)
        heard_at = now + len(data) * bt
        wall = self.clock() + timedelta(seconds=heard_at - now)
        for event in self._framer.feed(data):
            if isinstance(event, Discarded):
                self.stats.discarded += 1
            else:
                self._on_frame(event, line, heard_at, wall)
        if self._idle is not None:
            self._idle.cancel()
        self._idle = loop.call_at(heard_at + self.idle_s, self._on_idle) if self._framer.buffered else None

    def _on_idle(self) -> None:
        self._idle = None
        self.stats.discarded += len(self._framer.idle())

    def _on_frame(self, frame: Dlt645Frame, line: LineSettings, heard_at: float, wall: datetime) -> None:
        self.stats.frames += 1
        for bus_meter in self.meters:
            meter = bus_meter.meter
            if not bus_meter.powered or not meter.addressed(frame.address):
                continue
            if self.check_line and line.baud != meter.baud:
                self.stats.line_mismatch += 1
                continue
            fault = bus_meter.faulted()
            if fault is MeterFault.SILENT:
                continue
            baud_before = meter.baud
            replies = meter.handle(frame, wall)
            delay = bus_meter.late_reply_s if fault is MeterFault.LATE else bus_meter.delay_s
            for reply in replies:
                if fault is MeterFault.CORRUPT:
                    reply = _corrupt(reply, bus_meter.rng)
                elif fault is MeterFault.WRONG_ADDRESS:
                    reply = _readdress(reply)
                self.stats.replies += 1
                # The reply goes out at the rate the meter had when it heard the request (17H answers first).
                self._transmit(heard_at + delay, reply, byte_time(baud_before), None)

    # -- onto the wire -----------------------------------------------------------------------------------------

    def _transmit(self, start: float, data: bytes, bt: float, sender: BusPort | None) -> None:
        loop = asyncio.get_running_loop()
        if sender is None:
            for tx in self._on_air:
                if tx.sender is None and tx.start < start + len(data) * bt and start < tx.end:
                    self.stats.collisions += 1
                    if _merge(tx, start, data) and tx.handle is not None:
                        tx.handle.cancel()
                        tx.handle = loop.call_at(tx.start, self._pace, tx)
                    return
        tx = _Transmission(start, data, bt, sender)
        self._on_air.append(tx)
        tx.handle = loop.call_at(start, self._pace, tx)

    def _pace(self, tx: _Transmission) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        receivers = [port for port in self.ports if port is not tx.sender]
        if tx.delivered == 0:
            whole = bytes(tx.data)
            for port in receivers:
                if not port.paced:
                    port.deliver(whole)
        due = min(len(tx.data), int((now - tx.start) / tx.bt + 1e-9))
        if due > tx.delivered:
            chunk = bytes(tx.data[tx.delivered : due])
            for port in receivers:
                if port.paced:
                    port.deliver(chunk)
            tx.delivered = due
        if tx.delivered < len(tx.data):
            tx.handle = loop.call_at(tx.start + (tx.delivered + 1) * tx.bt, self._pace, tx)
        else:
            tx.handle = None
            self._on_air.remove(tx)


def _merge(tx: _Transmission, start: float, data: bytes) -> bool:
    """Two meters driving the line at once: where their bytes overlap in time the result is the AND of both.
    Returns True when ``tx`` now starts earlier (the newcomer was first)."""
    offset = round((start - tx.start) / tx.bt)
    earlier = offset < 0 and tx.delivered == 0
    if earlier:  # the newcomer starts first: it becomes the base
        data, tx.data[:] = bytes(tx.data), data
        tx.start, offset = start, -offset
    for i, byte in enumerate(data):
        j = offset + i
        if j >= tx.delivered:
            if j < len(tx.data):
                tx.data[j] &= byte
            else:
                tx.data.append(byte)
    return earlier


def _corrupt(reply: bytes, rng: random.Random) -> bytes:
    """Flip one bit of one byte after the header (DATA or CS), as line noise would."""
    out = bytearray(reply)
    start = reply.index(0x68)
    position = rng.randrange(start + 10, len(out) - 1)
    out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def _readdress(reply: bytes) -> bytes:
    """The same reply from another address: the last digit changed, CS recomputed."""
    frame = parse_frame(reply)
    digits = frame.address[:-1] + str((int(frame.address[-1]) + 1) % 10)
    return build_frame(digits, frame.control, frame.data, preamble=frame.preamble)


# --- the pseudo-terminal ---------------------------------------------------------------------------------------


class PtyPort(OnPty):
    """A :class:`Rs485Bus` seen through a pseudo-terminal (:class:`~concentrator_sim.meters.pty.PseudoTerminal`):
    the head-end opens :attr:`path` (or :attr:`link`) as its serial port."""

    def __init__(self, bus: Rs485Bus, *, link: Path | None = None, name: str = "pty") -> None:
        self.bus = bus
        self.name = name
        self.paced = True
        self.pty = PseudoTerminal(lambda data: bus.receive(self, data), baud=bus.baud, link=link)

    async def open(self) -> PtyPort:
        await self.pty.open()
        self.bus.attach(self)
        logger.info("bus %s: pty %s%s", self.bus.name, self.path, f" ({self.link})" if self.link else "")
        return self

    def close(self) -> None:
        self.bus.detach(self)
        self.pty.close()

    def vanish(self) -> None:
        """The port disappears (USB adapter unplugged)."""
        self.bus.detach(self)
        self.pty.vanish()

    async def reappear(self) -> None:
        """A new pty behind the same symlink."""
        await self.pty.reappear()
        self.bus.attach(self)

    def line(self) -> LineSettings | None:
        return self.pty.line()

    def deliver(self, data: bytes) -> None:
        self.pty.write(data)
