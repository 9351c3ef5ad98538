"""End to end against the simulator's DL/T 645 meters (concentrator_sim.meters): an emulated RS-485 bus at real
2400-baud 8E1 timing behind a real pseudo-terminal, the same bus behind a serial device server on loopback TCP, and
behind an AT modem — read by the head-end's own channels and bus master. Values are checked against the simulated
meters' registers: energy only grows, so a value read lies between the register just before and just after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from concentrator_sim.meters.bus import BusMeter, MeterFault, PtyPort, Rs485Bus, utc_now
from concentrator_sim.meters.model import Dlt645Meter, MeterConfig
from concentrator_sim.meters.modem import AtModem, DialTarget
from concentrator_sim.meters.profiles import GENERIC_1997, MeterProfile
from concentrator_sim.meters.tcp_server import SerialServer
from headend.channels.modem import ModemChannel
from headend.channels.serial_port import SerialChannel
from headend.channels.tcp_client import TcpClientChannel
from headend.config import DirectMeterConfig, ModemChannelConfig, SerialChannelConfig, TcpChannelConfig
from headend.errors import ResponseTimeout
from headend.metrics import Metrics
from headend.readings import Reading
from headend.scheduling.meter_poll import MeterPollPlan
from headend.sessions.dlt645_master import BusMaster, MeterIsolated
from protocols.dlt645.control import Edition
from protocols.dlt645.errors import NoRequestedData
from tests.headend.direct.helpers import running

BAUD = 2400
TOTAL, BLOCK = 0x00010000, 0x0001FF00
DEADLINE_S = 60.0
LIVE = ("000000000001", "000000000002", "000000000003")
DEAD = "000000000009"
OLD = "000000000097"  # a 1997 meter


def sim_meter(address: str, profile: MeterProfile | None = None, **bus_meter: Any) -> BusMeter:
    config = MeterConfig(address=address) if profile is None else MeterConfig(address=address, profile=profile)
    return BusMeter(Dlt645Meter(config), **bus_meter)


def bus_config(**overrides: Any) -> dict[str, Any]:
    """Bus master settings for the simulator: 2400 baud, its meters answer within 100 ms."""
    settings: dict[str, Any] = {
        "baud": BAUD,
        "reply_delay_s": 0.4,
        "retries": 1,
        "backoff_base_s": 60,
        "reconnect_base_s": 0.05,
        "reconnect_cap_s": 0.2,
    }
    settings.update(overrides)
    return settings


async def check_read(master: BusMaster, bus: Rs485Bus, address: str, di: int, edition: Edition) -> list[Decimal]:
    """Read ``di`` and check every value against the simulated meter's register around the read."""
    meter = bus.meter(address).meter
    before = meter.read(di, utc_now())
    read = await master.read(address, di, edition=edition)
    after = meter.read(di, utc_now())
    assert before is not None and after is not None
    values = [v.value for v in read.values]
    assert len(values) == len(before) == len(after)
    for low, got, high in zip(before, values, after, strict=True):
        assert isinstance(got, Decimal) and low is not None and high is not None
        assert low <= got <= high, (address, di, low, got, high)
    return [v for v in values if isinstance(v, Decimal)]


@asynccontextmanager
async def pty_bus(tmp_path: Path, meters: Sequence[BusMeter]) -> AsyncIterator[tuple[Rs485Bus, PtyPort]]:
    bus = Rs485Bus(meters, baud=BAUD)
    port = await PtyPort(bus, link=tmp_path / "ttyRS485").open()
    try:
        yield bus, port
    finally:
        port.close()
        bus.close()


async def test_reads_over_a_pty_with_a_dead_meter_among_live_ones(tmp_path: Path) -> None:
    meters = [*(sim_meter(a) for a in LIVE), sim_meter(DEAD, fault=MeterFault.SILENT), sim_meter(OLD, GENERIC_1997)]
    metrics = Metrics()
    async with pty_bus(tmp_path, meters) as (bus, port):
        assert port.link is not None
        channel = SerialChannel(SerialChannelConfig(port=str(port.link), **bus_config()), metrics=metrics)
        async with running(channel):
            master = channel.master
            for address in LIVE:
                assert len(await check_read(master, bus, address, BLOCK, Edition.V2007)) == 5  # total + 4 tariffs
            with pytest.raises(ResponseTimeout):
                await master.read(DEAD, TOTAL, edition=Edition.V2007)
            with pytest.raises(MeterIsolated):
                await master.read(DEAD, TOTAL, edition=Edition.V2007)
            assert await master.detect_edition(OLD) is Edition.V1997
            await check_read(master, bus, OLD, 0x9010, Edition.V1997)
            for address in LIVE:  # the dead meter costs the others nothing now
                await check_read(master, bus, address, TOTAL, Edition.V2007)
    assert metrics.registry.get_sample_value("headend_direct_meters_isolated", {"kind": "serial"}) == 1


async def test_follow_up_frames_and_abnormal_replies(tmp_path: Path) -> None:
    small_frames = MeterProfile(name="small-frames", max_data=16)  # 0001FF00 needs three frames
    async with pty_bus(tmp_path, [sim_meter(LIVE[0], small_frames)]) as (bus, port):
        channel = SerialChannel(SerialChannelConfig(port=port.path, **bus_config()))
        async with running(channel):
            master = channel.master
            read = await master.read(LIVE[0], BLOCK, edition=Edition.V2007)
            assert read.frames > 1
            assert len(read.values) == 5
            assert bus.meter(LIVE[0]).meter.counters.by_function.get(0x12, 0) == read.frames - 1
            await check_read(master, bus, LIVE[0], BLOCK, Edition.V2007)
            # a single-phase meter has no phase B voltage: 无请求数据
            with pytest.raises(NoRequestedData):
                await master.read(LIVE[0], 0x02010200, edition=Edition.V2007)


async def test_corrupted_and_late_replies_are_retried_or_timed_out(tmp_path: Path) -> None:
    flaky = sim_meter(LIVE[0], fault=MeterFault.CORRUPT, fault_rate=1.0)
    late = sim_meter(LIVE[1], fault=MeterFault.LATE, late_reply_s=1.5)
    metrics = Metrics()
    async with pty_bus(tmp_path, [flaky, late, sim_meter(LIVE[2])]) as (bus, port):
        channel = SerialChannel(SerialChannelConfig(port=port.path, **bus_config()), metrics=metrics)
        async with running(channel):
            master = channel.master
            with pytest.raises(ResponseTimeout):  # every reply corrupted: retried, then given up
                await master.read(LIVE[0], TOTAL, edition=Edition.V2007)
            with pytest.raises(ResponseTimeout):  # beyond the reply timeout
                await master.read(LIVE[1], TOTAL, edition=Edition.V2007)
            # the late reply arrives while the next request waits: it is not taken for the next meter's answer
            await check_read(master, bus, LIVE[2], TOTAL, Edition.V2007)
    assert (
        metrics.registry.get_sample_value("headend_decode_errors_total", {"protocol": "dlt645", "reason": "checksum"})
        or 0
    ) >= 2


async def test_port_that_vanishes_and_returns(tmp_path: Path) -> None:
    async with pty_bus(tmp_path, [sim_meter(LIVE[0])]) as (bus, port):
        assert port.link is not None
        channel = SerialChannel(SerialChannelConfig(port=str(port.link), **bus_config()))
        async with running(channel):
            await check_read(channel.master, bus, LIVE[0], TOTAL, Edition.V2007)
            port.vanish()
            async with asyncio.timeout(DEADLINE_S):
                while channel.is_up:
                    await asyncio.sleep(0.02)
            await port.reappear()
            async with asyncio.timeout(DEADLINE_S):
                await channel.wait_up()
            await check_read(channel.master, bus, LIVE[0], TOTAL, Edition.V2007)
            assert channel.opens == 2


async def test_serial_device_server_over_loopback_tcp(tmp_path: Path) -> None:
    bus = Rs485Bus([sim_meter(a) for a in LIVE], baud=BAUD)
    server = await SerialServer(bus).start()
    try:
        channel = TcpClientChannel(TcpChannelConfig(host="127.0.0.1", port=server.port, **bus_config()))
        async with running(channel):
            for address in LIVE:
                await check_read(channel.master, bus, address, BLOCK, Edition.V2007)
    finally:
        await server.close()
        bus.close()


class Collected:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


async def test_modem_call_that_drops_mid_read_is_redialled(tmp_path: Path) -> None:
    bus = Rs485Bus([sim_meter(a) for a in LIVE], baud=BAUD)
    # each call drops once 50 bytes reached the head-end: in the middle of the third 20-byte reply
    numbers = {"5550100": DialTarget(bus=bus, connect_delay_s=0.1, drop_after_bytes=50)}
    modem = await AtModem(numbers, link=tmp_path / "ttyMODEM").open()
    metrics = Metrics()
    sink = Collected()
    try:
        config = ModemChannelConfig(
            port=str(modem.link),
            number="5550100",
            init=["ATZ", "ATE0V1", "ATS12=5"],  # escape guard time 0.1 s, to keep the test short
            guard_s=0.15,
            max_call_attempts=3,
            redial_delay_s=0.0,
            dis=["00010000"],
            meters=[DirectMeterConfig(address=a, edition="2007") for a in LIVE],
            **{k: v for k, v in bus_config().items() if not k.startswith("reconnect")},
        )
        channel = ModemChannel(config, metrics=metrics)
        plan = MeterPollPlan(channel, metrics, sink, now=lambda: utc_now())
        async with asyncio.timeout(DEADLINE_S):
            await plan.poll_round()
        await channel.stop()
    finally:
        modem.close()
        bus.close()
    assert sorted(r.meter for r in sink.readings) == list(LIVE)  # each once
    assert modem.dialled == ["5550100"] * 2
    assert metrics.registry.get_sample_value("headend_modem_calls_total", {"result": "dropped"}) == 1
    assert metrics.registry.get_sample_value("headend_modem_calls_total", {"result": "connect"}) == 2
