"""Direct channels keep their link: a serial port that vanishes and returns is reopened, a serial device server
that drops the connection is reconnected — without restarting anything, with the request in flight failed."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path

import pytest

from headend.channels.serial_bus import BusChannel, backoff_delay
from headend.channels.serial_port import SerialChannel, is_pty
from headend.channels.tcp_client import TcpClientChannel
from headend.config import TcpChannelConfig
from headend.errors import ChannelClosed
from headend.metrics import Metrics
from protocols.dlt645.control import Edition
from tests.headend.direct.helpers import (
    DEADLINE_S,
    ScriptedBus,
    ScriptedMeter,
    channel_config,
    eventually,
    serial_channel,
)
from tests.headend.direct.scripted_bus import ScriptedServer

ENERGY = 0x00010000
ADDRESS = "000000000161"


def energy_meter(value: str = "42.00", **kwargs: object) -> ScriptedMeter:
    return ScriptedMeter(ADDRESS, {ENERGY: [Decimal(value)]}, **kwargs)  # type: ignore[arg-type]


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def read_once_up(channel: BusChannel, value: str) -> None:
    """Wait for the link, read the meter, check the value."""
    async with asyncio.timeout(DEADLINE_S):
        await channel.wait_up()
    read = await channel.master.read(ADDRESS, ENERGY, edition=Edition.V2007)
    assert read.values[0].value == Decimal(value)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    delays = [backoff_delay(n, 1.0, 10.0, random.Random(n)) for n in range(1, 7)]
    for n, delay in enumerate(delays, start=1):
        nominal = min(10.0, 2.0 ** (n - 1))
        assert 0.9 * nominal <= delay <= 1.1 * nominal


async def test_serial_port_that_vanishes_is_reopened(tmp_path: Path) -> None:
    metrics = Metrics()
    async with ScriptedBus(tmp_path, [energy_meter()]) as bus:
        assert is_pty(bus.path)
        async with serial_channel(channel_config(bus.path), metrics) as channel:
            read = await channel.master.read(ADDRESS, ENERGY, edition=Edition.V2007)
            assert read.values[0].value == Decimal("42.00")
            assert sample(metrics, "headend_direct_channels_up", kind="serial") == 1
            await bus.vanish()  # the adapter is unplugged
            await eventually(lambda: not channel.is_up, "the channel notices the port is gone")
            with pytest.raises(ChannelClosed):
                await channel.master.read(ADDRESS, ENERGY, edition=Edition.V2007)
            assert sample(metrics, "headend_direct_channels_up", kind="serial") == 0
            # it keeps trying while the port is missing …
            await eventually(
                lambda: sample(metrics, "headend_direct_channel_opens_total", kind="serial", result="failed") >= 2,
                "reopen attempts while the port is missing",
            )
            bus.restore()  # … and the adapter is plugged back in
            await read_once_up(channel, "42.00")
            assert channel.opens == 2
    assert sample(metrics, "headend_direct_channel_opens_total", kind="serial", result="lost") == 1


async def test_missing_port_at_start_is_retried(tmp_path: Path) -> None:
    path = str(tmp_path / "ttyBUS")
    channel = SerialChannel(channel_config(path))
    channel.start()
    try:
        await asyncio.sleep(0)
        assert not channel.is_up
        async with ScriptedBus(tmp_path, [energy_meter("1.00")]) as bus:
            assert bus.path == path
            await read_once_up(channel, "1.00")
    finally:
        await channel.stop()


def tcp_config(port: int) -> TcpChannelConfig:
    return TcpChannelConfig(
        host="127.0.0.1",
        port=port,
        baud=9600,
        reply_delay_s=0.1,
        latency_s=0.05,
        reconnect_base_s=0.05,
        reconnect_cap_s=0.2,
    )


async def test_serial_device_server_over_tcp_reconnects(tmp_path: Path) -> None:
    metrics = Metrics()
    scripted = energy_meter("7.50", preamble=4)
    async with ScriptedServer([scripted]) as server:
        channel = TcpClientChannel(tcp_config(server.port), metrics=metrics)
        channel.start()
        try:
            await read_once_up(channel, "7.50")
            await server.stop()  # the device server reboots
            await eventually(lambda: not channel.is_up, "the channel notices the connection is gone")
            await server.start()  # same port
            await read_once_up(channel, "7.50")
        finally:
            await channel.stop()
    assert server.accepted == 2
    assert sample(metrics, "headend_direct_channel_opens_total", kind="tcp", result="ok") == 2
    assert sample(metrics, "headend_direct_channel_opens_total", kind="tcp", result="lost") == 1
