"""The head-end's end of a line, for the simulator tests: a pty slave opened like a serial port (``os.open`` +
termios, raw, the baud rate given, 8E1 asked for) or a TCP connection. It uses only protocols/ and the OS.

Everything received is kept twice: as text (:meth:`Line.read_until`, for modem replies) and through a
:class:`~protocols.dlt645.framer.Dlt645Framer` (:meth:`Line.next_frame`). Waits are bounded by :data:`WAIT_S`:
a test that fails, fails at that bound instead of hanging.
"""

from __future__ import annotations

import asyncio
import os
import termios
import tty
from collections.abc import Callable

from protocols.common.framing import Discarded
from protocols.dlt645.framer import Dlt645Framer
from protocols.dlt645.link import Dlt645Frame

#: Generous bound for "the simulator answers".
WAIT_S = 5.0
#: 8E1: start + 8 data + even parity + stop (DL/T 645-2007 §4.1).
BITS_PER_BYTE = 11


def wire_time(nbytes: int, baud: int) -> float:
    """Seconds ``nbytes`` take on a ``baud`` 8E1 line: the physics a reply time cannot beat."""
    return nbytes * BITS_PER_BYTE / baud


class Line:
    """Bytes to and from the simulator; subclasses attach the transport."""

    def __init__(self) -> None:
        self.text = bytearray()  #: received, not yet consumed by read_until
        self.frames: list[Dlt645Frame] = []  #: received frames, not yet consumed by next_frame
        self.discarded: list[Discarded] = []
        self.eof = False
        self._framer = Dlt645Framer()
        self._changed = asyncio.Event()

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _received(self, data: bytes) -> None:
        self.text += data
        for event in self._framer.feed(data):
            (self.discarded if isinstance(event, Discarded) else self.frames).append(event)  # type: ignore[arg-type]
        self._changed.set()

    def _ended(self) -> None:
        self.eof = True
        self._changed.set()

    async def wait(self, condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
        """Until ``condition()`` holds (checked whenever bytes arrive), at most ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def next_frame(self, timeout: float = WAIT_S) -> Dlt645Frame:
        await self.wait(lambda: bool(self.frames), timeout)
        return self.frames.pop(0)

    async def request(self, raw: bytes, timeout: float = WAIT_S) -> tuple[Dlt645Frame, float]:
        """Send a request, return the next frame and the seconds from the write to its last byte."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.write(raw)
        frame = await self.next_frame(timeout)
        return frame, loop.time() - started

    async def read_until(self, marker: bytes, timeout: float = WAIT_S) -> bytes:
        """Text up to and including ``marker`` (consumed)."""
        await self.wait(lambda: marker in self.text, timeout)
        end = self.text.index(marker) + len(marker)
        out = bytes(self.text[:end])
        del self.text[:end]
        return out

    async def command(self, line: str, reply: bytes = b"OK\r\n", timeout: float = WAIT_S) -> bytes:
        """An AT command line; the text up to ``reply``."""
        self.write(line.encode() + b"\r")
        return await self.read_until(reply, timeout)

    def flush(self) -> None:
        self.text.clear()
        self.frames.clear()


class PtyLine(Line):
    """A pty slave opened as a serial port at ``baud`` (raw, 8E1 asked for)."""

    def __init__(self, path: str, baud: int = 2400) -> None:
        super().__init__()
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        self.set_baud(baud)
        asyncio.get_running_loop().add_reader(self.fd, self._readable)

    def set_baud(self, baud: int) -> None:
        """``baud`` 8E1. A pty cannot do parity, and refuses a change that is only PARENB (EINVAL): then the
        speed alone is set, as robust serial code does."""
        attrs = termios.tcgetattr(self.fd)
        attrs[4] = attrs[5] = getattr(termios, f"B{baud}")
        even = list(attrs)
        even[2] |= termios.PARENB | termios.CS8
        try:
            termios.tcsetattr(self.fd, termios.TCSANOW, even)
        except termios.error:
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty went away
            data = b""
        if data:
            self._received(data)
        else:
            asyncio.get_running_loop().remove_reader(self.fd)
            self._ended()

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        if self.fd >= 0:
            if not self.eof:
                asyncio.get_running_loop().remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1


class TcpLine(Line):
    """A TCP connection to a serial server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__()
        self._writer = writer
        self._task = asyncio.create_task(self._pump(reader))

    @classmethod
    async def connect(cls, host: str, port: int) -> TcpLine:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(4096):
            self._received(data)
        self._ended()

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def close(self) -> None:
        self._task.cancel()
        self._writer.close()


async def until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    """Poll ``condition`` until it holds, at most ``timeout`` seconds (for state that no bytes announce)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
