"""One simulated concentrator on the wire: an asyncio TCP client that behaves like a GPRS/4G terminal.

Link management as Q/GDW 376.1 AFN02 (链路接口检测) and PROTOCOLS.md A.11 describe it: the terminal is the TCP
client; it connects, logs in with AFN02 F1 (C=C9, CON=1) and waits for the master's AFN00 confirm, retransmitting
the same frame (same PSEQ) up to ``retries`` times before it gives up and reconnects (AFN04 F1 重发次数 ≤ 3);
then it sends AFN02 F3 heartbeats every ``heartbeat_s`` (心跳周期) the same way and answers every request through
its :class:`~concentrator_sim.model.TerminalModel`. On a clean stop it logs out with AFN02 F2. When the head-end
is away, refuses the login or stops confirming heartbeats, the terminal reconnects with capped exponential
backoff and jitter.

Bytes go through :class:`~protocols.gdw376.framer.Gdw376Framer`; after ``idle_s`` of silence with a partial frame
buffered, ``idle()`` gives the false start up (PROTOCOLS.md Part D).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from concentrator_sim.model import TerminalModel
from protocols.common.framing import Discarded
from protocols.errors import ProtocolError
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import Afn, Dir, LinkFrame
from protocols.gdw376.units import ConfirmList, decode_units
from protocols.gdw376.units.afn00 import F1_ALL_CONFIRMED
from protocols.gdw376.units.afn02 import F1_LOGIN, F2_LOGOUT, F3_HEARTBEAT

logger = logging.getLogger(__name__)

_READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class LinkTiming:
    """Every timeout, retry and backoff of the link, so that tests and the demo can shorten them."""

    #: 心跳周期: AFN04 F1 byte 6 is in minutes and field terminals use 1–15 min; the demo wants faster.
    heartbeat_s: float = 60.0
    #: How long to wait for the master's AFN00 confirm before retransmitting (AFN04 F1 终端等待从动站响应的
    #: 超时时间). GPRS round trips take 1–5 s; 10 s avoids retransmitting into a slow but working link.
    response_timeout_s: float = 10.0
    #: Retransmissions of an unconfirmed login/heartbeat with the same PSEQ before reconnecting (AFN04 F1 重发
    #: 次数, D13..D12, at most 3).
    retries: int = 3
    #: Silence after which a partial frame in the framer is given up (a false 68H that claimed a long length).
    idle_s: float = 2.0
    #: A TCP connect that has not completed by then is abandoned (a GPRS PDP context can hang silently).
    connect_timeout_s: float = 10.0
    #: First reconnect delay. 1 s: a modem redial takes about that, and it does not hammer a head-end that
    #: refuses connections instantly.
    backoff_base_s: float = 1.0
    #: Longest reconnect delay. 60 s: a restarted head-end sees its fleet back within a minute, while a head-end
    #: that is down for hours gets one attempt per terminal per minute, not a storm.
    backoff_cap_s: float = 60.0
    #: How long a clean stop waits for the confirm of its AFN02 F2 logout before closing anyway.
    logout_timeout_s: float = 2.0
    #: How often (real seconds) the terminal looks at its clock for things that happen on their own: midnight
    #: (timed reports), due events, the start and end of an offline window. Small with a fast simulated clock.
    tick_s: float = 1.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before reconnect attempt ``attempt`` (0-based): ``min(cap, base·2^attempt)``, then a random
        factor in [0.5, 1] ("equal jitter"), so that hundreds of terminals that lost the head-end at the same
        moment do not all come back in the same millisecond."""
        delay: float = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** min(attempt, 30))
        return delay * rng.uniform(0.5, 1.0)


@dataclass(slots=True)
class LinkCounters:
    """What one :class:`SimTerminal` has done on the wire."""

    connects: int = 0  #: TCP connections established
    connect_failures: int = 0  #: connection attempts that failed
    logins: int = 0  #: logins confirmed
    login_failures: int = 0  #: logins denied or never confirmed
    heartbeats: int = 0  #: heartbeats confirmed
    heartbeat_failures: int = 0  #: heartbeats never confirmed (→ reconnect)
    retransmits: int = 0  #: link checks and pushes sent again with the same PSEQ
    pushes: int = 0  #: push exchanges started (主动上报, CON=1); their resends count in ``retransmits``
    offline_windows: int = 0  #: offline windows the terminal went through
    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    discarded: int = 0  #: framer Discarded events


class _LinkDown(Exception):
    """The master stopped confirming: close this connection and reconnect."""


class _Offline(_LinkDown):
    """An offline window (停电) began: drop the connection without logging out."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class _TerminalLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every message with the terminal identity, e.g. ``term 4403:00012``."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"term {self.extra['terminal'] if self.extra else '?'}: {msg}", kwargs


class SimTerminal:
    """A simulated concentrator that connects to ``host:port`` and keeps its link up until :meth:`stop`.

    ``connected`` is set while a TCP connection is open and ``logged_in`` while the login is confirmed, so that
    tests can wait for them (with a timeout) instead of sleeping.
    """

    def __init__(
        self,
        model: TerminalModel,
        host: str,
        port: int,
        *,
        timing: LinkTiming | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.timing = timing or LinkTiming()
        self.counters = LinkCounters()
        self.connected = asyncio.Event()
        self.logged_in = asyncio.Event()
        self._rng = rng or random.Random()
        self._clock = clock
        self._log = _TerminalLog(logger, {"terminal": model.address.terminal})
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pfc = 0  # 启动帧帧序号计数器 PFC; PSEQ = its low 4 bits (SEQ §4.3.4.5, PROTOCOLS.md A.5)
        self._pending: dict[int, asyncio.Future[bool]] = {}

    @property
    def name(self) -> str:
        return self.model.address.terminal

    # -- lifecycle --

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run` in a task (kept here, so that it is not garbage-collected)."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name=f"sim-terminal {self.name}")
        return self._task

    async def stop(self) -> None:
        """Log out (AFN02 F2) if logged in, close the connection and wait for :meth:`run` to return."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def run(self) -> None:
        """Connect, log in, keep the link; reconnect with backoff; return once :meth:`stop` is called."""
        attempt = 0
        while not self._stopping.is_set():
            if await self._stay_offline():
                attempt = 0
                continue
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.timing.connect_timeout_s
                )
            except (OSError, TimeoutError) as exc:
                self.counters.connect_failures += 1
                self._log.debug("connect to %s:%d failed: %s", self.host, self.port, exc)
            else:
                self.counters.connects += 1
                if await self._session(reader, writer):
                    attempt = 0
            if self._stopping.is_set():
                break
            delay = self.timing.backoff(attempt, self._rng)
            attempt += 1
            self._log.debug("reconnecting in %.2f s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _stay_offline(self) -> bool:
        """Inside an offline window: wait (checking the clock every ``tick_s``) until it ends, then log ERC14
        and return True; False at once when the clock is outside every window."""
        window = self.model.scenario.offline_window(self._clock())
        if window is None:
            return False
        self.counters.offline_windows += 1
        self._log.info("offline until %s", window[1].isoformat())
        while self._clock() < window[1]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.timing.tick_s)
            if self._stopping.is_set():
                return True
        self.model.power_restored(*window)
        return True

    # -- one connection --

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one TCP connection until it drops, the master stops confirming, or stop() is called.

        Returns whether the login was confirmed on this connection (which resets the backoff).
        """
        self._writer = writer
        self.model.reset_link()
        self.connected.set()
        self._log.info("connected to %s:%d", self.host, self.port)
        logins_before = self.counters.logins
        tasks = {
            asyncio.create_task(self._read_loop(reader), name=f"sim-read {self.name}"),
            asyncio.create_task(self._link_loop(), name=f"sim-link {self.name}"),
            asyncio.create_task(self._push_loop(), name=f"sim-push {self.name}"),
        }
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait({*tasks, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if stop_wait in done and self.logged_in.is_set() and not self._offline_now():
                await self._logout()
        finally:
            for task in (*tasks, stop_wait):
                task.cancel()
            results = await asyncio.gather(*tasks, stop_wait, return_exceptions=True)
            for result in results:
                if isinstance(result, _LinkDown | OSError | EOFError):
                    # after our own logout the master closing the socket is the normal end
                    level = logging.DEBUG if self._stopping.is_set() else logging.INFO
                    self._log.log(level, "link down: %s", result or type(result).__name__)
                elif isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    self._log.error("link task failed", exc_info=result)
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            self._writer = None
            self.logged_in.clear()
            self.connected.clear()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return self.counters.logins > logins_before

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        """Feed received bytes to the framer and dispatch what it finds; return on EOF."""
        framer = Gdw376Framer()
        while True:
            if framer.buffered:
                try:
                    data = await asyncio.wait_for(reader.read(_READ_SIZE), self.timing.idle_s)
                except TimeoutError:
                    self._dispatch([*framer.idle(), *framer.feed(b"")])
                    continue
            else:
                data = await reader.read(_READ_SIZE)
            if not data:
                raise EOFError("connection closed by the master")
            self.counters.bytes_in += len(data)
            self._dispatch(framer.feed(data))
            if self._writer is not None:
                await self._writer.drain()

    def _dispatch(self, events: list[LinkFrame | Discarded]) -> None:
        for event in events:
            if isinstance(event, Discarded):
                self.counters.discarded += 1
                self._log.warning("discarded %d bytes (%s) %s", len(event.data), event.reason, event.detail)
                continue
            self.counters.frames_in += 1
            if event.control.dir is not Dir.DOWN:
                continue
            if event.afn == Afn.CONFIRM_DENY and not event.control.prm:
                self._confirmed(event)
                continue
            for frame in self.model.handle(event, self._clock()):
                self._send(frame)

    def _confirmed(self, frame: LinkFrame) -> None:
        """AFN00 from the master: resolve the pending link check with that RSEQ (F1 yes, F2 no, F3 by items)."""
        future = self._pending.get(frame.seq.seq)
        if future is None or future.done():
            self._log.debug("unexpected AFN00 with RSEQ %d", frame.seq.seq)
            return
        try:
            units = decode_units(Afn.CONFIRM_DENY, frame.data, Dir.DOWN)
        except ProtocolError as exc:
            self._log.warning("undecodable AFN00 from the master: %s", exc)
            return
        ok = bool(units) and all(
            unit.fn == F1_ALL_CONFIRMED
            or (isinstance(unit.value, ConfirmList) and all(i.err == 0 for i in unit.value.items))
            for unit in units
        )
        future.set_result(ok)

    def _send(self, frame: bytes) -> None:
        if self._writer is None or self._writer.is_closing():
            return
        self._writer.write(frame)
        self.counters.frames_out += 1
        self.counters.bytes_out += len(frame)

    async def _link_loop(self) -> None:
        """Log in, then heartbeat forever; raise :class:`_LinkDown` when the master stops confirming."""
        if not await self._link_check(F1_LOGIN, self.timing.retries):
            self.counters.login_failures += 1
            raise _LinkDown("login not confirmed")
        self.counters.logins += 1
        self.logged_in.set()
        self._log.info("logged in")
        while True:
            await asyncio.sleep(self.timing.heartbeat_s)
            if not await self._link_check(F3_HEARTBEAT, self.timing.retries):
                self.counters.heartbeat_failures += 1
                raise _LinkDown("heartbeat not confirmed")
            self.counters.heartbeats += 1

    def _offline_now(self) -> bool:
        return self.model.scenario.offline_window(self._clock()) is not None

    async def _push_loop(self) -> None:
        """Every ``tick_s``: advance the model's clock, leave when an offline window begins, and send the
        model's pushes (主动上报, CON=1) one at a time until each is confirmed (retransmitted with the same PSEQ
        up to ``retries`` times; an unconfirmed push stays queued for the next tick or connection)."""
        await self.logged_in.wait()
        while True:
            now = self._clock()
            if self._offline_now():
                raise _Offline("offline window")
            self.model.tick(now)
            while self.model.outbox:
                push = self.model.outbox[0]
                self.counters.pushes += 1
                if not await self._exchange(functools.partial(self.model.push_frame, push), self.timing.retries):
                    break
                self.model.push_confirmed(push)
            await asyncio.sleep(self.timing.tick_s)

    async def _logout(self) -> None:
        """AFN02 F2, one attempt, bounded by ``logout_timeout_s``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timing.logout_timeout_s):
                if await self._link_check(F2_LOGOUT, 0):
                    self._log.info("logged out")

    async def _link_check(self, fn: int, retries: int) -> bool:
        """Send AFN02 ``fn`` and wait for its confirm; retransmit the same frame (same PSEQ) up to
        ``retries`` times. True when confirmed, False when denied or never answered."""
        return await self._exchange(lambda pseq: self.model.link_check(fn, pseq, self._clock()), retries)

    async def _exchange(self, build: Callable[[int], bytes], retries: int) -> bool:
        """Send the frame ``build(pseq)`` (CON=1) and wait for its AFN00; retransmit the same frame (same PSEQ)
        up to ``retries`` times. True when confirmed, False when denied or never answered."""
        pseq = self._pfc & 0x0F
        self._pfc = (self._pfc + 1) & 0xFF
        frame = build(pseq)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[pseq] = future
        try:
            for attempt in range(retries + 1):
                if attempt:
                    self.counters.retransmits += 1
                    self._log.debug("no confirm for PSEQ %d, retransmitting", pseq)
                self._send(frame)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), self.timing.response_timeout_s)
                except TimeoutError:
                    continue
            return False
        finally:
            if self._pending.get(pseq) is future:
                del self._pending[pseq]
            future.cancel()
