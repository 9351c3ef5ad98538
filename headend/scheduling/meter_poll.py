"""The poll plan of meters reached directly (DL/T 645 over a serial port, a serial device server or a modem):
every ``interval_s``, read the configured DIs of every meter of a channel and hand the readings to the same
ingest/spool pipeline as the concentrator path.

* What is read: the channel's ``dis``, else forward active energy, total and tariffs — 0001FF00 (DL/T 645-2007
  附录A 表A.1) or 901F (DL/T 645-1997) after the meter's edition is known.
* Readings: ``meter`` = the 12-digit address, ``register`` from the DI (:func:`register_of`), ``tariff`` from
  DI1 or the position in a block, ``source`` = ``"dlt645-2007 DI 0001FF00"``. A DL/T 645 reply carries no read
  time, so ``ts`` is the head-end's clock in the configured zone, **truncated to the minute** — a re-read within
  the same minute is the same reading (idempotent), and readings of one round line up.
* A round runs inside a channel session (:meth:`~headend.channels.serial_bus.BusChannel.session`): for a modem
  that is a call; when a call drops mid-round, the meters not read yet are read in the next call, up to the
  channel's attempt limit.
* Meter clocks: when the channel has a :class:`~headend.collection.meter_clock.MeterClockPlan` (``clock``, set by
  :meth:`headend.channels.direct.DirectMeters.start_clock_checks`) and it is due, the round ends with a clock
  check (DL/T 645 broadcast time) in the same session — for a modem, the same call.
* Frozen data: likewise with a :class:`~headend.collection.meter_frozen.MeterFrozenPlan` (``frozen``, set by
  :meth:`headend.channels.direct.DirectMeters.start_frozen`): daily frozen data, load profiles and backfill
  (补抄) at the end of the round, in the same session.
* Spread: the first round starts at a random offset within ``jitter × interval``, later rounds every
  ``interval ± jitter × interval / 2``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from headend.channels.serial_bus import BusChannel
from headend.collection.meter_clock import MeterClockPlan
from headend.errors import ChannelClosed, ConfigError, ConfigProblem, HeadendError, ResponseTimeout
from headend.logs import Prefixed
from headend.metrics import Metrics
from headend.readings import Quality, Reading
from headend.sessions.dlt645_master import BusMaster, MeterIsolated, MeterRead
from protocols.dlt645.control import Edition
from protocols.errors import ProtocolError

if TYPE_CHECKING:  # meter_frozen builds its readings with this module's helpers
    from headend.collection.meter_frozen import MeterFrozenPlan

_LOGGER = logging.getLogger(__name__)

#: forward active energy, total + tariffs (正向有功电能数据块)
DEFAULT_DIS: dict[Edition, tuple[int, ...]] = {Edition.V2007: (0x0001FF00,), Edition.V1997: (0x901F,)}

#: DL/T 645-2007 表A.1, DI2 (quantity) of a current-value energy DI (DI3 = 00, DI0 = 00) → register, unit; the same
#: numbering is DI1 of a frozen energy block (表A.6, 0506 01..08 NN)
ENERGY_2007: dict[int, tuple[str, str]] = {
    0x00: ("energy.active.combined", "kWh"),  # 组合有功
    0x01: ("energy.active.forward", "kWh"),  # 正向有功
    0x02: ("energy.active.reverse", "kWh"),  # 反向有功
    0x03: ("energy.reactive.forward", "kvarh"),  # 组合无功1
    0x04: ("energy.reactive.reverse", "kvarh"),  # 组合无功2
    0x05: ("energy.reactive.q1", "kvarh"),  # 第一象限无功
    0x06: ("energy.reactive.q2", "kvarh"),
    0x07: ("energy.reactive.q3", "kvarh"),
    0x08: ("energy.reactive.q4", "kvarh"),
}
#: DL/T 645-1997: DI1 (the high byte) of a current energy DI → register, unit; DI0 low nibble = tariff (F = block)
_ENERGY_1997: dict[int, tuple[str, str]] = {
    0x90: ("energy.active", "kWh"),  # 90 1x forward, 90 2x reverse
    0x91: ("energy.reactive", "kvarh"),  # 91 1x forward, 91 2x reverse
}


def register_of(di: int, edition: Edition) -> tuple[str, str, int | None] | None:
    """(register, unit, tariff) a DI's values are stored under — ``tariff`` None for a block (数据块), whose value
    index is the tariff — or None when the DI is not a current energy value.

    >>> register_of(0x0001FF00, Edition.V2007), register_of(0x9012, Edition.V1997)
    (('energy.active.forward', 'kWh', None), ('energy.active.forward', 'kWh', 2))
    """
    if edition is Edition.V2007:
        di3, di2, di1, di0 = di.to_bytes(4, "big")
        if di3 != 0x00 or di0 != 0x00 or di2 not in ENERGY_2007 or not (di1 <= 0x3F or di1 == 0xFF):
            return None
        register, unit = ENERGY_2007[di2]
        return register, unit, None if di1 == 0xFF else di1
    high, low = di.to_bytes(2, "big")
    direction = {0x10: "forward", 0x20: "reverse"}.get(low & 0xF0)
    if high not in _ENERGY_1997 or direction is None or (low & 0x0F) not in (*range(5), 0x0F):
        return None
    stem, unit = _ENERGY_1997[high]
    return f"{stem}.{direction}", unit, None if low & 0x0F == 0x0F else low & 0x0F


def check_dis(dis: Sequence[str], where: str) -> None:
    """Refuse, at start, DIs whose values have no register (ConfigError naming ``where``)."""
    refuse_dis(dis_problems(where, "dis", dis, _current_energy, "a current energy value"))


def _current_energy(text: str) -> bool:
    return register_of(int(text, 16), Edition.V2007 if len(text) == 8 else Edition.V1997) is not None


def dis_problems(
    where: str, key: str, dis: Sequence[str], accepted: Callable[[str], bool], what: str
) -> list[ConfigProblem]:
    """A problem for every DI of ``dis`` (hex text) that ``accepted`` refuses: "DI <text> is not <what>"."""
    return [ConfigProblem(where, None, key, f"DI {text} is not {what}") for text in dis if not accepted(text)]


def refuse_dis(problems: Sequence[ConfigProblem]) -> None:
    """Raise ConfigError when there are problems (the daemon refuses to start)."""
    if problems:
        raise ConfigError(list(problems))


def read_time(now: datetime) -> datetime:
    """The reading time of a direct read: the head-end's clock, truncated to the minute (no read time in
    the reply)."""
    return now.replace(second=0, microsecond=0)


def readings_from_read(read: MeterRead, *, ts: datetime, received_at: datetime) -> list[Reading]:
    """Readings for one complete 读数据 reply (all follow-up frames merged)."""
    mapped = register_of(read.di, read.edition)
    if mapped is None:
        return []
    register, unit, tariff = mapped
    numbers = [value.value if isinstance(value.value, Decimal) else None for value in read.values]
    return meter_readings(
        read.address, register, unit, numbers, ts=ts, received_at=received_at, source=read.source, tariff=tariff
    )


def meter_readings(
    meter: str,
    register: str,
    unit: str,
    numbers: Sequence[Decimal | None],
    *,
    ts: datetime,
    received_at: datetime,
    source: str,
    tariff: int | None = None,
    quality: Quality = Quality.OK,
) -> list[Reading]:
    """One reading per value of a direct meter's register: ``tariff`` None = the values are total + tariffs (a
    block), else all under that tariff; a "no value" filler (None) is quality invalid."""
    return [
        Reading(
            meter=meter,
            register=register,
            tariff=index if tariff is None else tariff,
            ts=ts,
            value=number,
            unit=unit,
            quality=quality if number is not None else Quality.INVALID,
            source=source,
            terminal="",
            pn=0,
            received_at=received_at,
        )
        for index, number in enumerate(numbers)
    ]


def round_delay(interval_s: float, jitter: float, first: bool, rng: random.Random) -> float:
    """Seconds before the next poll round: the first within ``jitter × interval``, later ones every
    ``interval ± jitter × interval / 2`` (so channels and devices started together drift apart)."""
    if first:
        return rng.uniform(0, jitter * interval_s)
    return max(0.0, interval_s + rng.uniform(-jitter * interval_s / 2, jitter * interval_s / 2))


async def run_rounds(
    next_delay: Callable[[bool], float], poll_round: Callable[[], Awaitable[object]], log: Prefixed
) -> None:
    """Poll rounds for ever, ``next_delay(first)`` apart; a failed round is logged and the next one comes."""
    first = True
    while True:
        await asyncio.sleep(next_delay(first))
        first = False
        try:
            await poll_round()
        except (HeadendError, ProtocolError) as exc:
            log.warning("poll round failed: %s", exc)
        except Exception:  # a poll loop survives its own faults (STYLE.md §3.4)
            log.exception("poll round failed")


class MeterPollPlan:
    """Polls the meters of one direct channel."""

    def __init__(
        self,
        channel: BusChannel,
        metrics: Metrics,
        sink: Callable[[Sequence[Reading]], Awaitable[None]],
        *,
        now: Callable[[], datetime],
        rng: random.Random | None = None,
    ) -> None:
        self.channel = channel
        self.config = channel.config
        self._metrics = metrics
        self._sink = sink
        self._now = now
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None
        self.completed_rounds = 0
        self.clock: MeterClockPlan | None = None  #: the channel's meter clock checks, run in its rounds
        self.frozen: MeterFrozenPlan | None = None  #: daily frozen data, curves, backfill, run in its rounds
        self._dis = {
            edition: tuple(int(d, 16) for d in self.config.dis if len(d) == 2 * size) or DEFAULT_DIS[edition]
            for edition, size in ((Edition.V2007, 4), (Edition.V1997, 2))
        }

    def dis_for(self, edition: Edition) -> tuple[int, ...]:
        return self._dis[edition]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"meter poll {self.channel.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def next_delay(self, first: bool) -> float:
        return round_delay(self.config.interval_s, self.config.jitter, first, self._rng)

    async def _run(self) -> None:
        await run_rounds(self.next_delay, self.poll_round, self.channel.log)

    async def poll_round(self) -> int:
        """Read every meter once (within the channel's session attempts); return the readings handed over."""
        pending = [meter.address for meter in self.config.meters]
        total = 0
        for attempt in range(self.channel.session_attempts):
            if not pending:
                break
            if attempt:
                self.channel.log.info("%d meters left to read; session %d", len(pending), attempt + 1)
            try:
                async with self.channel.session() as master:
                    while pending:
                        total += await self._poll_meter(pending[0])
                        pending.pop(0)
                    if self.clock is not None and self.clock.due():
                        await self._check_clocks(self.clock, master)
                    if self.frozen is not None and self.frozen.due():
                        await self._run_guarded(self.frozen.run(master), "frozen data read")
            except ChannelClosed as exc:
                self.channel.log.warning("session ended with %d meters unread: %s", len(pending), exc)
        for _ in pending:
            self._metrics.direct_reads.labels(self.channel.kind, "unreached").inc()
        self.completed_rounds += 1
        return total

    async def _check_clocks(self, clock: MeterClockPlan, master: BusMaster) -> None:
        """The clock check of the round (failures are logged: the readings of the round stand)."""
        await self._run_guarded(clock.run(master), "meter clock check")

    async def _run_guarded(self, work: Awaitable[object], what: str) -> None:
        """An extra of the round (clock check, frozen data): its failure is logged, the round's readings stand."""
        try:
            await work
        except ChannelClosed:
            raise
        except (HeadendError, ProtocolError) as exc:
            self.channel.log.warning("%s failed: %s", what, exc)

    async def _poll_meter(self, address: str) -> int:
        master = self.channel.master
        kind = self.channel.kind
        try:
            edition = master.state(address).edition or await master.detect_edition(address)
        except MeterIsolated:
            self._metrics.direct_reads.labels(kind, "isolated").inc()
            return 0
        except ResponseTimeout as exc:
            self._metrics.direct_reads.labels(kind, "timeout").inc()
            self.channel.log.warning("%s", exc)
            return 0
        results = await master.read_many(address, self.dis_for(edition))
        received_at = self._now()
        ts = read_time(received_at)
        readings: list[Reading] = []
        for result in results:
            if isinstance(result, MeterRead):
                readings.extend(readings_from_read(result, ts=ts, received_at=received_at))
                self._metrics.direct_reads.labels(kind, "ok").inc()
            else:
                outcome = (
                    "isolated"
                    if isinstance(result, MeterIsolated)
                    else "timeout"
                    if isinstance(result, ResponseTimeout)
                    else "error"
                )
                self._metrics.direct_reads.labels(kind, outcome).inc()
                if outcome == "error":
                    self.channel.log.warning("meter %s: %s", address, result)
        self._metrics.readings_invalid.inc(sum(1 for r in readings if r.value is None))
        if readings:
            await self._sink(readings)
        return len(readings)
