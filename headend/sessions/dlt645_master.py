"""DL/T 645 bus master (主站 on an RS-485 bus): one request on the bus at a time, over any byte link.

The link (serial port, TCP to a serial device server, a modem in data mode) is attached with :meth:`BusMaster.attach`
and feeds received bytes to :meth:`BusMaster.data_received`; when it goes away, :meth:`BusMaster.detach` fails the
request in flight with :class:`~headend.errors.ChannelClosed`. The master never opens anything itself.

Rules (DL/T 645-2007 §4 帧格式, §7.1 读数据, §7.2 读后续数据, §7.4 读通信地址, §7.5 广播校时; PROTOCOLS.md B.1):

* Every request is preceded by ``preamble`` × ``FE`` wake-up bytes (前导字节).
* One request on the bus at a time, granted by :class:`~headend.sessions.priority.PriorityLock`: on-demand reads
  (a field engineer, the CLI) go ahead of scheduled polls. The lock is held for one exchange (a request and its
  follow-up frames) and released between retries, so a retrying meter lets others in.
* Timeouts come from the baud rate (:class:`BusTiming`): a byte is 11 bit times on an 8E1 line; the reply must
  start within the request's transmission time + ``reply_delay_s`` (+ ``latency_s`` of TCP/modem links), and a
  silence of ``inter_byte_chars`` character times (at least ``min_inter_byte_s``) inside a reply ends it.
* No reply, or a garbled one (checksum, stalled frame), is retried ``retries`` times; an abnormal reply (异常应答,
  C.D6 = 1) is the meter's answer and raises the :class:`~protocols.errors.Dlt645ErrorResponse` subclass of its
  error word (``ErrorReply.check()``), without retry.
* A reply flagged 后续帧 (C.D5 = 1) is followed with 读后续数据 (2007: 12H, DI + SEQ counting from 1; 1997: 02H,
  DI) until a frame without the flag; the value bytes of all frames are decoded together
  (:class:`protocols.dlt645.exchange.ReadExchange`; a retry resends the step that went unanswered).
* A meter that did not answer is isolated: scheduled reads to it fail at once (:class:`MeterIsolated`) for
  ``backoff_base_s × 2^(failures-1)`` (at most ``backoff_cap_s``), and while it is failing it gets one attempt,
  not ``retries + 1`` — a dead meter costs the bus one reply timeout per backoff period, not three per poll.
  On-demand reads are always tried.
* The edition (2007 or 1997) of each meter is configured or probed (:class:`protocols.dlt645.exchange.EditionDetector`:
  a 2007 read of 00010000 first, then a 1997 read of 9010); the edition that gets a reply is remembered.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from headend.config import BusConfig
from headend.errors import ChannelClosed, ResponseTimeout
from headend.logs import TRACE, Prefixed
from headend.metrics import Metrics
from headend.sessions.priority import Priority, PriorityLock
from protocols.common.framing import Discarded
from protocols.dlt645.apdu import ErrorReply, ReadReply, Value
from protocols.dlt645.control import Edition, Function
from protocols.dlt645.data_items import format_di
from protocols.dlt645.exchange import EditionDetector, ReadExchange
from protocols.dlt645.framer import Dlt645Framer
from protocols.dlt645.link import WILDCARD, Dlt645Frame, address_matches, build_frame
from protocols.errors import DecodeError, DeviceError

_LOGGER = logging.getLogger(__name__)
PROTOCOL = "dlt645"


class MeterIsolated(ResponseTimeout):
    """The meter failed recently and is in backoff: the scheduled read was not put on the bus."""

    def __init__(self, address: str, retry_in_s: float) -> None:
        super().__init__(f"meter {address} is isolated after failing; next try in {retry_in_s:.0f} s")
        self.address = address
        self.retry_in_s = retry_in_s


@dataclass(frozen=True, slots=True)
class BusTiming:
    """Timing of one bus, derived from its line settings (DL/T 645-2007 §4.1 物理层; PROTOCOLS.md B.1).

    ``bits_per_char`` = start + data + parity + stop bits: 11 for the standard 8E1.
    """

    baud: int
    bits_per_char: int = 11
    reply_delay_s: float = 0.5
    inter_byte_chars: float = 16.0
    min_inter_byte_s: float = 0.05
    latency_s: float = 0.0
    turnaround_s: float = 0.0

    @classmethod
    def from_config(cls, config: BusConfig) -> BusTiming:
        bits = 1 + config.bytesize + (0 if config.parity == "N" else 1) + config.stopbits
        return cls(
            baud=config.baud,
            bits_per_char=bits,
            reply_delay_s=config.reply_delay_s,
            inter_byte_chars=config.inter_byte_chars,
            min_inter_byte_s=config.min_inter_byte_s,
            latency_s=config.latency_s,
            turnaround_s=config.turnaround_s,
        )

    @property
    def byte_time_s(self) -> float:
        """Seconds one character takes on the wire."""
        return self.bits_per_char / self.baud

    def tx_time(self, size: int) -> float:
        """Seconds ``size`` bytes take on the wire."""
        return size * self.byte_time_s

    def reply_timeout(self, request_size: int) -> float:
        """From handing a request of ``request_size`` bytes to the link until the reply must have started."""
        return self.tx_time(request_size) + self.reply_delay_s + self.latency_s

    @property
    def inter_byte_timeout(self) -> float:
        """A silence this long inside a reply ends it."""
        return max(self.inter_byte_chars * self.byte_time_s, self.min_inter_byte_s) + self.latency_s


@dataclass(frozen=True, slots=True)
class MeterRead:
    """The complete answer to one 读数据 (all follow-up frames merged): exact values, per the DI catalogue."""

    address: str
    di: int
    edition: Edition
    values: tuple[Value, ...]
    raw_data: bytes
    frames: int = 1

    @property
    def di_text(self) -> str:
        return format_di(self.di, self.edition)

    @property
    def source(self) -> str:
        """e.g. ``"dlt645-2007 DI 0001FF00"``."""
        return f"{self.edition.value} DI {self.di_text}"


@dataclass(slots=True)
class MeterState:
    """What the master remembers about a meter: its edition and how it has been failing."""

    edition: Edition | None = None
    failures: int = 0
    retry_at: float = 0.0

    def isolated(self, now: float) -> bool:
        return self.failures > 0 and now < self.retry_at


class _NoReply(Exception):
    """No complete matching reply within the timeouts (internal: becomes a retry or ResponseTimeout)."""


@dataclass(slots=True)
class _Exchange:
    match: Callable[[Dlt645Frame], bool]
    future: asyncio.Future[Dlt645Frame]
    collect: bool = False
    frames: list[Dlt645Frame] = field(default_factory=list)
    garbled: int = 0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What answered a request to a (wildcard) address: clean replies, and how many garbled pieces came too —
    several meters answering at once collide on the bus."""

    frames: tuple[Dlt645Frame, ...]
    garbled: int

    @property
    def collided(self) -> bool:
        return self.garbled > 0 or len({f.address for f in self.frames}) > 1


class BusMaster:
    """The master's side of one bus. Create one per channel; the channel attaches and detaches the link."""

    def __init__(
        self,
        config: BusConfig,
        *,
        name: str,
        kind: str,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.timing = BusTiming.from_config(config)
        self.name = name
        self.kind = kind
        self.metrics = metrics or Metrics()
        self.log = Prefixed(_LOGGER, name)
        self._rng = rng or random.Random()
        self._lock = PriorityLock()
        self._framer = Dlt645Framer()
        self._write: Callable[[bytes], None] | None = None
        self._exchange: _Exchange | None = None
        self._meters: dict[str, MeterState] = {}
        self._bus_free_at = 0.0
        self._last_rx = 0.0
        self._rx_count = 0
        self._rx_waiter: asyncio.Future[None] | None = None
        self.attached = asyncio.Event()
        for meter in config.meters:
            if meter.edition != "auto":
                self.state(meter.address).edition = Edition(f"dlt645-{meter.edition}")

    # -- the link -------------------------------------------------------------------------------------------
    def attach(self, write: Callable[[bytes], None]) -> None:
        """A link is up: requests are written with ``write``."""
        self._write = write
        self._framer.idle()
        self.attached.set()

    def detach(self, reason: str) -> None:
        """The link is gone: the request in flight fails with :class:`ChannelClosed`."""
        self._write = None
        self.attached.clear()
        self._framer.idle()
        exchange = self._exchange
        if exchange is not None and not exchange.future.done():
            exchange.future.set_exception(ChannelClosed(f"{self.name}: {reason}"))

    @property
    def is_attached(self) -> bool:
        return self._write is not None

    def data_received(self, data: bytes) -> None:
        """Bytes from the bus."""
        self._last_rx = _now()
        self._rx_count += 1
        if _LOGGER.isEnabledFor(TRACE):
            self.log.log(TRACE, "rx %s", data.hex(" "))
        for event in self._framer.feed(data):
            if isinstance(event, Discarded):
                self._discarded(event)
            else:
                self._frame(event)
        waiter = self._rx_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _discarded(self, event: Discarded) -> None:
        self.metrics.decode_errors.labels(PROTOCOL, event.reason).inc()
        if self._exchange is not None:
            self._exchange.garbled += 1
        self.log.warning(
            "discarded %d bytes (%s: %s): %s", len(event.data), event.reason, event.detail, event.data[:32].hex(" ")
        )

    def _frame(self, frame: Dlt645Frame) -> None:
        self.metrics.frames.labels(PROTOCOL, "in").inc()
        if not frame.is_reply:
            # our own request echoed by a half-duplex adapter, or another master on the bus
            self.log.debug("ignoring a request frame C=%02XH to %s", frame.control, frame.address)
            return
        exchange = self._exchange
        if exchange is None or exchange.future.done() or not exchange.match(frame):
            self.log.info("unexpected reply C=%02XH from %s (late or not ours)", frame.control, frame.address)
            return
        self.log.debug("reply C=%02XH from %s, %d data bytes", frame.control, frame.address, len(frame.data))
        if exchange.collect:
            exchange.frames.append(frame)
        else:
            exchange.future.set_result(frame)

    # -- one exchange on the bus (the caller holds the lock) ------------------------------------------------
    async def _transact(
        self, request: bytes, match: Callable[[Dlt645Frame], bool], *, collect: bool = False
    ) -> _Exchange:
        """Write ``request`` and wait for the matching reply (``collect``: every matching reply within the
        window). Raises :class:`_NoReply` or :class:`ChannelClosed`."""
        await self._wait_bus_free()
        write = self._write
        if write is None:
            raise ChannelClosed(f"{self.name}: link is down")
        for stale in self._framer.idle():
            self._discarded(stale)
        loop = asyncio.get_running_loop()
        exchange = _Exchange(match, loop.create_future(), collect=collect)
        self._exchange = exchange  # registered before the first byte leaves
        try:
            sent_at = _now()
            rx_mark = self._rx_count
            write(request)
            self.metrics.frames.labels(PROTOCOL, "out").inc()
            if _LOGGER.isEnabledFor(TRACE):
                self.log.log(TRACE, "tx %s", request.hex(" "))
            first_deadline = sent_at + self.timing.reply_timeout(len(request))
            gap = self.timing.inter_byte_timeout
            while True:
                now = _now()
                started = self._rx_count != rx_mark
                if started and self._framer.buffered and now >= self._last_rx + gap:
                    for stalled in self._framer.idle():  # a reply that stopped mid-frame is given up
                        self._discarded(stalled)
                # wait for the reply to start, then for as long as bytes keep coming
                end = max(first_deadline, self._last_rx + gap) if started else first_deadline
                if now >= end:
                    break
                wake = min(end, self._last_rx + gap) if started and self._framer.buffered else end
                rx = self._rx_waiter = loop.create_future()  # woken by bytes: the gap clock restarts
                await asyncio.wait((exchange.future, rx), timeout=max(0.0, wake - now), return_when="FIRST_COMPLETED")
                if exchange.future.done():
                    exchange.future.result()  # ChannelClosed from detach()
                    break
            for stalled in self._framer.idle():
                self._discarded(stalled)
            if not exchange.future.done() and not collect:
                raise _NoReply
            return exchange
        finally:
            self._exchange = None
            self._rx_waiter = None
            self._bus_free_at = _now() + self.timing.turnaround_s
            if not exchange.future.done():
                exchange.future.cancel()

    async def _wait_bus_free(self) -> None:
        delay = self._bus_free_at - _now()
        if delay > 0:
            await asyncio.sleep(delay)

    # -- meters ---------------------------------------------------------------------------------------------
    def state(self, address: str) -> MeterState:
        state = self._meters.get(address)
        if state is None:
            state = self._meters[address] = MeterState()
        return state

    def isolated(self) -> list[str]:
        """Addresses in backoff now."""
        now = _now()
        return [address for address, state in self._meters.items() if state.isolated(now)]

    def _failed(self, address: str, state: MeterState) -> None:
        state.failures += 1
        delay = min(self.config.backoff_cap_s, self.config.backoff_base_s * 2 ** (state.failures - 1))
        state.retry_at = _now() + delay * self._rng.uniform(0.9, 1.1)  # jitter: failed meters do not realign
        if state.failures == 1:
            self.metrics.meters_isolated.labels(self.kind).inc()
        self.log.warning("meter %s did not answer (%d in a row): isolated for %.0f s", address, state.failures, delay)

    def _answered(self, address: str, state: MeterState) -> None:
        if state.failures:
            self.metrics.meters_isolated.labels(self.kind).dec()
            self.log.info("meter %s answers again after %d failures", address, state.failures)
        state.failures = 0
        state.retry_at = 0.0

    def _attempts(self, address: str, state: MeterState, priority: Priority) -> int:
        now = _now()
        if priority >= Priority.SCHEDULED and state.isolated(now):
            self.metrics.requests.labels(PROTOCOL, "isolated").inc()
            raise MeterIsolated(address, state.retry_at - now)
        return 1 if state.failures and priority >= Priority.SCHEDULED else self.config.retries + 1

    async def read(
        self,
        address: str,
        di: int,
        *,
        edition: Edition | None = None,
        priority: Priority = Priority.SCHEDULED,
        params: bytes = b"",
    ) -> MeterRead:
        """读数据 (DL/T 645-2007 §7.1 / 1997 01H) of one DI, follow-up frames included
        (:class:`~protocols.dlt645.exchange.ReadExchange`; a retry resends the step that went unanswered).

        Raises :class:`ResponseTimeout` (:class:`MeterIsolated` for a scheduled read of a meter in backoff),
        :class:`ChannelClosed`, a :class:`~protocols.errors.Dlt645ErrorResponse` subclass for an abnormal reply,
        or :class:`~protocols.errors.DecodeError` for a reply that does not decode. ``params`` follow the DI in the
        request (负荷记录 N and start time, :func:`protocols.dlt645.apdu.load_profile_params`).
        """
        state = self.state(address)
        attempts = self._attempts(address, state, priority)
        if edition is None:
            edition = state.edition or await self.detect_edition(address, priority=priority)
        exchange = ReadExchange(address, di, edition=edition, params=params, preamble=self.config.preamble)
        started = _now()
        for attempt in range(attempts):
            if attempt:
                self.metrics.retransmissions.inc()
                self.log.info("no answer from %s to DI %s, attempt %d", address, format_di(di, edition), attempt + 1)
            try:
                async with self._lock.hold(priority):
                    result = await self._read_exchange(exchange)
            except _NoReply:
                continue
            except ChannelClosed:
                self.metrics.requests.labels(PROTOCOL, "closed").inc()
                raise
            except DecodeError:
                self.metrics.requests.labels(PROTOCOL, "decode_error").inc()
                raise
            if isinstance(result, ErrorReply):
                self._answered(address, state)  # the meter is alive: it said no
                self.metrics.requests.labels(PROTOCOL, "denied").inc()
                result.check()
            self._answered(address, state)
            self.metrics.requests.labels(PROTOCOL, "ok").inc()
            self.metrics.request_latency.labels(PROTOCOL).observe(_now() - started)
            return MeterRead(result.address, di, edition, result.values, result.raw_data, len(exchange.frames))
        self._failed(address, state)
        self.metrics.requests.labels(PROTOCOL, "timeout").inc()
        raise ResponseTimeout(f"{self.name}: meter {address} did not answer DI {format_di(di, edition)} ({attempts}×)")

    async def _read_exchange(self, exchange: ReadExchange) -> ReadReply | ErrorReply:
        """Drive ``exchange`` on the bus from where it stands until it completes (raises :class:`_NoReply`)."""
        request: bytes | None = exchange.request
        while request is not None:
            transaction = await self._transact(request, exchange.accepts)
            request = exchange.receive(transaction.future.result())
        return exchange.result

    async def detect_edition(self, address: str, *, priority: Priority = Priority.SCHEDULED) -> Edition:
        """Which edition ``address`` speaks (:class:`~protocols.dlt645.exchange.EditionDetector`: a 2007 read of
        00010000, then a 1997 read of 9010; any reply decides, an abnormal one too). Remembered for later reads."""
        state = self.state(address)
        attempts = self._attempts(address, state, priority)
        detector = EditionDetector(address, preamble=self.config.preamble)
        request = detector.request
        while request is not None:
            for _ in range(attempts):
                try:
                    async with self._lock.hold(priority):
                        transaction = await self._transact(request, detector.accepts)
                except _NoReply:
                    continue
                edition = detector.on_reply(transaction.future.result())
                state.edition = edition
                self._answered(address, state)
                self.log.info("meter %s speaks %s", address, edition.value)
                return edition
            request = detector.on_timeout()
        self._failed(address, state)
        self.metrics.requests.labels(PROTOCOL, "timeout").inc()
        raise ResponseTimeout(f"{self.name}: meter {address} answered neither DL/T 645-2007 nor 1997")

    async def probe(self, pattern: str, request: bytes, *, priority: Priority = Priority.ON_DEMAND) -> ProbeResult:
        """Send ``request`` (addressed to ``pattern``, AA wildcards allowed) once and gather every reply from an
        address matching it until the bus is quiet: the step of a bus scan (DL/T 645-2007 §7.4, 缩位寻址)."""
        async with self._lock.hold(priority):
            exchange = await self._transact(request, lambda f: address_matches(pattern, f.address), collect=True)
        return ProbeResult(tuple(exchange.frames), exchange.garbled)

    async def read_address(self, *, priority: Priority = Priority.ON_DEMAND) -> ProbeResult:
        """读通信地址 (C = 13H to AAAAAAAAAAAA, DL/T 645-2007 §7.4): every meter on the bus answers."""
        request = build_frame(WILDCARD, Function.READ_ADDRESS, preamble=self.config.preamble)
        return await self.probe(WILDCARD, request, priority=priority)

    async def broadcast(self, request: bytes, *, priority: Priority = Priority.CONTROL) -> None:
        """Send a frame to 999999999999 (广播地址, e.g. 广播校时 08H): no meter answers; the bus is held until it has
        gone out and the meters had their reply delay to act on it."""
        async with self._lock.hold(priority):
            await self._wait_bus_free()
            if self._write is None:
                raise ChannelClosed(f"{self.name}: link is down")
            self._write(request)
            self.metrics.frames.labels(PROTOCOL, "out").inc()
            self._bus_free_at = _now() + self.timing.tx_time(len(request)) + self.timing.reply_delay_s
            await self._wait_bus_free()

    async def read_many(
        self, address: str, dis: Sequence[int], *, priority: Priority = Priority.SCHEDULED
    ) -> list[MeterRead | BaseException]:
        """Read several DIs of one meter; each result is the read or the error it raised. A meter that does not
        answer at all (ResponseTimeout) is not asked the remaining DIs."""
        results: list[MeterRead | BaseException] = []
        for di in dis:
            try:
                results.append(await self.read(address, di, priority=priority))
            except ResponseTimeout as exc:
                results.extend([exc] * (len(dis) - len(results)))
                break
            except ChannelClosed:
                raise
            except (DecodeError, DeviceError) as exc:
                results.append(exc)
        return results


def _now() -> float:
    return asyncio.get_running_loop().time()
