"""A fleet of simulated concentrators: N :class:`~concentrator_sim.terminal.SimTerminal` on one event loop.

Address plan: A1 = ``a1`` (行政区划码, e.g. "4403"), A2 = ``a2_start`` … ``a2_start + concentrators - 1``; every
terminal has measurement points p1 … p``meters_per_concentrator``. A ``fail_fraction`` of all meters (chosen
from the seed, exactly ``round(fraction × meters)`` of them) fails: half answer F129 with EE fillers (no value),
half are denied. Terminals start at ``connect_rate`` per second (a connect ramp), never all in one millisecond.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from concentrator_sim.history import Scenario, UnknownMeter
from concentrator_sim.model import Failure, TerminalModel
from concentrator_sim.terminal import LinkCounters, LinkTiming, SimTerminal, utc_now
from protocols.gdw376.da_dt import MAX_PN
from protocols.gdw376.link import Address

logger = logging.getLogger(__name__)

#: Recent F129 answers each terminal of a fleet keeps (TerminalModel.served): enough to look at while
#: debugging, small enough for thousands of terminals running for days. The counters keep the totals.
FLEET_SERVED_LOG = 16


class FleetConfigError(ValueError):
    """A fleet setting is invalid; the message names the key (and the file, when there is one)."""


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Everything that describes a simulated fleet. Keys are the same in ``config/sim.example.toml``."""

    host: str = "127.0.0.1"  #: head-end address the terminals connect to
    port: int = 9001  #: head-end terminal port (headend's server.port default)
    concentrators: int = 10  #: number of terminals (集中器)
    meters_per_concentrator: int = 8  #: measurement points p1..pN per terminal
    a1: str = "4403"  #: A1 行政区划码, 4 digits as printed
    a2_start: int = 1  #: A2 of the first terminal; the others follow
    heartbeat_s: float = 60.0  #: AFN02 F3 heartbeat period (心跳周期)
    seed: int = 0  #: makes meters, failures and jitter reproducible
    version: Literal["2013", "2009"] = "2013"  #: 2013: heartbeat carries the A.1 clock; 2009: empty
    tz: str = "Asia/Shanghai"  #: terminal local time zone (clock, read times, load shapes)
    fail_fraction: float = 0.0  #: share of meters that answer "no value" (EE) or are denied
    clock_drift_s: float = 0.0  #: terminal clocks run this many seconds ahead (negative: behind)
    drift_fraction: float = 1.0  #: share of terminals whose clocks drift (picked from the seed); the rest are right
    drift_per_day_s: float = 0.0  #: drifting clocks gain this many seconds per simulated day (negative: lose)
    deny_with: Literal["f2", "f3"] = "f2"  #: deny unanswerable reads with AFN00 F2, or F3 per item
    connect_rate: float = 200.0  #: terminals started per second (connect ramp)
    response_timeout_s: float = 10.0  #: wait for the master's confirm before retransmitting
    retries: int = 3  #: retransmissions of an unconfirmed login/heartbeat (≤ 3 in AFN04 F1)
    idle_s: float = 2.0  #: silence after which the framer gives up a partial frame
    connect_timeout_s: float = 10.0  #: TCP connect timeout
    backoff_base_s: float = 1.0  #: first reconnect delay
    backoff_cap_s: float = 60.0  #: longest reconnect delay
    logout_timeout_s: float = 2.0  #: wait for the logout confirm on a clean stop
    tick_s: float = 1.0  #: real seconds between a terminal's looks at its clock (midnight, events, windows)
    as_of: str = ""  #: ISO instant the simulated clock starts at (e.g. "2026-11-20T23:50:00+08:00"); "" = now
    speed: float = 1.0  #: simulated seconds per real second (3600: an hour a second)
    history_days: int = 31  #: days of frozen history before as_of's local date the terminals hold
    kind: Literal["concentrator", "load"] = "concentrator"  #: load: 负控终端 answering AFN0C F25/F17
    timed_report: bool = False  #: push AFN0D F161 for yesterday after each local midnight (CON=1) …
    report_spread_s: float = 600.0  #: … each terminal at its own delay 0..this (simulated seconds, from the seed)
    report_events: bool = False  #: push important events (AFN0E F1, ERC14) as they occur (CON=1)
    offline_fraction: float = 0.0  #: share of terminals that go offline once (picked from the seed)
    offline_after_h: float = 1.0  #: … this many simulated hours after as_of
    offline_hours: float = 24.0  #: … for this long
    lost_fraction: float = 0.0  #: share of meters that stop answering (picked from the seed) …
    lost_after_h: float = 0.0  #: … this many simulated hours after as_of
    unknown_fraction: float = 0.0  #: share of terminals that find a meter without an archive entry (ERC35) …
    unknown_after_h: float = 2.0  #: … this many simulated hours after as_of

    def __post_init__(self) -> None:
        def need(ok: bool, key: str, problem: str) -> None:
            if not ok:
                raise FleetConfigError(f"{key}: {problem} (got {getattr(self, key)!r})")

        need(0 <= self.port <= 65535, "port", "must be 0..65535")
        need(self.concentrators >= 1, "concentrators", "must be at least 1")
        need(1 <= self.meters_per_concentrator <= MAX_PN, "meters_per_concentrator", f"must be 1..{MAX_PN}")
        need(len(self.a1) == 4 and self.a1.isdecimal(), "a1", "must be 4 decimal digits")
        need(
            self.a2_start >= 1 and self.a2_start + self.concentrators - 1 <= 0xFFFE,
            "a2_start",
            "terminal addresses a2_start … a2_start + concentrators - 1 must lie in 1..65534",
        )
        need(self.version in ("2013", "2009"), "version", 'must be "2013" or "2009"')
        need(self.deny_with in ("f2", "f3"), "deny_with", 'must be "f2" or "f3"')
        need(0.0 <= self.fail_fraction <= 1.0, "fail_fraction", "must be between 0 and 1")
        need(0 <= self.retries <= 3, "retries", "must be 0..3 (AFN04 F1 重发次数)")
        for key in ("heartbeat_s", "connect_rate", "response_timeout_s", "idle_s", "connect_timeout_s"):
            need(getattr(self, key) > 0, key, "must be positive")
        for key in (
            "backoff_base_s",
            "backoff_cap_s",
            "logout_timeout_s",
            "offline_after_h",
            "offline_hours",
            "report_spread_s",
        ):
            need(getattr(self, key) >= 0, key, "must not be negative")
        for key in ("tick_s", "speed"):
            need(getattr(self, key) > 0, key, "must be positive")
        for key in ("offline_fraction", "lost_fraction", "drift_fraction", "unknown_fraction"):
            need(0.0 <= getattr(self, key) <= 1.0, key, "must be between 0 and 1")
        need(self.history_days >= 0, "history_days", "must not be negative")
        need(self.kind in ("concentrator", "load"), "kind", 'must be "concentrator" or "load"')
        try:
            start = self.start_time
        except ValueError:
            need(False, "as_of", "must be an ISO date-time with a UTC offset")
        else:
            need(start is None or start.tzinfo is not None, "as_of", "needs a UTC offset (e.g. +08:00)")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            need(False, "tz", "is not a known time zone")

    @property
    def start_time(self) -> datetime | None:
        """``as_of`` parsed (aware), None when empty."""
        return datetime.fromisoformat(self.as_of) if self.as_of else None

    @property
    def timing(self) -> LinkTiming:
        return LinkTiming(
            heartbeat_s=self.heartbeat_s,
            response_timeout_s=self.response_timeout_s,
            retries=self.retries,
            idle_s=self.idle_s,
            connect_timeout_s=self.connect_timeout_s,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
            logout_timeout_s=self.logout_timeout_s,
            tick_s=self.tick_s,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "config") -> FleetConfig:
        """Build from a TOML table (or flags): unknown keys and wrong types are errors naming ``source``."""
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in hints:
                raise FleetConfigError(f"{source}: {key}: unknown key")
            kwargs[key] = _coerce(f"{source}: {key}", hints[key], value)
        try:
            return cls(**kwargs)
        except FleetConfigError as exc:
            raise FleetConfigError(f"{source}: {exc}") from None


def _coerce(where: str, hint: Any, value: Any) -> Any:
    """Check one value against its field type (TOML gives int/float/str; bool is not an int here)."""
    if typing.get_origin(hint) is Literal:
        if value not in typing.get_args(hint):
            choices = ", ".join(repr(c) for c in typing.get_args(hint))
            raise FleetConfigError(f"{where}: must be one of {choices}, got {value!r}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise FleetConfigError(f"{where}: must be true or false, got {value!r}")
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, hint) and not isinstance(value, bool):
        return value
    raise FleetConfigError(f"{where}: must be {hint.__name__}, got {value!r}")


def choose_failures(config: FleetConfig) -> dict[tuple[int, int], Failure]:
    """(a2, pn) → how that meter fails: ``round(fail_fraction × all meters)`` meters picked from the seed,
    alternately :attr:`Failure.NO_VALUE` and :attr:`Failure.DENY`."""
    per = config.meters_per_concentrator
    total = config.concentrators * per
    picked = random.Random(f"failures/{config.seed}").sample(range(total), round(config.fail_fraction * total))
    return {
        (config.a2_start + i // per, i % per + 1): Failure.NO_VALUE if n % 2 == 0 else Failure.DENY
        for n, i in enumerate(picked)
    }


def choose_drifting(config: FleetConfig) -> set[int]:
    """A2 of the terminals whose clocks drift: ``round(drift_fraction × concentrators)`` picked from the seed."""
    a2s = range(config.a2_start, config.a2_start + config.concentrators)
    return set(random.Random(f"drift/{config.seed}").sample(a2s, round(config.drift_fraction * len(a2s))))


class SimClock:
    """A simulated clock: ``start`` + real elapsed time × ``speed`` (aware UTC). ``advance`` jumps it ahead."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin = time.monotonic()
        self._jump = timedelta(0)

    def __call__(self) -> datetime:
        return self.start + self._jump + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def advance(self, delta: timedelta) -> None:
        self._jump += delta


def choose_scenarios(config: FleetConfig, start: datetime) -> dict[int, Scenario]:
    """a2 → :class:`Scenario`: history from ``history_days`` before ``start``'s local date, offline windows for
    ``offline_fraction`` of the terminals, lost meters for ``lost_fraction`` of the meters and an unknown meter
    (address ``99`` + A2, ERC35) for ``unknown_fraction`` of the terminals (all picked from the seed)."""
    tz = ZoneInfo(config.tz)
    first_day = start.astimezone(tz).date() - timedelta(days=config.history_days)
    history_start = datetime.combine(first_day, datetime.min.time(), tz)
    a2s = range(config.a2_start, config.a2_start + config.concentrators)
    rng = random.Random(f"scenarios/{config.seed}")
    offline_at = start + timedelta(hours=config.offline_after_h)
    window = (offline_at, offline_at + timedelta(hours=config.offline_hours))
    offline = set(rng.sample(a2s, round(config.offline_fraction * len(a2s))))
    per = config.meters_per_concentrator
    lost_at = start + timedelta(hours=config.lost_after_h)
    lost_meters = rng.sample(range(len(a2s) * per), round(config.lost_fraction * len(a2s) * per))
    finding = set(rng.sample(a2s, round(config.unknown_fraction * len(a2s))))
    found_at = start + timedelta(hours=config.unknown_after_h)
    lost: dict[int, dict[int, datetime]] = {}
    for i in lost_meters:
        lost.setdefault(config.a2_start + i // per, {})[i % per + 1] = lost_at
    return {
        a2: Scenario(
            history_start=history_start,
            lost=lost.get(a2, {}),
            offline=(window,) if a2 in offline else (),
            unknown_meters=(UnknownMeter(found_at, f"99{a2:010d}"),) if a2 in finding else (),
            timed_report=config.timed_report,
            report_delay=timedelta(seconds=rng.uniform(0, config.report_spread_s)),
            report_events=config.report_events,
            load=config.kind == "load",
        )
        for a2 in a2s
    }


class Fleet:
    """A fleet of simulated concentrators built from a :class:`FleetConfig`.

    ``clock`` is every terminal's notion of now (midnight, history, offline windows, drift); without one, a
    :class:`SimClock` from ``as_of`` at ``speed``. ``scenarios`` (a2 → :class:`Scenario`) replaces what
    :func:`choose_scenarios` picks from the config for those terminals.
    """

    def __init__(
        self,
        config: FleetConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        scenarios: Mapping[int, Scenario] | None = None,
    ) -> None:
        self.config = config
        self.failing = choose_failures(config)
        if clock is None:
            clock = SimClock(config.start_time or utc_now(), config.speed)
        self.clock = clock
        self.scenarios = {**choose_scenarios(config, config.start_time or clock()), **(scenarios or {})}
        tz = ZoneInfo(config.tz)
        timing = config.timing
        drifting = choose_drifting(config)
        pns = range(1, config.meters_per_concentrator + 1)
        self.terminals: list[SimTerminal] = []
        for a2 in range(config.a2_start, config.a2_start + config.concentrators):
            model = TerminalModel(
                Address(config.a1, a2),
                pns,
                version=config.version,
                tz=tz,
                seed=config.seed,
                failing_pns={pn: f for (t, pn), f in self.failing.items() if t == a2},
                clock_drift=timedelta(seconds=config.clock_drift_s) if a2 in drifting else timedelta(0),
                drift_per_day=timedelta(seconds=config.drift_per_day_s) if a2 in drifting else timedelta(0),
                deny_with=config.deny_with,
                served_log=FLEET_SERVED_LOG,
                scenario=self.scenarios[a2],
            )
            rng = random.Random(f"jitter/{config.seed}/{config.a1}/{a2}")
            self.terminals.append(SimTerminal(model, config.host, config.port, timing=timing, rng=rng, clock=clock))
        self._stop_requested = asyncio.Event()

    async def start(self) -> None:
        """Start every terminal, ``connect_rate`` per second; returns once all are started (not connected)."""
        interval = 1.0 / self.config.connect_rate
        logger.info(
            "starting %d concentrators × %d meters against %s:%d",
            len(self.terminals),
            self.config.meters_per_concentrator,
            self.config.host,
            self.config.port,
        )
        for n, terminal in enumerate(self.terminals):
            if self._stop_requested.is_set():
                break
            if n:
                await asyncio.sleep(interval)
            terminal.start()

    def request_stop(self) -> None:
        """Ask :meth:`run_forever` to stop (safe from a signal handler)."""
        self._stop_requested.set()

    async def stop(self) -> None:
        """Log every terminal out and close it (concurrently)."""
        self._stop_requested.set()
        await asyncio.gather(*(terminal.stop() for terminal in self.terminals))
        logger.info("fleet stopped: %s", self.stats())

    async def run_forever(self) -> None:
        """Start, run until :meth:`request_stop` (or cancellation), then stop cleanly."""
        try:
            await self.start()
            await self._stop_requested.wait()
        finally:
            await asyncio.shield(self.stop())

    async def wait_logged_in(self) -> None:
        """Wait until every terminal is logged in (wrap in ``asyncio.timeout``)."""
        await asyncio.gather(*(terminal.logged_in.wait() for terminal in self.terminals))

    def served_daily(self) -> dict[tuple[str, int, date], Decimal]:
        """(terminal "A1:A2", pn, Td_d) → the total of every AFN0D F161 record actually sent with a value
        (answers and timed reports): the truth a success rate is compared with."""
        return {(t.name, pn, day): value for t in self.terminals for (pn, day), value in t.model.served_daily.items()}

    def stats(self) -> dict[str, int]:
        """Fleet totals: terminals connected / logged in now, link counters and what was served."""
        totals: dict[str, int] = {
            "terminals": len(self.terminals),
            "connected": sum(t.connected.is_set() for t in self.terminals),
            "logged_in": sum(t.logged_in.is_set() for t in self.terminals),
            "meters": len(self.terminals) * self.config.meters_per_concentrator,
            "failing_meters": len(self.failing),
        }
        for field in dataclasses.fields(LinkCounters):
            totals[field.name] = sum(getattr(t.counters, field.name) for t in self.terminals)
        served = {
            "requests": "requests",
            "requests_duplicate": "duplicates",
            "responses": "responses",
            "denied": "denied",
            "readings_served": "readings",
            "no_value_served": "no_value",
            "clock_reads": "clock_reads",
            "pushes_confirmed": "pushes_confirmed",
        }
        for key, name in served.items():
            totals[key] = sum(getattr(t.model.counters, name) for t in self.terminals)
        totals["requests_answered"] = totals["requests"] + totals["requests_duplicate"]
        totals["time_syncs"] = sum(len(t.model.time_syncs) for t in self.terminals)
        totals["daily_served"] = sum(len(t.model.served_daily) for t in self.terminals)
        return totals
