"""Dial-up: AT commands, result codes, call windows, retry limits, and a call that drops mid-read — against a
scripted Hayes modem on a real pty whose far end is scripted meters."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from headend.channels.modem import ModemCallFailed, ModemChannel, ModemProtocol, in_call_window, result_code
from headend.config import DirectMeterConfig, ModemChannelConfig
from headend.errors import ChannelClosed
from headend.metrics import Metrics
from headend.readings import Reading
from headend.scheduling.meter_poll import MeterPollPlan
from protocols.dlt645.control import Edition
from tests.headend.direct.helpers import DEADLINE_S
from tests.headend.direct.scripted_bus import ScriptedMeter, ScriptedModem

BLOCK = 0x0001FF00
ADDRESSES = ("000000000011", "000000000012", "000000000013")
NOON = datetime(2024, 5, 1, 12, 0)


def meters(**kwargs: Any) -> list[ScriptedMeter]:
    return [
        ScriptedMeter(address, {BLOCK: [Decimal(f"{n}0.00"), Decimal(f"{n}.00")]}, **kwargs)
        for n, address in enumerate(ADDRESSES, start=1)
    ]


def modem_config(path: str, **overrides: Any) -> ModemChannelConfig:
    settings: dict[str, Any] = {
        "port": path,
        "number": "02087654321",
        "init": ["ATZ", "ATE0V1"],
        "guard_s": 0.05,
        "command_timeout_s": 2.0,
        "dial_timeout_s": 2.0,
        "redial_delay_s": 0.0,
        "reply_delay_s": 0.3,
        "latency_s": 0.05,
        "retries": 0,
        "meters": [DirectMeterConfig(address=a, edition="2007") for a in ADDRESSES],
    }
    settings.update(overrides)
    return ModemChannelConfig(**settings)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


class Collected:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


@pytest.mark.parametrize(
    ("line", "code"),
    [("OK", "OK"), ("CONNECT", "CONNECT"), ("CONNECT 2400/ARQ", "CONNECT"), ("NO CARRIER", "NO CARRIER"),
     ("BUSY", "BUSY"), ("NO ANSWER", "NO ANSWER"), ("NO DIALTONE", "NO DIALTONE"), ("ERROR", "ERROR"),
     ("RING", None), ("ATZ", None), ("CONNECTED", None)],
)  # fmt: skip
def test_result_codes(line: str, code: str | None) -> None:
    assert result_code(line) == code


@pytest.mark.parametrize(
    ("hour", "minute", "windows", "inside"),
    [(12, 0, [], True), (1, 0, ["01:00-05:00"], True), (5, 0, ["01:00-05:00"], False),
     (23, 59, ["22:00-06:00"], True), (5, 59, ["22:00-06:00"], True), (6, 0, ["22:00-06:00"], False),
     (13, 0, ["01:00-02:00", "12:30-14:00"], True), (23, 59, ["00:00-24:00"], True)],
)  # fmt: skip
def test_call_windows(hour: int, minute: int, windows: list[str], inside: bool) -> None:
    assert in_call_window(datetime(2024, 5, 1, hour, minute), windows) is inside


async def test_a_call_reads_and_hangs_up_with_escape_and_ath(tmp_path: Path) -> None:
    metrics = Metrics()
    async with ScriptedModem(tmp_path, meters()) as modem:
        channel = ModemChannel(modem_config(modem.path), metrics=metrics, now=lambda: NOON)
        async with channel.session() as master:
            read = await master.read(ADDRESSES[1], BLOCK, edition=Edition.V2007)
        await channel.stop()
    assert [v.value for v in read.values] == [Decimal("20.00"), Decimal("2.00")]
    assert modem.commands == ["ATZ", "ATE0V1", "ATD02087654321", "ATH"]
    assert modem.escapes == 1
    assert sample(metrics, "headend_modem_calls_total", result="connect") == 1
    assert sample(metrics, "headend_direct_channels_up", kind="modem") == 0


async def test_busy_then_connect_within_the_attempt_limit(tmp_path: Path) -> None:
    metrics = Metrics()
    sink = Collected()
    async with ScriptedModem(tmp_path, meters(), results=["BUSY", "NO ANSWER"]) as modem:
        channel = ModemChannel(modem_config(modem.path, max_call_attempts=3), metrics=metrics, now=lambda: NOON)
        plan = MeterPollPlan(channel, metrics, sink, now=lambda: NOON)
        async with asyncio.timeout(DEADLINE_S):
            await plan.poll_round()
        await channel.stop()
    assert [c for c in modem.commands if c.startswith("ATD")] == ["ATD02087654321"] * 3
    assert {r.meter for r in sink.readings} == set(ADDRESSES)
    assert sample(metrics, "headend_modem_calls_total", result="busy") == 1
    assert sample(metrics, "headend_modem_calls_total", result="no_answer") == 1
    assert sample(metrics, "headend_modem_calls_total", result="connect") == 1


async def test_retry_limit_ends_the_round(tmp_path: Path) -> None:
    metrics = Metrics()
    sink = Collected()
    async with ScriptedModem(tmp_path, meters(), results=["BUSY"] * 5) as modem:
        channel = ModemChannel(modem_config(modem.path, max_call_attempts=2), metrics=metrics, now=lambda: NOON)
        plan = MeterPollPlan(channel, metrics, sink, now=lambda: NOON)
        async with asyncio.timeout(DEADLINE_S):
            await plan.poll_round()
    assert [c for c in modem.commands if c.startswith("ATD")] == ["ATD02087654321"] * 2
    assert sink.readings == []
    assert sample(metrics, "headend_direct_reads_total", kind="modem", result="unreached") == 3


async def test_no_call_outside_the_call_windows(tmp_path: Path) -> None:
    metrics = Metrics()
    async with ScriptedModem(tmp_path, meters()) as modem:
        config = modem_config(modem.path, call_windows=["01:00-05:00"])
        channel = ModemChannel(config, metrics=metrics, now=lambda: NOON)
        with pytest.raises(ModemCallFailed) as info:
            async with channel.session():
                pass
    assert info.value.result == "outside_window"
    assert modem.commands == []


async def test_a_call_that_drops_mid_read_fails_the_read_and_the_round_redials(tmp_path: Path) -> None:
    metrics = Metrics()
    sink = Collected()
    scripted = meters()
    scripted[1].reply_delay_s = 0.25  # the second meter is slow: the line drops while we wait for it
    async with ScriptedModem(tmp_path, scripted) as modem:
        channel = ModemChannel(modem_config(modem.path, max_call_attempts=3), metrics=metrics, now=lambda: NOON)
        plan = MeterPollPlan(channel, metrics, sink, now=lambda: NOON)
        round_task = asyncio.create_task(plan.poll_round())
        async with asyncio.timeout(DEADLINE_S):
            while not scripted[1].requests:
                await asyncio.sleep(0.005)
        await modem.drop()
        async with asyncio.timeout(DEADLINE_S):
            await round_task
    assert sorted({r.meter for r in sink.readings}) == list(ADDRESSES)
    assert len(sink.readings) == 6  # every meter once: the first was not read again in the second call
    assert [c for c in modem.commands if c.startswith("ATD")] == ["ATD02087654321"] * 2
    assert len(scripted[0].requests) == 1 and len(scripted[1].requests) == 2
    assert sample(metrics, "headend_modem_calls_total", result="dropped") == 1


async def test_dropped_call_fails_the_pending_read_with_channel_closed(tmp_path: Path) -> None:
    scripted = meters(reply_delay_s=0.5)
    async with ScriptedModem(tmp_path, scripted) as modem:
        channel = ModemChannel(modem_config(modem.path), now=lambda: NOON)

        async def read_while_the_line_drops() -> None:
            async with channel.session() as master:
                read = asyncio.create_task(master.read(ADDRESSES[0], BLOCK, edition=Edition.V2007))
                async with asyncio.timeout(DEADLINE_S):
                    while not scripted[0].requests:
                        await asyncio.sleep(0.005)
                await modem.drop()
                await read

        with pytest.raises(ChannelClosed):
            await read_while_the_line_drops()
    assert "ATH" not in modem.commands  # the line is already gone: the port is simply closed


class _Recorder:
    """A stand-in for the bus master: what reached it in data mode, and whether the call was dropped."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.detached: list[str] = []

    def data_received(self, data: bytes) -> None:
        self.data += data

    def detach(self, reason: str) -> None:
        self.detached.append(reason)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=60)
@given(cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
async def test_result_lines_and_carrier_loss_survive_any_chunking(cuts: list[int]) -> None:
    """Response lines come out the same however the modem's bytes are split; NO CARRIER split across reads
    in data mode still ends the call."""
    commands = b"ATZ\r\r\nOK\r\n\r\nCONNECT 9600/ARQ\r\n"
    recorder = _Recorder()
    protocol = ModemProtocol(recorder)  # type: ignore[arg-type]
    for chunk in _chunks(commands, cuts):
        protocol.data_received(chunk)
    lines = [protocol.lines.get_nowait() for _ in range(protocol.lines.qsize())]
    assert lines == ["ATZ", "OK", "CONNECT 9600/ARQ"]
    protocol.enter_data_mode()
    stream = bytes.fromhex("68 11 00 00 00 00 00 68 91 04 33 33 34 33 00 16") + b"\r\nNO CARRIER\r\n"
    for chunk in _chunks(stream, cuts):
        protocol.data_received(chunk)
    # everything up to the result code reached the master's framer (the CR LF after it may go either way)
    assert bytes(recorder.data).rstrip(b"\r\n") == stream.rstrip(b"\r\n")
    assert recorder.detached == ["call dropped (NO CARRIER)"]
    assert protocol.carrier_lost.done() and not protocol.data_mode


@given(
    start=st.integers(min_value=0, max_value=24 * 60 - 1),
    end=st.integers(min_value=0, max_value=24 * 60 - 1),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_a_window_and_its_reverse_split_the_day(start: int, end: int, minute: int) -> None:
    """ "a-b" and "b-a" (wrapping midnight) cover each minute of the day exactly once, when a ≠ b."""
    assume(start != end)
    forward, backward = f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"
    now = datetime(2024, 5, 1, minute // 60, minute % 60)
    assert in_call_window(now, [f"{forward}-{backward}"]) != in_call_window(now, [f"{backward}-{forward}"])
