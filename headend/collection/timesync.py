"""Terminal clocks (对时): read, compare with the host clock, set when they drift — never from an unsynchronised
host.

- A terminal's clock is read with AFN0C F2 终端日历时钟 (Q/GDW 376.1-2009 §5.12.2.4.2, 附录A.1, local time without
  a zone, whole seconds) and compared with the host clock when the answer arrives: drift = terminal − host.
  Heartbeats of 2013-era terminals carry the clock too (AFN02 F3, :meth:`TimeSync.observe_heartbeat`).
- Beyond ``[timesync] threshold_s`` the clock is set with AFN05 F31 对时命令 (§5.6.3.31, 附录A.1, PW from the
  authenticator) to the host time, then read again.
- Only when the host clock is NTP-synchronised (``timedatectl show -p NTPSynchronized --value``, or the kernel's
  adjtimex status without STA_UNSYNC): otherwise nothing is set, the alarm is raised instead — an error log,
  ``headend_host_ntp_synchronized 0`` and :attr:`HostClock.alarm` for the health check. Setting a thousand
  terminals from a wrong clock would corrupt every freeze they take. The same :class:`HostClock` guards the
  DL/T 645 broadcast time of direct meters (:mod:`headend.collection.meter_clock`).
- Every read is recorded as a ``clock_read`` row of ``terminal_link_log`` (drift in ``clock_drift_ms``), every
  setting as ``clock_set`` (``clock_drift_ms`` = drift before; ``detail``: the time set and the drift after),
  docs/schema.md "terminal_link_log".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from headend.collection.ops_metrics import ops_metrics
from headend.config_collection import TimeSyncConfig
from headend.errors import HeadendError
from headend.logs import Prefixed
from headend.metrics import Metrics
from headend.sessions.gdw376_station import TerminalSession
from headend.sessions.priority import Priority
from headend.storage.records import LinkEvent, LinkEventKind
from protocols.errors import ProtocolError
from protocols.gdw376.auth import Authenticator
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Afn
from protocols.gdw376.units import DataUnit, TerminalClock
from protocols.gdw376.units.afn0c import F2_TERMINAL_CLOCK
from protocols.gdw376.units.afn05 import F31_TIME_SYNC

_LOGGER = logging.getLogger(__name__)

#: the ``target`` label of the clock metrics for terminals (meters: ``"meter"``)
TERMINAL = "terminal"
NOT_SYNCHRONISED = "host clock is not NTP-synchronised: terminal and meter clocks are not set"


# -- the host's NTP state -----------------------------------------------------------------------------------------


def ntp_synchronized_timedatectl() -> bool:
    """``timedatectl show -p NTPSynchronized --value`` says ``yes`` (systemd-timesyncd, chrony, ntpd all set it)."""
    try:
        done = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.strip() == "yes"


class _Timex(ctypes.Structure):
    """``struct timex`` of adjtimex(2) on Linux (64-bit longs); only ``modes`` (0: read only) and ``status`` are
    used. Padded to the kernel's size."""

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("_pad0", ctypes.c_int),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_pad1", ctypes.c_int),
        ("_rest", ctypes.c_long * 32),
    )


TIME_ERROR = 5  #: adjtimex(2) return value: the clock is not synchronised
STA_UNSYNC = 0x0040


def ntp_synchronized_adjtimex() -> bool:
    """The kernel's view (adjtimex(2), read only): not TIME_ERROR and STA_UNSYNC clear."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return False
    return bool(state >= 0 and state != TIME_ERROR and not timex.status & STA_UNSYNC)


def ntp_checker(kind: str) -> Callable[[], bool]:
    """The check ``[timesync] ntp_check`` names."""
    if kind == "adjtimex":
        return ntp_synchronized_adjtimex
    if kind == "assume":
        return lambda: True
    return ntp_synchronized_timedatectl


class HostClock:
    """The host clock as the source of every time setting (terminals and meters): asks the NTP state each time a
    setting is about to be made; raises the alarm (ERROR log once, ``headend_host_ntp_synchronized 0``,
    :attr:`alarm`) while it is not synchronised, clears it when it is again."""

    def __init__(self, synchronized: Callable[[], bool], metrics: Metrics) -> None:
        self._synchronized = synchronized
        self._metrics = ops_metrics(metrics)
        self.alarm = ""  #: non-empty while the host clock blocks time setting (for /healthz)

    @classmethod
    def from_config(
        cls, config: TimeSyncConfig, metrics: Metrics, synchronized: Callable[[], bool] | None = None
    ) -> HostClock:
        return cls(synchronized or ntp_checker(config.ntp_check), metrics)

    def ok(self) -> bool:
        """Check the host's NTP state now; raise or clear the alarm."""
        synced = self._synchronized()
        self._metrics.host_ntp_synchronized.set(1 if synced else 0)
        if not synced and not self.alarm:
            _LOGGER.error("ALARM: %s", NOT_SYNCHRONISED)
        elif synced and self.alarm:
            _LOGGER.warning("host clock NTP-synchronised again: time setting resumes")
        self.alarm = "" if synced else NOT_SYNCHRONISED
        return synced


# -- terminal clocks ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockCheck:
    """One terminal's clock check."""

    terminal: str
    drift: timedelta  #: terminal − host when read
    set: bool = False  #: AFN05 F31 sent and confirmed
    drift_after: timedelta | None = None  #: read again after setting
    refused: str = ""  #: why a needed setting was not made


LinkSink = Callable[[Sequence[LinkEvent]], Awaitable[object]]


def ms(delta: timedelta) -> int:
    """Whole milliseconds of ``delta`` (``clock_drift_ms``)."""
    return round(delta / timedelta(milliseconds=1))


class TimeSync:
    """Reads and, where needed and allowed, sets terminal clocks."""

    def __init__(
        self,
        config: TimeSyncConfig,
        *,
        zone: ZoneInfo,
        metrics: Metrics,
        link_events: LinkSink,
        now: Callable[[], datetime],
        host_synchronized: Callable[[], bool] | None = None,
        authenticator: Authenticator | None = None,
        host: HostClock | None = None,
    ) -> None:
        self.config = config
        self.zone = zone
        self._metrics = ops_metrics(metrics)
        self._record = link_events
        self._now = now
        self.host = host or HostClock.from_config(config, metrics, host_synchronized)
        self._auth = authenticator

    @property
    def alarm(self) -> str:
        """Non-empty while the host clock blocks time setting (for /healthz)."""
        return self.host.alarm

    @property
    def threshold(self) -> timedelta:
        return timedelta(seconds=self.config.threshold_s)

    def host_ok(self) -> bool:
        """Check the host's NTP state now; raise or clear the alarm."""
        return self.host.ok()

    async def read_drift(self, session: TerminalSession, *, priority: Priority = Priority.SCHEDULED) -> timedelta:
        """AFN0C F2: terminal clock − host clock at the answer."""
        units = await session.request(Afn.REQUEST_CLASS1, [(0, F2_TERMINAL_CLOCK)], priority=priority)
        host = self._now()
        for unit in units:
            if isinstance(unit.value, TerminalClock):
                return unit.value.clock.replace(tzinfo=self.zone) - host
        self._metrics.clock_reads.labels(TERMINAL, "no_clock").inc()
        raise HeadendError(f"terminal {session.terminal}: no AFN0C F2 clock in the answer")

    async def check(self, session: TerminalSession, *, priority: Priority = Priority.SCHEDULED) -> ClockCheck:
        """Read the clock, record it, and set it when it drifts beyond the threshold and the host is in sync."""
        try:
            drift = await self.read_drift(session, priority=priority)
        except (HeadendError, ProtocolError):
            self._metrics.clock_reads.labels(TERMINAL, "failed").inc()
            raise
        return await self._judge(session, drift, self._now(), priority)

    async def observe_heartbeat(self, session: TerminalSession, clock: datetime, received_at: datetime) -> ClockCheck:
        """A heartbeat clock (AFN02 F3, 2013-era terminals) received at ``received_at``: the same judgement."""
        return await self._judge(
            session, clock.replace(tzinfo=self.zone) - received_at, received_at, Priority.SCHEDULED
        )

    async def _judge(self, session: TerminalSession, drift: timedelta, at: datetime, priority: Priority) -> ClockCheck:
        terminal = session.terminal
        self._metrics.clock_reads.labels(TERMINAL, "ok").inc()
        await self._record([LinkEvent(terminal, at, LinkEventKind.CLOCK_READ, session.peer, ms(drift))])
        if abs(drift) <= self.threshold:
            return ClockCheck(terminal, drift)
        log = Prefixed(_LOGGER, f"term {terminal}")
        if not self.host_ok():
            self._metrics.clock_syncs.labels(TERMINAL, "refused").inc()
            log.error("clock off by %.0f s, not set: %s", drift.total_seconds(), NOT_SYNCHRONISED)
            return ClockCheck(terminal, drift, refused=NOT_SYNCHRONISED)
        set_to = self._now().astimezone(self.zone).replace(tzinfo=None, microsecond=0)
        try:
            await session.request_units(
                Afn.CONTROL,
                [DataUnit(0, F31_TIME_SYNC, Record({"clock": set_to}))],
                priority=priority,
                authenticator=self._auth,
            )
            after = await self.read_drift(session, priority=priority)
        except (HeadendError, ProtocolError):
            self._metrics.clock_syncs.labels(TERMINAL, "failed").inc()
            raise
        self._metrics.clock_syncs.labels(TERMINAL, "ok").inc()
        log.info("clock was off by %.0f s, set to %s; now off by %.0f s", drift.total_seconds(), set_to,
                 after.total_seconds())  # fmt: skip
        detail = {"set_to": set_to.isoformat(), "drift_after_ms": ms(after)}
        await self._record([LinkEvent(terminal, self._now(), LinkEventKind.CLOCK_SET, session.peer, ms(drift), detail)])
        return ClockCheck(terminal, drift, set=True, drift_after=after)

    async def run_round(self, sessions: Sequence[TerminalSession]) -> list[ClockCheck]:
        """Check every terminal in turn (failures are logged and skipped); export the largest drift."""
        done: list[ClockCheck] = []
        for session in sessions:
            try:
                done.append(await self.check(session))
            except (HeadendError, ProtocolError) as exc:
                session.log.warning("clock check failed: %s", exc)
        worst = max((abs(c.drift.total_seconds()) for c in done), default=0.0)
        self._metrics.clock_drift_max.labels(TERMINAL).set(worst)
        return done
