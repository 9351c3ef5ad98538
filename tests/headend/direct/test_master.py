"""The DL/T 645 bus master against scripted meters on a real pty: reads, follow-up frames, abnormal replies,
retries, timeouts derived from the baud rate, a dead meter isolated, priority, edition detection."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from headend.errors import ChannelClosed, ResponseTimeout
from headend.metrics import Metrics
from headend.sessions.dlt645_master import BusTiming, MeterIsolated
from headend.sessions.priority import Priority
from protocols.dlt645.control import Edition
from protocols.dlt645.errors import NoRequestedData, PasswordError
from tests.headend.direct.helpers import DEADLINE_S, ScriptedBus, ScriptedMeter, channel_config, serial_channel

ENERGY, BLOCK = 0x00010000, 0x0001FF00
METER_A, METER_B, METER_C = "000000000001", "000000000002", "000000000003"


def meter(address: str, **kwargs: object) -> ScriptedMeter:
    registers = {ENERGY: [Decimal("1234.56")], BLOCK: [Decimal("10.00"), Decimal("4.00"), Decimal("6.00")]}
    return ScriptedMeter(address, registers, **kwargs)  # type: ignore[arg-type]


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# -- timing derived from the baud rate ------------------------------------------------------------------------


@pytest.mark.parametrize(("baud", "byte_ms"), [(1200, 11 / 1.2), (2400, 11 / 2.4), (9600, 11 / 9.6)])
def test_byte_time_is_11_bits_at_8e1(baud: int, byte_ms: float) -> None:
    timing = BusTiming(baud=baud)
    assert timing.byte_time_s == pytest.approx(byte_ms / 1000)
    # 20-byte request (4 FE + 16): its own time on the wire, then the configured reply delay
    assert timing.reply_timeout(20) == pytest.approx(20 * byte_ms / 1000 + 0.5)


def test_inter_byte_timeout_in_character_times_with_a_floor_and_link_latency() -> None:
    assert BusTiming(baud=1200, inter_byte_chars=16, min_inter_byte_s=0).inter_byte_timeout == pytest.approx(
        16 * 11 / 1200
    )
    assert BusTiming(baud=19200, inter_byte_chars=16, min_inter_byte_s=0.05).inter_byte_timeout == 0.05
    assert BusTiming(baud=2400, inter_byte_chars=1, min_inter_byte_s=0, latency_s=0.3).inter_byte_timeout == (
        pytest.approx(11 / 2400 + 0.3)
    )


def test_timing_from_config_counts_start_data_parity_stop_bits(tmp_path: Path) -> None:
    assert BusTiming.from_config(channel_config("x", parity="E")).bits_per_char == 11
    assert BusTiming.from_config(channel_config("x", parity="N")).bits_per_char == 10
    assert BusTiming.from_config(channel_config("x", parity="N", stopbits=2, bytesize=7)).bits_per_char == 10


async def test_inter_byte_timeout_follows_the_baud_rate(tmp_path: Path) -> None:
    """A meter sending at 300 baud (36.7 ms a byte) is read by a master set to 300 baud, while a master set to
    9600 baud (gap allowed: 10 × 1.15 ms) gives each reply up as a stalled frame. Both allow 1.5 s for the reply
    to start: the 20-byte request alone takes 0.73 s on a 300-baud wire."""
    slow = meter(METER_A)
    async with ScriptedBus(tmp_path, [slow], baud=300) as bus:
        at_300 = channel_config(
            bus.path, baud=300, inter_byte_chars=10, min_inter_byte_s=0, retries=0, reply_delay_s=1.5
        )
        async with serial_channel(at_300) as channel:
            read = await channel.master.read(METER_A, ENERGY, edition=Edition.V2007)
            assert read.values[0].value == Decimal("1234.56")
        metrics = Metrics()
        at_9600 = channel_config(
            bus.path, baud=9600, inter_byte_chars=10, min_inter_byte_s=0, retries=0, reply_delay_s=1.5
        )
        async with serial_channel(at_9600, metrics) as channel:
            with pytest.raises(ResponseTimeout):
                await channel.master.read(METER_A, ENERGY, edition=Edition.V2007, priority=Priority.ON_DEMAND)
        assert sample(metrics, "headend_decode_errors_total", protocol="dlt645", reason="stalled") >= 1


async def test_reply_timeout_is_request_time_plus_reply_delay(tmp_path: Path) -> None:
    late = meter(METER_A, reply_delay_s=1.5)  # far beyond the 0.1 s allowed, so a loaded machine cannot blur it
    async with (
        ScriptedBus(tmp_path, [late], baud=9600) as bus,
        serial_channel(channel_config(bus.path, reply_delay_s=0.1, retries=0)) as channel,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ResponseTimeout):
            await channel.master.read(METER_A, ENERGY, edition=Edition.V2007)
        waited = loop.time() - started
        # 20-byte request at 9600 baud + 0.1 s: never given up earlier than that
        assert waited >= channel.master.timing.reply_timeout(20)
        async with serial_channel(channel_config(bus.path, reply_delay_s=3.0, retries=0)) as channel:
            read = await channel.master.read(METER_A, ENERGY, edition=Edition.V2007)
            assert read.values[0].value == Decimal("1234.56")


# -- reads -----------------------------------------------------------------------------------------------------


async def test_read_exact_values_with_preamble_both_ways(tmp_path: Path) -> None:
    scripted = meter(METER_A, preamble=2)
    async with ScriptedBus(tmp_path, [scripted]) as bus, serial_channel(channel_config(bus.path)) as channel:
        read = await channel.master.read(METER_A, BLOCK, edition=Edition.V2007)
    assert [v.value for v in read.values] == [Decimal("10.00"), Decimal("4.00"), Decimal("6.00")]
    assert read.source == "dlt645-2007 DI 0001FF00"
    request = scripted.requests[0]
    assert request.preamble == 4  # FE FE FE FE wake-up before the request
    assert request.function == 0x11 and request.data == BLOCK.to_bytes(4, "little")


async def test_follow_up_frames_are_gathered(tmp_path: Path) -> None:
    values = [Decimal(f"{n}.25") for n in range(1, 6)]
    scripted = ScriptedMeter(METER_A, {BLOCK: values}, values_per_frame=2)
    async with ScriptedBus(tmp_path, [scripted]) as bus, serial_channel(channel_config(bus.path)) as channel:
        read = await channel.master.read(METER_A, BLOCK, edition=Edition.V2007)
    assert [v.value for v in read.values] == values
    assert read.frames == 3
    # 11H, then 12H with DI + SEQ 1, 2 (DL/T 645-2007 §7.2)
    assert [(f.function, f.data[4:]) for f in scripted.requests] == [(0x11, b""), (0x12, b"\x01"), (0x12, b"\x02")]


async def test_follow_up_frames_1997(tmp_path: Path) -> None:
    values = [Decimal("7.00"), Decimal("3.00"), Decimal("4.00")]
    scripted = ScriptedMeter(METER_A, {0x901F: values}, edition=Edition.V1997, values_per_frame=2)
    async with ScriptedBus(tmp_path, [scripted]) as bus, serial_channel(channel_config(bus.path)) as channel:
        read = await channel.master.read(METER_A, 0x901F, edition=Edition.V1997)
    assert [v.value for v in read.values] == values
    assert [f.function for f in scripted.requests] == [0x01, 0x02]


async def test_abnormal_reply_raises_its_error_without_retry(tmp_path: Path) -> None:
    scripted = meter(METER_A, errors={ENERGY: 0x04})
    metrics = Metrics()
    async with ScriptedBus(tmp_path, [scripted]) as bus, serial_channel(channel_config(bus.path), metrics) as channel:
        with pytest.raises(PasswordError) as info:
            await channel.master.read(METER_A, ENERGY, edition=Edition.V2007)
        with pytest.raises(NoRequestedData):
            await channel.master.read(METER_A, 0x00020000, edition=Edition.V2007)
    assert info.value.err == 0x04
    assert len(scripted.requests) == 2
    assert sample(metrics, "headend_requests_total", protocol="dlt645", result="denied") == 2


async def test_corrupted_reply_is_retried(tmp_path: Path) -> None:
    scripted = meter(METER_A, corrupt_next=1)
    metrics = Metrics()
    async with ScriptedBus(tmp_path, [scripted]) as bus, serial_channel(channel_config(bus.path), metrics) as channel:
        read = await channel.master.read(METER_A, ENERGY, edition=Edition.V2007)
    assert read.values[0].value == Decimal("1234.56")
    assert len(scripted.requests) == 2
    assert sample(metrics, "headend_decode_errors_total", protocol="dlt645", reason="checksum") == 1
    assert sample(metrics, "headend_retransmissions_total") == 1


# -- a dead meter does not stall the others ----------------------------------------------------------------


async def test_dead_meter_is_isolated_and_the_others_are_read(tmp_path: Path) -> None:
    dead = meter(METER_B, silent=True)
    live = [meter(METER_A), meter(METER_C)]
    metrics = Metrics()
    config = channel_config(bus_path := str(tmp_path / "ttyBUS"), [*live, dead], retries=2, backoff_base_s=60)
    async with ScriptedBus(tmp_path, [*live, dead]) as bus, serial_channel(config, metrics) as channel:
        assert bus.path == bus_path
        master = channel.master
        with pytest.raises(ResponseTimeout):
            await master.read(METER_B, ENERGY, edition=Edition.V2007)
        assert len(dead.requests) == 3  # first attempt + 2 retries
        assert master.isolated() == [METER_B]
        assert sample(metrics, "headend_direct_meters_isolated", kind="serial") == 1
        # scheduled reads of the isolated meter do not touch the bus …
        for _ in range(5):
            with pytest.raises(MeterIsolated):
                await master.read(METER_B, ENERGY, edition=Edition.V2007)
        assert len(dead.requests) == 3
        # … and the live meters are read meanwhile
        for live_meter in live:
            read = await master.read(live_meter.address, ENERGY, edition=Edition.V2007)
            assert read.values[0].value == Decimal("1234.56")
        # a field engineer's on-demand read still tries it, once (it is already failing)
        with pytest.raises(ResponseTimeout):
            await master.read(METER_B, ENERGY, edition=Edition.V2007, priority=Priority.ON_DEMAND)
        assert len(dead.requests) == 6  # on-demand: every attempt
        # it comes back: the first successful read ends the isolation
        dead.silent = False
        read = await master.read(METER_B, ENERGY, edition=Edition.V2007, priority=Priority.ON_DEMAND)
        assert read.values[0].value == Decimal("1234.56")
        assert master.isolated() == []
        assert sample(metrics, "headend_direct_meters_isolated", kind="serial") == 0


async def test_a_failing_meter_gets_one_attempt_after_its_backoff(tmp_path: Path) -> None:
    dead = meter(METER_B, silent=True)
    async with ScriptedBus(tmp_path, [dead]) as bus:
        config = channel_config(bus.path, retries=2, backoff_base_s=0.05, backoff_cap_s=0.05)
        async with serial_channel(config) as channel:
            with pytest.raises(ResponseTimeout):
                await channel.master.read(METER_B, ENERGY, edition=Edition.V2007)
            assert len(dead.requests) == 3
            async with asyncio.timeout(5):  # wait for the state, not a duration: the backoff has ended
                while METER_B in channel.master.isolated():
                    await asyncio.sleep(0.005)
            with pytest.raises(ResponseTimeout):
                await channel.master.read(METER_B, ENERGY, edition=Edition.V2007)
            assert len(dead.requests) == 4
            assert channel.master.state(METER_B).failures == 2


# -- priority ------------------------------------------------------------------------------------------------


async def test_on_demand_read_goes_ahead_of_queued_scheduled_reads(tmp_path: Path) -> None:
    slow = meter(METER_A, reply_delay_s=0.3)
    others = [meter(METER_B), meter(METER_C)]
    async with (
        ScriptedBus(tmp_path, [slow, *others]) as bus,
        serial_channel(channel_config(bus.path, reply_delay_s=0.6)) as channel,
    ):
        master = channel.master
        first = asyncio.create_task(master.read(METER_A, ENERGY, edition=Edition.V2007))
        while not slow.requests:  # the bus is busy with the slow meter
            await asyncio.sleep(0.005)
        scheduled = asyncio.create_task(master.read(METER_B, ENERGY, edition=Edition.V2007))
        await asyncio.sleep(0)
        on_demand = asyncio.create_task(
            master.read(METER_C, ENERGY, edition=Edition.V2007, priority=Priority.ON_DEMAND)
        )
        async with asyncio.timeout(DEADLINE_S):
            await asyncio.gather(first, scheduled, on_demand)
    order = [frame.address for frame in bus.received]
    assert order == [METER_A, METER_C, METER_B]


# -- editions ------------------------------------------------------------------------------------------------


async def test_edition_is_detected_per_meter_and_remembered(tmp_path: Path) -> None:
    new = meter(METER_A)
    old = ScriptedMeter(METER_B, {0x9010: [Decimal("88.80")]}, edition=Edition.V1997)
    async with ScriptedBus(tmp_path, [new, old]) as bus, serial_channel(channel_config(bus.path)) as channel:
        master = channel.master
        assert await master.detect_edition(METER_A) is Edition.V2007
        assert await master.detect_edition(METER_B) is Edition.V1997
        read = await master.read(METER_B, 0x9010)  # edition from the detection
        assert read.values[0].value == Decimal("88.80")
        assert read.source == "dlt645-1997 DI 9010"
    # the 1997 meter stayed silent to the 2007 probe (sent 1 + 2 retries: a 2007 meter that missed one probe is
    # not taken for a 1997 one), then answered the 1997 probe and the read
    assert [f.function for f in old.requests] == [0x11, 0x11, 0x11, 0x01, 0x01]


async def test_configured_edition_skips_detection(tmp_path: Path) -> None:
    old = ScriptedMeter(METER_B, {0x9010: [Decimal("1.00")]}, edition=Edition.V1997)
    async with ScriptedBus(tmp_path, [old]) as bus:
        config = channel_config(bus.path, meters=[{"address": METER_B, "edition": "1997"}])
        async with serial_channel(config) as channel:
            await channel.master.read(METER_B, 0x9010)
    assert [f.function for f in old.requests] == [0x01]


# -- the link goes away ----------------------------------------------------------------------------------------


async def test_link_loss_fails_the_read_in_flight(tmp_path: Path) -> None:
    slow = meter(METER_A, reply_delay_s=0.5)
    async with (
        ScriptedBus(tmp_path, [slow]) as bus,
        serial_channel(channel_config(bus.path, reply_delay_s=2.0, retries=0)) as channel,
    ):
        read = asyncio.create_task(channel.master.read(METER_A, ENERGY, edition=Edition.V2007))
        while not slow.requests:
            await asyncio.sleep(0.005)
        await bus.vanish()
        with pytest.raises(ChannelClosed):
            await asyncio.wait_for(read, DEADLINE_S)
        with pytest.raises(ChannelClosed):
            await channel.master.read(METER_A, ENERGY, edition=Edition.V2007)


# -- wildcard addressing ---------------------------------------------------------------------------------------


async def test_read_address_of_the_only_meter_and_collision_of_two(tmp_path: Path) -> None:
    async with ScriptedBus(tmp_path, [meter(METER_C)]) as bus, serial_channel(channel_config(bus.path)) as channel:
        result = await channel.master.read_address()
    assert [f.address for f in result.frames] == [METER_C]
    assert not result.collided
    async with (
        ScriptedBus(tmp_path, [meter(METER_A), meter(METER_B)]) as bus,
        serial_channel(channel_config(bus.path)) as channel,
    ):
        result = await channel.master.read_address()
    assert result.collided  # both answer at once: the bytes interleave on the bus
