"""A pseudo-terminal standing in for a serial port (used by the bus and the modem).

``os.openpty()``; the slave is put in raw mode at the configured baud and closed again — the head-end opens the
slave path (``/dev/pts/N``, or a stable symlink) like any serial port, with pyserial or ``os.open`` + termios.

* Line settings: what the head-end set on the slave is visible on the master fd (``termios.tcgetattr``), so
  :meth:`PseudoTerminal.line` tells its baud rate. Parity cannot be seen: Linux ptys force CS8 and clear PARENB
  whatever is set (``pty_set_termios`` in drivers/tty/pty.c), so a pty always reads back as 8N1. Worse, a
  ``tcsetattr`` whose *only* change is PARENB fails with EINVAL (nothing it asked for could be done; pyserial
  issue #196): a head-end reopening a pty with the same 8E1 settings it left would fail. So while nobody has the
  pty open it is put back to the settings it was made with (checked every :data:`HANGUP_POLL_S`), and the next
  open changes more than parity — unless it comes within that poll interval of the last close.
* Nobody listening: while no process has the slave open the master fd reports POLLHUP; bytes for the head-end
  are then dropped (a UART with no listener — a pty would otherwise queue them for the next opener), reading
  stops and the master is polled every :data:`HANGUP_POLL_S` for a new opener. ``on_hangup`` is called when the
  last opener closes (a modem takes that as DTR dropped).
* :meth:`vanish` closes the pty (a USB adapter unplugged: the head-end's reads fail with EIO, the path goes away)
  and :meth:`reappear` makes a new one, usually another ``/dev/pts/N``, behind the same symlink.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import termios
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: How often a pty nobody has open is checked for a new opener (bounds the extra latency of a first request).
HANGUP_POLL_S = 0.01

#: termios speed constants → baud.
_SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
    if hasattr(termios, f"B{rate}")
}
_BAUD_CONSTANTS = {rate: const for const, rate in _SPEEDS.items()}
#: Rates a pty can be configured to.
BAUD_RATES = frozenset(_BAUD_CONSTANTS)


@dataclass(frozen=True, slots=True)
class LineSettings:
    """How a serial line is set: baud rate and character format (8E1 for DL/T 645)."""

    baud: int
    bits: int = 8
    parity: str = "E"
    stop: int = 1

    def __str__(self) -> str:
        return f"{self.baud} {self.bits}{self.parity}{self.stop}"


class PseudoTerminal:
    """One pty: bytes the head-end writes go to ``on_data``; :meth:`write` sends bytes to the head-end."""

    def __init__(
        self,
        on_data: Callable[[bytes], None],
        *,
        baud: int = 2400,
        link: Path | None = None,
        on_hangup: Callable[[], None] | None = None,
    ) -> None:
        if baud not in BAUD_RATES:
            raise ValueError(f"baud {baud} is not a serial rate ({sorted(BAUD_RATES)})")
        self.baud = baud
        self.link = link
        self.path = ""
        self.dropped = 0  #: bytes for the head-end dropped (nobody had the port open, or its queue was full)
        self._on_data = on_data
        self._on_hangup = on_hangup
        self._master = -1
        self._initial: list[Any] = []
        self._poll: asyncio.TimerHandle | None = None
        self._reading = False

    @property
    def is_open(self) -> bool:
        return self._master >= 0

    async def open(self) -> PseudoTerminal:
        """Create the pty (and point the symlink at it) and start serving."""
        master, slave = os.openpty()
        try:
            _configure(slave, self.baud)
            self.path = os.ttyname(slave)
            self._initial = termios.tcgetattr(slave)
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        if self.link is not None:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.path)
            tmp.replace(self.link)  # atomic: the link never disappears while it is repointed
        self._watch()
        return self

    def close(self) -> None:
        """Remove the pty and, if it still points at it, the symlink."""
        path = self.path
        self.vanish()
        if self.link is not None and path:
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == path:
                    self.link.unlink()

    def vanish(self) -> None:
        """Close the pty: the head-end's reads fail, the slave path disappears, the symlink dangles."""
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        if self._master >= 0:
            if self._reading:
                asyncio.get_running_loop().remove_reader(self._master)
                self._reading = False
            os.close(self._master)
            self._master = -1

    async def reappear(self) -> None:
        """A new pty behind the same symlink (the adapter is back)."""
        self.vanish()
        await self.open()

    def line(self) -> LineSettings | None:
        """What the head-end set on its side (baud; always 8N1 on Linux, see the module docstring)."""
        if self._master < 0:
            return None
        attrs = termios.tcgetattr(self._master)
        cflag, speed = attrs[2], attrs[5]
        assert isinstance(cflag, int) and isinstance(speed, int)
        size = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}[cflag & termios.CSIZE]
        parity = "N" if not cflag & termios.PARENB else ("O" if cflag & termios.PARODD else "E")
        return LineSettings(_SPEEDS.get(speed, 0), size, parity, 2 if cflag & termios.CSTOPB else 1)

    @property
    def listening(self) -> bool:
        """Someone has the slave side open."""
        return self._master >= 0 and not _hung_up(self._master)

    def write(self, data: bytes) -> None:
        """Bytes for the head-end; dropped when nobody listens or its input queue is full (an overrun)."""
        if not self.listening:
            self.dropped += len(data)
            return
        try:
            written = os.write(self._master, data)
        except OSError:
            written = 0
        self.dropped += len(data) - written

    def _watch(self) -> None:
        """Read from the master while someone has the slave open; otherwise poll for an opener."""
        self._poll = None
        if self._master < 0:
            return
        if _hung_up(self._master):
            self._restore()
            self._poll = asyncio.get_running_loop().call_later(HANGUP_POLL_S, self._watch)
            return
        asyncio.get_running_loop().add_reader(self._master, self._readable)
        self._reading = True

    def _restore(self) -> None:
        """Back to the settings the pty was made with, once nobody has it open (see the module docstring)."""
        with contextlib.suppress(termios.error):  # on a pty master, termios calls act on the slave
            if termios.tcgetattr(self._master) != self._initial:
                termios.tcsetattr(self._master, termios.TCSANOW, self._initial)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: the last opener closed the slave
            data = b""
        if data:
            self._on_data(data)
            return
        asyncio.get_running_loop().remove_reader(self._master)
        self._reading = False
        if self._on_hangup is not None:
            self._on_hangup()
        self._watch()


def _hung_up(master: int) -> bool:
    """Nobody has the slave side open (the master fd reports POLLHUP)."""
    poller = select.poll()
    poller.register(master, select.POLLIN)
    return any(mask & select.POLLHUP for _, mask in poller.poll(0))


def _configure(fd: int, baud: int) -> None:
    """Raw mode at ``baud``, 8E1 asked for (the pty keeps the speed, see the module docstring)."""
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[2] = (attrs[2] & ~(termios.CSIZE | termios.PARODD | termios.CSTOPB)) | termios.CS8 | termios.PARENB
    attrs[2] |= termios.CREAD | termios.CLOCAL
    attrs[4] = attrs[5] = _BAUD_CONSTANTS[baud]
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class OnPty:
    """Something served on a :class:`PseudoTerminal` (:attr:`pty`): where the head-end opens it."""

    pty: PseudoTerminal

    @property
    def path(self) -> str:
        """The slave device, ``/dev/pts/N``."""
        return self.pty.path

    @property
    def link(self) -> Path | None:
        """The stable symlink to it, if one was asked for."""
        return self.pty.link
