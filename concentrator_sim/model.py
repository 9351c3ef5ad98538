"""The simulated physics: what each meter has measured at any instant (sans-IO, deterministic, O(1)).

A meter draws a power ``p(t)`` that follows a believable daily load shape, and its registers hold the exact
integral of that power. Everything a meter reports is a pure function of ``(seed, a1, a2, pn, t)``, so a test,
the demo or a storage check can recompute what a simulated terminal *must* have reported
(:func:`expected_indication`) without talking to it.

Load shape
    The power of one meter is a weighted sum of three weekly shapes — residential (night base, morning peak
    around 07:15, small midday bump, strong evening peak around 19:45; a later and flatter morning at the
    weekend), commercial (a 08:30–18:30 working-day plateau, much lower at weekends) and a flat base load
    (fridge, standby) — each sampled at 15-minute knots and linearly interpolated between them. The seed picks
    per meter: residential (80 %) or small commercial, the mean power (log-uniform, 80–600 W residential,
    300–1200 W commercial), the mix of the shapes, a phase shift of up to ±1 h (households do not all rise at
    once), the installation instant (2015–2023) and the register values at installation.

Closed-form integral
    Knot values and weights are integers (shape units, watts), so the energy over a 15-minute slot is an exact
    integer (a trapezoid), prefix sums over one week are precomputed once per shape and phase, and the energy
    at any second is ``weeks × week_total + prefix[slot] + partial-slot trapezoid`` — exact integer arithmetic,
    O(1) for any ``t``, no floats after the knots are built. Registers are floored to the A.14 resolution
    (0.0001 kWh), so they never decrease.

Tariffs (费率)
    Four tariffs (M = 4 in AFN0C F129; 费率1～4 as DL/T 645-2007 numbers them), assigned the usual way:
    1 尖 (sharp), 2 峰 (peak), 3 平 (flat), 4 谷 (valley) — the standards only number tariffs, the utility's
    time-of-use table says which is which. Bands by time of day in :data:`TARIFF_BANDS` (an illustrative
    provincial table; 15-minute boundaries, the same every day). Each tariff register is the integral of the power
    over its own bands, floored on its own; the total register is the sum of the four tariff registers exactly,
    as meters keep it.

Time
    The shapes and bands are laid on the terminal zone's *standard* local time (Asia/Shanghai by default, which
    has no DST), so energy is a function of the instant and cannot step back at a DST change. Registers are
    defined from 2000-01-01 to 2099-12-31 (the years A.15 can carry); before installation they hold their
    installation values, after 2099 they stop. The largest meter (1.2 kW mean from 2015) stays below the A.14
    maximum 999999.9999 kWh over that range.

References checked: Q/GDW 376.1-2009 附录A.14 (XXXXXX.XXXX kWh, 5 bytes BCD) and A.15 (mm hh DD MM YY), AFN0C
F129 "当前正向有功电能示值（总、费率1～M）" layout A.15 + M + A.14 × (M+1) as summarised in PROTOCOLS.md A.9/A.10.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_DOWN, Decimal
from functools import cache, lru_cache
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from concentrator_sim.history import (
    F81_ACTIVE_POWER_CURVE,
    F101_FORWARD_ACTIVE_CURVE,
    F161_DAILY_FORWARD_ACTIVE,
    EventLog,
    Scenario,
    curve_points,
    daily_freeze_instant,
    erc14,
    erc35,
    monthly_freeze_instant,
    truncate,
)
from protocols.errors import DecodeError, ProtocolError
from protocols.gdw376 import messages
from protocols.gdw376.da_dt import ALL_POINTS, MAX_PN, decode_da, decode_dt, expand_identifier
from protocols.gdw376.layout import Field, Record
from protocols.gdw376.link import Address, Afn, Aux, Control, Dir, LinkFrame, Seq, build_frame
from protocols.gdw376.units import (
    ConfirmItem,
    ConfirmList,
    DataUnit,
    EnergyIndication,
    TerminalClock,
    decode_units,
    encode_units,
)
from protocols.gdw376.units.afn0c import F2_TERMINAL_CLOCK, F25_LAYOUT, F129_FORWARD_ACTIVE
from protocols.gdw376.units.afn0d import CurveTag
from protocols.gdw376.units.afn00 import F3_PER_UNIT
from protocols.gdw376.units.afn02 import F3_HEARTBEAT
from protocols.gdw376.units.afn05 import F31_TIME_SYNC
from protocols.gdw376.units.erc import EventRecord

#: The terminal's zone unless configured otherwise (China Standard Time, no DST).
DEFAULT_TZ: tzinfo = ZoneInfo("Asia/Shanghai")

#: Number of tariffs M reported in AFN0C F129 (尖峰平谷).
TARIFF_COUNT = 4

#: Time-of-use bands (start hour, end hour, tariff 1..4) on local standard time; must tile 0..24 h on
#: 15-minute boundaries. Tariff 1 尖 sharp, 2 峰 peak, 3 平 flat, 4 谷 valley.
TARIFF_BANDS: tuple[tuple[float, float, int], ...] = (
    (0, 7, 4),
    (7, 8, 3),
    (8, 10, 2),
    (10, 11, 1),
    (11, 12, 2),
    (12, 17, 3),
    (17, 19, 2),
    (19, 21, 1),
    (21, 22, 2),
    (22, 23, 3),
    (23, 24, 4),
)

SLOT_S = 15 * 60  #: spacing of the load-shape knots, seconds
DAY_S = 24 * 3600
WEEK_S = 7 * DAY_S
SLOTS_PER_DAY = DAY_S // SLOT_S
SLOTS_PER_WEEK = WEEK_S // SLOT_S
SHAPE_MEAN = 1000  #: knots are scaled so that a shape's weekly mean is 1000 shape units (= 1.0)

#: One A.14 step, 0.0001 kWh = 0.1 Wh = 360 W·s, in the unit the integrals are kept in: weight (W) × shape
#: unit (1/1000) × s × 2·SLOT_S (the trapezoid's denominator) → mW·s × 2·SLOT_S.
_TICK_SCALED = 360 * 1000 * 2 * SLOT_S
_TICKS_PER_KWH = 10_000

_EPOCH = date(2000, 1, 1)  #: A.15's earliest year; local standard seconds count from here
_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=UTC)
_END_S = (date(2100, 1, 1) - _EPOCH).days * DAY_S  #: registers stop here (A.15 YY ends at 2099)
_WEEK_ORIGIN_S = 5 * DAY_S  #: 2000-01-01 was a Saturday: weeks start on the Monday five days earlier
_INSTALL_FROM = (date(2015, 1, 1) - _EPOCH).days
_INSTALL_TO = (date(2024, 1, 1) - _EPOCH).days


def _band_tariffs() -> tuple[int, ...]:
    """Tariff index 0..3 of every 15-minute slot of a day, from :data:`TARIFF_BANDS`."""
    slots: list[int | None] = [None] * SLOTS_PER_DAY
    for start, end, tariff in TARIFF_BANDS:
        for slot in range(round(start * 4), round(end * 4)):
            slots[slot] = tariff - 1
    if any(t is None for t in slots):
        raise ValueError("TARIFF_BANDS must cover the whole day")
    return tuple(t for t in slots if t is not None)


#: Tariff index (0 = tariff 1 尖 … 3 = tariff 4 谷) of each slot of a day.
SLOT_TARIFF: tuple[int, ...] = _band_tariffs()


# --- load shapes --------------------------------------------------------------------------------------------


def _bump(hour: float, centre: float, width: float) -> float:
    """A Gaussian bump on the 24-hour circle (so a late-evening bump wraps past midnight)."""
    d = abs(hour - centre) % 24
    d = min(d, 24 - d)
    return math.exp(-0.5 * (d / width) ** 2)


def _plateau(hour: float, start: float, end: float, ramp: float) -> float:
    """1 between ``start`` and ``end`` with logistic ramps of about ``ramp`` hours."""
    return 1 / (1 + math.exp(-(hour - start) / ramp)) / (1 + math.exp((hour - end) / ramp))


def _residential(hour: float, weekend: bool) -> float:
    if weekend:
        return 0.35 + 0.45 * _bump(hour, 9.0, 1.3) + 0.40 * _bump(hour, 12.75, 1.6) + 1.05 * _bump(hour, 19.5, 1.8)
    return 0.30 + 0.55 * _bump(hour, 7.25, 0.8) + 0.20 * _bump(hour, 12.5, 1.0) + 1.10 * _bump(hour, 19.75, 1.6)


def _commercial(hour: float, weekend: bool) -> float:
    if weekend:
        return 0.12 + 0.30 * _plateau(hour, 10.0, 17.0, 0.5)
    return 0.12 + 0.88 * _plateau(hour, 8.5, 18.5, 0.35) + 0.10 * _bump(hour, 13.0, 1.0)


def _flat(hour: float, weekend: bool) -> float:
    return 1.0


_SHAPES: dict[str, Callable[[float, bool], float]] = {
    "residential": _residential,
    "commercial": _commercial,
    "flat": _flat,
}


@dataclass(frozen=True, slots=True)
class _ShapeTable:
    """One weekly shape at one phase: integer knots and per-tariff prefix integrals over a week."""

    knots: tuple[int, ...]  #: SLOTS_PER_WEEK + 1 values (the last repeats the first), shape units
    prefix: tuple[tuple[int, ...], ...]  #: [tariff][slot]: scaled integral of the whole slots before `slot`

    def integral(self, tariff: int, s: int) -> int:
        """Scaled ∫ shape over [week origin, s) restricted to ``tariff``'s bands (s ≥ 0, seconds)."""
        weeks, rest = divmod(s, WEEK_S)
        slot, x = divmod(rest, SLOT_S)
        prefix = self.prefix[tariff]
        total = weeks * prefix[SLOTS_PER_WEEK] + prefix[slot]
        if x and SLOT_TARIFF[slot % SLOTS_PER_DAY] == tariff:
            p0, p1 = self.knots[slot], self.knots[slot + 1]
            # ∫0..x of p0 + (p1-p0)·u/SLOT du, times 2·SLOT: exact in integers.
            total += 2 * SLOT_S * p0 * x + (p1 - p0) * x * x
        return total

    def value(self, s: int) -> int:
        """The shape at second ``s`` (≥ 0) in shape units × SLOT_S (linear between knots; exact)."""
        slot, x = divmod(s % WEEK_S, SLOT_S)
        p0, p1 = self.knots[slot], self.knots[slot + 1]
        return p0 * SLOT_S + (p1 - p0) * x


@cache
def _shape_table(name: str, phase: int) -> _ShapeTable:
    """Build (once) the table of shape ``name`` shifted ``phase`` slots later."""
    shape = _SHAPES[name]
    raw = [shape((j % SLOTS_PER_DAY) * SLOT_S / 3600, j // SLOTS_PER_DAY >= 5) for j in range(SLOTS_PER_WEEK)]
    scale = SHAPE_MEAN * SLOTS_PER_WEEK / math.fsum(raw)
    knots = [round(raw[(j - phase) % SLOTS_PER_WEEK] * scale) for j in range(SLOTS_PER_WEEK)]
    knots.append(knots[0])
    prefix: list[list[int]] = [[0] for _ in range(TARIFF_COUNT)]
    for slot in range(SLOTS_PER_WEEK):
        # Trapezoid of one whole slot, scaled by 2·SLOT_S like `integral`.
        area = SLOT_S * SLOT_S * (knots[slot] + knots[slot + 1])
        owner = SLOT_TARIFF[slot % SLOTS_PER_DAY]
        for tariff in range(TARIFF_COUNT):
            prefix[tariff].append(prefix[tariff][-1] + (area if tariff == owner else 0))
    return _ShapeTable(tuple(knots), tuple(tuple(p) for p in prefix))


# --- meters -------------------------------------------------------------------------------------------------


def _meter_rng(seed: int, a1: str, a2: int, pn: int) -> random.Random:
    """A generator private to one meter, stable across processes (no ``hash()``, which is salted)."""
    digest = hashlib.blake2b(f"{seed}|{a1}|{a2}|{pn}".encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _standard_offset(tz: tzinfo) -> timedelta:
    """The zone's standard (non-DST) UTC offset, taken at the model epoch."""
    local = _EPOCH_UTC.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    return offset - (local.dst() or timedelta(0))


def _ticks_to_kwh(ticks: int) -> Decimal:
    return Decimal(ticks).scaleb(-4)


class MeterModel:
    """One simulated meter behind terminal ``a1``/``a2`` at measurement point (测量点) ``pn``.

    Deterministic in ``(seed, a1, a2, pn)``; :meth:`energy_kwh` and :meth:`tariffs_kwh` are O(1) for any
    instant. Naive datetimes are read as local time in ``tz``.
    """

    __slots__ = ("_base", "_install_s", "_offset", "_terms", "a1", "a2", "kind", "mean_w", "phase", "pn", "tz")

    def __init__(self, seed: int, a1: str, a2: int, pn: int, *, tz: tzinfo = DEFAULT_TZ) -> None:
        self.a1, self.a2, self.pn, self.tz = a1, a2, pn, tz
        self._offset = _standard_offset(tz)
        rng = _meter_rng(seed, a1, a2, pn)
        commercial = rng.random() < 0.2
        self.kind = "commercial" if commercial else "residential"
        low, high = (300.0, 1200.0) if commercial else (80.0, 600.0)
        self.mean_w = round(math.exp(rng.uniform(math.log(low), math.log(high))))  #: mean power, W
        base_share = rng.uniform(0.15, 0.35)  # always-on load (fridge, standby, lighting of a shop)
        mix = rng.uniform(0.7, 1.0) if commercial else rng.uniform(0.0, 0.1)  # commercial share of the rest
        self.phase = rng.randint(-4, 4)  #: habits shifted by phase × 15 min
        variable = self.mean_w * (1 - base_share)
        #: (weight in W, shape table): power(t) = Σ weight × shape(t) / SHAPE_MEAN
        self._terms = (
            (round(variable * (1 - mix)), _shape_table("residential", self.phase)),
            (round(variable * mix), _shape_table("commercial", self.phase)),
            (round(self.mean_w * base_share), _shape_table("flat", 0)),
        )
        day = rng.randrange(_INSTALL_FROM, _INSTALL_TO)
        self._install_s = day * DAY_S + rng.randrange(8 * 3600, 18 * 3600)  # installed in working hours
        #: register values at installation, per tariff, in 0.0001 kWh (a new meter is rarely at zero)
        self._base = tuple(rng.randrange(0, 30 * _TICKS_PER_KWH) for _ in range(TARIFF_COUNT))

    def _seconds(self, t: datetime) -> int:
        """Whole seconds of local standard time since 2000-01-01 00:00, clamped to the defined range."""
        if t.tzinfo is None:
            t = t.replace(tzinfo=self.tz)
        delta = t - _EPOCH_UTC + self._offset
        s = delta.days * DAY_S + delta.seconds
        return min(max(s, self._install_s), _END_S)

    def _scaled(self, tariff: int, s: int) -> int:
        w = s + _WEEK_ORIGIN_S
        return sum(weight * table.integral(tariff, w) for weight, table in self._terms)

    def _tariff_ticks(self, t: datetime) -> tuple[int, ...]:
        s = self._seconds(t)
        return tuple(
            self._base[k] + (self._scaled(k, s) - self._scaled(k, self._install_s)) // _TICK_SCALED
            for k in range(TARIFF_COUNT)
        )

    def tariffs_kwh(self, t: datetime) -> tuple[Decimal, ...]:
        """Tariff registers 1..M (尖峰平谷) at ``t``, kWh with the A.14 resolution."""
        return tuple(_ticks_to_kwh(v) for v in self._tariff_ticks(t))

    def registers(self, t: datetime) -> tuple[Decimal, ...]:
        """Total and tariff registers 1..M at ``t`` (one evaluation of the integrals)."""
        ticks = self._tariff_ticks(t)
        return (_ticks_to_kwh(sum(ticks)), *map(_ticks_to_kwh, ticks))

    def energy_kwh(self, t: datetime) -> Decimal:
        """Total forward active energy register (正向有功总电能) at ``t``: the sum of the tariff registers."""
        return _ticks_to_kwh(sum(self._tariff_ticks(t)))

    def power_kw(self, t: datetime) -> Decimal:
        """Instantaneous active power at ``t`` (kW, exact; the derivative of :meth:`energy_kwh`)."""
        s = self._seconds(t) + _WEEK_ORIGIN_S
        milli_w_slots = sum(weight * table.value(s) for weight, table in self._terms)
        return Decimal(milli_w_slots) / (SLOT_S * SHAPE_MEAN * 1000)

    def local_minute(self, t: datetime) -> datetime:
        """``t`` as the naive local wall-clock minute a terminal in ``tz`` would stamp (A.15 has no seconds)."""
        if t.tzinfo is not None:
            t = t.astimezone(self.tz).replace(tzinfo=None)
        return t.replace(second=0, microsecond=0)

    def indication(self, read_time: datetime) -> EnergyIndication:
        """AFN0C F129 value for a read at ``read_time``, truncated to the minute (naive local, as A.15)."""
        minute = self.local_minute(read_time)
        ticks = self._tariff_ticks(minute)
        return EnergyIndication(
            read_time=minute,
            total=_ticks_to_kwh(sum(ticks)),
            tariffs=tuple(_ticks_to_kwh(v) for v in ticks),
        )


@cache
def reactive_factor(seed: int, a1: str, a2: int, pn: int) -> Decimal:
    """kvarh per kWh of one meter (0.250–0.480, i.e. power factor ≈ 0.97–0.90), stable across processes."""
    return Decimal(random.Random(f"reactive/{seed}/{a1}/{a2}/{pn}").randint(250, 480)).scaleb(-3)


@lru_cache(maxsize=65536)
def meter_model(seed: int, a1: str, a2: int, pn: int, tz: tzinfo = DEFAULT_TZ) -> MeterModel:
    """The (cached) model of one meter."""
    return MeterModel(seed, a1, a2, pn, tz=tz)


def expected_indication(
    seed: int, a1: str, a2: int, pn: int, read_time: datetime, *, tz: tzinfo = DEFAULT_TZ
) -> EnergyIndication:
    """What a simulated terminal ``a1``/``a2`` (fleet ``seed``) reports in AFN0C F129 for ``pn`` when it reads
    at ``read_time`` (naive = local time in ``tz``; aware is converted). Same minute → same value."""
    return meter_model(seed, a1, a2, pn, tz).indication(read_time)


# --- terminals ----------------------------------------------------------------------------------------------

#: Largest user-data area (用户数据区) the simulated terminal puts in one response frame before it splits the
#: answer into several frames (FIR/FIN, RSEQ + 1 each; SEQ 帧序列域 §4.3.4.5, PROTOCOLS.md A.5). Real GPRS
#: concentrators cap frames at a few hundred bytes to 1–2 KiB; 1024 keeps 8 F129 points (≈ 280 B) in one
#: frame and splits "all points".
MAX_RESPONSE_USER_DATA = 1024

#: Error code put in AFN00 F3 items for identifiers the terminal refuses (ERR: 0 = 正确, non-zero = 错误;
#: PROTOCOLS.md A.9, whose code table is still marked [verify]).
DENY_ERR = 1

#: How many recent F129 answers :attr:`TerminalModel.served` keeps by default: a bounded log for tests, not a
#: store (a fleet keeps far fewer: hundreds of terminals polled for hours would otherwise hold gigabytes).
SERVED_LOG = 1000


class Failure(enum.StrEnum):
    """How a failing meter shows up behind its terminal."""

    NO_VALUE = "no_value"  #: the terminal could not read the meter: F129 with EE fillers (附录A 无效数据)
    DENY = "deny"  #: the terminal refuses the point: denied like an unknown pn


@dataclass(frozen=True, slots=True)
class Served:
    """One AFN0C F129 data unit a terminal sent (for tests and stats)."""

    pn: int
    read_time: datetime
    value: EnergyIndication


@dataclass(slots=True)
class TerminalCounters:
    """What a :class:`TerminalModel` has done since it was created."""

    requests: int = 0  #: requests executed (duplicates not counted)
    duplicates: int = 0  #: requests with the previous PSEQ, answered by resending (PROTOCOLS.md A.5)
    responses: int = 0  #: requests answered with data (AFN0C responses)
    denied: int = 0  #: requests answered with AFN00 F2 / F3
    readings: int = 0  #: F129 data units sent with values
    no_value: int = 0  #: F129 data units sent with EE fillers
    clock_reads: int = 0  #: F2 data units sent
    ignored: int = 0  #: frames that were not a request to this terminal
    pushes_confirmed: int = 0  #: pushes (主动上报, CON=1) the master confirmed


#: Function code of a terminal's own report (主动上报): PRM=1 FC=4 用户数据 → C=C4 (PROTOCOLS.md A.3, A.11).
FC_PUSH = 4
F17_GROUP_POWER = 17  #: AFN0C F17 当前总加有功功率 (A.2), pn = 总加组号
F25_POWER = 25  #: AFN0C F25 当前三相及总有/无功功率… (only the total active power is simulated; the rest EE)
#: F25 fields left EE (无效数据) by the simulation.
F25_EMPTY: dict[str, None] = {f.name: None for f in F25_LAYOUT if isinstance(f, Field)}


def a2_value(kw: Decimal) -> Decimal:
    """``kw`` cut to what 附录A.2 holds exactly (3 significant digits, exponent 10^-3…10^4)."""
    for exponent in range(-3, 5):
        step = Decimal(1).scaleb(exponent)
        cut = (kw / step).to_integral_value(rounding=ROUND_DOWN)
        if abs(cut) <= 999:
            return cut * step
    raise ValueError(f"{kw} kW does not fit A.2")


@dataclass(frozen=True, slots=True, eq=False)
class Push:
    """A report the terminal sends on its own (主动上报, CON=1) until the master confirms it."""

    afn: int
    data: bytes  #: the encoded data units
    ec1: int | None = None  #: for an event push: EC1 up to which a confirm acknowledges the events


class TerminalModel:
    """The application side of one simulated concentrator (集中器): sans-IO, ``frame in → frames out``.

    Answers Q/GDW 376.1 AFN0C (请求1类数据) F2 (终端日历时钟, A.1) for p0 and F129 (当前正向有功电能示值,
    A.15 + M + A.14 × (M+1)) for its measurement points, several pn/Fn per identifier and several identifiers
    per request (§5.1.1.2/§5.1.1.3), ``FF 00`` = all its points. Read time is the terminal clock (``now`` +
    ``clock_drift``) in ``tz``, truncated to the minute. When nothing requested can be answered it denies the
    request with AFN00 F2 (全部否认), or with AFN00 F3 per identifier when ``deny_with="f3"``; when only some
    items can be answered it answers those (as concentrators do for points without an archive). Also (see
    :mod:`concentrator_sim.history` and docs/collection.md "Simulator history"): AFN0D frozen indications and
    curves from the meter model per its :class:`~concentrator_sim.history.Scenario`, AFN0E F1/F2 from its
    :class:`~concentrator_sim.history.EventLog` (ACD=1 with EC while important events are unread), AFN05 F31
    time sync, AFN04 F10 / AFN0A F10 archive, AFN0C F17/F25 for a load-control terminal, and pushes (C=C4,
    CON=1) queued in :attr:`outbox` by :meth:`tick` and :meth:`power_restored`. Other AFNs are denied. A
    request with the same PSEQ (and Tp PFC, if any) as the previous one gets the previous answer
    again without re-executing (帧序列域 SEQ §4.3.4.5 as summarised in PROTOCOLS.md A.5: with TpV=0 a
    responder that receives the same PSEQ twice resends its previous response).
    """

    def __init__(
        self,
        address: Address,
        meters: Iterable[int],
        *,
        version: Literal["2013", "2009"] = "2013",
        tz: tzinfo = DEFAULT_TZ,
        seed: int = 0,
        failing_pns: Mapping[int, Failure] | None = None,
        clock_drift: timedelta = timedelta(0),
        drift_per_day: timedelta = timedelta(0),
        deny_with: Literal["f2", "f3"] = "f2",
        max_user_data: int = MAX_RESPONSE_USER_DATA,
        served_log: int = SERVED_LOG,
        scenario: Scenario | None = None,
    ) -> None:
        self.address = address.with_msa(0)
        self.meters = tuple(sorted(set(meters)))
        if not all(1 <= pn <= MAX_PN for pn in self.meters):
            raise ValueError(f"measurement points must be 1..{MAX_PN}")
        self.version = version
        self.tz = tz
        self.seed = seed
        self.failing_pns: dict[int, Failure] = dict(failing_pns or {})
        self.clock_drift = clock_drift
        #: the clock gains this much per day of true time (negative: loses), from the first look at the clock
        #: or the last time sync (a quartz RTC's error accumulates)
        self.drift_per_day = drift_per_day
        self._drift_since: datetime | None = None
        self.deny_with = deny_with
        self.max_user_data = max_user_data
        self.scenario = scenario or Scenario()
        self.counters = TerminalCounters()
        self.served: deque[Served] = deque(maxlen=served_log)
        #: (pn, Td_d) → the total of every AFN0D F161 record sent with a value (answers and timed reports)
        self.served_daily: dict[tuple[int, date], Decimal] = {}
        #: AFN04 F10 archive entries by 电能表/交流采样装置序号, as the master set them
        self.archive: dict[int, Record] = {}
        #: (drift before, drift after) of every AFN05 F31 time sync applied
        self.time_syncs: list[tuple[timedelta, timedelta]] = []
        self.events = EventLog()
        #: pushes (主动上报, CON=1) waiting to be sent and confirmed, oldest first
        self.outbox: deque[Push] = deque()
        self._meters = {pn: meter_model(seed, address.a1, address.a2, pn, tz) for pn in self.meters}
        self._last: tuple[tuple[int, int | None], tuple[bytes, ...]] | None = None
        self._last_day: date | None = None
        self._unknown_logged = 0

    # -- link management helpers (used by the IO side) --

    def clock(self, now: datetime) -> datetime:
        """The terminal clock (终端日历时钟) at ``now``: naive local time in ``tz``, whole seconds."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return (now + self.drift(now)).astimezone(self.tz).replace(tzinfo=None, microsecond=0)

    def drift(self, now: datetime) -> timedelta:
        """How far the terminal clock is ahead of true time at ``now`` (negative: behind)."""
        if not self.drift_per_day:
            return self.clock_drift
        if self._drift_since is None:
            self._drift_since = now
        return self.clock_drift + self.drift_per_day * ((now - self._drift_since) / timedelta(days=1))

    def local(self, now: datetime) -> datetime:
        """``now`` (aware) as naive local time in ``tz`` — true time, not the (drifting) terminal clock."""
        return now.astimezone(self.tz).replace(tzinfo=None)

    def aware(self, local: datetime) -> datetime:
        """A naive local instant in ``tz`` made aware."""
        return local.replace(tzinfo=self.tz)

    def link_check(self, fn: int, pseq: int, now: datetime) -> bytes:
        """AFN02 F1 login / F2 logout / F3 heartbeat from this terminal (链路接口检测; PROTOCOLS.md A.9, A.11).
        The 2013 profile puts the terminal clock (A.1) in the heartbeat; the 2009 profile sends it empty."""
        clock = self.clock(now) if fn == F3_HEARTBEAT and self.version == "2013" else None
        return messages.link_check(self.address, fn, pseq, clock=clock)

    def reset_link(self) -> None:
        """A new connection: forget the previous request (PSEQ duplicate detection is per link)."""
        self._last = None

    # -- things that happen on their own (driven by the IO side's clock) --

    def tick(self, now: datetime) -> None:
        """Advance to ``now``: log ERC35 discoveries that are due and, with ``timed_report``, queue AFN0D F161
        for yesterday once per local midnight crossed (终端主动上报 定时任务)."""
        for found in sorted(self.scenario.unknown_meters, key=lambda m: m.at)[self._unknown_logged :]:
            if found.at > now:
                break
            self._log_event(erc35(found, self.local(found.at)))
            self._unknown_logged += 1
        if not self.scenario.timed_report:
            return
        # the report task runs report_delay after midnight (终端主动上报 定时任务 with its own base time)
        today = self.local(now - self.scenario.report_delay).date()
        if self._last_day is not None and today > self._last_day:
            tag = {"td_d": today - timedelta(days=1)}
            units = [
                u
                for pn, meter in self._meters.items()
                if self.failing_pns.get(pn) is not Failure.DENY
                and (u := self._frozen(meter, F161_DAILY_FORWARD_ACTIVE, tag, now)) is not None
            ]
            for data in self._chunks(Afn.REQUEST_CLASS2, units):
                self.outbox.append(Push(Afn.REQUEST_CLASS2, data))
        self._last_day = today if self._last_day is None else max(self._last_day, today)

    def power_restored(self, off: datetime, on: datetime) -> None:
        """Back from an offline window (停电): log ERC14 with the local off/on minutes."""
        self._log_event(erc14(self.local(off), self.local(on), edition=self.version))

    def _log_event(self, record: EventRecord) -> None:
        ring = self.events.add(record)
        if ring == 0 and self.scenario.report_events:
            report = self.events.report(0, self.events.read1, self.events.ec[0])
            data = encode_units(Afn.REQUEST_CLASS3, [DataUnit(0, 1, report)], Dir.UP)
            self.outbox.append(Push(Afn.REQUEST_CLASS3, data, ec1=self.events.ec[0]))

    def push_frame(self, push: Push, pseq: int) -> bytes:
        """The frame of ``push``: C=C4 (DIR=1 PRM=1 FC=4 用户数据), MSA 0, SEQ FIR=FIN=CON=1 (PROTOCOLS.md A.11)."""
        return build_frame(
            Control(Dir.UP, True, False, False, FC_PUSH),
            self.address,
            push.afn,
            Seq(False, True, True, True, pseq & 0x0F),
            push.data,
        )

    def push_confirmed(self, push: Push) -> None:
        """The master confirmed ``push`` (AFN00 F1): drop it; a confirmed event push clears ACD up to its EC1."""
        if self.outbox and self.outbox[0] is push:
            self.outbox.popleft()
        if push.ec1 is not None:
            self.events.confirmed(push.ec1)
        self.counters.pushes_confirmed += 1

    # -- requests --

    def handle(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        """Answer one frame from the master; ``[]`` when it is not a request addressed to this terminal."""
        if (
            frame.control.dir is not Dir.DOWN
            or not frame.control.prm
            or frame.address.group
            or (frame.address.a1, frame.address.a2) != (self.address.a1, self.address.a2)
        ):
            self.counters.ignored += 1
            return []
        key = (frame.seq.seq, frame.aux.tp.pfc if frame.aux.tp is not None else None)
        if self._last is not None and self._last[0] == key:
            self.counters.duplicates += 1
            return list(self._last[1])
        self.counters.requests += 1
        answer = self._execute(frame, now)
        self._last = (key, tuple(answer))
        return answer

    def _execute(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        handler = self._HANDLERS.get(frame.afn)
        if handler is None:
            return [self._deny(frame, [])]
        try:
            return handler(self, frame, now)
        except ProtocolError:
            return [self._deny(frame, [])]

    def _class1(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        """AFN0C 请求1类数据: identifiers only."""
        clock = self.clock(now)
        items = self._requested(frame.data)
        return self._answer(frame, [(pn, fn, functools.partial(self._read, pn, fn, clock, now)) for pn, fn in items])

    def _answer(self, frame: LinkFrame, reads: Iterable[tuple[int, int, Callable[[], DataUnit | None]]]) -> list[bytes]:
        """Answer the units ``reads`` give; deny the request when none does (items refused: AFN00 F3 list)."""
        units: list[DataUnit] = []
        refused: list[tuple[int, int]] = []
        for pn, fn, read in reads:
            unit = read()
            if unit is None:
                refused.append((pn, fn))
            else:
                units.append(unit)
        if not units:
            return [self._deny(frame, refused)]
        self.counters.responses += 1
        return self._respond(frame, units)

    def _class2(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        """AFN0D 请求2类数据: each unit carries its time tag (decoded with the DOWN codecs)."""
        reads: list[tuple[int, int, Callable[[], DataUnit | None]]] = []
        for unit in decode_units(frame.afn, frame.data, Dir.DOWN):
            tag = _body(unit)
            for pn in list(self.meters) if unit.pn == ALL_POINTS else [unit.pn]:
                reads.append((pn, unit.fn, functools.partial(self._history, pn, unit.fn, tag, now)))
        return self._answer(frame, reads)

    def _class3(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        """AFN0E 请求3类数据: F1 important / F2 normal events between the pointers Pm and Pn."""
        units = [
            DataUnit(0, unit.fn, self.events.report(unit.fn - 1, _body(unit)["pointer_pm"], _body(unit)["pointer_pn"]))
            for unit in decode_units(frame.afn, frame.data, Dir.DOWN)
            if unit.pn == 0 and unit.fn in (1, 2)
        ]
        if not units:
            return [self._deny(frame, [])]
        self.counters.responses += 1
        return self._respond(frame, units)

    def _control(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        """AFN05 控制命令: F31 对时 sets the terminal clock (附录A.1, local); other commands are denied."""
        units = decode_units(frame.afn, frame.data, Dir.DOWN)
        if not units or any(u.pn != 0 or u.fn != F31_TIME_SYNC for u in units):
            return [self._deny(frame, [])]
        before = self.drift(now)
        for unit in units:
            set_to = _body(unit)["clock"]
            if not isinstance(set_to, datetime):
                raise DecodeError("AFN05 F31 without a clock (EE)")
            self.clock_drift = self.aware(set_to) - now.replace(microsecond=0)
            self._drift_since = now
        self.time_syncs.append((before, self.clock_drift))
        return [self._confirm(frame)]

    def _set(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        """AFN04 设置参数: F10 电能表/交流采样装置配置 entries stored by 序号; other Fn are denied."""
        units = decode_units(frame.afn, frame.data, Dir.DOWN)
        if not units or any(u.pn != 0 or u.fn != 10 for u in units):
            return [self._deny(frame, [])]
        for unit in units:
            for entry in _body(unit)["meters"]:
                self.archive[entry["index"]] = entry
        return [self._confirm(frame)]

    def _query(self, frame: LinkFrame, now: datetime) -> list[bytes]:
        """AFN0A 查询参数: F10 answers the stored entries among the 序号 asked for (those it has)."""
        units: list[DataUnit] = []
        for unit in decode_units(frame.afn, frame.data, Dir.DOWN):
            if unit.pn != 0 or unit.fn != 10:
                continue
            found = tuple(self.archive[i] for i in _body(unit)["indexes"] if i in self.archive)
            if found:
                units.append(DataUnit(0, 10, Record({"n": len(found), "meters": found})))
        if not units:
            return [self._deny(frame, [])]
        self.counters.responses += 1
        return self._respond(frame, units)

    _HANDLERS: ClassVar[dict[int, Callable[[TerminalModel, LinkFrame, datetime], list[bytes]]]] = {
        Afn.REQUEST_CLASS1: _class1,
        Afn.REQUEST_CLASS2: _class2,
        Afn.REQUEST_CLASS3: _class3,
        Afn.CONTROL: _control,
        Afn.SET_PARAM: _set,
        Afn.QUERY_PARAM: _query,
    }

    def _requested(self, data: bytes) -> list[tuple[int, int]]:
        """(pn, fn) items of an AFN0C request: identifiers only, no data (PROTOCOLS.md A.9 AFN0C)."""
        if not data or len(data) % 4:
            raise DecodeError(f"{len(data)} bytes are not whole DA DT identifiers", raw=data)
        items: list[tuple[int, int]] = []
        for at in range(0, len(data), 4):
            pns = decode_da(data[at : at + 2])
            if pns == [ALL_POINTS]:
                pns = list(self.meters)
            items.extend(expand_identifier(pns, decode_dt(data[at + 2 : at + 4])))
        return items

    def _read(self, pn: int, fn: int, clock: datetime, now: datetime) -> DataUnit | None:
        """One AFN0C data unit, or ``None`` when the terminal has nothing for (pn, fn)."""
        if fn == F2_TERMINAL_CLOCK and pn == 0:
            self.counters.clock_reads += 1
            return DataUnit(0, F2_TERMINAL_CLOCK, TerminalClock(clock))
        if self.scenario.load and fn == F17_GROUP_POWER and pn == 1:
            total = sum((m.power_kw(now) for m in self._meters.values()), Decimal(0))
            return DataUnit(pn, fn, Record({"power": a2_value(total)}))
        meter = self._meters.get(pn)
        if meter is None or not self.scenario.answering(pn, now) or self.failing_pns.get(pn) is Failure.DENY:
            return None
        if self.scenario.load and fn == F25_POWER:
            minute = meter.local_minute(clock)
            return DataUnit(
                pn, fn, Record({**F25_EMPTY, "read_time": minute, "p_total": truncate(meter.power_kw(now), 4)})
            )
        if fn != F129_FORWARD_ACTIVE:
            return None
        if self.failing_pns.get(pn) is Failure.NO_VALUE:
            minute = meter.local_minute(clock)
            value = EnergyIndication(read_time=minute, total=None, tariffs=(None,) * TARIFF_COUNT)
            self.counters.no_value += 1
        else:
            value = meter.indication(clock)
            self.counters.readings += 1
        self.served.append(Served(pn, value.read_time, value))
        return DataUnit(pn, F129_FORWARD_ACTIVE, value)

    def _history(self, pn: int, fn: int, tag: Record, now: datetime) -> DataUnit | None:
        """One AFN0D data unit from the meter model, or ``None`` when the terminal holds no such record."""
        meter = self._meters.get(pn)
        if meter is None or self.failing_pns.get(pn) is Failure.DENY:
            return None
        if fn in FROZEN_FNS:
            return self._frozen(meter, fn, tag, now)
        if fn in (F81_ACTIVE_POWER_CURVE, F101_FORWARD_ACTIVE_CURVE):
            return self._curve(pn, fn, meter, CurveTag(tag["start"], tag["density"], tag["points"]), now)
        return None

    def _frozen(self, meter: MeterModel, fn: int, tag: Mapping[str, Any], now: datetime) -> DataUnit | None:
        """A daily (Td_d) or monthly (Td_m) frozen indication unit: F161–F168 / F177–F184 (one quantity each) or
        F1 / F17 (正向有功, 正向无功, 一象限, 四象限). Freeze instants in :mod:`.history`."""
        if "td_d" in tag:
            head: dict[str, Any] = {"td_d": tag["td_d"]}
            instant = daily_freeze_instant(tag["td_d"])
        else:
            head = {"td_m": tag["td_m"]}
            instant = monthly_freeze_instant(tag["td_m"].year, tag["td_m"].month)
        if not self.scenario.recorded(meter.pn, self.aware(instant), now):
            return None
        if self.failing_pns.get(meter.pn) is Failure.NO_VALUE:
            self.counters.no_value += 1
        else:
            self.counters.readings += 1
        if fn in (1, 17):
            body: dict[str, Any] = {
                name: self._indications(meter, kind, instant)
                for name, kind in (
                    ("forward_active", 0),
                    ("forward_reactive", 1),
                    ("q1_reactive", 4),
                    ("q4_reactive", 7),
                )
            }
        else:
            body = {"values": self._indications(meter, (fn - F161_DAILY_FORWARD_ACTIVE) % 8, instant)}
        if fn == F161_DAILY_FORWARD_ACTIVE and body["values"][0] is not None:
            self.served_daily[meter.pn, tag["td_d"]] = body["values"][0]
        return DataUnit(meter.pn, fn, Record({**head, "read_time": instant, "m": TARIFF_COUNT, **body}))

    def _indications(self, meter: MeterModel, kind: int, instant: datetime) -> tuple[Decimal | None, ...]:
        """Total + tariffs of quantity ``kind`` (0 正向有功, 1 正向无功, 2 反向有功, 3 反向无功, 4–7 一～四象限无功)
        at ``instant``: active from the model; forward reactive = 一象限 = active × the meter's reactive factor (a
        consumer with an inductive load), cut to A.11's 2 decimals; reverse and the other quadrants stay 0."""
        if self.failing_pns.get(meter.pn) is Failure.NO_VALUE:
            return (None,) * (TARIFF_COUNT + 1)
        if kind == 0:
            return meter.registers(instant)
        if kind in (1, 4):
            factor = reactive_factor(self.seed, meter.a1, meter.a2, meter.pn)
            tariffs = tuple(truncate(v * factor, 2) for v in meter.tariffs_kwh(instant))
            return (sum(tariffs, Decimal(0)), *tariffs)
        return (Decimal(0),) * (TARIFF_COUNT + 1)

    def _curve(self, pn: int, fn: int, meter: MeterModel, tag: CurveTag, now: datetime) -> DataUnit | None:
        """F81 总有功功率 (A.9) / F101 正向有功总电能示值 (A.11) at the Td_c points; points the terminal does not
        hold are EE; no point held at all → None."""
        points = curve_points(tag.start, tag.density, tag.points)
        if points is None:
            return None
        held = [self.scenario.recorded(pn, self.aware(t), now) for t in points]
        if not any(held):
            return None
        failing = self.failing_pns.get(pn) is Failure.NO_VALUE
        values: list[Decimal | None] = []
        for t, ok in zip(points, held, strict=True):
            if not ok or failing:
                values.append(None)
            elif fn == F81_ACTIVE_POWER_CURVE:
                values.append(truncate(meter.power_kw(self.aware(t)), 4))
            else:
                values.append(truncate(meter.energy_kwh(t), 2))
        body = Record({"start": tag.start, "density": tag.density, "points": tag.points, "values": tuple(values)})
        return DataUnit(pn, fn, body)

    def _chunks(self, afn: int, units: list[DataUnit]) -> list[bytes]:
        """``units`` encoded once each (own DA DT, §5.1.1.2) and grouped into data areas of at most
        ``max_user_data`` bytes (a unit larger than that gets a frame of its own)."""
        chunks: list[bytes] = []
        current: list[bytes] = []
        size = 0
        for unit in units:
            encoded = encode_units(afn, [unit], Dir.UP)
            if current and size + len(encoded) > self.max_user_data:
                chunks.append(b"".join(current))
                current, size = [], 0
            current.append(encoded)
            size += len(encoded)
        if current:
            chunks.append(b"".join(current))
        return chunks

    def _respond(self, frame: LinkFrame, units: list[DataUnit]) -> list[bytes]:
        """The response (C=88, address and MSA echoed, Tp copied, as :func:`messages.response` builds it), split
        into frames of at most ``max_user_data`` bytes (FIR/FIN, RSEQ + 1 each); ACD=1 with EC1/EC2 while
        important events are unread (§4.3.4.3, 附加信息域 EC)."""
        chunks = self._chunks(frame.afn, units)
        last = len(chunks) - 1
        acd_ec = (self.events.ec[0], self.events.ec[1]) if self.events.pending else None
        tp = frame.aux.tp
        control = Control(Dir.UP, False, acd_ec is not None, False, messages.FC_RESPONSE)
        return [
            build_frame(
                control,
                frame.address,
                frame.afn,
                Seq(tp is not None, i == 0, i == last, False, (frame.seq.seq + i) % 16),
                data,
                Aux(ec=acd_ec, tp=tp),
            )
            for i, data in enumerate(chunks)
        ]

    def _confirm(self, frame: LinkFrame) -> bytes:
        return messages.confirm(frame)

    def _deny(self, frame: LinkFrame, refused: list[tuple[int, int]]) -> bytes:
        self.counters.denied += 1
        if self.deny_with == "f3" and refused:
            items = tuple(ConfirmItem(pn, fn, DENY_ERR) for pn, fn in refused)
            return _confirm_list(frame, ConfirmList(frame.afn, items))
        return messages.deny(frame)


#: AFN0D frozen indications served: F1/F17 (日/月冻结 正向有/无功、一/四象限), F161–F168 (日冻结), F177–F184 (月冻结).
FROZEN_FNS = frozenset({1, 17, *range(161, 169), *range(177, 185)})


def _body(unit: DataUnit) -> Record:
    """The decoded body of a request unit (a layout Record)."""
    if not isinstance(unit.value, Record):
        raise DecodeError(f"F{unit.fn} of p{unit.pn} has no body")
    return unit.value


def _confirm_list(request: LinkFrame, body: ConfirmList) -> bytes:
    """AFN00 F3 按数据单元标识确认和否认 answering ``request`` (PROTOCOLS.md A.9): C=80 (DIR=1 PRM=0 FC=0
    认可), address and MSA echoed, SEQ FIR=FIN=1 CON=0, RSEQ = the request's PSEQ.
    (``protocols.gdw376.messages`` builds F1/F2 only.)"""
    return build_frame(
        Control(Dir.UP, False, False, False, messages.FC_CONFIRM),
        request.address,
        Afn.CONFIRM_DENY,
        Seq(False, True, True, False, request.seq.seq),
        encode_units(Afn.CONFIRM_DENY, [DataUnit(0, F3_PER_UNIT, body)], Dir.UP),
    )
