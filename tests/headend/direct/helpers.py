"""Helpers for the direct-meter tests: a serial channel on a scripted pty bus, deadline-bounded waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from headend.channels.serial_bus import BusChannel
from headend.channels.serial_port import SerialChannel
from headend.config import DirectMeterConfig, SerialChannelConfig
from headend.metrics import Metrics
from tests.headend.direct.scripted_bus import ScriptedBus, ScriptedMeter

C = TypeVar("C", bound=BusChannel)

#: bound for "the link comes up" / "eventually"; a broken test fails here instead of hanging
DEADLINE_S = 10.0


def channel_config(path: str, scripted: Sequence[ScriptedMeter] = (), **overrides: Any) -> SerialChannelConfig:
    settings: dict[str, Any] = {
        "port": path,
        "baud": 9600,
        "reply_delay_s": 0.1,
        "retries": 2,
        "backoff_base_s": 30.0,
        "reconnect_base_s": 0.05,
        "reconnect_cap_s": 0.2,
    }
    if scripted:
        settings["meters"] = [DirectMeterConfig(address=m.address, edition="auto") for m in scripted]
    settings.update(overrides)
    return SerialChannelConfig(**settings)


@asynccontextmanager
async def running(channel: C) -> AsyncIterator[C]:
    """Start ``channel``, wait (bounded) for its link, stop it afterwards."""
    channel.start()
    try:
        async with asyncio.timeout(DEADLINE_S):
            await channel.wait_up()
        yield channel
    finally:
        await channel.stop()


@asynccontextmanager
async def serial_channel(config: SerialChannelConfig, metrics: Metrics | None = None) -> AsyncIterator[SerialChannel]:
    async with running(SerialChannel(config, metrics=metrics or Metrics())) as channel:
        yield channel


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


__all__ = ["DEADLINE_S", "ScriptedBus", "ScriptedMeter", "channel_config", "eventually", "running", "serial_channel"]
