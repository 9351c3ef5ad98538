"""TCP listener for Q/GDW 376.1 terminals on GPRS/4G/Ethernet: the terminal is the TCP client
(PROTOCOLS.md §A.11). One :class:`TerminalConnection` (an asyncio Protocol) per socket feeds a framer and hands
frames to the server's dispatcher, which confirms link checks (AFN02) and routes responses to the session.

Liveness is enforced by one sweeper task, not a timer per socket (cheaper with tens of thousands of
connections): a socket that has not logged in within ``login_timeout_s``, or a logged-in terminal silent for
``heartbeat_timeout_s``, is closed; a partial frame older than ``frame_idle_s`` is given up (``framer.idle()``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import cast

from headend.config import ServerConfig, SessionConfig
from headend.logs import TRACE
from headend.metrics import Metrics
from headend.sessions.gdw376_station import PROTOCOL, FrameSink, SessionRegistry, TerminalSession
from protocols.common.framing import Discarded
from protocols.errors import ProtocolError
from protocols.gdw376 import messages
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import Afn, Dir, LinkFrame
from protocols.gdw376.units import decode_units

_LOGGER = logging.getLogger(__name__)

F_LOGIN, F_LOGOUT, F_HEARTBEAT = 1, 2, 3


class TerminalConnection(asyncio.Protocol, FrameSink):
    """One terminal's socket."""

    def __init__(self, server: TerminalServer) -> None:
        self._server = server
        self._framer = Gdw376Framer(max_length=server.config.max_frame_bytes, strict=server.config.strict)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.session: TerminalSession | None = None
        self.connected_at = server.clock()
        self.last_rx = self.connected_at
        self.close_reason = "closed by peer"

    # asyncio.Protocol ------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements the interface without subclassing asyncio.Transport
        self.transport = cast("asyncio.Transport", transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._server.connection_opened(self)

    def data_received(self, data: bytes) -> None:
        self.last_rx = self._server.clock()
        if _LOGGER.isEnabledFor(TRACE):
            _LOGGER.log(TRACE, "%s rx %s", self.peer, data.hex(" "))
        for event in self._framer.feed(data):
            if isinstance(event, Discarded):
                self._server.discarded(self, event)
            else:
                self._server.dispatch(self, event)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.close_reason = f"connection lost: {exc}"
        self._server.connection_closed(self)

    # FrameSink ------------------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if _LOGGER.isEnabledFor(TRACE):
                _LOGGER.log(TRACE, "%s tx %s", self.peer, data.hex(" "))
            self.transport.write(data)

    def close(self, reason: str = "closed by head-end") -> None:
        self.close_reason = reason
        if self.transport is not None:
            self.transport.close()

    def idle_check(self, now: float) -> None:
        if self._framer.buffered and now - self.last_rx >= self._server.config.frame_idle_s:
            for dropped in self._framer.idle():
                self._server.discarded(self, dropped)
            # a real frame found behind the false start is handed out by the next feed
            for event in self._framer.feed(b""):
                if isinstance(event, Discarded):
                    self._server.discarded(self, event)
                else:
                    self._server.dispatch(self, event)

    @property
    def name(self) -> str:
        return f"term {self.session.terminal}" if self.session else f"peer {self.peer}"


class TerminalServer:
    """Accepts terminals, confirms their link checks, keeps the :class:`SessionRegistry` up to date."""

    def __init__(
        self,
        config: ServerConfig,
        session_config: SessionConfig,
        registry: SessionRegistry,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.session_config = session_config
        self.registry = registry
        self.metrics = metrics
        self.clock = clock
        self.connections: set[TerminalConnection] = set()
        self.frames_in = 0  #: progress counter for the systemd watchdog
        #: called with every uplink frame of a logged-in terminal before it is handled (the collection engine
        #: watches ACD/EC and ingests terminal-initiated reports, headend.collection)
        self.on_frame: list[Callable[[TerminalSession, LinkFrame], None]] = []
        #: AFNs of terminal-initiated reports that an on_frame handler confirms itself, once it has kept them
        #: (ReportIngest.attach: after they are durable in the spool); the others are confirmed on arrival
        self.deferred_confirm: frozenset[int] = frozenset()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: TerminalConnection(self), self.config.host, self.config.port, backlog=4096
        )
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="terminal-sweeper")
        _LOGGER.info("listening for terminals on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close("head-end shutting down")
        if self._server is not None:
            await self._server.wait_closed()

    # -- connection bookkeeping -----------------------------------------------------------------------------
    def connection_opened(self, conn: TerminalConnection) -> None:
        self.connections.add(conn)
        self.metrics.connections_open.set(len(self.connections))
        _LOGGER.debug("connection from %s", conn.peer)

    def connection_closed(self, conn: TerminalConnection) -> None:
        self.connections.discard(conn)
        self.metrics.connections_open.set(len(self.connections))
        self.metrics.connections.labels("logged_in" if conn.session else "never_logged_in").inc()
        if conn.session is not None:
            self.registry.remove(conn.session, conn.close_reason)
            conn.session = None

    def discarded(self, conn: TerminalConnection, event: Discarded) -> None:
        self.metrics.decode_errors.labels(PROTOCOL, event.reason).inc()
        _LOGGER.warning(
            "%s: discarded %d bytes (%s%s): %s",
            conn.name,
            len(event.data),
            event.reason,
            f": {event.detail}" if event.detail else "",
            event.data[:64].hex(" "),
        )

    # -- frames ---------------------------------------------------------------------------------------------
    def dispatch(self, conn: TerminalConnection, frame: LinkFrame) -> None:
        self.frames_in += 1
        self.metrics.frames.labels(PROTOCOL, "in").inc()
        for warning in frame.warnings:
            _LOGGER.info("%s: lenient decode: %s", conn.name, warning)
        if frame.control.dir != Dir.UP:
            self.metrics.decode_errors.labels(PROTOCOL, "wrong_direction").inc()
            _LOGGER.warning("%s: ignoring a downlink frame (DIR=0) sent to the head-end", conn.name)
            return
        session = conn.session
        if session is not None and (frame.address.a1, frame.address.a2) != (
            session.address.a1,
            session.address.a2,
        ):
            self.metrics.decode_errors.labels(PROTOCOL, "wrong_address").inc()
            _LOGGER.warning("%s: frame from %s on this connection ignored", conn.name, frame.address.terminal)
            return
        if session is not None:
            for callback in self.on_frame:
                callback(session, frame)
        if frame.control.prm:
            self._initiated_by_terminal(conn, frame)
        elif session is None:
            self.metrics.decode_errors.labels(PROTOCOL, "before_login").inc()
            _LOGGER.warning("%s: response before login ignored", conn.name)
        else:
            session.handle_response(frame)

    def _initiated_by_terminal(self, conn: TerminalConnection, frame: LinkFrame) -> None:
        if frame.afn != Afn.LINK_CHECK:
            # Active reports (events, timed tasks): confirmed when asked; ingestion comes with the collection
            # engine. Confirming keeps the terminal from retransmitting.
            if frame.seq.con and conn.session is not None and frame.afn not in self.deferred_confirm:
                self._reply(conn, messages.confirm(frame))
            _LOGGER.info("%s: unsolicited AFN%02X frame", conn.name, frame.afn)
            return
        try:
            units = decode_units(frame.afn, frame.data, Dir.UP)
        except ProtocolError as exc:
            self.metrics.decode_errors.labels(PROTOCOL, type(exc).__name__).inc()
            _LOGGER.warning("%s: bad link check frame: %s", conn.name, exc)
            return
        fns = {unit.fn for unit in units}
        if F_LOGIN in fns:
            self._login(conn, frame)
        elif conn.session is None:
            self.metrics.decode_errors.labels(PROTOCOL, "before_login").inc()
            _LOGGER.warning("%s: AFN02 %s before login; ignored", conn.name, sorted(fns))
        elif F_HEARTBEAT in fns:
            for unit in units:
                conn.session.observe_heartbeat(getattr(unit.value, "clock", None))
            self.metrics.heartbeats.inc()
            self._reply(conn, messages.confirm(frame))
        elif F_LOGOUT in fns:
            self._reply(conn, messages.confirm(frame))
            conn.close("logged out")

    def _login(self, conn: TerminalConnection, frame: LinkFrame) -> None:
        if conn.session is not None:  # a second login on the same socket: confirm again, keep the session
            self._reply(conn, messages.confirm(frame))
            return
        session = TerminalSession(
            frame.address,
            conn,
            msa=self.session_config.msa,
            response_timeout_s=self.session_config.response_timeout_s,
            retries=self.session_config.retries,
            metrics=self.metrics,
            peer=conn.peer,
            clock=self.clock,
            strict=self.config.strict,
        )
        conn.session = session
        self._reply(conn, messages.confirm(frame))
        replaced = self.registry.add(session)
        if replaced is not None:
            self.metrics.logins.labels("replaced").inc()
            for other in list(self.connections):
                if other.session is replaced:
                    other.session = None
                    other.close(f"replaced by a new login from {conn.peer}")
        else:
            self.metrics.logins.labels("accepted").inc()
        _LOGGER.info("terminal %s logged in from %s", session.terminal, conn.peer)

    def _reply(self, conn: TerminalConnection, data: bytes) -> None:
        conn.send(data)
        self.metrics.frames.labels(PROTOCOL, "out").inc()

    # -- liveness -------------------------------------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        cfg = self.config
        tick = max(0.05, min(1.0, cfg.frame_idle_s / 2, cfg.login_timeout_s / 4, cfg.heartbeat_timeout_s / 4))
        while True:
            await asyncio.sleep(tick)
            self.sweep()

    def sweep(self) -> None:
        now = self.clock()
        for conn in list(self.connections):
            conn.idle_check(now)
            if conn.session is None:
                if now - conn.connected_at >= self.config.login_timeout_s:
                    _LOGGER.info("%s: no login within %.0f s; closing", conn.name, self.config.login_timeout_s)
                    conn.close("no login")
            elif now - conn.last_rx >= self.config.heartbeat_timeout_s:
                _LOGGER.info("%s: silent for %.0f s; closing", conn.name, now - conn.last_rx)
                conn.close("heartbeat timeout")
