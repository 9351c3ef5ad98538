"""A Hayes-compatible AT modem on a pseudo-terminal that dials buses of simulated meters.

The head-end opens the modem's pty as its serial port, sends AT commands, dials a number with ``ATD``; a number
that answers bridges the call to an :class:`~concentrator_sim.meters.bus.Rs485Bus` (a remote meter bus behind
a modem: PSTN/GSM data call). The dialect, as implemented:

Command mode
    A command line starts with ``AT`` (any case) and ends with CR (S3); BS (S5) deletes; ``A/`` repeats the last
    line. Characters are echoed while E1. Several commands may follow one ``AT`` (``AT&FE0V1X4&C1&D2``).
    Replies are ``<CR><LF>text<CR><LF>`` (V1, verbose) or ``code<CR>`` (V0, numeric: 0 OK, 1 CONNECT, 2 RING,
    3 NO CARRIER, 4 ERROR, 6 NO DIALTONE, 7 BUSY, 8 NO ANSWER); Q1 suppresses them.

    ====================  ==========================================================================
    ``Z`` ``&F``          reset to defaults (E1 V1 Q0, S12=50) → OK
    ``E0/1`` ``V0/1``     echo, verbose replies
    ``Q0/1``              replies on / off
    ``X``n ``L``n ``M``n  result-code set, speaker volume and mode: accepted, no effect
    ``&C``n ``&D``n       DCD / DTR behaviour: accepted (closing the port always hangs up, as &D2)
    ``&K``n ``&W``n       flow control, store profile: accepted
    ``S``n``=``v          set register (S0..S99); ``S``n``?`` shows it. S12 = escape guard time in 1/50 s
    ``I``n                identification text, then OK
    ``D``number           dial (``T``/``P`` prefix and ``,W@!`` dial modifiers ignored); the rest of the line
                          is the number
    ``O``                 back to data mode when a call is up (CONNECT), else NO CARRIER
    ``H`` / ``H0``        hang up → OK
    ``A``                 answer: there is never an incoming call → NO CARRIER
    ``+``…                extended commands (``+CBST=7,0,1``, ``+CSQ`` …): accepted up to ``;`` or the end
    anything else         ERROR (and the rest of the line is skipped)
    ====================  ==========================================================================

Dialling
    ``ATD<number>`` waits the number's ``connect_delay_s`` (ringing, handshake), then answers what the number is
    configured to: ``CONNECT <baud>`` and data mode, or ``BUSY``, ``NO ANSWER``, ``NO CARRIER``, ``NO DIALTONE``.
    Unknown numbers give ``NO ANSWER``. A byte received while dialling aborts the call with ``NO CARRIER``.

Data mode
    Bytes pass both ways unchanged to and from the bus at the bus's timing. ``+++`` escapes to command mode while
    the call stays up (``OK``) when it is preceded and followed by the guard time (S12, default 1 s) of silence
    and its three ``+`` come within the guard time of each other; the ``+`` are held back until that is decided
    and passed on as data if it is not an escape. ``ATO`` resumes data mode; ``ATH`` hangs up. Closing the port
    (DTR drop) hangs up too.

Carrier loss (fault)
    :meth:`AtModem.drop_carrier`, or a number's ``drop_after_bytes`` (the call drops once that many bytes have
    reached the head-end — mid-reply when it falls inside one), ends the call: ``NO CARRIER`` and command mode.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from concentrator_sim.meters.bus import Rs485Bus
from concentrator_sim.meters.pty import LineSettings, OnPty, PseudoTerminal

logger = logging.getLogger(__name__)

#: Escape guard time (S12, in 1/50 s): 50 = 1 s, the Hayes default.
DEFAULT_GUARD = 50
_CR, _LF, _BS = 13, 10, 8
_ESCAPE = 43  #: S2, the escape character ('+')


class Result(enum.StrEnum):
    """Result codes (verbose text); :data:`NUMERIC` gives the V0 digits."""

    OK = "OK"
    CONNECT = "CONNECT"
    RING = "RING"
    NO_CARRIER = "NO CARRIER"
    ERROR = "ERROR"
    NO_DIALTONE = "NO DIALTONE"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"


NUMERIC = {
    Result.OK: 0,
    Result.CONNECT: 1,
    Result.RING: 2,
    Result.NO_CARRIER: 3,
    Result.ERROR: 4,
    Result.NO_DIALTONE: 6,
    Result.BUSY: 7,
    Result.NO_ANSWER: 8,
}


@dataclass(frozen=True, slots=True)
class DialTarget:
    """What happens when a number is dialled."""

    answer: Result = Result.CONNECT  #: CONNECT, BUSY, NO ANSWER, NO CARRIER or NO DIALTONE
    bus: Rs485Bus | None = None  #: the meters reached (needed for CONNECT)
    connect_delay_s: float = 2.0  #: from ATD to the result (ringing, training)
    connect_baud: int | None = None  #: shown in CONNECT <baud>; the bus's baud if None
    drop_after_bytes: int | None = None  #: carrier loss after this many bytes to the head-end in the call

    def __post_init__(self) -> None:
        if self.answer in (Result.OK, Result.ERROR, Result.RING):
            raise ValueError(f"a dialled number cannot answer {self.answer}")
        if self.answer is Result.CONNECT and self.bus is None:
            raise ValueError("a number that answers CONNECT needs a bus")


class State(enum.StrEnum):
    COMMAND = "command"  #: no call, AT commands
    DIALING = "dialing"  #: ATD sent, waiting for the result
    DATA = "data"  #: call up, bytes pass to the bus
    ONLINE_COMMAND = "online_command"  #: call up, escaped with +++ (ATO returns, ATH hangs up)


_DEFAULTS = {"echo": True, "verbose": True, "quiet": False}
_COMMAND = re.compile(r"(&?[A-Z])(\d*)")


class AtModem(OnPty):
    """The modem. :attr:`path` / :attr:`link` is its serial port once :meth:`open` returns."""

    def __init__(
        self,
        numbers: Mapping[str, DialTarget],
        *,
        name: str = "modem",
        link: Path | None = None,
        baud: int = 9600,
    ) -> None:
        self.name = name
        self.numbers = dict(numbers)
        self.paced = True
        self.state = State.COMMAND
        self.calls = 0  #: calls that connected
        self.dialled: list[str] = []  #: numbers dialled, in order
        self.pty = PseudoTerminal(self._on_data, baud=baud, link=link, on_hangup=self._on_dtr_drop)
        self._line = bytearray()
        self._last_line = b""
        self._registers: dict[int, int] = {}
        self.echo = self.verbose = True
        self.quiet = False
        self._reset()
        self._target: DialTarget | None = None
        self._dial: asyncio.TimerHandle | None = None
        self._sent = 0  #: bytes delivered to the head-end in this call
        self._pluses = 0
        self._last_rx = 0.0  #: loop time of the last byte from the head-end in data mode
        self._escape: asyncio.TimerHandle | None = None

    @property
    def guard_s(self) -> float:
        """Escape guard time, from S12 (1/50 s)."""
        return self._registers[12] / 50

    async def open(self) -> AtModem:
        await self.pty.open()
        logger.info("modem %s: pty %s%s", self.name, self.path, f" ({self.link})" if self.link else "")
        return self

    def close(self) -> None:
        self._hang_up()
        self.pty.close()

    # -- BusPort: the call's end on the remote bus ----------------------------------------------------------------

    def line(self) -> LineSettings | None:
        return None

    def deliver(self, data: bytes) -> None:
        """Bytes from the remote bus: to the head-end while in data mode (lost while escaped)."""
        if self.state is not State.DATA or self._target is None:
            return
        limit = self._target.drop_after_bytes
        if limit is not None and self._sent + len(data) >= limit:
            self.pty.write(data[: limit - self._sent])
            self._sent = limit
            self.drop_carrier()
            return
        self._sent += len(data)
        self.pty.write(data)

    # -- faults ---------------------------------------------------------------------------------------------------

    def drop_carrier(self) -> None:
        """The line drops: the call ends, ``NO CARRIER``."""
        if self.state in (State.DATA, State.ONLINE_COMMAND, State.DIALING):
            logger.info("modem %s: carrier lost", self.name)
            self._hang_up()
            self._result(Result.NO_CARRIER)

    # -- bytes from the head-end -------------------------------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        if self.state is State.DATA:
            self._data(data)
            return
        if self.state is State.DIALING:
            self.drop_carrier()  # any key aborts the dial
            return
        for byte in data:
            self._command_byte(byte)

    def _on_dtr_drop(self) -> None:
        if self.state is not State.COMMAND:
            logger.info("modem %s: port closed, hanging up", self.name)
        self._hang_up()
        self._reset()

    def _data(self, data: bytes) -> None:
        """Data mode: watch for the guarded ``+++`` escape, pass everything else to the bus."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        guard = self.guard_s
        escape = bytes((self._registers[2],))
        if self._escape is not None:  # a byte within the guard time after +++: it was data after all
            self._escape.cancel()
            self._escape = None
        out = bytearray()
        if self._pluses and now - self._last_rx > guard:  # '+' too far apart: they were data
            out += escape * self._pluses
            self._pluses = 0
        quiet = now - self._last_rx >= guard  # the guard time of silence before the first '+'
        for byte in data:
            if byte == escape[0] and self._pluses < 3 and (self._pluses or quiet):
                self._pluses += 1
                continue
            out += escape * self._pluses + bytes((byte,))
            self._pluses = 0
            quiet = False
        self._last_rx = now
        if out:
            self._send(bytes(out))
        if self._pluses == 3:
            self._escape = loop.call_later(guard, self._escaped)

    def _send(self, data: bytes) -> None:
        assert self._target is not None and self._target.bus is not None
        self._target.bus.receive(self, data)

    def _escaped(self) -> None:
        self._escape = None
        self._pluses = 0
        self.state = State.ONLINE_COMMAND
        self._result(Result.OK)

    def _command_byte(self, byte: int) -> None:
        if self.echo:
            self.pty.write(bytes((byte,)))
        if byte == self._registers[5]:
            del self._line[-1:]
            return
        if byte == self._registers[3]:
            line, self._line = bytes(self._line), bytearray()
            self._command_line(line)
            return
        if byte == _LF and not self._line:
            return
        self._line.append(byte)
        if self._line.upper() == b"A/":
            self._line = bytearray()
            self._command_line(self._last_line)

    def _command_line(self, raw: bytes) -> None:
        text = raw.decode("ascii", "replace").strip().upper()
        if not text.startswith("AT"):
            return  # not a command: modems ignore it
        self._last_line = raw
        result = self._execute(text[2:].replace(" ", ""))
        if result is not None:
            self._result(result)

    def _execute(self, commands: str) -> Result | None:
        """Run the commands after ``AT``; the result to print, or None when a command prints its own."""
        at = 0
        while at < len(commands):
            head = commands[at]
            if head == "D":
                return self._dial_number(commands[at + 1 :])
            if head == "+":
                end = commands.find(";", at)
                at = len(commands) if end < 0 else end + 1
                continue
            if head == "S":
                match = re.match(r"S(\d+)(=(\d*)|\?)", commands[at:])
                if match is None or int(match[1]) > 99:
                    return Result.ERROR
                if match[2] == "?":
                    self._text(f"{self._registers.get(int(match[1]), 0):03d}")
                else:
                    self._registers[int(match[1])] = min(int(match[3] or 0), 255)
                at += match.end()
                continue
            match = _COMMAND.match(commands, at)
            if match is None:
                return Result.ERROR
            at = match.end()
            outcome = self._basic(match[1], int(match[2] or 0))
            if outcome is not Result.OK:
                return outcome
        return Result.OK

    def _basic(self, command: str, n: int) -> Result | None:
        """One basic command; ``OK`` to go on with the line."""
        if command in ("Z", "&F"):
            self._reset()
        elif command == "E":
            self.echo = bool(n)
        elif command == "V":
            self.verbose = bool(n)
        elif command == "Q":
            self.quiet = bool(n)
        elif command == "I":
            self._text(f"headend concentrator_sim AT modem {self.name}")
        elif command == "H":
            self._hang_up()
        elif command == "O":
            if self.state is not State.ONLINE_COMMAND or self._target is None:
                return Result.NO_CARRIER
            self.state = State.DATA
            self._last_rx = asyncio.get_running_loop().time()
            self._connect_message()
            return None
        elif command == "A":
            return Result.NO_CARRIER
        elif command not in ("X", "L", "M", "&C", "&D", "&K", "&W", "&V", "B", "N", "W", "&S"):
            return Result.ERROR
        return Result.OK

    def _reset(self) -> None:
        self.echo, self.verbose, self.quiet = _DEFAULTS["echo"], _DEFAULTS["verbose"], _DEFAULTS["quiet"]
        self._registers = {0: 0, 2: _ESCAPE, 3: _CR, 4: _LF, 5: _BS, 12: DEFAULT_GUARD}

    # -- calls ----------------------------------------------------------------------------------------------------

    def _dial_number(self, rest: str) -> Result | None:
        if self.state is not State.COMMAND:
            return Result.ERROR
        number = re.sub(r"[^0-9*#+]", "", rest[1:] if rest[:1] in ("T", "P") else rest)
        if not number:
            return Result.ERROR
        self.dialled.append(number)
        target = self.numbers.get(number, DialTarget(Result.NO_ANSWER, connect_delay_s=2.0))
        self.state = State.DIALING
        loop = asyncio.get_running_loop()
        self._dial = loop.call_later(target.connect_delay_s, self._dial_result, target)
        logger.info("modem %s: dialling %s", self.name, number)
        return None

    def _dial_result(self, target: DialTarget) -> None:
        self._dial = None
        if target.answer is not Result.CONNECT:
            self.state = State.COMMAND
            self._result(target.answer)
            return
        assert target.bus is not None
        self._target = target
        self._sent = 0
        self.calls += 1
        self.state = State.DATA
        self._last_rx = asyncio.get_running_loop().time()
        target.bus.attach(self)
        self._connect_message()

    def _connect_message(self) -> None:
        assert self._target is not None and self._target.bus is not None
        baud = self._target.connect_baud or self._target.bus.baud
        self._result(Result.CONNECT, f"CONNECT {baud}")

    def _hang_up(self) -> None:
        if self._dial is not None:
            self._dial.cancel()
            self._dial = None
        if self._escape is not None:
            self._escape.cancel()
            self._escape = None
        if self._target is not None and self._target.bus is not None:
            self._target.bus.detach(self)
        self._target = None
        self._pluses = 0
        self.state = State.COMMAND

    # -- output ---------------------------------------------------------------------------------------------------

    def _result(self, result: Result, text: str | None = None) -> None:
        if self.quiet:
            return
        if self.verbose:
            self.pty.write(f"\r\n{text or result.value}\r\n".encode())
        else:
            self.pty.write(f"{NUMERIC[result]}\r".encode())

    def _text(self, text: str) -> None:
        """An information reply (ATI, ATSn?), framed like a result."""
        if self.verbose:
            self.pty.write(f"\r\n{text}\r\n".encode())
        else:
            self.pty.write(f"{text}\r\n".encode())
