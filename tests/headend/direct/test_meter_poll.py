"""The poll plan of direct meters: which register a DI lands in, readings from a read, a round over a bus with a
dead meter, and DIs chosen per edition."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headend.errors import ConfigError
from headend.metrics import Metrics
from headend.readings import Quality, Reading
from headend.scheduling.meter_poll import MeterPollPlan, check_dis, read_time, readings_from_read, register_of
from headend.sessions.dlt645_master import MeterRead
from protocols.dlt645.apdu import Value
from protocols.dlt645.control import Edition
from tests.headend.direct.helpers import ScriptedBus, ScriptedMeter, channel_config, serial_channel

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("di", "edition", "expected"),
    [
        (0x00010000, Edition.V2007, ("energy.active.forward", "kWh", 0)),
        (0x0001FF00, Edition.V2007, ("energy.active.forward", "kWh", None)),
        (0x00010300, Edition.V2007, ("energy.active.forward", "kWh", 3)),
        (0x00020000, Edition.V2007, ("energy.active.reverse", "kWh", 0)),
        (0x0003FF00, Edition.V2007, ("energy.reactive.forward", "kvarh", None)),
        (0x00080000, Edition.V2007, ("energy.reactive.q4", "kvarh", 0)),
        (0x00010001, Edition.V2007, None),  # last settlement day: not a current value
        (0x02010100, Edition.V2007, None),  # voltage
        (0x00090000, Edition.V2007, None),
        (0x9010, Edition.V1997, ("energy.active.forward", "kWh", 0)),
        (0x901F, Edition.V1997, ("energy.active.forward", "kWh", None)),
        (0x9024, Edition.V1997, ("energy.active.reverse", "kWh", 4)),
        (0x911F, Edition.V1997, ("energy.reactive.forward", "kvarh", None)),
        (0xB611, Edition.V1997, None),
        (0x9030, Edition.V1997, None),
    ],
)
def test_register_of(di: int, edition: Edition, expected: tuple[str, str, int | None] | None) -> None:
    assert register_of(di, edition) == expected


def test_unknown_dis_are_refused_at_start() -> None:
    check_dis(["0001FF00", "901F"], "direct.serial.0")
    with pytest.raises(ConfigError, match=r"direct.serial.0: dis: DI 02010100 is not a current energy value"):
        check_dis(["0001FF00", "02010100"], "direct.serial.0")


def test_read_time_is_the_head_end_clock_truncated_to_the_minute() -> None:
    assert read_time(NOW) == datetime(2024, 5, 1, 12, 34, tzinfo=ZONE)


def test_readings_from_a_block_read() -> None:
    read = MeterRead(
        "000000000161",
        0x0001FF00,
        Edition.V2007,
        (Value("total", Decimal("10.00"), "kWh"), Value("t1", Decimal("4.00"), "kWh"), Value("t2", None, "kWh")),
        b"",
    )
    readings = readings_from_read(read, ts=read_time(NOW), received_at=NOW)
    assert [(r.tariff, r.value, r.quality) for r in readings] == [
        (0, Decimal("10.00"), Quality.OK),
        (1, Decimal("4.00"), Quality.OK),
        (2, None, Quality.INVALID),
    ]
    first = readings[0]
    assert (first.meter, first.register, first.unit, first.terminal, first.pn) == (
        "000000000161",
        "energy.active.forward",
        "kWh",
        "",
        0,
    )
    assert first.source == "dlt645-2007 DI 0001FF00"
    assert first.ts == datetime(2024, 5, 1, 12, 34, tzinfo=ZONE) and first.received_at == NOW


class Collected:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


async def test_a_round_reads_every_live_meter_and_skips_the_dead_one(tmp_path: Path) -> None:
    new = ScriptedMeter("000000000001", {0x0001FF00: [Decimal("3.00"), Decimal("1.00"), Decimal("2.00")]})
    old = ScriptedMeter("000000000002", {0x901F: [Decimal("9.50"), Decimal("9.50")]}, edition=Edition.V1997)
    dead = ScriptedMeter("000000000003", silent=True)
    metrics = Metrics()
    sink = Collected()
    scripted = [new, old, dead]
    async with (
        ScriptedBus(tmp_path, scripted) as bus,
        serial_channel(channel_config(bus.path, scripted, retries=1), metrics) as channel,
    ):
        plan = MeterPollPlan(channel, metrics, sink, now=lambda: NOW)
        assert await plan.poll_round() == 5
        assert await plan.poll_round() == 5  # the dead meter is isolated now: no bus time for it
    got = {(r.meter, r.tariff): r.value for r in sink.readings[:5]}
    assert got == {
        ("000000000001", 0): Decimal("3.00"),
        ("000000000001", 1): Decimal("1.00"),
        ("000000000001", 2): Decimal("2.00"),
        ("000000000002", 0): Decimal("9.50"),
        ("000000000002", 1): Decimal("9.50"),
    }
    assert {r.source for r in sink.readings} == {"dlt645-2007 DI 0001FF00", "dlt645-1997 DI 901F"}
    # probes: 2 editions × 2 attempts in the first round, nothing in the second
    assert len(dead.requests) == 4
    assert metrics.registry.get_sample_value("headend_direct_reads_total", {"kind": "serial", "result": "ok"}) == 4
    isolated = metrics.registry.get_sample_value("headend_direct_reads_total", {"kind": "serial", "result": "isolated"})
    assert isolated == 1


async def test_configured_dis_per_edition(tmp_path: Path) -> None:
    new = ScriptedMeter("000000000001", {0x00010000: [Decimal("1.00")], 0x00020000: [Decimal("2.00")]})
    sink = Collected()
    async with ScriptedBus(tmp_path, [new]) as bus:
        config = channel_config(bus.path, [new], dis=["00010000", "00020000", "9010"])
        async with serial_channel(config) as channel:
            plan = MeterPollPlan(channel, Metrics(), sink, now=lambda: NOW)
            assert plan.dis_for(Edition.V1997) == (0x9010,)
            await plan.poll_round()
    assert [(r.register, r.value) for r in sink.readings] == [
        ("energy.active.forward", Decimal("1.00")),
        ("energy.active.reverse", Decimal("2.00")),
    ]


@given(quantity=st.integers(min_value=0, max_value=8), tariff=st.integers(min_value=0, max_value=0x3F))
def test_single_energy_items_store_their_di1_as_the_tariff(quantity: int, tariff: int) -> None:
    mapped = register_of(int.from_bytes(bytes((0x00, quantity, tariff, 0x00)), "big"), Edition.V2007)
    assert mapped is not None and mapped[2] == tariff
    block = register_of(int.from_bytes(bytes((0x00, quantity, 0xFF, 0x00)), "big"), Edition.V2007)
    assert block is not None and block[:2] == mapped[:2] and block[2] is None
