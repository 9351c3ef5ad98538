"""Interoperability with an independent DL/T 645 implementation: the ``dlt645`` package from PyPI (Apache-2.0, its
own client and meter, over TCP and serial; a test dependency only).

* The head-end's channels and bus master read a ``dlt645`` meter: over TCP, and over a serial line (two ptys joined
  by an in-process null modem).
* The ``dlt645`` client reads our simulated meters (concentrator_sim.meters): through the simulator's serial server
  on loopback TCP, and on the simulator's pty.

What it showed (kept as the tests' expectations): ``dlt645`` 3.2.0 puts the address on the wire in the order it is
written (``set_address("000000000161")`` → ``00 00 00 00 01 61``), where DL/T 645-2007 §4.2.3 sends the low byte
first (``61 01 00 00 00 00``). So its meter, configured as ``000000000161``, answers to what the standard calls
``610100000000``. The head-end finds that address with 读通信地址 (13H), as a field engineer would, and reads with
it. For its client to reach our meter ``000000000161``, it is given ``"610100000000"``. Values agree exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from dlt645.aio import AsyncMeterClientService, AsyncMeterServerService

from concentrator_sim.meters.bus import BusMeter, PtyPort, Rs485Bus, utc_now
from concentrator_sim.meters.model import Dlt645Meter, MeterConfig
from concentrator_sim.meters.tcp_server import SerialServer
from headend.channels.serial_bus import BusChannel
from headend.channels.serial_port import SerialChannel
from headend.channels.tcp_client import TcpClientChannel
from headend.config import SerialChannelConfig, TcpChannelConfig
from protocols.dlt645.control import Edition
from tests.headend.direct.helpers import running

ADDRESS = "000000000161"
#: how our side writes the address the ``dlt645`` package puts on the wire for ADDRESS (see the module docstring)
AS_THEY_SEND_IT = "610100000000"
DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def their_meter(service: AsyncMeterServerService) -> AsyncMeterServerService:
    service.set_address(ADDRESS)
    service.set_00(0x00010000, 1234.56)  # 正向有功总电能
    service.set_02(0x02010100, 220.1)  # A相电压
    return service


async def read_their_meter(channel: BusChannel) -> None:
    async with running(channel):
        found = await channel.master.read_address()
        assert [frame.address for frame in found.frames] == [AS_THEY_SEND_IT]
        energy = await channel.master.read(AS_THEY_SEND_IT, 0x00010000, edition=Edition.V2007)
        voltage = await channel.master.read(AS_THEY_SEND_IT, 0x02010100, edition=Edition.V2007)
    assert energy.values[0].value == Decimal("1234.56")
    assert voltage.values[0].value == Decimal("220.1")


async def test_head_end_reads_an_independent_meter_over_tcp() -> None:
    port = free_port()
    server = their_meter(AsyncMeterServerService.new_tcp_server("127.0.0.1", port, 3000))
    await server.start()
    try:
        config = TcpChannelConfig(host="127.0.0.1", port=port, reply_delay_s=1.0, retries=1)
        await read_their_meter(TcpClientChannel(config))
    finally:
        await server.stop()


@asynccontextmanager
async def null_modem(directory: Path) -> AsyncIterator[tuple[str, str]]:
    """Two ptys whose masters are joined: what one side writes, the other reads (a null-modem cable)."""
    loop = asyncio.get_running_loop()
    ends = [os.openpty() for _ in range(2)]
    masters = [master for master, _ in ends]
    for master in masters:
        os.set_blocking(master, False)

    def forward(source: int, target: int) -> None:
        with contextlib.suppress(OSError):
            os.write(target, os.read(source, 4096))

    loop.add_reader(masters[0], forward, masters[0], masters[1])
    loop.add_reader(masters[1], forward, masters[1], masters[0])
    try:
        yield os.ttyname(ends[0][1]), os.ttyname(ends[1][1])
    finally:
        for master, slave in ends:
            loop.remove_reader(master)
            os.close(master)
            os.close(slave)


async def test_head_end_reads_an_independent_meter_over_serial(tmp_path: Path) -> None:
    async with null_modem(tmp_path) as (theirs, ours):
        server = their_meter(AsyncMeterServerService.new_rtu_server(theirs, baud_rate=9600, parity="N"))
        await server.start()
        try:
            config = SerialChannelConfig(port=ours, baud=9600, parity="N", reply_delay_s=1.0, retries=1)
            await read_their_meter(SerialChannel(config))
        finally:
            await server.stop()


def simulated_bus() -> Rs485Bus:
    return Rs485Bus([BusMeter(Dlt645Meter(MeterConfig(address=ADDRESS)))], baud=2400)


async def their_client_reads(client: AsyncMeterClientService, bus: Rs485Bus) -> None:
    meter = bus.meter(ADDRESS).meter
    await client.connect()
    try:
        client.set_address(AS_THEY_SEND_IT)
        [low] = meter.read(0x00010000, utc_now()) or [None]
        item = await client.read_00(0x00010000)
        [high] = meter.read(0x00010000, utc_now()) or [None]
    finally:
        await client.disconnect()
    assert item is not None and low is not None and high is not None
    # their client decodes to a float: two decimals, within the register before and after the read
    got = Decimal(str(item.value)).quantize(Decimal("0.01"))
    assert low <= got <= high


async def test_independent_client_reads_our_simulated_meter_over_tcp() -> None:
    bus = simulated_bus()
    server = await SerialServer(bus).start()
    try:
        await their_client_reads(AsyncMeterClientService.new_tcp_client("127.0.0.1", server.port, 5.0), bus)
    finally:
        await server.close()
        bus.close()


async def test_independent_client_reads_our_simulated_meter_over_serial(tmp_path: Path) -> None:
    bus = simulated_bus()
    port = await PtyPort(bus).open()
    try:
        client = AsyncMeterClientService.new_rtu_client(port.path, baudrate=2400, parity="N", timeout=3.0)
        await their_client_reads(client, bus)
    finally:
        port.close()
        bus.close()
