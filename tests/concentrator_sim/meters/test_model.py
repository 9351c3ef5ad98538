"""The simulated meter, sans-IO: frames in, replies out, against values computed from the load model directly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from concentrator_sim.meters.model import DIRECT_A1, Dlt645Meter, MeterConfig, TimeSync
from concentrator_sim.meters.profiles import GENERIC_1997, GENERIC_2007
from concentrator_sim.model import DEFAULT_TZ, meter_model
from protocols.dlt645 import commands as cmd
from protocols.dlt645.apdu import (
    Ack,
    AddressReply,
    BaudRateAck,
    ErrorReply,
    PasswordAck,
    ReadReply,
    build_load_profile_read,
    build_read,
    build_read_address,
    build_reread,
    load_profile_params,
    parse_reply,
)
from protocols.dlt645.control import Edition
from protocols.dlt645.errors import NoRequestedData, PasswordError
from protocols.dlt645.exchange import ReadExchange
from protocols.dlt645.link import BROADCAST, build_frame, parse_frame

ADDRESS = "000000000001"
SEED = 7
#: 08:30 in Beijing on Wednesday 1 May 2024
T0 = datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
PASSWORD = cmd.Password(2, "123456")
FAR = datetime(2099, 12, 30)


def make(**kwargs: Any) -> Dlt645Meter:
    return Dlt645Meter(MeterConfig(ADDRESS, seed=SEED, **kwargs))


def ask(meter: Dlt645Meter, raw: bytes, now: datetime) -> list[Any]:
    return [parse_reply(parse_frame(r)) for r in meter.handle(parse_frame(raw), now)]


def one(meter: Dlt645Meter, raw: bytes, now: datetime) -> Any:
    (reply,) = ask(meter, raw, now)
    return reply


def values(meter: Dlt645Meter, di: int, now: datetime, **kwargs: Any) -> list[Any]:
    reply = one(meter, build_read(meter.address, di, **kwargs), now)
    assert isinstance(reply, ReadReply), reply
    return [v.value for v in reply.values]


def model_ticks(t: datetime, address: str = ADDRESS) -> list[int]:
    """Forward active energy per tariff from the load model itself, in 0.0001 kWh."""
    return [int(v.scaleb(4)) for v in meter_model(SEED, DIRECT_A1, 0, int(address), DEFAULT_TZ).tariffs_kwh(t)]


def shown(ticks: int) -> Decimal:
    return (Decimal(ticks) / 10_000).quantize(Decimal("0.01"), ROUND_DOWN)


def local(t: datetime) -> datetime:
    return t.astimezone(DEFAULT_TZ).replace(tzinfo=None)


def control(meter: Dlt645Meter, action: cmd.ControlAction, now: datetime, **kwargs: Any) -> Any:
    kwargs.setdefault("password", PASSWORD)
    return one(meter, cmd.build_control(meter.address, action, kwargs.pop("until", FAR), **kwargs), now)


def error_bits(reply: Any) -> int:
    assert isinstance(reply, ErrorReply), reply
    return reply.err


# --- energy -----------------------------------------------------------------------------------------------------


def test_energy_registers_are_the_load_model_truncated_to_001_kwh() -> None:
    meter = make()
    ticks = model_ticks(T0)
    assert values(meter, 0x00010000, T0) == [shown(sum(ticks))]
    assert values(meter, 0x0001FF00, T0) == [shown(sum(ticks)), *(shown(t) for t in ticks)]
    assert values(meter, 0x00010300, T0) == [shown(ticks[2])]  # tariff 3 (平)
    assert error_bits(one(meter, build_read(ADDRESS, 0x00010500), T0)) == 1 << NoRequestedData.bit  # no tariff 5


def test_combined_active_is_forward_plus_reverse() -> None:
    meter = make()
    forward, reverse, combined = (values(meter, di, T0)[0] for di in (0x00010000, 0x00020000, 0x00000000))
    assert combined - forward - reverse in (Decimal(0), Decimal("0.01"))  # each truncated on its own


@settings(max_examples=25)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=1, max_value=3 * 86400), st.sampled_from(["read", "trip", "close"])),
        min_size=1,
        max_size=12,
    )
)
def test_registers_never_decrease_and_stand_still_while_tripped(steps: list[tuple[int, str]]) -> None:
    meter = make()
    now = T0
    last = values(meter, 0x0001FF00, now)
    tripped = False
    for seconds, action in steps:
        now += timedelta(seconds=seconds)
        if action == "trip":
            assert isinstance(control(meter, cmd.ControlAction.TRIP, now), Ack)
            tripped = True
        elif action == "close":
            assert isinstance(control(meter, cmd.ControlAction.CLOSE, now), Ack)
            tripped = False
        current = values(meter, 0x0001FF00, now)
        assert all(c >= p for c, p in zip(current, last, strict=True))
        if tripped and action == "read":
            assert current == last
        last = current


def test_energy_after_a_trip_and_close_leaves_out_exactly_the_open_interval() -> None:
    meter = make()
    opened, closed, later = T0 + timedelta(hours=1), T0 + timedelta(hours=5), T0 + timedelta(hours=9)
    control(meter, cmd.ControlAction.TRIP, opened)
    control(meter, cmd.ControlAction.CLOSE, closed)
    ticks = [lt - c + o for lt, c, o in zip(model_ticks(later), model_ticks(closed), model_ticks(opened), strict=True)]
    assert values(meter, 0x0001FF00, later) == [shown(sum(ticks)), *(shown(t) for t in ticks)]
    # and the past stays what it was: the register at a load record time before the trip
    assert meter.registers.forward(opened - timedelta(minutes=1)) == tuple(model_ticks(opened - timedelta(minutes=1)))


# --- relay, control, passwords ----------------------------------------------------------------------------------


def test_relay_state_is_in_status_word_3_and_trip_close_are_recorded() -> None:
    meter = make()
    assert values(meter, 0x04000503, T0) == [Decimal(0)]
    control(meter, cmd.ControlAction.TRIP, T0, operator="00001234")
    assert values(meter, 0x04000503, T0) == [Decimal(0b0101_0000)]  # D4 relay open, D6 commanded open
    assert values(meter, 0x02030000, T0) == [Decimal("0.0000")]  # no power flows
    control(meter, cmd.ControlAction.ALARM, T0)
    assert values(meter, 0x04000503, T0) == [Decimal(0b1101_0000)]  # D7 pre-trip alarm
    later = T0 + timedelta(minutes=7)
    control(meter, cmd.ControlAction.CLOSE, later)
    assert values(meter, 0x04000503, later)[0] == Decimal(0b1000_0000)
    assert values(meter, 0x1D000001, later) == [Decimal(1)]
    trip = values(meter, 0x1D000101, later)
    assert trip[:3] == [local(T0).replace(microsecond=0), Decimal(1234), shown(sum(model_ticks(T0)))]
    assert values(meter, 0x1E000101, later)[0] == local(later)


def test_control_is_refused_without_the_password_after_expiry_and_under_keep_power() -> None:
    meter = make()
    wrong = cmd.Password(2, "654321")
    assert error_bits(control(meter, cmd.ControlAction.TRIP, T0, password=wrong)) == 1 << PasswordError.bit
    weak = cmd.Password(4, "000000")  # a valid password of a level too weak for control
    assert error_bits(control(meter, cmd.ControlAction.TRIP, T0, password=weak)) == 1 << PasswordError.bit
    expired = local(T0) - timedelta(minutes=1)
    assert error_bits(control(meter, cmd.ControlAction.TRIP, T0, until=expired)) == 1  # D0 其他错误
    control(meter, cmd.ControlAction.KEEP_POWER, T0)
    assert error_bits(control(meter, cmd.ControlAction.TRIP, T0)) == 1
    control(meter, cmd.ControlAction.KEEP_POWER_RELEASE, T0)
    assert isinstance(control(meter, cmd.ControlAction.TRIP, T0), Ack)
    assert not meter.relay_closed


def test_allow_close_waits_for_the_customer_to_press_the_button() -> None:
    meter = make(close_delay=timedelta(minutes=10))
    control(meter, cmd.ControlAction.TRIP, T0)
    control(meter, cmd.ControlAction.ALLOW_CLOSE, T0 + timedelta(minutes=1))
    assert values(meter, 0x04000503, T0 + timedelta(minutes=5)) == [Decimal(0b0001_0000)]  # open, not commanded
    pressed = T0 + timedelta(minutes=11)
    assert values(meter, 0x04000503, T0 + timedelta(minutes=20)) == [Decimal(0)]
    assert values(meter, 0x1E000101, T0 + timedelta(minutes=20))[0] == local(pressed)


def test_wrong_passwords_lock_the_meter_until_its_midnight() -> None:
    meter = make(password_lockout=3)
    wrong = cmd.Password(2, "111111")
    for _ in range(3):
        control(meter, cmd.ControlAction.ALARM, T0, password=wrong)
    assert error_bits(control(meter, cmd.ControlAction.ALARM, T0)) == 1 << PasswordError.bit  # right, but locked
    tomorrow = T0 + timedelta(days=1)
    assert isinstance(control(meter, cmd.ControlAction.ALARM, tomorrow), Ack)


def test_change_password_replaces_the_code_of_its_level() -> None:
    meter = make()
    new = cmd.Password(2, "246802")
    reply = one(meter, cmd.build_change_password(ADDRESS, PASSWORD, new), T0)
    assert isinstance(reply, PasswordAck)
    assert reply.password == new
    assert error_bits(control(meter, cmd.ControlAction.ALARM, T0)) == 1 << PasswordError.bit
    assert isinstance(control(meter, cmd.ControlAction.ALARM, T0, password=new), Ack)
    weak = cmd.Password(4, "000000")
    stronger = cmd.build_change_password(ADDRESS, weak, cmd.Password(2, "111111"))  # level 4 cannot set level 2
    assert error_bits(one(meter, stronger, T0)) == 1 << PasswordError.bit


# --- time ---------------------------------------------------------------------------------------------------------


def test_clock_offset_and_drift_show_in_date_and_time() -> None:
    meter = make(clock_offset=timedelta(seconds=90), clock_ppm=100.0)
    later = T0 + timedelta(days=1)  # 100 ppm of a day = 8.64 s
    shown_time = datetime.combine(*values(meter, 0x04000101, T0), *values(meter, 0x04000102, T0))
    assert shown_time == local(T0 + timedelta(seconds=90))
    shown_time = datetime.combine(*values(meter, 0x04000101, later), *values(meter, 0x04000102, later))
    assert shown_time == local(later + timedelta(seconds=90 + 8)).replace(microsecond=0)


def test_broadcast_time_is_applied_within_its_safeguards_and_never_answered() -> None:
    meter = make(clock_offset=timedelta(seconds=100))
    assert meter.handle(parse_frame(cmd.build_broadcast_time(local(T0) + timedelta(minutes=9))), T0) == []
    assert meter.last_timesync is TimeSync.TOO_LARGE
    assert meter.handle(parse_frame(cmd.build_broadcast_time(local(T0))), T0) == []
    assert meter.last_timesync is TimeSync.ACCEPTED
    assert meter.clock.error(T0) == timedelta(0)
    assert values(meter, 0x03300400, T0) == [Decimal(1)]
    record = values(meter, 0x03300401, T0)
    assert record[1:] == [local(T0 + timedelta(seconds=100)).replace(microsecond=0), local(T0).replace(microsecond=0)]
    meter.handle(parse_frame(cmd.build_broadcast_time(local(T0) + timedelta(seconds=30))), T0)
    assert meter.last_timesync is TimeSync.ALREADY_TODAY
    near = datetime(2024, 5, 1, 15, 58, tzinfo=UTC)  # 23:58 in Beijing
    meter.handle(parse_frame(cmd.build_broadcast_time(local(near) + timedelta(seconds=10))), near)
    assert meter.last_timesync is TimeSync.NEAR_MIDNIGHT


def test_write_time_needs_the_password_and_read_only_data_cannot_be_written() -> None:
    meter = make()
    new = time(9, 15, 0)
    reply = one(meter, cmd.build_write(ADDRESS, 0x04000102, [new], password=cmd.Password(4, "000000")), T0)
    assert isinstance(reply, Ack)
    assert values(meter, 0x04000102, T0) == [new]
    assert values(meter, 0x03300000, T0) == [Decimal(1)]  # 编程次数
    bad = cmd.build_write(ADDRESS, 0x04000102, [new], password=cmd.Password(4, "999999"))
    assert error_bits(one(meter, bad, T0)) == 1 << PasswordError.bit
    energy = cmd.build_write(ADDRESS, 0x00010000, [Decimal(0)], password=PASSWORD)
    assert error_bits(one(meter, energy, T0)) == 1 << PasswordError.bit  # 未授权
    interval = cmd.build_write(ADDRESS, 0x04000A02, [Decimal(5)], password=PASSWORD)
    assert isinstance(one(meter, interval, T0), Ack)
    assert values(meter, 0x04000A02, T0) == [Decimal(5)]


# --- freezes and history --------------------------------------------------------------------------------------------


def test_daily_freeze_happens_at_the_meter_midnight() -> None:
    meter = make(clock_offset=timedelta(seconds=90))
    values(meter, 0x00010000, T0)
    next_day = T0 + timedelta(days=1)
    true_midnight = datetime(2024, 5, 1, 16, 0, tzinfo=UTC) - timedelta(seconds=90)  # the meter is 90 s fast
    assert values(meter, 0x05060001, next_day) == [datetime(2024, 5, 2, 0, 0)]
    ticks = model_ticks(true_midnight)
    assert values(meter, 0x05060101, next_day) == [shown(sum(ticks)), *(shown(t) for t in ticks)]


def test_history_is_there_from_the_first_read() -> None:
    meter = make()
    times = [values(meter, 0x05060000 | n, T0)[0] for n in range(1, 63)]
    assert times == [datetime(2024, 5, 1) - timedelta(days=n) for n in range(62)]
    settlement = values(meter, 0x0001FF01, T0)  # 上1结算日: 1 May 00:00
    ticks = model_ticks(datetime(2024, 4, 30, 16, 0, tzinfo=UTC))
    assert settlement == [shown(sum(ticks)), *(shown(t) for t in ticks)]
    april = model_ticks(datetime(2024, 3, 31, 16, 0, tzinfo=UTC))
    assert values(meter, 0x00010002, T0) == [shown(sum(april))]  # 上2结算日: 1 April
    assert values(meter, 0x05040001, T0) == [datetime(2024, 5, 1, 8, 0)]  # last hourly freeze


def test_maximum_demand_is_the_largest_quarter_hour_of_the_period() -> None:
    meter = make()
    now = T0 + timedelta(hours=14)  # 22:30 on the 1st: the period began at 00:00
    start = datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
    best: tuple[int, datetime] | None = None
    t = start
    while t + timedelta(minutes=15) <= now:
        delta = sum(model_ticks(t + timedelta(minutes=15))) - sum(model_ticks(t))
        if best is None or delta > best[0]:
            best = (delta, t + timedelta(minutes=15))
        t += timedelta(minutes=15)
    assert best is not None
    assert values(meter, 0x01010000, now) == [Decimal(best[0] * 4).scaleb(-4), local(best[1])]


def test_demand_clear_starts_a_new_period() -> None:
    meter = make()
    assert values(meter, 0x01010000, T0)[0] > 0
    assert isinstance(one(meter, cmd.build_clear_demand(ADDRESS, password=PASSWORD), T0), Ack)
    assert values(meter, 0x01010000, T0) == [Decimal(0), None]
    assert values(meter, 0x03300200, T0) == [Decimal(1)]


def test_freeze_command_freezes_now_or_on_a_schedule() -> None:
    meter = make()
    immediate = cmd.FreezeTime()
    assert isinstance(one(meter, cmd.build_freeze(ADDRESS, immediate), T0), Ack)
    assert values(meter, 0x05010001, T0) == [local(T0).replace(second=0, microsecond=0)]
    assert values(meter, 0x05010101, T0)[0] == shown(sum(model_ticks(T0)))
    daily_noon = cmd.FreezeTime(hour=12, minute=0)
    assert meter.handle(parse_frame(cmd.build_freeze(BROADCAST, daily_noon)), T0) == []  # broadcast: no reply
    assert values(meter, 0x05000001, T0) == [None]  # no timed freeze yet
    later = T0 + timedelta(hours=6)  # 14:30
    assert values(meter, 0x05000001, later) == [datetime(2024, 5, 1, 12, 0)]
    noon = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
    assert values(meter, 0x05000101, later)[0] == shown(sum(model_ticks(noon)))


def test_clear_meter_restarts_every_register_and_records_the_clear() -> None:
    meter = make()
    before = values(meter, 0x00010000, T0)[0]
    assert isinstance(one(meter, cmd.build_clear_meter(ADDRESS, password=PASSWORD), T0), Ack)
    assert values(meter, 0x0001FF00, T0) == [Decimal("0.00")] * 5
    later = T0 + timedelta(hours=3)
    grown = sum(model_ticks(later)) - sum(model_ticks(T0))
    assert values(meter, 0x00010000, later)[0] in (shown(grown), shown(grown) - Decimal("0.01"))
    assert values(meter, 0x03300100, later) == [Decimal(1)]
    assert values(meter, 0x03300101, later)[2] == before
    assert values(meter, 0x03110000, later) == [Decimal(0)]  # events went with it


def test_clear_events_keeps_only_its_own_record() -> None:
    meter = make()
    meter.set_supply(False, T0)
    meter.set_supply(True, T0 + timedelta(minutes=3))
    assert values(meter, 0x03110000, T0 + timedelta(minutes=4))[0] >= 1
    reply = one(meter, cmd.build_clear_events(ADDRESS, password=PASSWORD), T0 + timedelta(minutes=5))
    assert isinstance(reply, Ack)
    assert values(meter, 0x03110000, T0 + timedelta(minutes=5)) == [Decimal(0)]
    assert values(meter, 0x03300300, T0 + timedelta(minutes=5)) == [Decimal(1)]


def test_power_down_silences_the_meter_stops_energy_and_is_recorded() -> None:
    meter = make()
    down, up = T0 + timedelta(minutes=1), T0 + timedelta(minutes=31)
    count = values(meter, 0x03110000, T0)[0]
    meter.set_supply(False, down)
    assert meter.handle(parse_frame(build_read(ADDRESS, 0x00010000)), down + timedelta(minutes=5)) == []
    meter.set_supply(True, up)
    assert values(meter, 0x03110000, up) == [count + 1]
    assert values(meter, 0x03110001, up) == [local(down).replace(microsecond=0), local(up).replace(microsecond=0)]
    ticks = [u - a + d for u, a, d in zip(model_ticks(up), model_ticks(up), model_ticks(down), strict=True)]
    assert values(meter, 0x00010000, up) == [shown(sum(ticks))]


def test_cover_open_record_keeps_the_energies_before_and_after() -> None:
    meter = make()
    meter.set_cover(True, T0)
    meter.set_cover(False, T0 + timedelta(hours=2))
    record = values(meter, 0x03300D01, T0 + timedelta(hours=2))
    assert record[0] == local(T0).replace(microsecond=0)
    assert record[1] == local(T0 + timedelta(hours=2)).replace(microsecond=0)
    assert record[2] == shown(sum(model_ticks(T0)))  # forward active before
    assert record[8] == shown(sum(model_ticks(T0 + timedelta(hours=2))))  # and after


# --- instantaneous values ---------------------------------------------------------------------------------------


def test_instantaneous_values_are_consistent_with_the_power() -> None:
    meter = make(profile=GENERIC_2007)
    power = meter.model.power_kw(T0).quantize(Decimal("0.0001"))
    assert values(meter, 0x02030000, T0) == [power]
    (volts,) = values(meter, 0x02010100, T0)
    (amps,) = values(meter, 0x02020100, T0)
    (pf,) = values(meter, 0x02060000, T0)
    assert abs(volts * amps * pf / 1000 - power) < Decimal("0.001")
    assert values(meter, 0x0201FF00, T0) == [volts, None, None]  # single phase: B, C missing
    assert error_bits(one(meter, build_read(ADDRESS, 0x02010200), T0)) == 1 << NoRequestedData.bit


def test_a_three_phase_meter_splits_the_power_over_its_phases() -> None:
    three = GENERIC_2007.__class__(name="three", phases=3)
    meter = make(profile=three)
    total, a, b, c = values(meter, 0x0203FF00, T0)
    assert a + b + c == total
    assert None not in values(meter, 0x0201FF00, T0)


# --- addressing, follow-ups, editions ----------------------------------------------------------------------------


def test_addressing_exact_wildcard_broadcast_and_others() -> None:
    meter = make()
    assert one(meter, build_read_address(), T0) == AddressReply(ADDRESS)
    assert isinstance(one(meter, build_read("AAAAAAAAAA01", 0x00010000), T0), ReadReply)
    assert meter.handle(parse_frame(build_read("AAAAAAAAAA02", 0x00010000)), T0) == []
    assert meter.handle(parse_frame(build_read("000000000002", 0x00010000)), T0) == []
    assert meter.handle(parse_frame(build_read(BROADCAST, 0x00010000)), T0) == []


def test_write_address_needs_the_wildcard_and_the_reply_comes_from_the_new_address() -> None:
    meter = make()
    reply = one(meter, cmd.build_write_address("000000000077"), T0)
    assert reply == Ack("000000000077", 0x15)
    assert isinstance(one(meter, build_read("000000000077", 0x00010000), T0), ReadReply)
    direct = cmd.build_write_address("000000000078", address="000000000077")
    assert error_bits(one(meter, direct, T0)) == 1 << PasswordError.bit


def test_long_answers_come_in_follow_up_frames_that_merge_to_the_same_values() -> None:
    small = GENERIC_2007.__class__(name="small frames", max_data=24)
    meter, reference = make(profile=small), make()
    exchange = ReadExchange(ADDRESS, 0x0101FF00)
    request: bytes | None = exchange.request
    while request is not None:
        (raw,) = meter.handle(parse_frame(request), T0)
        request = exchange.receive(parse_frame(raw))
    assert len(exchange.frames) == 3  # two 8-byte records per frame
    assert all(len(parse_frame(f).data) <= 24 for f in exchange.frames)
    assert [v.value for v in exchange.result.values] == values(reference, 0x0101FF00, T0)


def test_load_profile_records_are_on_the_interval_grid_and_match_the_registers() -> None:
    meter = make()
    exchange = ReadExchange(ADDRESS, 0x06000002, params=load_profile_params(3))
    request: bytes | None = exchange.request
    while request is not None:
        (raw,) = meter.handle(parse_frame(request), T0)
        request = exchange.receive(parse_frame(raw))
    result = exchange.result
    assert isinstance(result, ReadReply)
    times = [v.value for v in result.values if v.name == "LOAD_RECORD_TIME"]
    assert times == [datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 1, 8, 15), datetime(2024, 5, 1, 8, 30)]
    energies = [v.value for v in result.values if v.name == "ENERGY_FORWARD_ACTIVE_TOTAL"]
    instants = [datetime(2024, 5, 1, 0, m, tzinfo=UTC) for m in (0, 15, 30)]
    assert energies == [shown(sum(model_ticks(t))) for t in instants]
    curve = build_load_profile_read(ADDRESS, 0x06100601, 2, datetime(2024, 5, 1, 8, 10))
    reply = one(meter, curve, T0)
    assert [v.value for v in reply.values] == [
        datetime(2024, 5, 1, 8, 15),
        shown(sum(model_ticks(instants[1]))),
        shown(sum(model_ticks(instants[2]))),
    ]


def test_a_1997_meter_answers_1997_reads_and_ignores_2007_ones() -> None:
    old = Dlt645Meter(MeterConfig(ADDRESS, seed=SEED, profile=GENERIC_1997))
    new = make()
    e97 = Edition.V1997
    assert old.handle(parse_frame(build_read(ADDRESS, 0x00010000)), T0) == []
    assert new.handle(parse_frame(build_read(ADDRESS, 0x9010, edition=e97)), T0) == []
    assert values(old, 0x901F, T0, edition=e97) == values(new, 0x0001FF00, T0)
    (volts,) = values(old, 0xB611, T0, edition=e97)
    assert volts == values(new, 0x02010100, T0)[0].quantize(Decimal(1))  # whole volts in 1997
    assert values(old, 0xC010, T0, edition=e97) == [date(2024, 5, 1)]
    again = one(old, build_reread(ADDRESS), T0)  # 重读数据: the last reply again
    assert [v.value for v in again.values] == [date(2024, 5, 1)]
    assert error_bits(one(old, build_read(ADDRESS, 0xB31F, edition=e97), T0)) == 1 << NoRequestedData.bit


def test_change_baud_answers_at_the_old_rate_and_refuses_rates_it_lacks() -> None:
    meter = make()
    reply = one(meter, cmd.build_change_baud(ADDRESS, 9600), T0)
    assert isinstance(reply, BaudRateAck)
    assert (reply.baud, meter.baud) == (9600, 9600)
    assert error_bits(one(meter, cmd.build_change_baud(ADDRESS, 19200), T0)) == 1 << 3


@settings(max_examples=200)
@given(control_code=st.integers(min_value=0, max_value=0x7F), data=st.binary(max_size=40))
def test_any_request_gets_valid_frames_or_silence(control_code: int, data: bytes) -> None:
    meter = make()
    for raw in meter.handle(parse_frame(build_frame(ADDRESS, control_code, data)), T0):
        frame = parse_frame(raw)
        assert frame.is_reply
        assert frame.function == control_code & 0x1F
