"""Real pymodbus servers for the Modbus tests: a TCP server on 127.0.0.1 (port 0, or a given port to come back on)
and an RTU server on a pseudo-terminal, both serving register blocks the test writes.

The RTU pair: the server opens the slave side of one pty, the head-end the slave side of another, and a copier
moves bytes between the two master sides (a null-modem cable, without socat).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

Blocks = Mapping[int, Sequence[int]]


def sim_device(unit: int, holding: Blocks | None = None, inputs: Blocks | None = None) -> SimDevice:
    """A device answering ``unit`` with holding and input registers at the given addresses (anything else is an
    illegal data address, exception 02)."""

    def block(registers: Blocks | None) -> list[SimData]:
        return [
            SimData(address=address, values=list(values), datatype=DataType.REGISTERS)
            for address, values in sorted((registers or {}).items())
        ] or [SimData(address=60000, values=[0], datatype=DataType.REGISTERS)]

    bits = [SimData(address=0, values=[False], datatype=DataType.BITS)]
    return SimDevice(id=unit, simdata=(bits, list(bits), block(holding), block(inputs)))


class Silencer:
    """Drops the responses of the units in ``silent`` (a dead device behind a gateway or on a bus: the request
    is read, nothing comes back). ``unit_at`` is the unit byte's offset: 6 in a Modbus TCP ADU (after the MBAP
    header's transaction id, protocol id and length), 0 in an RTU frame."""

    def __init__(self, unit_at: int) -> None:
        self.unit_at = unit_at
        self.silent: set[int] = set()
        #: responses still to drop, whatever the unit (a reply lost on the line)
        self.drop_next = 0
        self.answered = 0
        self.received = 0  #: chunks of request bytes received

    def __call__(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self.received += 1
            return data
        if len(data) > self.unit_at and data[self.unit_at] in self.silent:
            return b""
        if self.drop_next:
            self.drop_next -= 1
            return b""
        self.answered += 1
        return data


@dataclass
class TcpServer:
    server: ModbusTcpServer
    port: int
    silencer: Silencer

    async def stop(self) -> None:
        await self.server.shutdown()


async def start_tcp_server(devices: Sequence[SimDevice], port: int = 0) -> TcpServer:
    """Serve ``devices`` on 127.0.0.1 (``port`` 0: a free one)."""
    silencer = Silencer(6)
    server = ModbusTcpServer(list(devices), address=("127.0.0.1", port), trace_packet=silencer)
    await server.serve_forever(background=True)
    sockets = server.transport.sockets  # type: ignore[union-attr]
    return TcpServer(server, sockets[0].getsockname()[1], silencer)


@asynccontextmanager
async def tcp_server(devices: Sequence[SimDevice], port: int = 0) -> AsyncIterator[TcpServer]:
    running = await start_tcp_server(devices, port)
    try:
        yield running
    finally:
        await running.stop()


def _raw_pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


@asynccontextmanager
async def rtu_server(
    devices: Sequence[SimDevice], *, baud: int = 19200, silencer: Silencer | None = None
) -> AsyncIterator[str]:
    """Serve ``devices`` with RTU framing on a pty; yield the serial port path the head-end opens."""
    server_master, server_slave, server_path = _raw_pty()
    client_master, client_slave, client_path = _raw_pty()
    loop = asyncio.get_running_loop()

    def copier(source: int, target: int) -> None:
        with contextlib.suppress(OSError):
            os.write(target, os.read(source, 4096))

    os.set_blocking(server_master, False)
    os.set_blocking(client_master, False)
    loop.add_reader(server_master, copier, server_master, client_master)
    loop.add_reader(client_master, copier, client_master, server_master)
    server = ModbusSerialServer(
        list(devices), port=server_path, baudrate=baud, parity="N", trace_packet=silencer or Silencer(0)
    )
    await server.serve_forever(background=True)
    try:
        yield client_path
    finally:
        await server.shutdown()
        for fd in (server_master, client_master):
            loop.remove_reader(fd)
        for fd in (server_master, server_slave, client_master, client_slave):
            os.close(fd)
