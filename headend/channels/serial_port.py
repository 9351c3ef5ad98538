"""A local serial port (RS-485 adapter) as a DL/T 645 bus, through pyserial-asyncio.

Line settings default to the standard's 2400 baud 8E1 (DL/T 645-2007 §4.1; PROTOCOLS.md B.1) and are all
configurable. The port is reopened with backoff when it disappears (:class:`~headend.channels.serial_bus.BusChannel`).

Pseudo-terminals: some Linux kernels refuse parity on a pty (``tcsetattr`` → EINVAL once parity is set), and a pty
carries bytes, not bits, anyway. When the port is a pty and the configured parity is refused, it is opened 8N1 with
a warning; the bus timing still follows the configured line settings (the simulator emulates an 8E1 line).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import termios
from collections.abc import Callable
from typing import Any

import serial
import serial_asyncio

from headend.channels.serial_bus import BusChannel, BusProtocol
from headend.config import BusConfig, SerialChannelConfig
from headend.metrics import Metrics

_LOGGER = logging.getLogger(__name__)

#: Linux major device numbers of Unix98 pty slaves (/dev/pts/N): 136..143 (Documentation/admin-guide/devices.txt)
_PTY_MAJORS = range(136, 144)


def is_pty(path: str) -> bool:
    """Whether ``path`` (a symlink is followed) is a pseudo-terminal slave."""
    try:
        return os.major(os.stat(path).st_rdev) in _PTY_MAJORS
    except OSError:
        return False


def _serial_port(path: str, line: tuple[int, str, int], parity: str, baud: int) -> Any:
    bytesize, _, stopbits = line
    port = serial.serial_for_url(
        path, do_not_open=True, baudrate=baud, bytesize=bytesize, parity=parity, stopbits=stopbits
    )
    port.timeout = 0  # non-blocking, as the asyncio transport wants; set before open: one tcsetattr
    port.write_timeout = 0
    port.open()
    return port


async def open_serial(
    path: str,
    config: BusConfig,
    factory: Callable[[], asyncio.Protocol],
    *,
    baud: int | None = None,
    dte: bool = False,
) -> tuple[asyncio.Transport, asyncio.Protocol]:
    """Open ``path`` with the line settings of ``config`` and connect ``factory``'s protocol to it. ``dte``: the
    port of a local modem, opened 8N1 at ``baud`` whatever the far bus uses. Raises OSError
    (``serial.SerialException`` is one) on failure."""
    loop = asyncio.get_running_loop()
    speed = baud or config.baud
    line = (8, "N", 1) if dte else (config.bytesize, config.parity, config.stopbits)
    parity = line[1]
    try:
        port = _serial_port(path, line, parity, speed)
        return await _connect(loop, factory, port)  # type: ignore[no-any-return]
    except (termios.error, serial.SerialException) as exc:
        code = exc.args[0] if exc.args else None
        if parity == "N" or code != errno.EINVAL or not is_pty(path):
            if isinstance(exc, termios.error):
                raise OSError(code, f"{path}: {exc}") from exc
            raise
        _LOGGER.warning(
            "%s is a pty that refuses parity %s; opened 8N1 (bus timing stays %d%s%d)",
            path,
            config.parity,
            config.bytesize,
            config.parity,
            config.stopbits,
        )
    port = _serial_port(path, line, "N", speed)
    return await _connect(loop, factory, port)  # type: ignore[no-any-return]


async def _connect(loop: asyncio.AbstractEventLoop, factory: Callable[[], asyncio.Protocol], port: Any) -> Any:
    try:
        connection = await serial_asyncio.connection_for_serial(loop, factory, port)
    except BaseException:
        port.close()
        raise
    await asyncio.sleep(0)  # the transport calls connection_made with call_soon: let it run before the first write
    return connection


class SerialChannel(BusChannel):
    """``[[direct.serial]]``: a bus master on a local serial port."""

    kind = "serial"

    def __init__(self, config: SerialChannelConfig, *, metrics: Metrics | None = None, **kwargs: Any) -> None:
        super().__init__(
            config,
            name=config.name or os.path.basename(config.port),
            metrics=metrics,
            reconnect_base_s=config.reconnect_base_s,
            reconnect_cap_s=config.reconnect_cap_s,
            **kwargs,
        )
        self.port = config.port

    async def _open(self) -> BusProtocol:
        _, protocol = await open_serial(self.port, self.config, self._protocol_factory)
        assert isinstance(protocol, BusProtocol)
        return protocol
