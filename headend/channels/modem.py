"""A DL/T 645 bus reached by dial-up: a Hayes-compatible modem on a local serial port calls the modem at the meter
bus (V.250 / Hayes AT command set; PROTOCOLS.md DESIGN "modem dial-up").

One call per poll round (:meth:`ModemChannel.session`):

1. open the port (8N1 at ``port_baud``: the modem's DTE side), send each ``init`` command, expect ``OK``;
2. ``ATD<number>``; the final result code decides: ``CONNECT`` → data mode; ``BUSY``, ``NO ANSWER``,
   ``NO CARRIER``, ``NO DIALTONE``, ``ERROR`` or no result within ``dial_timeout_s`` → the call failed
   (:class:`ModemCallFailed`, a :class:`~headend.errors.ChannelClosed`);
3. in data mode the bytes are the meter bus's; ``NO CARRIER`` arriving in the data (the far end or the line
   dropped) fails the read in flight with ChannelClosed, and the poll round redials for the meters not read yet;
4. hang up: ``guard_s`` of silence, ``+++``, ``guard_s`` again (the escape guard time, S12), expect ``OK``, then
   ``ATH``; then the port is closed (dropping DTR hangs up too, should the escape fail).

Calls are placed only inside the configured call windows (local time of day, e.g. night tariff hours) and at most
``max_call_attempts`` times per round, ``redial_delay_s`` apart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from headend.channels.serial_bus import BusChannel, BusProtocol
from headend.channels.serial_port import open_serial
from headend.config import ModemChannelConfig
from headend.errors import ChannelClosed
from headend.logs import TRACE
from headend.metrics import Metrics
from headend.sessions.dlt645_master import BusMaster

_LOGGER = logging.getLogger(__name__)

#: Final result codes (V.250 §5.7.1, verbose form) and the metric result for each.
FINAL_RESULTS = {
    "OK": "ok",
    "CONNECT": "connect",
    "BUSY": "busy",
    "NO ANSWER": "no_answer",
    "NO CARRIER": "no_carrier",
    "NO DIALTONE": "no_dialtone",
    "NO DIAL TONE": "no_dialtone",
    "ERROR": "error",
}
_CARRIER_LOST = b"NO CARRIER"
_WINDOW_RE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


class ModemCallFailed(ChannelClosed):
    """The call could not be placed or was refused; ``result`` is the metric name of the result code."""

    def __init__(self, message: str, result: str) -> None:
        super().__init__(message)
        self.result = result


def result_code(line: str) -> str | None:
    """The final result code a response line carries (``"CONNECT 9600"`` → ``"CONNECT"``), else None.

    >>> result_code("CONNECT 9600/REL"), result_code("BUSY"), result_code("RING")
    ('CONNECT', 'BUSY', None)
    """
    text = line.strip().upper()
    for code in FINAL_RESULTS:
        if text == code or (code == "CONNECT" and text.startswith("CONNECT ")):
            return code
    return None


def in_call_window(now: datetime, windows: Sequence[str]) -> bool:
    """Whether local time ``now`` falls in one of the ``"HH:MM-HH:MM"`` windows (end exclusive; a window may wrap
    midnight, ``"22:00-06:00"``; ``"00:00-24:00"`` is all day). No windows: always.

    >>> night = ["22:00-06:00"]
    >>> in_call_window(datetime(2024, 1, 1, 23, 30), night), in_call_window(datetime(2024, 1, 1, 12), night)
    (True, False)
    """
    if not windows:
        return True
    minute = now.hour * 60 + now.minute
    for window in windows:
        match = _WINDOW_RE.match(window)
        if match is None:
            raise ValueError(f"bad call window {window!r}")
        start = int(match.group(1)) * 60 + int(match.group(2))
        end = int(match.group(3)) * 60 + int(match.group(4))
        inside = start <= minute < end if start <= end else (minute >= start or minute < end)
        if inside:
            return True
    return False


class ModemProtocol(BusProtocol):
    """The modem's serial line: response lines in command mode, the meter bus's bytes in data mode."""

    def __init__(self, master: BusMaster) -> None:
        super().__init__(self._route)
        self._master = master
        self.data_mode = False
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self._buffer = bytearray()
        self._tail = b""
        self.carrier_lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _route(self, data: bytes) -> None:
        if _LOGGER.isEnabledFor(TRACE):
            _LOGGER.log(TRACE, "modem rx %r", data)
        if self.data_mode:
            self._master.data_received(data)
            # the result code may arrive split over reads: look at the join with the previous bytes
            window = self._tail + data
            self._tail = window[-len(_CARRIER_LOST) :]
            if _CARRIER_LOST in window:
                self.data_mode = False
                if not self.carrier_lost.done():
                    self.carrier_lost.set_result(None)
                self._master.detach("call dropped (NO CARRIER)")
            return
        self._buffer += data
        while True:
            end = min((i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0), default=-1)
            if end < 0:
                break
            line = self._buffer[:end].decode("ascii", "replace").strip()
            del self._buffer[: end + 1]
            if line:
                self.lines.put_nowait(line)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.data_mode:
            self._master.detach(f"modem port lost: {exc}")
        super().connection_lost(exc)

    def enter_data_mode(self) -> None:
        self.data_mode = True
        self._tail = b""
        self._buffer.clear()

    def leave_data_mode(self) -> None:
        self.data_mode = False
        while not self.lines.empty():
            self.lines.get_nowait()


class ModemChannel(BusChannel):
    """``[[direct.modem]]``: a bus master reached by dialing."""

    kind = "modem"

    def __init__(
        self,
        config: ModemChannelConfig,
        *,
        metrics: Metrics | None = None,
        now: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, name=config.name or f"modem {config.number}", metrics=metrics, **kwargs)
        self.modem = config
        self.session_attempts = config.max_call_attempts
        self._now = now or datetime.now
        self._protocol_in_call: ModemProtocol | None = None
        self._failed_calls = 0
        self._counted_up = False
        self.calls = 0  #: calls that reached CONNECT

    def start(self) -> None:
        """Nothing runs between calls: the port is opened by each call."""

    async def stop(self) -> None:
        await self._hang_up()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[BusMaster]:
        """One call: dial, yield the master in data mode, hang up. Raises :class:`ModemCallFailed` outside the
        call windows or when the call fails, ChannelClosed when it drops."""
        if not in_call_window(self._now(), self.modem.call_windows):
            self.metrics.modem_calls.labels("outside_window").inc()
            raise ModemCallFailed(f"{self.name}: outside the call windows {self.modem.call_windows}", "outside_window")
        if self._failed_calls:
            await asyncio.sleep(self.modem.redial_delay_s)
        try:
            await self._dial()
        except ModemCallFailed:
            self._failed_calls += 1
            raise
        dropped = False
        try:
            yield self.master
        except ChannelClosed:
            dropped = True
            raise
        finally:
            protocol = self._protocol_in_call
            if dropped or (protocol is not None and protocol.carrier_lost.done()):
                self.metrics.modem_calls.labels("dropped").inc()
                self._failed_calls += 1
            else:
                self._failed_calls = 0
            await self._hang_up()

    async def _command(self, protocol: ModemProtocol, command: str, limit_s: float) -> str:
        """Send an AT command; return its final result code (echo and information lines are skipped)."""
        protocol.write(command.encode("ascii") + b"\r")
        async with asyncio.timeout(limit_s):
            while True:
                line = await protocol.lines.get()
                code = result_code(line)
                if code is not None:
                    self.log.debug("%s → %s", command, line)
                    return code

    async def _dial(self) -> None:
        try:
            _, created = await open_serial(
                self.modem.port, self.config, lambda: ModemProtocol(self.master), baud=self.modem.port_baud, dte=True
            )
        except OSError as exc:
            self.metrics.channel_opens.labels(self.kind, "failed").inc()
            raise ModemCallFailed(f"{self.name}: cannot open {self.modem.port}: {exc}", "error") from exc
        assert isinstance(created, ModemProtocol)
        protocol = created
        self._protocol_in_call = protocol
        self.metrics.channel_opens.labels(self.kind, "ok").inc()
        try:
            for command in self.modem.init:
                code = await self._command(protocol, command, self.modem.command_timeout_s)
                if code != "OK":
                    raise ModemCallFailed(f"{self.name}: {command} answered {code}", FINAL_RESULTS[code])
            self.log.info("dialing %s", self.modem.number)
            code = await self._command(protocol, f"ATD{self.modem.number}", self.modem.dial_timeout_s)
        except TimeoutError as exc:
            self.metrics.modem_calls.labels("timeout").inc()
            await self._close_port()
            raise ModemCallFailed(f"{self.name}: no answer from the modem", "timeout") from exc
        except ModemCallFailed as exc:
            self.metrics.modem_calls.labels(exc.result).inc()
            await self._close_port()
            raise
        result = FINAL_RESULTS[code]
        self.metrics.modem_calls.labels(result).inc()
        if code != "CONNECT":
            await self._close_port()
            raise ModemCallFailed(f"{self.name}: call to {self.modem.number} failed: {code}", result)
        protocol.enter_data_mode()
        self.calls += 1
        self._counted_up = True
        self.metrics.channels_up.labels(self.kind).inc()
        self.master.attach(protocol.write)
        self.log.info("connected to %s", self.modem.number)

    async def _hang_up(self) -> None:
        protocol = self._protocol_in_call
        if protocol is None:
            return
        if self.master.is_attached:
            self.master.detach("call ended")
        if self._counted_up:
            self._counted_up = False
            self.metrics.channels_up.labels(self.kind).dec()
        if protocol.data_mode and not protocol.lost.done():
            protocol.leave_data_mode()
            try:
                await asyncio.sleep(self.modem.guard_s)
                protocol.write(b"+++")  # no CR: the escape sequence is the three characters between two silences
                await asyncio.sleep(self.modem.guard_s)
                async with asyncio.timeout(self.modem.command_timeout_s):
                    while result_code(await protocol.lines.get()) != "OK":
                        pass
                await self._command(protocol, "ATH", self.modem.command_timeout_s)
            except TimeoutError:
                self.log.warning("modem did not confirm the hang-up; closing the port (DTR drop)")
        self.log.info("call ended")
        await self._close_port()

    async def _close_port(self) -> None:
        protocol, self._protocol_in_call = self._protocol_in_call, None
        if protocol is not None:
            protocol.close()
            try:
                async with asyncio.timeout(self.modem.command_timeout_s):
                    await protocol.lost
            except TimeoutError:
                self.log.warning("modem port did not close in time")
