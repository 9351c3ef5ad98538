"""Meters on an emulated RS-485 bus over a real pseudo-terminal: physics of the timing, sharing, faults, the port
vanishing. Times are only ever checked against lower bounds the baud rate imposes."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest

from concentrator_sim.meters.bus import BusMeter, MeterFault, PtyPort, Rs485Bus
from concentrator_sim.meters.model import DIRECT_A1, Dlt645Meter, MeterConfig
from concentrator_sim.model import meter_model
from protocols.dlt645 import commands as cmd
from protocols.dlt645.apdu import AddressReply, ReadReply, build_read, build_read_address, parse_reply
from tests.concentrator_sim.meters.line import PtyLine, until, wire_time

NOW = datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
DELAY = 0.05
#: asyncio may run a timer up to its clock resolution early; the bounds allow for that and nothing more
EPSILON = 1e-3


def bus_meter(address: str, *, baud: int = 2400, delay: float = DELAY, **kwargs: Any) -> BusMeter:
    meter = Dlt645Meter(MeterConfig(address, baud=baud, baud_rates=(1200, 2400, 9600)))
    return BusMeter(meter, reply_delay_s=delay, rng=random.Random(1), **kwargs)


@contextlib.asynccontextmanager
async def serving(
    meters: Sequence[BusMeter], *, baud: int = 2400, link: Path | None = None
) -> AsyncIterator[tuple[Rs485Bus, PtyPort]]:
    bus = Rs485Bus(meters, baud=baud, clock=lambda: NOW)
    port = await PtyPort(bus, link=link).open()
    try:
        yield bus, port
    finally:
        port.close()
        bus.close()


@contextlib.asynccontextmanager
async def opened(path: str | Path, baud: int = 2400) -> AsyncIterator[PtyLine]:
    line = PtyLine(str(path), baud)
    try:
        yield line
    finally:
        line.close()


def forward_total(address: str) -> Decimal:
    total = sum(meter_model(0, DIRECT_A1, 0, int(address)).tariffs_kwh(NOW), Decimal(0))
    return total.quantize(Decimal("0.01"), ROUND_DOWN)


@pytest.mark.parametrize("baud", [1200, 9600])
async def test_a_read_takes_at_least_what_the_baud_rate_allows(baud: int) -> None:
    async with serving([bus_meter("000000000001", baud=baud)], baud=baud) as (_, port), opened(port.path, baud) as line:
        request = build_read("000000000001", 0x00010000)
        frame, elapsed = await line.request(request)
        reply = parse_reply(frame)
        assert isinstance(reply, ReadReply)
        assert [v.value for v in reply.values] == [forward_total("000000000001")]
        assert elapsed >= wire_time(len(request) + len(frame.raw), baud) + DELAY - EPSILON


async def test_no_reply_byte_arrives_before_the_wire_could_carry_it() -> None:
    async with serving([bus_meter("000000000001")]) as (_, port), opened(port.path) as line:
        loop = asyncio.get_running_loop()
        arrivals: list[float] = []
        received = line._received

        def stamp(data: bytes) -> None:
            arrivals.extend([loop.time()] * len(data))
            received(data)

        line._received = stamp  # type: ignore[method-assign]
        request = build_read("000000000001", 0x0001FF00)
        written = loop.time()
        frame, _ = await line.request(request)
        assert len(arrivals) == len(frame.raw)
        reply_start = written + wire_time(len(request), 2400) + DELAY
        for i, arrived in enumerate(arrivals):  # byte i is on the wire once its stop bit has passed
            assert arrived >= reply_start + wire_time(i + 1, 2400) - EPSILON, i


async def test_only_the_addressed_meter_answers_on_a_shared_bus() -> None:
    meters = [bus_meter(f"00000000000{i}") for i in (1, 2, 3)]
    async with serving(meters) as (bus, port), opened(port.path) as line:
        for address in ("000000000003", "000000000001"):
            frame, _ = await line.request(build_read(address, 0x00010000))
            assert frame.address == address
        assert [m.meter.counters.replies for m in meters] == [1, 0, 1]
        assert bus.stats.frames == 2


async def test_meters_ignore_requests_at_another_baud_rate() -> None:
    async with serving([bus_meter("000000000001")]) as (bus, port), opened(port.path, 9600) as line:
        line.write(build_read("000000000001", 0x00010000))  # the meter's UART sees noise at 9600
        await until(lambda: bus.stats.frames == 1)
        line.set_baud(2400)
        frame, _ = await line.request(build_read("000000000001", 0x02010100))
        reply = parse_reply(frame)
        assert isinstance(reply, ReadReply)
        assert reply.di == 0x02010100  # the first request got no answer
        assert bus.stats.line_mismatch == 1


async def test_after_a_baud_change_the_meter_talks_at_the_new_rate() -> None:
    async with serving([bus_meter("000000000001")]) as (bus, port), opened(port.path) as line:
        frame, _ = await line.request(cmd.build_change_baud("000000000001", 9600))
        assert frame.control == 0x97  # answered at 2400, the old rate
        line.write(build_read("000000000001", 0x00010000))  # still at 2400: not understood
        await until(lambda: bus.stats.frames == 2)
        line.set_baud(9600)
        frame, _ = await line.request(build_read("000000000001", 0x02010100))
        assert parse_reply(frame).di == 0x02010100  # type: ignore[union-attr]
        assert bus.stats.line_mismatch == 1


async def test_read_address_on_a_bus_of_one() -> None:
    async with serving([bus_meter("000000000042")]) as (_, port), opened(port.path) as line:
        frame, _ = await line.request(build_read_address())
        assert parse_reply(frame) == AddressReply("000000000042")


async def test_a_wildcard_that_matches_two_meters_collides() -> None:
    meters = [bus_meter("000000000001"), bus_meter("000000000002")]
    async with serving(meters) as (bus, port), opened(port.path) as line:
        line.write(build_read_address())
        reply_size = 12 + 6  # 93H with the six address bytes
        await line.wait(lambda: len(line.text) >= reply_size)
        assert bus.stats.collisions == 1
        assert line.frames == []  # garbled: no valid frame came out of it
        assert len(line.text) == reply_size


@pytest.mark.parametrize("fault", [MeterFault.SILENT, MeterFault.CORRUPT, MeterFault.WRONG_ADDRESS])
async def test_faulty_meter_among_live_ones(fault: MeterFault) -> None:
    meters = [bus_meter("000000000001", fault=fault), bus_meter("000000000002")]
    async with serving(meters) as (_, port), opened(port.path) as line:
        line.write(build_read("000000000001", 0x00010000))
        if fault is MeterFault.CORRUPT:
            await line.wait(lambda: bool(line.discarded))
            assert line.discarded[0].reason == "checksum"
        elif fault is MeterFault.WRONG_ADDRESS:
            frame = await line.next_frame()
            assert frame.address == "000000000002"  # not who was asked
            assert parse_reply(frame).di == 0x00010000  # type: ignore[union-attr]
        frame, _ = await line.request(build_read("000000000002", 0x02010100))
        assert frame.address == "000000000002"
        assert parse_reply(frame).di == 0x02010100  # type: ignore[union-attr]


async def test_a_late_meter_answers_after_its_late_reply_time() -> None:
    meters = [bus_meter("000000000001", fault=MeterFault.LATE, late_reply_s=0.4)]
    async with serving(meters) as (_, port), opened(port.path) as line:
        request = build_read("000000000001", 0x00010000)
        frame, elapsed = await line.request(request)
        assert elapsed >= wire_time(len(request) + len(frame.raw), 2400) + 0.4 - EPSILON


def test_an_intermittent_fault_hits_some_requests() -> None:
    flaky = bus_meter("000000000001", fault=MeterFault.SILENT, fault_rate=0.5)
    hits = sum(flaky.faulted() is MeterFault.SILENT for _ in range(100))
    assert 20 < hits < 80


async def test_a_meter_without_supply_is_silent() -> None:
    meters = [bus_meter("000000000001"), bus_meter("000000000002")]
    meters[0].set_supply(False, NOW)
    async with serving(meters) as (_, port), opened(port.path) as line:
        line.write(build_read("000000000001", 0x00010000))
        frame, _ = await line.request(build_read("000000000002", 0x00010000))
        assert frame.address == "000000000002"
        assert meters[0].meter.counters.requests == 0


async def test_a_second_port_hears_requests_and_replies(tmp_path: Path) -> None:
    async with serving([bus_meter("000000000001")]) as (bus, master):
        sniffer_port = await PtyPort(bus, name="sniffer").open()
        try:
            async with opened(master.path) as line, opened(sniffer_port.path) as sniffer:
                request = build_read("000000000001", 0x00010000)
                reply, _ = await line.request(request)
                await sniffer.wait(lambda: len(sniffer.frames) == 2)
                assert [f.raw for f in sniffer.frames] == [request, reply.raw]
        finally:
            sniffer_port.close()


async def test_bytes_for_a_port_nobody_opened_are_dropped() -> None:
    async with serving([bus_meter("000000000001")]) as (bus, master):
        idle = await PtyPort(bus, name="idle").open()
        try:
            async with opened(master.path) as line:
                reply, _ = await line.request(build_read("000000000001", 0x00010000))
            assert idle.pty.dropped >= len(reply.raw)
        finally:
            idle.close()


async def test_the_port_vanishes_and_comes_back_behind_the_same_link(tmp_path: Path) -> None:
    link = tmp_path / "bus1"
    async with serving([bus_meter("000000000001")], link=link) as (_, port):
        first = port.path
        async with opened(link) as line:
            await line.request(build_read("000000000001", 0x00010000))
            port.vanish()
            await line.wait(lambda: line.eof)  # the head-end's read fails: the adapter is gone
        assert link.is_symlink()
        assert not link.exists()  # the link dangles
        await port.reappear()
        assert link.readlink() == Path(port.path)
        async with opened(link) as line:
            frame, _ = await line.request(build_read("000000000001", 0x00010000))
            assert frame.address == "000000000001"
        assert first  # (the new pty may or may not reuse the number)
    assert not link.is_symlink()  # closing removes the link


async def test_a_partial_frame_is_dropped_after_silence() -> None:
    async with serving([bus_meter("000000000001")]) as (bus, port), opened(port.path) as line:
        bus.idle_s = 0.05
        request = build_read("000000000001", 0x00010000)
        line.write(request[:10])
        await until(lambda: bus.stats.discarded > 0)
        frame, _ = await line.request(request)
        assert frame.address == "000000000001"
