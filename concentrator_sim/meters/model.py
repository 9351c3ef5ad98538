"""One simulated DL/T 645 meter (电能表): state and protocol behaviour, sans-IO — ``handle(frame, now) → replies``.

State (all of it a function of the true instants handed in; no clock is read here)

* Energy registers (表A.1) that grow with the load of :class:`concentrator_sim.model.MeterModel` and stop while
  the relay is open or the supply is off, with their exact history (:mod:`concentrator_sim.meters.registers`);
  maximum demand with its time (表A.2); instantaneous values (表A.3, :mod:`concentrator_sim.meters.physics`).
* Its own clock (:class:`~concentrator_sim.meters.clock.MeterClock`: offset and ppm drift) — date and time
  04000101/04000102 — and parameters (表A.5: constants, tariff tables, ASCII name plate, baud and combination
  words; written ones are kept).
* Freezes (冻结, 表A.6): daily at the meter's midnight (日冻结 0506, :attr:`MeterConfig.daily_freezes` kept),
  hourly (整点冻结 0504, 254 kept), instant (瞬时冻结 0501, on 16H 99999999) and timed (定时冻结 0500, on the
  schedule a 16H sets); settlements (结算, the energy and demand of 上1～上12结算日) on the settlement day at
  00:00. History is back-filled when the meter first runs, so "last-N" reads work at once.
* Load records (负荷记录 06000000..02) and curves (0610xxxx) every 04000A02 minutes (15 by default), the last
  :attr:`MeterConfig.load_records` of them.
* Run status words 1–7 (04000501..07): word 3 carries the relay state (D4, 1 = 断 open), the relay command state
  (D6) and the pre-trip alarm (D7) — PROTOCOLS.md B.4; D6/D7 are from the State Grid supplement [verify].
* Events (表A.4, :mod:`concentrator_sim.meters.events`): power-down, cover-open, programming, clears, time set,
  trip/close — counts and the last 10 records.
* A relay (继电器) driven by 1CH: trip (跳闸), allow close (合闸允许: the customer closes it after
  :attr:`MeterConfig.close_delay`), close (直接合闸), alarm and keep-power (保电: trips are refused).

Commands (DL/T 645-2007 §7; 1997 §4.2.3 for a 1997 meter), parsed with :func:`protocols.dlt645.apdu
.parse_any_request`: 读数据 11H (+ load-profile N and time) with follow-up frames 12H for long answers, 读通信地址
13H, 广播校时 08H, 写数据 14H, 写通信地址 15H, 冻结 16H, 更改通信速率 17H, 修改密码 18H, 最大需量清零 19H,
电表清零 1AH, 事件清零 1BH, 跳合闸 1CH; a 1997 meter answers 01H/02H/03H/04H/08H/0AH/0CH/0FH/10H instead and is
silent to 2007-only codes (and a 2007 meter to 1997-only ones), which is how masters tell the editions apart.

Passwords (密码权限 PA + P0P1P2, §7.3): each level 0..9 has a code; a command is accepted with a level whose
code matches and which is at most the command's level (writes :attr:`MeterConfig.write_level`, clears and
control :attr:`MeterConfig.control_level`; 0 is the highest authority). After
:attr:`MeterConfig.password_lockout` wrong passwords in one meter day every password command is refused until
midnight (密码闭锁). Refusals are abnormal replies (C | C0H) with the error word (错误信息字 §7.1 表1): D2
密码错/未授权 for passwords, D1 无请求数据 for data the meter lacks, D3 for a baud rate it cannot use, D0 其他错误
for everything else (an expired or refused control command, a malformed command). 1CH's error word follows
the same table; the State Grid supplement's own codes are not modelled [verify].

Broadcast time (08H) is applied only when the correction is at most :attr:`MeterConfig.timesync_max`, the meter
is not within :attr:`MeterConfig.timesync_guard` of midnight (before or after the change), and — by default —
at most once per meter day; otherwise it is ignored (:attr:`Dlt645Meter.last_timesync` says why).

Addressing (§4.2.3): its own address, a wildcard address matching it (AA bytes, any position — several meters
matching one wildcard all answer and collide on a bus, as on a real one), or broadcast 999999999999 (08H, 16H
obeyed without a reply; 1997 0AH answered).
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from concentrator_sim.meters.clock import MeterClock
from concentrator_sim.meters.events import EventKind, EventLog, Record, event_logs, operator_value
from concentrator_sim.meters.physics import ACTIVE, POWER_FACTOR, REACTIVE, Instant, Physics
from concentrator_sim.meters.profiles import GENERIC_2007, MeterProfile
from concentrator_sim.meters.registers import (
    FORWARD_ACTIVE,
    QUANTITIES,
    SIX,
    DemandLedger,
    DemandMax,
    EnergyRegisters,
)
from concentrator_sim.model import DEFAULT_TZ, TARIFF_BANDS, TARIFF_COUNT, MeterModel, meter_model
from protocols.dlt645.apdu import (
    ReadAddressRequest,
    ReadFollowRequest,
    ReadRequest,
    Request,
    RereadRequest,
    build_address_reply,
    build_data_reply,
    build_error_reply,
    parse_any_request,
    parse_load_profile_params,
)
from protocols.dlt645.commands import (
    ALL_EVENTS,
    BroadcastTimeRequest,
    ChangeBaudRequest,
    ChangePasswordRequest,
    ClearDemandRequest,
    ClearEventsRequest,
    ClearMeterRequest,
    ControlAction,
    ControlRequest,
    FreezeRequest,
    FreezeTime,
    Password,
    WriteAddressRequest,
    WriteRequest,
    baud_word,
    build_ack,
    build_baud_reply,
    build_password_reply,
    password_di,
)
from protocols.dlt645.control import Edition, Function, Function1997, edition_of
from protocols.dlt645.data_items import CURVES, DI_SIZE, FREEZES, DataItem, lookup
from protocols.dlt645.errors import BaudRateNotChangeable, NoRequestedData, OtherError, PasswordError
from protocols.dlt645.formats import Field, Kind, Scalar
from protocols.dlt645.link import BROADCAST, WILDCARD, Dlt645Frame, address_matches, address_to_wire
from protocols.dlt645.load_profile import RECORD_VALUES, LoadRecords
from protocols.dlt645.mapping import to_2007
from protocols.errors import DecodeError, ProtocolError

#: The A1 under which a directly read meter's load model is seeded: meter ``address`` with seed ``seed`` draws
#: the power of ``meter_model(seed, DIRECT_A1, 0, int(address))`` (a concentrator's meters use their a1/a2/pn).
DIRECT_A1 = "0645"

#: Error word bits (错误信息字, DL/T 645-2007 §7.1 表1).
ERR_OTHER = 1 << OtherError.bit  #: D0 其他错误 (1997: 非法数据)
ERR_NO_DATA = 1 << NoRequestedData.bit  #: D1 无请求数据 (1997: 数据标识错)
ERR_PASSWORD = 1 << PasswordError.bit  #: D2 密码错/未授权
ERR_BAUD = 1 << BaudRateNotChangeable.bit  #: D3 通信速率不能更改

#: Hourly freezes kept (整点冻结, 表A.6 0504).
HOURLY_FREEZES = FREEZES[0x04][1]
#: How far back :meth:`Dlt645Meter.advance` looks for missed freezes after a long silence (longer gaps keep
#: only what the deques hold anyway).
_CATCH_UP = timedelta(days=400)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

#: Functions a meter obeys at the broadcast address (广播校时, 冻结) without replying; 1997 写设备地址 replies.
_SILENT_BROADCAST = frozenset({Function.BROADCAST_TIME, Function.FREEZE})
_REPLYING_BROADCAST = frozenset({Function1997.WRITE_ADDRESS})

_ENERGY, _DEMAND, _VARIABLE, _EVENT, _PARAMETER, _FROZEN, _LOAD = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
_BLOCK = 0xFF
_PREPAID = 0x0090
_PHASE_ENERGY = {0x15: 0, 0x29: 1, 0x3D: 2}  #: 表A.1 DI2 base of A/B/C phase energies
_HOURLY, _DAILY, _INSTANT, _TIMED = 0x04, 0x06, 0x01, 0x00
_LOAD_EARLIEST, _LOAD_AT, _LOAD_LATEST = 0x06000000, 0x06000001, 0x06000002

#: Default parameters (表A.5): DI → value(s). The tariff tables follow concentrator_sim.model.TARIFF_BANDS.
_ASCII = {
    0x04000403: "SIM-ASSET-0001",  # 资产管理编码
    0x04000404: "220V",  # 额定电压
    0x04000405: "5(60)A",  # 额定电流/基本电流
    0x04000406: "60A",  # 最大电流
    0x04000407: "2.0",  # 有功准确度等级
    0x04000408: "2.0",  # 无功准确度等级
    0x0400040B: "DDZY-SIM",  # 电表型号
    0x0400040C: "2019-03-01",  # 生产日期
    0x0400040D: "DL/T645-2007",  # 协议版本号
}


#: Password levels and codes of a new meter (密码权限 → P2P1P0 as printed): 02 may control and clear, 04 write.
DEFAULT_PASSWORDS: Mapping[int, str] = {2: "123456", 4: "000000"}


class TimeSync(enum.StrEnum):
    """What became of the last broadcast time (08H)."""

    ACCEPTED = "accepted"
    TOO_LARGE = "too_large"  #: correction beyond timesync_max
    NEAR_MIDNIGHT = "near_midnight"  #: within timesync_guard of 00:00
    ALREADY_TODAY = "already_today"  #: one broadcast time per meter day


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """What one simulated meter is. Defaults make a healthy single-phase 2007 meter."""

    address: str  #: 12 digits as on the name plate (通信地址)
    profile: MeterProfile = GENERIC_2007  #: firmware behaviour: edition, phases, FE preamble, filler, frame size
    seed: int = 0  #: with the address, picks the load model, power factor, history
    tz: tzinfo = DEFAULT_TZ  #: the meter's wall-clock zone (and the load shapes')
    baud: int = 2400  #: the meter's communication rate (通信速率)
    baud_rates: tuple[int, ...] = (1200, 2400, 4800, 9600)  #: rates 17H may switch to (others: D3 refused)
    clock_offset: timedelta = timedelta(0)  #: how far the meter clock is ahead of true time at start
    clock_ppm: float = 0.0  #: clock rate error, parts per million (positive: runs fast)
    daily_freezes: int = 62  #: daily frozen records kept (上1～上62次日冻结)
    settlement_day: int = 1  #: 结算日: day of the month, at 00:00
    load_records: int = 960  #: load records kept (10 days at 15 minutes)
    relay_closed: bool = True  #: relay state at start (继电器: closed = 通)
    close_delay: timedelta = timedelta(0)  #: after 1CH 合闸允许, when the customer presses the button
    passwords: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_PASSWORDS))  #: level → code
    write_level: int = 4  #: weakest password level allowed to write (14H) and change passwords
    control_level: int = 2  #: weakest level allowed to clear (19H/1AH/1BH) and control (1CH)
    password_lockout: int = 3  #: wrong passwords per meter day before all are refused (0: never)
    programming: bool = True  #: programming key (编程键) pressed: 15H 写通信地址 is accepted
    timesync_max: timedelta = timedelta(minutes=5)  #: largest broadcast-time correction accepted
    timesync_guard: timedelta = timedelta(minutes=5)  #: no broadcast time this close to midnight
    timesync_once_per_day: bool = True  #: at most one broadcast time per meter day
    credit: Decimal = Decimal("200.00")  #: prepaid money at start (剩余金额), 元
    price: Decimal = Decimal("0.5000")  #: 元/kWh, for the prepaid registers

    def __post_init__(self) -> None:
        address_to_wire(self.address)
        if not self.address.isdigit():
            raise ValueError(f"meter address {self.address!r} must be 12 decimal digits")
        if not 1 <= self.settlement_day <= 28:
            raise ValueError("settlement_day must be 1..28")
        if not 1 <= self.daily_freezes <= FREEZES[_DAILY][1]:
            raise ValueError(f"daily_freezes must be 1..{FREEZES[_DAILY][1]}")
        for level, code in self.passwords.items():
            Password(level, code).to_wire()


@dataclass(frozen=True, slots=True)
class Frozen:
    """A freeze or settlement: the meter time it shows (minute) and the true instant it happened."""

    at: datetime
    instant: datetime


@dataclass(slots=True)
class MeterCounters:
    """What a meter has done, for tests and statistics."""

    requests: int = 0  #: frames for it (wildcards and broadcasts included)
    replies: int = 0  #: normal replies sent
    errors: int = 0  #: abnormal replies sent
    ignored: int = 0  #: frames for it it did not act on (the other edition's codes, malformed broadcasts)
    by_function: dict[int, int] = field(default_factory=dict)


class Dlt645Meter:
    """A DL/T 645 meter: feed it every frame seen on its bus with :meth:`handle`; it returns its replies."""

    def __init__(self, config: MeterConfig) -> None:
        self.config = config
        self.profile = config.profile
        self.edition = config.profile.edition
        self.address = config.address
        self.baud = config.baud
        self.counters = MeterCounters()
        self.clock = MeterClock(config.tz, offset=config.clock_offset, ppm=config.clock_ppm)
        self.model: MeterModel = meter_model(config.seed, DIRECT_A1, 0, int(config.address), config.tz)
        rng = random.Random(f"dlt645/{config.seed}/{config.address}")
        self.physics = Physics(self.model, rng, self.profile.phases, f"{config.seed}/{config.address}")
        self.registers = EnergyRegisters(self.model, rng, self.physics.tan_phi)
        self.demand = DemandLedger(self.registers.forward, self.clock)
        self.events: dict[EventKind, EventLog] = event_logs()
        self.passwords: dict[int, str] = {level: code.upper() for level, code in config.passwords.items()}
        self.parameters: dict[int, list[Scalar | None]] = {}
        self.relay_closed = config.relay_closed
        self.relay_commanded_open = not config.relay_closed  #: 继电器命令状态 (1 = 断)
        self.keep_power = False  #: 保电
        self.alarm = False  #: 预跳闸报警
        self.supplied = True
        self.last_timesync: TimeSync | None = None
        self.freeze_schedule: FreezeTime | None = None  #: 定时冻结 time set by 16H
        self.daily: deque[Frozen] = deque(maxlen=config.daily_freezes)
        self.hourly: deque[Frozen] = deque(maxlen=HOURLY_FREEZES)
        self.instant_freezes: deque[Frozen] = deque(maxlen=FREEZES[_INSTANT][1])
        self.timed: deque[Frozen] = deque(maxlen=FREEZES[_TIMED][1])
        self.settlements: deque[Frozen] = deque(maxlen=12)
        self._freezes = {_DAILY: self.daily, _HOURLY: self.hourly, _INSTANT: self.instant_freezes, _TIMED: self.timed}
        self._period_starts: list[datetime] = []  #: demand periods: settlements and demand resets
        self._credit_start: datetime | None = None
        self._close_at: datetime | None = None
        self._wrong_passwords: tuple[date, int] | None = None
        self._timesync_day: date | None = None
        self._last: datetime | None = None
        self._follow: tuple[int, list[bytes]] | None = None  #: 读后续数据 still to send: DI, value pieces
        self._last_reply: list[bytes] = []  #: for 1997 重读数据

    # -- time ---------------------------------------------------------------------------------------------------

    def local_time(self, now: datetime) -> datetime:
        """The meter's clock at true instant ``now`` (naive local time)."""
        return self.clock.local(now)

    def advance(self, now: datetime) -> None:
        """Bring the meter up to true instant ``now``: freezes, settlements, a pending relay close. :meth:`handle`
        calls it; call it before changing the meter from outside (:meth:`set_supply` does)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if self._last is None:
            self._start(now)
        assert self._last is not None
        if now <= self._last:
            return
        if self._close_at is not None and self._close_at <= now:
            self._close_relay(self._close_at, operator=None)
        hour = self.clock.local(max(self._last, now - _CATCH_UP)).replace(minute=0, second=0, microsecond=0)
        while (instant := self.clock.true_instant(hour, now)) <= now:
            if instant > self._last:
                self._on_hour(hour, instant)
            self._timed_freeze(hour, now)
            hour += _HOUR
        self._last = now

    def _on_hour(self, hour: datetime, instant: datetime) -> None:
        record = Frozen(hour, instant)
        self.hourly.appendleft(record)
        if hour.hour == 0:
            self.daily.appendleft(record)
            if hour.day == self.config.settlement_day:
                self.settlements.appendleft(record)
                self._period_starts.append(instant)

    def _timed_freeze(self, hour: datetime, now: datetime) -> None:
        """定时冻结 at the 16H schedule's times inside the meter hour starting at ``hour``."""
        schedule = self.freeze_schedule
        if schedule is None or schedule.minute is None:
            return
        moment = hour.replace(minute=schedule.minute)
        if any(
            want is not None and have != want
            for want, have in ((schedule.hour, moment.hour), (schedule.day, moment.day), (schedule.month, moment.month))
        ):
            return
        instant = self.clock.true_instant(moment, now)
        assert self._last is not None
        if self._last < instant <= now:
            self.timed.appendleft(Frozen(moment, instant))

    def _start(self, now: datetime) -> None:
        """First contact: the meter has been running before; its history comes from the model."""
        self._last = self._credit_start = now
        local = self.clock.local(now)
        top = local.replace(minute=0, second=0, microsecond=0)
        for n in range(HOURLY_FREEZES, -1, -1):
            hour = top - n * _HOUR
            instant = self.clock.true_instant(hour, now)
            record = Frozen(hour, instant)
            self.hourly.appendleft(record)
            if hour.hour == 0:
                self.daily.appendleft(record)
        midnight = datetime.combine(local.date(), time())
        for n in range(len(self.daily), self.config.daily_freezes):  # days older than the hourly freezes reach
            day = midnight - n * _DAY
            self.daily.append(Frozen(day, self.clock.true_instant(day, now)))
        for start in reversed(_settlement_days(local.date(), self.config.settlement_day, 13)):
            instant = self.clock.true_instant(start, now)
            self._period_starts.append(instant)  # the oldest only starts the first demand period
            self.settlements.appendleft(Frozen(start, instant))
        if not self.relay_closed:
            self.registers.pause(now)
        self._backfill_events(now)

    def _backfill_events(self, now: datetime) -> None:
        """A few power failures over the past year and the odd cover opening, from the seed."""
        rng = random.Random(f"events/{self.config.seed}/{self.address}")
        failures = sorted(rng.uniform(1, 360) for _ in range(rng.randrange(0, 12)))
        for days_ago in reversed(failures):
            start = now - timedelta(days=days_ago)
            end = start + timedelta(minutes=rng.uniform(1, 240))
            self.events[EventKind.POWER_DOWN].add([self._second(start), self._second(end)])
        if rng.random() < 0.1:
            start = now - timedelta(days=rng.uniform(30, 700))
            before = self.registers.snapshot(start).six()
            end = start + timedelta(minutes=rng.uniform(2, 30))
            after = self.registers.snapshot(end).six()
            self.events[EventKind.METER_COVER_OPEN].add([self._second(start), self._second(end), *before, *after])

    def _second(self, instant: datetime) -> datetime:
        return self.clock.local(instant).replace(microsecond=0)

    # -- from outside: supply, cover ----------------------------------------------------------------------------

    def set_supply(self, on: bool, now: datetime) -> None:
        """Supply lost (掉电: energy stops, a power-down record opens) or restored (the record closes)."""
        self.advance(now)
        if on == self.supplied:
            return
        self.supplied = on
        log = self.events[EventKind.POWER_DOWN]
        if on:
            log.close(1, self._second(now))
            if self.relay_closed:
                self.registers.resume(now)
        else:
            log.add([self._second(now), None])
            self.registers.pause(now)

    def set_cover(self, opened: bool, now: datetime) -> None:
        """The meter cover is opened (开表盖: a record with the energies before) or closed again."""
        self.advance(now)
        log = self.events[EventKind.METER_COVER_OPEN]
        six = self.registers.snapshot(now).six()
        if opened:
            log.add([self._second(now), None, *six, *([None] * len(six))])
        elif log.records and log.records[0][1] is None:
            log.records[0][1] = self._second(now)
            log.records[0][2 + len(six) :] = six

    # -- the bus side -------------------------------------------------------------------------------------------

    def addressed(self, address: str) -> bool:
        """Is a frame to ``address`` for this meter? Own address, matching wildcard or broadcast."""
        return address_matches(address, self.address)

    def handle(self, frame: Dlt645Frame, now: datetime) -> list[bytes]:
        """Answer one frame heard on the bus at true instant ``now`` (aware). Returns the reply frames (wire
        bytes, preamble included): none for frames to other meters, replies, broadcasts and the other edition."""
        if frame.is_reply or not self.addressed(frame.address) or not self.supplied:
            return []
        self.advance(now)
        self.counters.requests += 1
        function = frame.function
        self.counters.by_function[function] = self.counters.by_function.get(function, 0) + 1
        if edition_of(frame.control) is not self.edition and function != Function.BROADCAST_TIME:
            self.counters.ignored += 1
            return []
        broadcast = frame.address == BROADCAST
        if broadcast and function not in _SILENT_BROADCAST | _REPLYING_BROADCAST:
            self.counters.ignored += 1
            return []
        try:
            request = parse_any_request(frame)
        except ProtocolError:
            if broadcast:
                self.counters.ignored += 1
                return []
            return self._error(function, ERR_OTHER)
        replies = self._dispatch(request, frame, now)
        if broadcast and function in _SILENT_BROADCAST:
            return []
        if self.edition is Edition.V1997 and not isinstance(request, RereadRequest):
            self._last_reply = replies
        return replies

    def _dispatch(self, request: Request, frame: Dlt645Frame, now: datetime) -> list[bytes]:
        function = frame.function
        match request:
            case ReadRequest():
                return self._on_read(request, function, now)
            case ReadFollowRequest():
                return self._on_read_follow(request, function)
            case ReadAddressRequest():
                self.counters.replies += 1
                return [build_address_reply(self.address, preamble=self.profile.preamble)]
            case RereadRequest():
                return list(self._last_reply) if self._last_reply else self._error(function, ERR_NO_DATA)
            case BroadcastTimeRequest():
                self._on_broadcast_time(request, now)
                return []
            case WriteRequest():
                return self._on_write(request, function, now)
            case WriteAddressRequest():
                return self._on_write_address(request, frame, now)
            case FreezeRequest():
                return self._on_freeze(request, function, now)
            case ChangeBaudRequest():
                return self._on_change_baud(request, function)
            case ChangePasswordRequest():
                return self._on_change_password(request, function, now)
            case ClearDemandRequest():
                return self._on_clear_demand(request, function, now)
            case ClearMeterRequest():
                return self._on_clear_meter(request, function, now)
            case ClearEventsRequest():
                return self._on_clear_events(request, function, now)
            case ControlRequest():
                return self._on_control(request, function, now)
        raise AssertionError(f"unhandled request {request!r}")  # pragma: no cover

    # -- replies ------------------------------------------------------------------------------------------------

    def _error(self, function: int, err: int) -> list[bytes]:
        """Abnormal reply (异常应答, C = function | C0H) with error word ``err`` (§7.1 表1)."""
        self.counters.errors += 1
        return [build_error_reply(self.address, function, err, preamble=self.profile.preamble)]

    def _ack(self, function: int) -> list[bytes]:
        self.counters.replies += 1
        return [build_ack(self.address, function, preamble=self.profile.preamble)]

    # -- 读数据 11H / 01H, 读后续数据 12H / 02H, 重读 03H ---------------------------------------------------------

    def _on_read(self, request: ReadRequest, function: int, now: datetime) -> list[bytes]:
        """读数据 (DL/T 645-2007 §7.1): values of the DI, split into follow-up frames when they do not fit."""
        try:
            item = lookup(request.di, edition=self.edition)
            values = self.read(request.di, now, params=request.params)
        except ProtocolError:
            values = None
        if values is None:
            return self._error(function, ERR_NO_DATA)
        frames = _pack(self._pieces(item, values), self.profile.max_data - DI_SIZE[self.edition])
        self._follow = (request.di, frames[1:]) if len(frames) > 1 else None
        self.counters.replies += 1
        reply = build_data_reply(
            self.address,
            request.di,
            frames[0],
            follow_up=len(frames) > 1,
            preamble=self.profile.preamble,
            edition=self.edition,
        )
        return [reply]

    def _on_read_follow(self, request: ReadFollowRequest, function: int) -> list[bytes]:
        """读后续数据 (DL/T 645-2007 §7.2): SEQ n asks for the n-th follow-up frame (1997 02H: the next one)."""
        follow = self._follow
        if follow is None or follow[0] != request.di:
            return self._error(function, ERR_NO_DATA)
        di, rest = follow
        seq = request.seq
        if seq is None:  # 1997: frames in order
            chunk, rest = rest[0], rest[1:]
            self._follow = (di, rest) if rest else None
            more = bool(rest)
        else:
            if not 1 <= seq <= len(rest):
                return self._error(function, ERR_NO_DATA)
            chunk, more = rest[seq - 1], seq < len(rest)
        self.counters.replies += 1
        reply = build_data_reply(
            self.address,
            di,
            chunk,
            follow_up=more,
            seq=seq,
            preamble=self.profile.preamble,
            edition=self.edition,
        )
        return [reply]

    def _pieces(self, item: DataItem, values: Sequence[Scalar | None]) -> list[bytes]:
        """The value bytes, in pieces that a reply frame must not split: a record (a value, a demand with its
        time) or a load record."""
        if isinstance(item.layout, LoadRecords):
            return [item.encode(values[i : i + RECORD_VALUES]) for i in range(0, len(values), RECORD_VALUES)]
        encoded = [self._encode(f, v) for (_, f), v in zip(item.value_fields(len(values)), values, strict=True)]
        width = 1 if item.layout is not None else len(item.fields)
        return [b"".join(encoded[i : i + width]) for i in range(0, len(encoded), width)]

    def _encode(self, f: Field, value: Scalar | None) -> bytes:
        if value is None:
            return bytes((self.profile.filler,)) * f.size
        if isinstance(value, Decimal) and f.kind is Kind.NUMBER:
            value = value.quantize(Decimal(1).scaleb(-f.decimals), rounding=ROUND_DOWN)
        elif isinstance(value, datetime) and f.size == 5:
            value = value.replace(second=0, microsecond=0)
        return f.encode(value)

    # -- 广播校时 08H ---------------------------------------------------------------------------------------------

    def _on_broadcast_time(self, request: BroadcastTimeRequest, now: datetime) -> None:
        """广播校时 (DL/T 645-2007 §7.6): applied within the safeguards of the module docstring; never answered."""
        old = self.clock.local(now)
        new = request.when
        guard = self.config.timesync_guard
        if abs(new - old) > self.config.timesync_max:
            self.last_timesync = TimeSync.TOO_LARGE
        elif _near_midnight(old, guard) or _near_midnight(new, guard):
            self.last_timesync = TimeSync.NEAR_MIDNIGHT
        elif self.config.timesync_once_per_day and self._timesync_day == old.date():
            self.last_timesync = TimeSync.ALREADY_TODAY
        else:
            self.clock.set(now, new)
            self._timesync_day = new.date()
            self.last_timesync = TimeSync.ACCEPTED
            self.events[EventKind.TIME_SET].add([None, old.replace(microsecond=0), new.replace(microsecond=0)])

    # -- passwords ----------------------------------------------------------------------------------------------

    def _authorize(self, password: Password | None, weakest: int, now: datetime) -> int | None:
        """The error word refusing ``password`` for a command allowed down to level ``weakest``, or None."""
        today = self.clock.local(now).date()
        if self._wrong_passwords is not None and self._wrong_passwords[0] != today:
            self._wrong_passwords = None
        lockout = self.config.password_lockout
        if lockout and self._wrong_passwords is not None and self._wrong_passwords[1] >= lockout:
            return ERR_PASSWORD
        if password is None or self.passwords.get(password.level) != password.code.upper():
            wrong = self._wrong_passwords[1] if self._wrong_passwords is not None else 0
            self._wrong_passwords = (today, wrong + 1)
            return ERR_PASSWORD
        if password.level > weakest:
            return ERR_PASSWORD
        return None

    # -- 写数据 14H / 04H, 写通信地址 15H / 0AH --------------------------------------------------------------------

    def _on_write(self, request: WriteRequest, function: int, now: datetime) -> list[bytes]:
        """写数据 (DL/T 645-2007 §7.3; 1997 04H): date, time and the 表A.5 parameters; measured data, addresses,
        status words and passwords cannot be written (未授权)."""
        err = self._authorize(request.password, self.config.write_level, now)
        if err is not None:
            return self._error(function, err)
        di = _to_2007(request.di, self.edition)
        try:
            lookup(request.di, edition=self.edition)
        except ProtocolError:
            di = None
        if di is None:
            return self._error(function, ERR_NO_DATA)
        if not _writable(di):
            return self._error(function, ERR_PASSWORD)
        try:
            values = request.values()
        except ProtocolError:
            return self._error(function, ERR_OTHER)
        if di in (0x04000101, 0x04000102):
            old = self.clock.local(now)
            value = values[0]
            if isinstance(value, time):
                new = datetime.combine(old.date(), value)
            elif isinstance(value, date) and not isinstance(value, datetime):
                new = datetime.combine(value, old.time())
            else:
                return self._error(function, ERR_OTHER)
            self.clock.set(now, new)
            self.events[EventKind.TIME_SET].add(
                [operator_value(request.operator), old.replace(microsecond=0), new.replace(microsecond=0)]
            )
        else:
            self.parameters[di] = list(values)
        self._programmed(now, request.operator, di)
        return self._ack(function)

    def _programmed(self, now: datetime, operator: str | None, di: int) -> None:
        """编程记录: time, operator, the programmed DI (then nine empty slots)."""
        self.events[EventKind.PROGRAMMING].add(
            [self._second(now), operator_value(operator), Decimal(di), *([None] * 9)]
        )

    def _on_write_address(self, request: WriteAddressRequest, frame: Dlt645Frame, now: datetime) -> list[bytes]:
        """写通信地址 (DL/T 645-2007 §7.5 to AAAAAAAAAAAA; 1997 0AH, to 99…99): with the programming key pressed
        (:attr:`MeterConfig.programming`); every meter on the line obeys, as on a real bus. The reply comes from
        the new address."""
        if frame.address not in (WILDCARD, BROADCAST) or not self.config.programming:
            return self._error(frame.function, ERR_PASSWORD)
        self.address = request.new_address
        self._programmed(now, None, 0x04000401)
        return self._ack(frame.function)

    # -- 冻结命令 16H ---------------------------------------------------------------------------------------------

    def _on_freeze(self, request: FreezeRequest, function: int, now: datetime) -> list[bytes]:
        """冻结命令 (DL/T 645-2007 §7.7): 99999999 freezes now (瞬时冻结); otherwise it sets the timed freeze
        (定时冻结): monthly (MM = 99), daily (MM = DD = 99) or hourly (MM = DD = hh = 99)."""
        at = request.at
        if at.is_immediate:
            local = self.clock.local(now).replace(second=0, microsecond=0)
            self.instant_freezes.appendleft(Frozen(local, now))
        elif not _schedule_ok(at):
            return self._error(function, ERR_OTHER)
        else:
            self.freeze_schedule = at
        return self._ack(function)

    # -- 更改通信速率 17H / 0CH, 修改密码 18H / 0FH ----------------------------------------------------------------

    def _on_change_baud(self, request: ChangeBaudRequest, function: int) -> list[bytes]:
        """更改通信速率 (DL/T 645-2007 §7.8): the reply goes out at the old rate, then the meter switches."""
        if request.baud not in self.config.baud_rates:
            return self._error(function, ERR_BAUD)
        self.baud = request.baud
        self.counters.replies += 1
        return [build_baud_reply(self.address, request.baud, edition=self.edition, preamble=self.profile.preamble)]

    def _on_change_password(self, request: ChangePasswordRequest, function: int, now: datetime) -> list[bytes]:
        """修改密码 (DL/T 645-2007 §7.9): the old password must be at least as strong as the level it sets."""
        new = request.new
        if new.level > 9 or (request.di is not None and request.di != password_di(new.level)):
            return self._error(function, ERR_OTHER)
        err = self._authorize(request.old, min(new.level, self.config.write_level), now)
        if err is not None:
            return self._error(function, err)
        self.passwords[new.level] = new.code.upper()
        self.counters.replies += 1
        return [build_password_reply(self.address, new, edition=self.edition, preamble=self.profile.preamble)]

    # -- clears 19H / 10H, 1AH, 1BH ---------------------------------------------------------------------------------

    def _on_clear_demand(self, request: ClearDemandRequest, function: int, now: datetime) -> list[bytes]:
        """最大需量清零 (DL/T 645-2007 §7.10): a new demand period starts now."""
        if not (self.edition is Edition.V1997 and request.password is None):
            err = self._authorize(request.password, self.config.control_level, now)
            if err is not None:
                return self._error(function, err)
        forward = _demand_pairs(self.read_demand(now))[:2]  # the total; other quantities and phases: none
        self._period_starts.append(now)
        demands: Record = [*forward, *[Decimal(0), None] * 23]  # 4 scopes × 6 quantities, value and time
        self.events[EventKind.DEMAND_CLEAR].add([self._second(now), operator_value(request.operator), *demands])
        return self._ack(function)

    def _on_clear_meter(self, request: ClearMeterRequest, function: int, now: datetime) -> list[bytes]:
        """电表清零 (DL/T 645-2007 §7.11): energy, demand, freezes and events restart; a clear record stays."""
        err = self._authorize(request.password, self.config.control_level, now)
        if err is not None:
            return self._error(function, err)
        before = self.registers.snapshot(now).six()
        self.registers.clear(now)
        for log in self.events.values():
            log.clear()
        for freezes in (*self._freezes.values(), self.settlements):
            freezes.clear()
        self._period_starts.append(now)
        self._credit_start = now
        scopes = [*before, *self._phase_six(before)]
        self.events[EventKind.METER_CLEAR].add([self._second(now), operator_value(request.operator), *scopes])
        return self._ack(function)

    def _phase_six(self, six: list[Decimal]) -> list[Decimal | None]:
        """The six totals per phase A, B, C (a single-phase meter's phase A is its total)."""
        out: list[Decimal | None] = []
        for phase in range(3):
            share = self.physics.share(phase)
            if self.profile.phases == 1:
                out += six if phase == 0 else [None] * 6
            else:
                out += [(v * share.numerator / share.denominator).quantize(Decimal("0.01"), ROUND_DOWN) for v in six]
        return out

    def _on_clear_events(self, request: ClearEventsRequest, function: int, now: datetime) -> list[bytes]:
        """事件清零 (DL/T 645-2007 §7.12): one kind (its count or record DI) or all (FFFFFFFF)."""
        err = self._authorize(request.password, self.config.control_level, now)
        if err is not None:
            return self._error(function, err)
        logs = [log for log in self.events.values() if request.di == ALL_EVENTS or log.covers(request.di)]
        if not logs:
            return self._error(function, ERR_NO_DATA)
        for log in logs:
            log.clear()
        record = [self._second(now), operator_value(request.operator), Decimal(request.di)]
        self.events[EventKind.EVENT_CLEAR].add(record)
        return self._ack(function)

    # -- 跳合闸、报警、保电 1CH ----------------------------------------------------------------------------------

    def _on_control(self, request: ControlRequest, function: int, now: datetime) -> list[bytes]:
        """1CH (State Grid supplement): password, then the expiry (命令有效截止时间) against the meter clock."""
        err = self._authorize(request.password, self.config.control_level, now)
        if err is not None:
            return self._error(function, err)
        if request.valid_until < self.clock.local(now):
            return self._error(function, ERR_OTHER)
        action = request.action
        operator = request.operator
        if action is ControlAction.TRIP:
            if self.keep_power:
                return self._error(function, ERR_OTHER)
            self.relay_commanded_open = True
            self._close_at = None
            if self.relay_closed:
                self.relay_closed = False
                self.registers.pause(now)
                self._relay_event(EventKind.TRIP, now, operator)
        elif action is ControlAction.ALLOW_CLOSE:  # the customer closes it (after close_delay)
            self.relay_commanded_open = False
            if not self.relay_closed and self.config.close_delay:
                self._close_at = now + self.config.close_delay
            else:
                self._close_relay(now, operator)
        elif action is ControlAction.CLOSE:
            self.relay_commanded_open = False
            self._close_relay(now, operator)
        elif action in (ControlAction.ALARM, ControlAction.ALARM_RELEASE):
            self.alarm = action is ControlAction.ALARM
        else:
            self.keep_power = action is ControlAction.KEEP_POWER
        return self._ack(function)

    def _close_relay(self, at: datetime, operator: str | None) -> None:
        self._close_at = None
        if self.relay_closed:
            return
        self.relay_closed = True
        if self.supplied:
            self.registers.resume(at)
        self._relay_event(EventKind.CLOSE, at, operator)

    def _relay_event(self, kind: EventKind, at: datetime, operator: str | None) -> None:
        self.events[kind].add([self._second(at), operator_value(operator), *self.registers.snapshot(at).six()])

    # -- values -------------------------------------------------------------------------------------------------

    def read(self, di: int, now: datetime, *, params: bytes = b"") -> list[Scalar | None] | None:
        """The values the meter holds for ``di`` at true instant ``now``, exact and before encoding (a block's or
        record's values in catalogue order); ``None`` when it has no such data (→ 无请求数据). ``params`` are a
        load-profile read's N and start time."""
        self.advance(now)
        if self.edition is Edition.V1997:
            return self._read_1997(di, now)
        return self._read_2007(di, now, params)

    def _read_2007(self, di: int, now: datetime, params: bytes = b"") -> list[Scalar | None] | None:
        di3, di2, di1, di0 = di.to_bytes(4, "big")
        if di >> 16 == _PREPAID:
            return self._prepaid(di, now)
        if di3 == _ENERGY:
            return self._energy(di2, di1, di0, now)
        if di3 == _DEMAND:
            return self._demand(di2, di1, di0, now)
        if di3 == _VARIABLE:
            return self._variable(di, now)
        if di3 == _PARAMETER:
            return self._parameter(di, now)
        if di3 == _FROZEN:
            return self._frozen(di, now)
        if di3 == _LOAD:
            return self._load_profile(di, params, now)
        for log in self.events.values():
            values = log.read(di)
            if values is not None:
                return values
        return None

    def _read_1997(self, di: int, now: datetime) -> list[Scalar | None] | None:
        """A 1997 DI through its 2007 counterpart (:mod:`protocols.dlt645.mapping`), converted to the 1997
        fields (fewer decimals, MMDDhhmm times, one-byte status word)."""
        mapping = to_2007(di)
        if mapping is None:
            return None
        values = self._read_2007(mapping.di_2007, now)
        if values is None:
            return None
        if mapping.part:
            keep = 0 if mapping.part == "value" else 1
            values = values[keep::2] if lookup(mapping.di_2007).repeat else [values[keep]]
        fields = lookup(di, edition=Edition.V1997).value_fields(len(values))
        return [_as_1997(v, f) for v, (_, f) in zip(values, fields, strict=False)]

    def _energy(self, quantity: int, tariff: int, period: int, now: datetime) -> list[Scalar | None] | None:
        """表A.1: DI2 quantity (or A/B/C phase quantity), DI1 total / tariff / FF block, DI0 current or 上n结算日."""
        instant = self._period_instant(period, now)
        if instant is None:
            return None
        for base, phase in _PHASE_ENERGY.items():
            if base <= quantity < base + 10:  # A/B/C 相 quantities 01..0A, totals only
                q = quantity - base + 1
                if tariff or q not in QUANTITIES or phase >= self.profile.phases:
                    return None
                share = self.physics.share(phase)
                total = self.registers.snapshot(instant).total(q)
                return [(total * share.numerator / share.denominator).quantize(Decimal("0.01"), ROUND_DOWN)]
        if quantity not in QUANTITIES:
            return None
        values = self.registers.snapshot(instant).values(quantity)
        if tariff == _BLOCK:
            return list(values)
        return [values[tariff]] if tariff <= TARIFF_COUNT else None

    def _period_instant(self, period: int, now: datetime) -> datetime | None:
        """The true instant of 上n结算日 (``period`` n ≥ 1), or ``now`` for the current period 0."""
        if period == 0:
            return now
        return self.settlements[period - 1].instant if period <= len(self.settlements) else None

    def read_demand(self, now: datetime, period: int = 0) -> tuple[DemandMax | None, ...]:
        """Forward active maximum demand, total then tariffs, of the current period (0) or 上n结算日."""
        end = self._period_instant(period, now)
        if end is None:
            return (None,) * (TARIFF_COUNT + 1)
        return self._demand_at(end, current=period == 0)

    def _demand(self, quantity: int, tariff: int, period: int, now: datetime) -> list[Scalar | None] | None:
        """表A.2: forward active (DI2 01) from the demand ledger; a consumer has no other demand (0, no time)."""
        if not 1 <= quantity <= 0x0A or (tariff > TARIFF_COUNT and tariff != _BLOCK):
            return None
        if self._period_instant(period, now) is None:
            return None
        pairs = _demand_pairs(self.read_demand(now, period) if quantity == FORWARD_ACTIVE else ())
        return pairs if tariff == _BLOCK else pairs[2 * tariff : 2 * tariff + 2]

    def _variable(self, di: int, now: datetime) -> list[Scalar | None] | None:
        """表A.3: per-phase quantities (DI2 01..07, DI1 phase / total / FF block) and the 0280 singles."""
        instant = self._instant(now)
        if di >> 16 == 0x0280:
            value = instant.singles.get(di)
            return None if value is None else [value]
        quantity, index = (di >> 16) & 0xFF, (di >> 8) & 0xFF
        series = instant.phased.get(quantity)
        if series is None or di & 0xFF:
            return None
        if index == _BLOCK:
            return list(series)
        position = index if len(series) == 4 else index - 1  # a total first, or phases A..C only
        if not 0 <= position < len(series) or series[position] is None:
            return None
        return [series[position]]

    def _instant(self, now: datetime) -> Instant:
        return self.physics.instant(now, flowing=self.relay_closed and self.supplied)

    def _parameter(self, di: int, now: datetime) -> list[Scalar | None] | None:
        """表A.5 参变量: date/time, addresses, status words, and the parameters (written or default)."""
        local = self.clock.local(now)
        if di == 0x04000101:  # 日期及星期
            return [local.date()]
        if di == 0x04000102:  # 时间
            return [local.time().replace(microsecond=0)]
        if di in (0x04000401, 0x04000402):  # 通信地址, 表号
            return [Decimal(int(self.address))]
        if 0x04000501 <= di <= 0x04000507:
            return [Decimal(self.status_word(di & 0xFF))]
        if di == 0x040005FF:
            return [Decimal(self.status_word(n)) for n in range(1, 8)]
        if di in self.parameters:
            return list(self.parameters[di])
        return self._default_parameter(di)

    def _default_parameter(self, di: int) -> list[Scalar | None] | None:
        if di in _ASCII:
            return [_ASCII[di]]
        numbers = {
            0x04000103: 15,  # 最大需量周期
            0x04000104: 1,  # 滑差时间
            0x04000105: 80,  # 校表脉冲宽度
            0x04000201: 1,  # 年时区数
            0x04000202: 1,  # 日时段表数
            0x04000203: len(TARIFF_BANDS),  # 日时段数
            0x04000204: TARIFF_COUNT,  # 费率数
            0x04000205: 0,  # 公共假日数
            0x04000306: 1,  # 电流互感器变比
            0x04000307: 1,  # 电压互感器变比
            0x04000409: 1200,  # 有功常数
            0x0400040A: 1200,  # 无功常数
            0x04000601: 0x05,  # 有功组合: 正向 + 反向
            0x04000602: 0x05,  # 无功组合1: I + II 象限
            0x04000603: 0x50,  # 无功组合2: III + IV 象限
            0x04000703: baud_word(self.baud),  # 通信口1 速率特征字
            0x04000801: 0x7F,  # 周休日特征字: no rest days
            0x04000802: 1,  # 周休日日时段表号
            0x04000A01: 101_0000,  # 负荷记录起始时间 MMDDhhmm: 01-01 00:00
            0x04000A02: 15,  # 第1类负荷记录间隔
            0x04000B01: self.config.settlement_day * 100,  # 第1结算日 DDhh
        }
        if di in numbers:
            return [Decimal(numbers[di])]
        if di == 0x04010000:  # 第一套时区表: one zone from 1 January, daily table 1 (MMDDNN)
            return [Decimal(10101)]
        if di == 0x04010001:  # 第一套第1日时段表 (hhmmNN), from the tariff bands
            return [Decimal(int(f"{int(start):02d}{round(start % 1 * 60):02d}{t:02d}")) for start, _, t in TARIFF_BANDS]
        return None

    def status_word(self, n: int) -> int:
        """电表运行状态字 n (表A.5 04000501..07). Word 3: D4 relay state (1 = 断 open), D6 relay command state
        (1 = 断), D7 pre-trip alarm (预跳闸报警). Word 1: D4 reverse active power (never, a consumer)."""
        if n == 3:
            return (
                (0 if self.relay_closed else 1 << 4)
                | (1 << 6 if self.relay_commanded_open else 0)
                | (1 << 7 if self.alarm else 0)
            )
        return 0

    def _prepaid(self, di: int, now: datetime) -> list[Scalar | None] | None:
        """0090 费控: remaining / overdraft energy and money from the credit at start and the energy since."""
        start = self._credit_start or now
        used = self.registers.snapshot(now).total(FORWARD_ACTIVE) - self.registers.snapshot(start).total(FORWARD_ACTIVE)
        balance = self.config.credit - used * self.config.price
        money = balance.quantize(Decimal("0.01"), ROUND_DOWN)
        remaining_money, overdraft_money = max(money, Decimal(0)), max(-money, Decimal(0))
        values = {
            0x00900100: (remaining_money / self.config.price).quantize(Decimal("0.01"), ROUND_DOWN),
            0x00900101: (overdraft_money / self.config.price).quantize(Decimal("0.01"), ROUND_DOWN),
            0x00900200: remaining_money,
            0x00900201: overdraft_money,
        }
        value = values.get(di)
        return None if value is None else [value]

    def _frozen(self, di: int, now: datetime) -> list[Scalar | None] | None:
        """表A.6: DI2 kind, DI1 00 time / 01..08 energy blocks / 09, 0A demand blocks / 10 powers, DI0 n-th last.
        Freezes that never happened (switch freezes, records not made yet) read as fillers."""
        kind, what, n = (di >> 16) & 0xFF, (di >> 8) & 0xFF, di & 0xFF
        try:
            item = lookup(di)
        except ProtocolError:
            return None
        records = self._freezes.get(kind, ())
        if n > len(records):
            return [None] * (len(item.fields) * (TARIFF_COUNT + 1 if item.repeat else 1))
        record = records[n - 1]
        if what == 0:
            return [record.at]
        snapshot = self.registers.snapshot(record.instant)
        if kind == _HOURLY or what in QUANTITIES:
            return [snapshot.total(what)] if kind == _HOURLY else list(snapshot.values(what))
        if what in (0x09, 0x0A):
            return _demand_pairs(self._demand_at(record.instant) if what == 0x09 else ())
        instant = self._instant(record.instant)
        return [*instant.power(ACTIVE), *instant.power(REACTIVE)]

    def _demand_at(self, instant: datetime, *, current: bool = False) -> tuple[DemandMax | None, ...]:
        """Maximum demand of the period up to ``instant``: the period that ends there (a settlement or freeze
        instant is itself the start of the next period), or with ``current`` the one running at ``instant``."""
        earlier = [s for s in self._period_starts if s < instant or (current and s == instant)]
        start = earlier[-1] if earlier else instant - timedelta(days=31)
        return self.demand.maxima(start, instant)

    # -- load profile (表A.7) -------------------------------------------------------------------------------------

    def load_interval(self) -> timedelta:
        """第1类负荷记录间隔时间 (04000A02), minutes."""
        value = (self.parameters.get(0x04000A02) or [Decimal(15)])[0]
        minutes = int(value) if isinstance(value, Decimal) and value > 0 else 15
        return timedelta(minutes=minutes)

    def _load_times(self, di: int, count: int, start: datetime | None, now: datetime) -> list[datetime]:
        """Meter times of the records a load-profile read returns (oldest first)."""
        interval = self.load_interval()
        local = self.clock.local(now)
        midnight = datetime.combine(local.date(), time())
        latest = midnight + (local - midnight) // interval * interval
        earliest = latest - (self.config.load_records - 1) * interval
        if di == _LOAD_LATEST:
            first = max(earliest, latest - (count - 1) * interval)
        elif di == _LOAD_EARLIEST:
            first = earliest
        else:
            if start is None:
                return []
            day = datetime.combine(start.date(), time())
            first = max(earliest, day - (day - start) // interval * interval)
        times: list[datetime] = []
        t = first
        while t <= latest and len(times) < count:
            times.append(t)
            t += interval
        return times

    def _load_profile(self, di: int, params: bytes, now: datetime) -> list[Scalar | None] | None:
        """负荷记录 06000000..02 (N records) and 0610xxxx curves (N points from a time)."""
        try:
            count, start = parse_load_profile_params(params)
        except DecodeError:
            return None
        channel = CURVES.get(di & 0xFFFF) if di >> 16 == 0x0610 else None
        if channel is None and di not in (_LOAD_EARLIEST, _LOAD_AT, _LOAD_LATEST):
            return None
        times = self._load_times(di if channel is None else _LOAD_AT, count, start, now)
        if not times:
            return None
        if channel is not None:
            name = channel[0]
            return [times[0], *(self._curve_point(name, self.clock.true_instant(t, now)) for t in times)]
        out: list[Scalar | None] = []
        for t in times:
            instant = self.clock.true_instant(t, now)
            out += self._load_record(t, instant)
        return out

    def _load_record(self, at: datetime, instant: datetime) -> list[Scalar | None]:
        """One load record (表A.7): time, voltages/currents/frequency, powers, power factors, energies, demand."""
        values = self._instant(instant)
        snapshot = self.registers.snapshot(instant)
        phased, singles = values.phased, values.singles
        record: list[Scalar | None] = [
            at,
            *phased[1],
            *phased[2],
            singles[0x02800002],
            *values.power(ACTIVE),
            *values.power(REACTIVE),
            *values.power(POWER_FACTOR),
            snapshot.total(0x01),
            snapshot.total(0x02),
            snapshot.total(0x03),
            snapshot.total(0x04),
            *(snapshot.total(q) for q in SIX[2:]),
            singles[0x02800004],
            singles[0x02800005],
        ]
        return record

    def _curve_point(self, name: str, instant: datetime) -> Scalar | None:
        """One 0610 curve point: a per-phase variable, an energy total or a present demand."""
        values = self._instant(instant)
        stems = {"VOLTAGE": 1, "CURRENT": 2, "ACTIVE_POWER": 3, "REACTIVE_POWER": 4, "POWER_FACTOR": 6}
        for stem, quantity in stems.items():
            if name.startswith(stem + "_"):
                series = values.phased[quantity]
                suffix = name[len(stem) + 1 :]
                order = ("TOTAL", "A", "B", "C") if len(series) == 4 else ("A", "B", "C")
                return series[order.index(suffix)]
        if name.startswith("ENERGY_"):
            quantities = {
                "FORWARD_ACTIVE": 1,
                "REVERSE_ACTIVE": 2,
                "COMBINED_REACTIVE_1": 3,
                "COMBINED_REACTIVE_2": 4,
                **{f"REACTIVE_Q{q}": 4 + q for q in range(1, 5)},
            }
            return self.registers.snapshot(instant).total(quantities[name[len("ENERGY_") : -len("_TOTAL")]])
        return values.singles[0x02800004 if name == "DEMAND_ACTIVE_PRESENT" else 0x02800005]


def _pack(pieces: Sequence[bytes], room: int) -> list[bytes]:
    """Value pieces into frames: ``room`` bytes in the first, one less in follow-ups (they end with SEQ); a piece
    is only split when it alone does not fit a frame."""
    frames: list[bytes] = [b""]
    for piece in pieces:
        space = room - (len(frames) > 1)
        if frames[-1] and len(frames[-1]) + len(piece) > space:
            frames.append(b"")
            space = room - 1
        while len(frames[-1]) + len(piece) > space:
            cut = space - len(frames[-1])
            frames[-1] += piece[:cut]
            piece = piece[cut:]
            frames.append(b"")
            space = room - 1
        frames[-1] += piece
    return frames


def _demand_pairs(maxima: Sequence[DemandMax | None]) -> list[Scalar | None]:
    """Demand records (XX.XXXX, YYMMDDhhmm) for total and tariffs 1..4; no demand yet is 0 with no time."""
    padded = [*maxima, *([None] * (TARIFF_COUNT + 1 - len(maxima)))]
    pairs: list[Scalar | None] = []
    for d in padded:
        pairs += [d.kw, d.at] if d is not None else [Decimal(0), None]
    return pairs


def _schedule_ok(at: FreezeTime) -> bool:
    """The timed freezes of DL/T 645-2007 §7.7: hourly (only mm), daily (hh mm), monthly (DD hh mm) or yearly."""
    fields = (at.month, at.day, at.hour, at.minute)
    given = [f is not None for f in fields]
    return given in ([False, False, False, True], [False, False, True, True], [False, True, True, True], [True] * 4)


def _to_2007(di: int, edition: Edition) -> int | None:
    if edition is Edition.V2007:
        return di
    mapping = to_2007(di)
    return mapping.di_2007 if mapping is not None and not mapping.part else None


def _writable(di: int) -> bool:
    """Parameters (表A.5) may be written, except addresses (15H writes those), status words and passwords."""
    return di >> 24 == _PARAMETER and di not in (0x04000401, 0x04000402) and di >> 8 not in (0x040005, 0x04000C)


def _as_1997(value: Scalar | None, f: Field) -> Scalar | None:
    """A 2007 value in a 1997 field: fewer decimals (rounded), MMDDhhmm from a datetime, a byte of a status word."""
    if value is None:
        return None
    if isinstance(value, datetime) and f.kind is Kind.DIGITS:
        return Decimal(int(value.strftime("%m%d%H%M")))
    if isinstance(value, Decimal) and f.kind is Kind.NUMBER:
        return value.quantize(Decimal(1).scaleb(-f.decimals), rounding=ROUND_HALF_UP)
    if isinstance(value, Decimal) and f.kind is Kind.BITS:
        return Decimal(int(value) & (256**f.size - 1))
    return value


def _near_midnight(moment: datetime, guard: timedelta) -> bool:
    midnight = datetime.combine(moment.date(), time())
    return moment - midnight < guard or midnight + _DAY - moment < guard


def _settlement_days(today: date, day: int, count: int) -> list[datetime]:
    """The last ``count`` settlement instants (meter time, day ``day`` 00:00) up to ``today``, newest first."""
    year, month = today.year, today.month
    out: list[datetime] = []
    while len(out) < count:
        candidate = datetime(year, month, day)
        if candidate.date() <= today:
            out.append(candidate)
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out
