"""Scripted DL/T 645 meters on a real pseudo-terminal, for bus master and channel tests.

The test holds the pty's master side (the "bus"); the head-end opens the slave path like a serial port. Each
:class:`ScriptedMeter` answers from a small register table the test writes, with faults the test switches on
(silent, slow, corrupted reply, abnormal reply, follow-up frames). Replies go out paced at the bus's byte time
after the request's own transmission time and the meter's reply delay, as on a real line. Only protocols/ is used:
the simulator (concentrator_sim) is tested separately and used by the end-to-end tests.

``path`` is a symlink that :meth:`ScriptedBus.vanish` removes (the pty closes, as when a USB adapter is unplugged)
and :meth:`ScriptedBus.restore` points at a new pty.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path

from protocols.common.bcd import bcd_byte, to_bcd_byte
from protocols.common.framing import Discarded
from protocols.dlt645.apdu import build_address_reply, build_error_reply, build_read_reply
from protocols.dlt645.control import Edition, Function, Function1997, compose_control
from protocols.dlt645.data_items import DI_SIZE, lookup
from protocols.dlt645.framer import Dlt645Framer
from protocols.dlt645.link import BROADCAST, WILDCARD_BYTE, Dlt645Frame, address_to_wire, build_frame

BITS_PER_CHAR = 11  # 8E1


@dataclass
class ScriptedMeter:
    address: str
    registers: dict[int, Sequence[Decimal | None]] = field(default_factory=dict)
    edition: Edition = Edition.V2007
    reply_delay_s: float = 0.02
    #: answer nothing at all
    silent: bool = False
    #: corrupt the checksum of this many next replies
    corrupt_next: int = 0
    #: DI → error word sent as an abnormal reply
    errors: dict[int, int] = field(default_factory=dict)
    #: split replies into frames of at most this many values (follow-up frames, 后续帧)
    values_per_frame: int = 0
    #: FE bytes before each reply
    preamble: int = 0
    #: every request frame this meter accepted, in order
    requests: list[Dlt645Frame] = field(default_factory=list)
    #: broadcast frames seen
    broadcasts: list[Dlt645Frame] = field(default_factory=list)
    #: a running clock for 04000101 / 04000102, this far off true time; set by 广播校时 08H
    clock_offset: timedelta | None = None
    clock_zone: tzinfo | None = None
    _pending_follow: list[bytes] = field(default_factory=list)

    def answers_to(self, address: str) -> bool:
        wire, own = address_to_wire(address), address_to_wire(self.address)
        return all(p in (WILDCARD_BYTE, o) for p, o in zip(wire, own, strict=True))

    def reply(self, frame: Dlt645Frame) -> bytes | None:
        self.requests.append(frame)
        if self.silent:
            return None
        raw = self._reply(frame)
        if raw is not None and self.corrupt_next:
            self.corrupt_next -= 1
            raw = raw[:-2] + bytes(((raw[-2] + 1) & 0xFF,)) + raw[-1:]
        return raw

    def _reply(self, frame: Dlt645Frame) -> bytes | None:
        function = frame.function
        size = DI_SIZE[self.edition]
        read = Function.READ if self.edition is Edition.V2007 else Function1997.READ
        follow = Function.READ_FOLLOW if self.edition is Edition.V2007 else Function1997.READ_FOLLOW
        if function == Function.READ_ADDRESS and self.edition is Edition.V2007:
            return build_address_reply(self.address, preamble=self.preamble)
        if function == follow and self._pending_follow:
            return self._pending_follow.pop(0)
        if function != read or len(frame.data) < size:
            return None  # a request of the other edition: real meters mostly stay silent
        di = int.from_bytes(frame.data[:size], "little")
        if di in (0x04000101, 0x04000102) and self.clock_offset is not None:
            return self._clock_reply(di)
        if di in self.errors:
            return build_error_reply(self.address, function, self.errors[di], preamble=self.preamble)
        if di not in self.registers:
            return build_error_reply(self.address, function, 0x02, preamble=self.preamble)
        values = list(self.registers[di])
        if not self.values_per_frame or len(values) <= self.values_per_frame:
            return build_read_reply(self.address, di, values, preamble=self.preamble, edition=self.edition)
        return self._split(di, values, read, follow)

    def _clock_reply(self, di: int) -> bytes:
        """Date YYMMDDWW (WW 0 = Sunday) or time hhmmss, BCD low byte first (表A.5)."""
        assert self.clock_offset is not None
        now = datetime.now(self.clock_zone) + self.clock_offset
        if di == 0x04000101:
            fields = (now.isoweekday() % 7, now.day, now.month, now.year % 100)
        else:
            fields = (now.second, now.minute, now.hour)
        data = di.to_bytes(4, "little") + bytes(to_bcd_byte(f) for f in fields)
        return build_frame(self.address, compose_control(Function.READ, reply=True), data, preamble=self.preamble)

    def broadcast(self, frame: Dlt645Frame) -> None:
        self.broadcasts.append(frame)
        if frame.function == Function.BROADCAST_TIME and self.clock_offset is not None and len(frame.data) == 6:
            ss, mm, hh, day, month, year = (bcd_byte(b) for b in frame.data)
            sent = datetime(2000 + year, month, day, hh, mm, ss, tzinfo=self.clock_zone)
            self.clock_offset = sent - datetime.now(self.clock_zone)

    def _split(self, di: int, values: list[Decimal | None], read: int, follow: int) -> bytes:
        item = lookup(di, edition=self.edition)
        encoded = item.encode(values)
        chunk = self.values_per_frame * item.size
        pieces = [encoded[i : i + chunk] for i in range(0, len(encoded), chunk)]
        di_bytes = di.to_bytes(DI_SIZE[self.edition], "little")
        frames = []
        for index, piece in enumerate(pieces):
            more = index < len(pieces) - 1
            function = read if index == 0 else follow
            seq = bytes((index,)) if index and self.edition is Edition.V2007 else b""
            control = compose_control(function, reply=True, follow_up=more)
            frames.append(build_frame(self.address, control, di_bytes + piece + seq, preamble=self.preamble))
        self._pending_follow = frames[1:]
        return frames[0]


class ScriptedMeters:
    """The bus side shared by the pty and TCP variants: requests in, paced replies out (through :meth:`_out`)."""

    def __init__(self, meters: Sequence[ScriptedMeter], *, baud: int = 9600, pace: bool = True) -> None:
        self.meters = list(meters)
        self.baud = baud
        self.pace = pace
        self.framer = Dlt645Framer()
        self.discarded: list[Discarded] = []
        self.received: list[Dlt645Frame] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def byte_time(self) -> float:
        return BITS_PER_CHAR / self.baud

    def _out(self, data: bytes) -> None:
        raise NotImplementedError

    async def _cancel_replies(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def feed(self, data: bytes) -> None:
        """Bytes from the master."""
        arrived = asyncio.get_running_loop().time()
        for event in self.framer.feed(data):
            if isinstance(event, Discarded):
                self.discarded.append(event)
            else:
                self._request(event, arrived)

    def _request(self, frame: Dlt645Frame, arrived: float) -> None:
        if frame.is_reply:
            return
        self.received.append(frame)
        if frame.address == BROADCAST:
            for meter in self.meters:
                meter.broadcast(frame)
            return
        # the request took its own time on the wire; the meter starts answering after it and its reply delay
        wire_end = arrived + (len(frame.raw) * self.byte_time if self.pace else 0.0)
        for meter in self.meters:
            if meter.answers_to(frame.address):
                raw = meter.reply(frame)
                if raw is not None:
                    task = asyncio.ensure_future(self._send(raw, wire_end + meter.reply_delay_s))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def _send(self, raw: bytes, at: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, at - loop.time()))
        if not self.pace:
            self._out(raw)
            return
        start = loop.time()
        for index in range(len(raw)):
            await asyncio.sleep(max(0.0, start + index * self.byte_time - loop.time()))
            self._out(raw[index : index + 1])


class ScriptedBus(ScriptedMeters):
    """Meters on a pty. Use as ``async with ScriptedBus(tmp_path, meters) as bus: … bus.path …``."""

    def __init__(
        self, directory: Path, meters: Sequence[ScriptedMeter], *, baud: int = 9600, pace: bool = True
    ) -> None:
        super().__init__(meters, baud=baud, pace=pace)
        self.path = str(directory / "ttyBUS")
        self._master: int | None = None
        self._slave: int | None = None

    async def __aenter__(self) -> ScriptedBus:
        self.restore()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.vanish()

    def restore(self) -> None:
        """(Re)create the pty and point ``path`` at it."""
        master, slave = os.openpty()
        os.set_blocking(master, False)
        self._master, self._slave = master, slave  # the slave stays open here: no hang-up while the head-end reopens
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.symlink(os.ttyname(slave), self.path)
        asyncio.get_running_loop().add_reader(master, self._readable)

    async def vanish(self) -> None:
        """Close the pty (the head-end's port read fails, as with an unplugged adapter) and remove ``path``."""
        await self._cancel_replies()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except OSError:  # BlockingIOError, or EIO while nobody has the slave open
            return
        self.feed(data)

    def _out(self, data: bytes) -> None:
        if self._master is not None:
            os.write(self._master, data)

    def write(self, data: bytes) -> None:
        """Put bytes on the line (as another device would)."""
        self._out(data)


class _Connection(asyncio.Protocol):
    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.append(self)

    def data_received(self, data: bytes) -> None:
        self.server.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.server.connections:
            self.server.connections.remove(self)


class ScriptedServer(ScriptedMeters):
    """Meters behind a serial device server on loopback TCP (transparent mode: bytes in, bytes out)."""

    def __init__(self, meters: Sequence[ScriptedMeter], *, baud: int = 9600, pace: bool = True) -> None:
        super().__init__(meters, baud=baud, pace=pace)
        self.port = 0
        self.connections: list[_Connection] = []
        self.accepted = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        def factory() -> _Connection:
            self.accepted += 1
            return _Connection(self)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection (the device server reboots)."""
        await self._cancel_replies()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _out(self, data: bytes) -> None:
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.write(data)


class ScriptedModem(ScriptedBus):
    """A Hayes modem on a pty whose far end is the scripted meters: AT commands in command mode, the bus in data
    mode. ``results`` are the dial results to give, in order (then ``CONNECT``); :meth:`drop` loses the carrier."""

    def __init__(self, directory: Path, meters: Sequence[ScriptedMeter], *, results: Sequence[str] = ()) -> None:
        super().__init__(directory, meters, pace=False)
        self.path = str(directory / "ttyMODEM")
        self.results = list(results)
        self.commands: list[str] = []
        self.data_mode = False
        self._line = bytearray()
        self.escapes = 0

    def feed(self, data: bytes) -> None:
        if self.data_mode:
            if data.endswith(b"+++"):  # the escape, after its guard time (bytes before it still reach the bus)
                self.escapes += 1
                self.data_mode = False
                super().feed(data[:-3])
                self._answer("OK")
                return
            super().feed(data)
            return
        self._line += data
        while b"\r" in self._line:
            raw, _, rest = bytes(self._line).partition(b"\r")
            self._line = bytearray(rest)
            self._command(raw.decode("ascii").strip())

    def _command(self, command: str) -> None:
        if not command:
            return
        self.commands.append(command)
        if command.upper().startswith("ATD"):
            result = self.results.pop(0) if self.results else "CONNECT 9600"
            self._answer(result)
            if result.startswith("CONNECT"):
                self.data_mode = True
                self.framer = Dlt645Framer()
            return
        self._answer("OK" if command.upper().startswith("AT") else "ERROR")

    def _answer(self, text: str) -> None:
        self._out(b"\r\n" + text.encode("ascii") + b"\r\n")

    async def drop(self) -> None:
        """The line drops: replies under way are lost, NO CARRIER, back in command mode."""
        self.data_mode = False
        await self._cancel_replies()
        self._answer("NO CARRIER")
