"""Modbus links and device polls against real pymodbus servers: TCP on 127.0.0.1 and RTU over a pty pair.
Values are exact, a device answering with an exception costs only that entry, a silent device is backed off
without holding up the others, and a device that goes away and comes back is read again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from headend.channels.modbus import ModbusDevicePoll, ModbusDevices, ModbusLink
from headend.config import ModbusConfig, ModbusDeviceConfig, ModbusRegisterConfig
from headend.metrics import Metrics
from headend.readings import Quality, Reading
from tests.headend.direct.helpers import DEADLINE_S, eventually, running
from tests.headend.modbus.servers import Silencer, rtu_server, sim_device, start_tcp_server, tcp_server

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 1, 8, 15, 42, 654321, tzinfo=ZONE)

REGISTERS = [
    ModbusRegisterConfig(name="energy.active.forward", address=0, type="uint32", scale="0.01", unit="kWh"),
    ModbusRegisterConfig(
        name="energy.active.forward", address=2, type="uint32", scale="0.01", unit="kWh", tariff=1, word_order="little"
    ),
    ModbusRegisterConfig(name="power.active", address=10, function="input", type="float32", unit="kW"),
    ModbusRegisterConfig(name="power.reactive", address=12, function="input", type="int16", scale="0.1", unit="kvar"),
]
# 1234.56 kWh, tariff 1 = 1000.00 kWh (100000 = 0x000186A0, low word first), 230.1 kW, -12.3 kvar
HOLDING = {0: [0x0001, 0xE240, 0x86A0, 0x0001]}
INPUTS = {10: [0x4366, 0x1999, 0xFF85]}


def device(port: int | str, unit: int = 1, **settings: Any) -> ModbusDeviceConfig:
    values: dict[str, Any] = {
        "id": f"dev{unit}",
        "host": "127.0.0.1",
        "port": port,
        "unit": unit,
        "timeout_s": 0.5,
        "retries": 0,
        "reconnect_base_s": 0.05,
        "reconnect_cap_s": 0.2,
        "registers": REGISTERS,
    }
    values.update(settings)
    return ModbusDeviceConfig(**values)


class Sink:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def requests(metrics: Metrics, transport: str, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "headend_modbus_requests_total", {"transport": transport, "result": result}
    )
    return value or 0.0


def expected(meter: str, source_prefix: str) -> set[tuple[object, ...]]:
    ts = datetime(2024, 5, 1, 8, 15, 42, tzinfo=ZONE)
    return {
        (meter, "energy.active.forward", 0, ts, Decimal("1234.56"), "kWh", Quality.OK, f"{source_prefix} reg 40001"),
        (meter, "energy.active.forward", 1, ts, Decimal("1000.00"), "kWh", Quality.OK, f"{source_prefix} reg 40003"),
        (meter, "power.active", 0, ts, Decimal("230.1"), "kW", Quality.OK, f"{source_prefix} reg 30011"),
        (meter, "power.reactive", 0, ts, Decimal("-12.3"), "kvar", Quality.OK, f"{source_prefix} reg 30013"),
    }


def as_rows(readings: Sequence[Reading]) -> set[tuple[object, ...]]:
    rows = set()
    for r in readings:
        assert (r.terminal, r.pn, r.received_at) == ("", 0, NOW)
        rows.add((r.meter, r.register, r.tariff, r.ts, r.value, r.unit, r.quality, r.source))
    return rows


async def test_tcp_device_read_exactly() -> None:
    metrics, sink = Metrics(), Sink()
    async with tcp_server([sim_device(1, HOLDING, INPUTS)]) as server:
        config = device(server.port)
        async with running(ModbusLink(config, metrics)) as link:
            poll = ModbusDevicePoll(config, link, metrics, sink, now=lambda: NOW)
            assert await poll.poll_round() == 4
    assert as_rows(sink.readings) == expected("dev1", "modbus-tcp unit 1")
    assert [str(r.value) for r in sink.readings] == ["1234.56", "1000.00", "230.1", "-12.3"]
    assert requests(metrics, "tcp", "ok") == 4
    assert metrics.registry.get_sample_value("headend_modbus_connects_total", {"transport": "tcp", "result": "ok"}) == 1


async def test_exception_response_costs_only_its_entry() -> None:
    metrics, sink = Metrics(), Sink()
    missing = ModbusRegisterConfig(name="voltage.a", address=500, type="uint16", scale="0.1", unit="V")
    async with tcp_server([sim_device(1, HOLDING, INPUTS)]) as server:
        config = device(server.port, registers=[missing, *REGISTERS])
        async with running(ModbusLink(config, metrics)) as link:
            poll = ModbusDevicePoll(config, link, metrics, sink, now=lambda: NOW)
            assert await poll.poll_round() == 4
            assert poll.failures == 0
    assert as_rows(sink.readings) == expected("dev1", "modbus-tcp unit 1")
    assert requests(metrics, "tcp", "exception") == 1


async def test_silent_unit_behind_a_gateway_is_backed_off() -> None:
    metrics, clock = Metrics(), FakeClock()
    live_sink, dead_sink = Sink(), Sink()
    async with tcp_server([sim_device(1, HOLDING, INPUTS), sim_device(2, HOLDING, INPUTS)]) as server:
        server.silencer.silent.add(2)
        live_config = device(server.port, 1)
        dead_config = device(server.port, 2, timeout_s=0.2, backoff_base_s=60, backoff_cap_s=600)
        async with running(ModbusLink(live_config, metrics)) as link:
            live = ModbusDevicePoll(live_config, link, metrics, live_sink, now=lambda: NOW, clock=clock)
            dead = ModbusDevicePoll(dead_config, link, metrics, dead_sink, now=lambda: NOW, clock=clock)
            assert await dead.poll_round() == 0
            # one request, not one per entry: the rest of the round is skipped
            assert requests(metrics, "tcp", "timeout") == 1
            assert dead.failures == 1
            assert metrics.registry.get_sample_value("headend_modbus_devices_failing", {"transport": "tcp"}) == 1
            # in backoff: no request at all, while the live unit on the same link reads normally
            assert await dead.poll_round() == 0
            assert requests(metrics, "tcp", "timeout") == 1
            assert await live.poll_round() == 4
            clock.t += 59
            assert await dead.poll_round() == 0
            assert requests(metrics, "tcp", "timeout") == 1
            # it answers again after its backoff time
            server.silencer.silent.clear()
            clock.t += 2
            assert await dead.poll_round() == 4
            assert dead.failures == 0
            assert metrics.registry.get_sample_value("headend_modbus_devices_failing", {"transport": "tcp"}) == 0
    assert as_rows(dead_sink.readings) == expected("dev2", "modbus-tcp unit 2")
    assert as_rows(live_sink.readings) == expected("dev1", "modbus-tcp unit 1")


async def test_dead_device_on_its_own_link_does_not_stall_others() -> None:
    metrics, sink = Metrics(), Sink()
    async with (
        tcp_server([sim_device(1, HOLDING, INPUTS)]) as live_server,
        tcp_server([sim_device(1, HOLDING, INPUTS)]) as dead_server,
    ):
        dead_server.silencer.silent.add(1)
        config = ModbusConfig(
            devices=[
                device(live_server.port, 1, id="live", interval_s=0.02, jitter=0),
                device(dead_server.port, 1, id="dead", interval_s=0.02, jitter=0, timeout_s=30),
            ]
        )
        devices = ModbusDevices(config, metrics, sink, now=lambda: NOW)
        devices.start()
        try:
            live, dead = devices.polls
            await eventually(lambda: len(sink.readings) >= 4, "a round of the live device")
            await eventually(lambda: dead.link.is_up, "the dead device's connection (accepted, never answered)")
            # rounds before the connection was up end at once (closed); from now on the dead device waits 30 s
            await asyncio.sleep(0)
            dead_rounds, live_rounds = dead.completed_rounds, live.completed_rounds
            await eventually(lambda: live.completed_rounds >= live_rounds + 5, "five more rounds of the live device")
            assert dead.completed_rounds == dead_rounds
            assert requests(metrics, "tcp", "timeout") == 0
        finally:
            await devices.stop()
    assert {r.meter for r in sink.readings} == {"live"}


async def test_device_down_then_up_again() -> None:
    metrics, sink = Metrics(), Sink()
    server = await start_tcp_server([sim_device(1, HOLDING, INPUTS)])
    config = device(server.port)
    link = ModbusLink(config, metrics)
    poll = ModbusDevicePoll(config, link, metrics, sink, now=lambda: NOW)
    try:
        async with running(link):
            assert await poll.poll_round() == 4
            await server.stop()
            await eventually(lambda: not link.is_up, "the link notices the server went away")
            assert await poll.poll_round() == 0
            assert requests(metrics, "tcp", "closed") == 1
            lost = {"transport": "tcp", "result": "lost"}
            assert metrics.registry.get_sample_value("headend_modbus_connects_total", lost) == 1
            assert metrics.registry.get_sample_value("headend_modbus_links_up", {"transport": "tcp"}) == 0
            server = await start_tcp_server([sim_device(1, HOLDING, INPUTS)], port=server.port)
            await eventually(lambda: link.is_up, "the link reconnects")
            assert await poll.poll_round() == 4
            assert link.opens == 2
    finally:
        await server.stop()
    assert len(sink.readings) == 8


async def test_connection_refused_is_retried_with_backoff() -> None:
    metrics = Metrics()
    server = await start_tcp_server([sim_device(1, HOLDING, INPUTS)])
    port = server.port
    await server.stop()
    link = ModbusLink(device(port), metrics)
    link.start()
    try:
        failed = {"transport": "tcp", "result": "failed"}
        await eventually(
            lambda: (metrics.registry.get_sample_value("headend_modbus_connects_total", failed) or 0) >= 2,
            "two failed connects",
        )
        server = await start_tcp_server([sim_device(1, HOLDING, INPUTS)], port=port)
        async with asyncio.timeout(DEADLINE_S):
            await link.wait_up()
    finally:
        await link.stop()
        await server.stop()


async def test_rtu_bus_over_a_pty() -> None:
    metrics, sink = Metrics(), Sink()
    silencer = Silencer(0)
    silencer.silent.add(8)
    async with rtu_server([sim_device(7, HOLDING, INPUTS), sim_device(8, HOLDING, INPUTS)], silencer=silencer) as path:
        live_config = device(path, 7, transport="rtu", host="")
        dead_config = device(path, 8, transport="rtu", host="", timeout_s=0.2)
        async with running(ModbusLink(live_config, metrics)) as link:
            live = ModbusDevicePoll(live_config, link, metrics, sink, now=lambda: NOW)
            dead = ModbusDevicePoll(dead_config, link, metrics, sink, now=lambda: NOW)
            assert await dead.poll_round() == 0
            assert await live.poll_round() == 4
            assert await dead.poll_round() == 0  # backed off
    assert as_rows(sink.readings) == expected("dev7", "modbus-rtu unit 7")
    assert (requests(metrics, "rtu", "ok"), requests(metrics, "rtu", "timeout")) == (4, 1)


async def test_a_lost_reply_is_requested_again_within_the_retries() -> None:
    metrics, sink = Metrics(), Sink()
    async with tcp_server([sim_device(1, HOLDING, INPUTS)]) as server:
        config = device(server.port, retries=1, timeout_s=0.3, registers=REGISTERS[:1])
        async with running(ModbusLink(config, metrics)) as link:
            poll = ModbusDevicePoll(config, link, metrics, sink, now=lambda: NOW)
            server.silencer.drop_next = 1
            assert await poll.poll_round() == 1  # the second attempt is answered
            server.silencer.drop_next = 2
            assert await poll.poll_round() == 0  # both attempts lost: no answer
    assert (requests(metrics, "tcp", "ok"), requests(metrics, "tcp", "timeout")) == (1, 1)
    assert [r.value for r in sink.readings] == [Decimal("1234.56")]


async def test_a_request_fails_as_soon_as_its_connection_goes() -> None:
    metrics, sink = Metrics(), Sink()
    server = await start_tcp_server([sim_device(1, HOLDING, INPUTS)])
    server.silencer.silent.add(1)
    config = device(server.port, timeout_s=30)
    try:
        async with running(ModbusLink(config, metrics)) as link:
            poll = ModbusDevicePoll(config, link, metrics, sink, now=lambda: NOW)
            round_ = asyncio.create_task(poll.poll_round())
            await eventually(lambda: server.silencer.received >= 1, "the request reached the server")
            await server.stop()
            async with asyncio.timeout(DEADLINE_S):  # far less than the 30 s response timeout
                assert await round_ == 0
    finally:
        await server.stop()
    assert (requests(metrics, "tcp", "closed"), requests(metrics, "tcp", "timeout")) == (1, 0)


async def test_rtu_port_missing_then_present_then_gone(tmp_path: Path) -> None:
    """The serial port is a symlink: absent at start (connects fail and are retried), then a live bus, then the
    bus goes away (the pty closes, as when a USB adapter is unplugged)."""
    metrics, sink = Metrics(), Sink()
    port = tmp_path / "ttyMODBUS"
    config = device(str(port), 7, transport="rtu", host="")
    link = ModbusLink(config, metrics)
    poll = ModbusDevicePoll(config, link, metrics, sink, now=lambda: NOW)
    link.start()
    try:
        failed = {"transport": "rtu", "result": "failed"}
        await eventually(
            lambda: (metrics.registry.get_sample_value("headend_modbus_connects_total", failed) or 0) >= 2,
            "connects to the missing port fail and are retried",
        )
        async with rtu_server([sim_device(7, HOLDING, INPUTS)]) as path:
            port.symlink_to(path)
            await eventually(lambda: link.is_up, "the port appears")
            assert await poll.poll_round() == 4
        await eventually(lambda: not link.is_up, "the bus goes away")
        lost = {"transport": "rtu", "result": "lost"}
        assert metrics.registry.get_sample_value("headend_modbus_connects_total", lost) == 1
        assert await poll.poll_round() == 0
        assert requests(metrics, "rtu", "closed") == 1
    finally:
        await link.stop()
    assert as_rows(sink.readings) == expected("dev7", "modbus-rtu unit 7")
