"""What every direct meter channel shares: the asyncio Protocol that feeds a :class:`BusMaster`, and a channel
that keeps its link open — reopening it with capped exponential backoff when it fails or goes away (a USB
adapter unplugged, a serial device server rebooted) — without restarting the daemon.

A channel owns one :class:`~headend.sessions.dlt645_master.BusMaster`; subclasses only say how to open the link
(:meth:`BusChannel._open`). While the link is down the master is detached and every request fails at once with
:class:`~headend.errors.ChannelClosed`; the poll plan waits for :meth:`BusChannel.wait_up`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ClassVar, cast

from headend.config import BusConfig
from headend.errors import ChannelClosed
from headend.logs import Prefixed
from headend.metrics import Metrics
from headend.sessions.dlt645_master import BusMaster

_LOGGER = logging.getLogger(__name__)


class BusProtocol(asyncio.Protocol):
    """The byte pipe under a master: received bytes go to ``on_data``; ``lost`` completes when the link ends."""

    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        self._on_data = on_data
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's and pyserial-asyncio's transports implement the interface without always subclassing it
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def backoff_delay(failures: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds before the next attempt after ``failures`` failures in a row: base × 2^(failures-1), at most
    cap, ±10 % jitter so channels that failed together do not retry together.

    >>> backoff_delay(3, 1.0, 60.0, random.Random(0)) == 4.0 * random.Random(0).uniform(0.9, 1.1)
    True
    """
    return float(min(cap_s, base_s * 2 ** max(0, failures - 1)) * rng.uniform(0.9, 1.1))


class BusChannel:
    """A bus master plus the supervision of its link."""

    kind: ClassVar[str] = "?"
    #: sessions a poll round may use to reach every meter (a modem redials after a dropped call)
    session_attempts: int = 1

    def __init__(
        self,
        config: BusConfig,
        *,
        name: str,
        metrics: Metrics | None = None,
        reconnect_base_s: float = 1.0,
        reconnect_cap_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.name = name
        self.metrics = metrics or Metrics()
        self.master = BusMaster(config, name=name, kind=self.kind, metrics=self.metrics, rng=rng)
        self.log = Prefixed(_LOGGER, name)
        self._reconnect_base_s = reconnect_base_s
        self._reconnect_cap_s = reconnect_cap_s
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None
        self._protocol: BusProtocol | None = None
        self.opens = 0  #: successful opens (a reopen after a loss counts again)

    async def _open(self) -> BusProtocol:
        """Open the link; return its protocol once bytes can flow. Raise OSError (or TimeoutError) on failure."""
        raise NotImplementedError

    def _protocol_factory(self) -> BusProtocol:
        return BusProtocol(self.master.data_received)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start keeping the link open (in the background)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"channel {self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._close_link("channel stopped")

    async def wait_up(self) -> None:
        """Wait until the link is up (bound it with ``asyncio.timeout``)."""
        await self.master.attached.wait()

    @property
    def is_up(self) -> bool:
        return self.master.is_attached

    @asynccontextmanager
    async def session(self) -> AsyncIterator[BusMaster]:
        """The bus for one poll round. A permanent link is either up or the round is skipped
        (:class:`ChannelClosed`); a modem dials here and hangs up after."""
        if not self.is_up:
            raise ChannelClosed(f"{self.name}: link is down")
        yield self.master

    def _close_link(self, reason: str) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            if self.master.is_attached:
                self.metrics.channels_up.labels(self.kind).dec()
            self.master.detach(reason)
            protocol.close()

    async def _supervise(self) -> None:
        failures = 0
        while True:
            try:
                protocol = await self._open()
            except (OSError, TimeoutError) as exc:
                failures += 1
                self.metrics.channel_opens.labels(self.kind, "failed").inc()
                delay = backoff_delay(failures, self._reconnect_base_s, self._reconnect_cap_s, self._rng)
                log = self.log.warning if failures == 1 else self.log.debug
                log("cannot open (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.opens += 1
            self._protocol = protocol
            self.metrics.channel_opens.labels(self.kind, "ok").inc()
            self.metrics.channels_up.labels(self.kind).inc()
            self.master.attach(protocol.write)
            self.log.info("link up")
            lost = await protocol.lost
            reason = f"link lost: {lost}" if lost else "link closed"
            self.metrics.channel_opens.labels(self.kind, "lost").inc()
            self._close_link(reason)
            self.log.warning("%s; reopening", reason)
            failures = 1
            await asyncio.sleep(backoff_delay(failures, self._reconnect_base_s, self._reconnect_cap_s, self._rng))
