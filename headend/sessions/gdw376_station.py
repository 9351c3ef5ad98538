"""Q/GDW 376.1 master-station sessions: one per logged-in terminal (PROTOCOLS.md §A.5, §A.11).

Rules implemented here:
- Link management (Q/GDW 376.1-2009 §5.3 链路接口检测, AFN02): a terminal logs in (F1), sends heartbeats (F3) and
  logs out (F2), each with CON=1; the master confirms each with AFN00 F1 echoing the terminal's sequence.
- One outstanding request per terminal (§A.5 "terminals must finish one request before starting the next"),
  granted by priority (:class:`~headend.sessions.priority.PriorityLock`).
- PFC: a per-terminal frame counter, +1 for each new request, unchanged on retransmission; PSEQ is its low
  4 bits. The response future is registered before the request is written (zigpy-znp).
- A response matches when it comes from this terminal (A1/A2), has PRM=0 and its RSEQ is the request's PSEQ;
  a multi-frame response (FIR/FIN) is collected by :class:`protocols.gdw376.reassembly.Reassembler` until FIN,
  each later frame's RSEQ incrementing mod 16 (duplicates dropped; a frame out of order discards the partial
  response, which the retransmitted request brings back whole), and every frame that carries CON=1 is confirmed.
- A deny (AFN00 F2) or a per-identifier deny (AFN00 F3) raises :class:`protocols.errors.Gdw376Denied`.
- On connection loss every pending request fails with :class:`~headend.errors.ChannelClosed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from headend.errors import ChannelClosed, ResponseTimeout, SessionError
from headend.logs import Prefixed
from headend.metrics import Metrics
from headend.sessions.priority import Priority, PriorityLock
from protocols.errors import Gdw376Denied, ProtocolError
from protocols.gdw376 import messages
from protocols.gdw376.auth import Authenticator
from protocols.gdw376.link import Address, Afn, LinkFrame
from protocols.gdw376.profile import Profile
from protocols.gdw376.reassembly import (
    Accepted,
    Completed,
    ConfirmRequired,
    Failed,
    Ignored,
    Reassembler,
    ReassemblyError,
)
from protocols.gdw376.units import DataUnit, check_confirmation

_LOGGER = logging.getLogger(__name__)
PROTOCOL = "gdw376.1"


class FrameSink:
    """What a session needs from its connection: write bytes, close."""

    def send(self, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[list[DataUnit]]
    afn: int
    reassembler: Reassembler
    frames: int = 0


class TerminalSession:
    """The master's side of one logged-in terminal."""

    def __init__(
        self,
        address: Address,
        sink: FrameSink,
        *,
        msa: int,
        response_timeout_s: float,
        retries: int,
        metrics: Metrics,
        peer: str = "",
        clock: Callable[[], float] = time.monotonic,
        strict: bool = False,
    ) -> None:
        self.address = address.with_msa(0)  # identity; requests carry our MSA
        self.terminal = address.terminal
        self.peer = peer
        self._sink = sink
        self._msa = msa
        self._timeout_s = response_timeout_s
        self._retries = retries
        self._metrics = metrics
        self._clock = clock
        self._lock = PriorityLock()
        self._pfc = 0
        self._pending: _Pending | None = None
        self.closed = False
        #: edition and strictness of this terminal (Q/GDW 376.1-2009 until evidence says 1376.1-2013)
        self.profile = Profile(strict=strict)
        self.logged_in_at = clock()
        self.last_heartbeat_clock: object = None
        self.log = Prefixed(_LOGGER, f"term {self.terminal}")

    @property
    def version(self) -> str:
        """ "2009" or "2013": the edition whose data-unit layouts this terminal's frames are decoded with."""
        return self.profile.edition.value

    def observe_heartbeat(self, clock: object) -> None:
        """A heartbeat arrived; a clock in it is evidence of a 2013-era terminal (profile never downgrades)."""
        if clock is not None:
            self.last_heartbeat_clock = clock
        self.profile, reason = self.profile.observe_heartbeat(clock is not None)
        if reason:
            self.log.info("edition %s: %s", self.profile.edition.value, reason)

    def __repr__(self) -> str:
        return f"<TerminalSession {self.terminal} peer={self.peer}>"

    # -- requests -------------------------------------------------------------------------------------------

    def _next_pseq(self) -> int:
        self._pfc = (self._pfc + 1) & 0xFF
        return self._pfc & 0x0F

    async def request(
        self, afn: int, items: Sequence[tuple[int, int]], *, priority: Priority = Priority.SCHEDULED
    ) -> list[DataUnit]:
        """Send a read request for ``(pn, fn)`` items and return every data unit of the (possibly multi-frame)
        response. Raises ResponseTimeout, ChannelClosed, Gdw376Denied, or a RemoteProtocolError on a response
        that cannot be decoded."""
        return await self._exchange(afn, lambda target, pseq: messages.read_request(target, afn, items, pseq), priority)

    async def request_units(
        self,
        afn: int,
        units: Sequence[DataUnit],
        *,
        priority: Priority = Priority.SCHEDULED,
        authenticator: Authenticator | None = None,
    ) -> list[DataUnit]:
        """Send a request whose data units carry bodies (:func:`protocols.gdw376.messages.command`): AFN04 设置参数
        and AFN05 控制命令 (PW from ``authenticator``; the answer is AFN00, returned as ``[]``), AFN0A queries with a
        body (F10 序号), AFN0D with time tags (Td_d, Td_m, Td_c). Same matching, retries and errors as
        :meth:`request`."""
        return await self._exchange(
            afn,
            lambda target, pseq: messages.command(target, afn, units, pseq, authenticator=authenticator),
            priority,
        )

    async def _exchange(self, afn: int, build: Callable[[Address, int], bytes], priority: Priority) -> list[DataUnit]:
        """One request/response under the per-terminal priority lock: ``build(target, pseq)`` makes the frame."""
        async with self._lock.hold(priority):
            if self.closed:
                raise ChannelClosed(f"terminal {self.terminal} is offline")
            pseq = self._next_pseq()
            target = self.address.with_msa(self._msa)
            frame = build(target, pseq)
            loop = asyncio.get_running_loop()
            pending = _Pending(
                loop.create_future(),
                afn,
                Reassembler(pseq, strict=self.profile.strict, edition=self.profile.edition.value),
            )
            self._pending = pending  # registered before the first byte leaves
            started = self._clock()
            try:
                attempt = 0
                while True:
                    if self.closed:
                        raise ChannelClosed(f"terminal {self.terminal} went offline")
                    self._sink.send(frame)
                    self._metrics.frames.labels(PROTOCOL, "out").inc()
                    units = await self._wait(pending)
                    if units is not None:
                        break
                    attempt += 1
                    if attempt > self._retries:
                        self._metrics.requests.labels(PROTOCOL, "timeout").inc()
                        raise ResponseTimeout(
                            f"terminal {self.terminal}: no response to AFN{afn:02X} after {self._retries + 1} attempts"
                        )
                    self._metrics.retransmissions.inc()
                    self.log.info("no answer to PSEQ %d, retransmission %d", pseq, attempt)
                self._metrics.requests.labels(PROTOCOL, "ok").inc()
                self._metrics.request_latency.labels(PROTOCOL).observe(self._clock() - started)
                return units
            except ChannelClosed:
                self._metrics.requests.labels(PROTOCOL, "closed").inc()
                raise
            except Gdw376Denied:
                self._metrics.requests.labels(PROTOCOL, "denied").inc()
                raise
            except ProtocolError:
                self._metrics.requests.labels(PROTOCOL, "decode_error").inc()
                raise
            finally:
                self._pending = None
                if not pending.future.done():
                    pending.future.cancel()

    async def _wait(self, pending: _Pending) -> list[DataUnit] | None:
        """Wait for the response; None on timeout. While frames of a multi-frame response keep arriving
        the wait is extended rather than the request sent again."""
        while True:
            seen = pending.frames
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await asyncio.shield(pending.future)
            except TimeoutError:
                if pending.frames == seen:
                    return None

    # -- frames from the terminal ---------------------------------------------------------------------------

    def handle_response(self, frame: LinkFrame) -> None:
        """A PRM=0 frame from this terminal: match it to the pending request."""
        pending = self._pending
        if pending is None or pending.future.done():
            if frame.seq.con:
                self._send(messages.confirm(frame))
            self.log.warning("unexpected response AFN%02X RSEQ %d: no request pending", frame.afn, frame.seq.seq)
            return
        for event in pending.reassembler.feed(frame):
            if isinstance(event, ConfirmRequired):
                self._send(messages.confirm(event.frame))
            elif isinstance(event, Ignored):
                # a late answer to an earlier (timed-out) request, or a duplicate: drop it (§A.5)
                self.log.info("dropping response RSEQ %d: %s", frame.seq.seq, event.reason)
            elif isinstance(event, Accepted):
                pending.frames += 1
                for warning in event.frame.warnings:  # lenient decode (PROTOCOLS.md Part D)
                    self.log.info("lenient decode: %s", warning)
            elif isinstance(event, Failed):
                if isinstance(event.error, ReassemblyError):
                    # out of order: the partial response is gone; the retransmission brings it back whole
                    self.log.info("multi-frame response broken: %s", event.error)
                else:
                    pending.future.set_exception(event.error)
            elif isinstance(event, Completed):
                self._complete(event, pending)

    def _complete(self, done: Completed, pending: _Pending) -> None:
        """FIN reached. AFN00 answering the request: F1 completes it (no data), F2 / a non-zero F3 item raise
        Gdw376Denied."""
        if done.frames[-1].afn == Afn.CONFIRM_DENY:
            try:
                check_confirmation(done.units, pending.afn)
            except Gdw376Denied as exc:
                pending.future.set_exception(exc)
                return
            pending.future.set_result([])
            return
        pending.future.set_result(list(done.units))

    def confirm(self, frame: LinkFrame) -> None:
        """Confirm (AFN00 F1, 全部确认) a frame of this terminal that asked for it (CON=1), echoing its SEQ
        (Q/GDW 376.1-2009 §5.1.3.15): for a pushed report, sent once the report was kept."""
        self._send(messages.confirm(frame))

    def _send(self, data: bytes) -> None:
        if not self.closed:
            self._sink.send(data)
            self._metrics.frames.labels(PROTOCOL, "out").inc()

    def close(self, reason: str) -> None:
        """Fail whatever is pending; called when the connection is lost or replaced."""
        if self.closed:
            return
        self.closed = True
        pending = self._pending
        if pending is not None and not pending.future.done():
            pending.future.set_exception(ChannelClosed(f"terminal {self.terminal}: {reason}"))
        self.log.info("session closed: %s", reason)


class SessionRegistry:
    """Terminals online, by address. A new login from an address already online replaces the old connection."""

    def __init__(self, metrics: Metrics) -> None:
        self._sessions: dict[tuple[str, int], TerminalSession] = {}
        self._metrics = metrics
        self.on_online: list[Callable[[TerminalSession], None]] = []
        self.on_offline: list[Callable[[TerminalSession], None]] = []

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[TerminalSession]:
        return iter(list(self._sessions.values()))

    def get(self, a1: str, a2: int) -> TerminalSession | None:
        return self._sessions.get((a1, a2))

    def require(self, a1: str, a2: int) -> TerminalSession:
        session = self.get(a1, a2)
        if session is None:
            raise SessionError(f"terminal {a1}:{a2:05d} is not online")
        return session

    def add(self, session: TerminalSession) -> TerminalSession | None:
        """Register a logged-in session; returns the one it replaced (already closed), if any."""
        key = (session.address.a1, session.address.a2)
        old = self._sessions.get(key)
        self._sessions[key] = session
        if old is not None and old is not session:
            old.close(f"replaced by a new login from {session.peer}")
            for callback in self.on_offline:
                callback(old)
        self._metrics.terminals_online.set(len(self._sessions))
        for callback in self.on_online:
            callback(session)
        return old if old is not session else None

    def remove(self, session: TerminalSession, reason: str) -> None:
        key = (session.address.a1, session.address.a2)
        session.close(reason)
        if self._sessions.get(key) is session:
            del self._sessions[key]
            self._metrics.terminals_online.set(len(self._sessions))
            for callback in self.on_offline:
                callback(session)
