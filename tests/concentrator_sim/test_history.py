"""TerminalModel history and behaviour (sans-IO): AFN0D frozen data and curves, AFN05 F31, AFN04/0A F10, AFN0E events
with ACD/EC, pushes, load terminals. Requests are built with protocols.gdw376.messages, answers decoded with our
codecs, values compared with the meter model (and with AFN0C F129 read at the freeze minute)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from concentrator_sim.history import Scenario, UnknownMeter
from concentrator_sim.model import Failure, TerminalModel, a2_value, meter_model
from protocols.errors import ProtocolError
from protocols.gdw376 import messages
from protocols.gdw376.formats import YearMonth
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Afn, Control, Dir, LinkFrame, Seq, build_frame, parse_frame
from protocols.gdw376.units import DataUnit, EnergyIndication, TerminalClock, decode_units
from protocols.gdw376.units.afn0d import CurveTag, DailyTag, MonthlyTag
from protocols.gdw376.units.afn0e import EventReport
from protocols.gdw376.units.afn04 import METER

TERMINAL = Address("4403", 12)
SEED = 5
CST = timedelta(hours=8)
# 2025-06-10 02:00 local (Asia/Shanghai): the freezes of 2025-06-09 and before exist
NOW = datetime(2025, 6, 9, 18, 0, tzinfo=UTC)
HISTORY_START = datetime(2025, 6, 1, tzinfo=UTC) - CST  # local midnight of 1 June


def _model(scenario: Scenario | None = None, **kwargs: object) -> TerminalModel:
    scenario = scenario or Scenario(history_start=HISTORY_START)
    return TerminalModel(TERMINAL, range(1, 5), seed=SEED, scenario=scenario, **kwargs)  # type: ignore[arg-type]


def _frames(answer: list[bytes]) -> list[LinkFrame]:
    return [parse_frame(raw) for raw in answer]


def _units(answer: list[bytes]) -> list[DataUnit]:
    return [u for f in _frames(answer) for u in decode_units(f.afn, f.data, Dir.UP)]


_PSEQ = itertools.count(1)


def _history(model: TerminalModel, items: list[tuple[int, int, DailyTag | MonthlyTag | CurveTag]]) -> list[bytes]:
    """Ask for ``items`` with a new PSEQ each time (the same PSEQ twice gets the previous answer again)."""
    frame = parse_frame(messages.history_request(TERMINAL.with_msa(2), items, next(_PSEQ)))
    return model.handle(frame, NOW)


def _is_denied(answer: list[bytes]) -> bool:
    (frame,) = _frames(answer)
    return frame.afn == Afn.CONFIRM_DENY and [u.fn for u in decode_units(frame.afn, frame.data, Dir.UP)] == [2]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.dates(date(2025, 6, 1), date(2025, 6, 9)))
def test_daily_frozen_is_the_f129_reading_at_the_midnight_ending_the_day(pn: int, day: date) -> None:
    model = _model()
    (unit,) = _units(_history(model, [(pn, 161, DailyTag(day))]))
    midnight = datetime(day.year, day.month, day.day) + timedelta(days=1)
    # the same register through another path: AFN0C F129 asked at that minute
    at = datetime.combine(midnight.date(), midnight.time(), UTC) - CST
    (f129,) = _units(
        model.handle(parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS1, [(pn, 129)], next(_PSEQ))), at)
    )
    assert isinstance(f129.value, EnergyIndication)
    assert unit == DataUnit(
        pn,
        161,
        {"td_d": day, "read_time": midnight, "m": 4, "values": (f129.value.total, *f129.value.tariffs)},
    )
    assert model.served_daily == {(pn, day): f129.value.total}
    assert f129.value.total == sum(t or 0 for t in f129.value.tariffs)


def test_frozen_days_never_decrease_and_move_with_the_load() -> None:
    model = _model()
    days = [date(2025, 6, d) for d in range(1, 10)]
    units = _units(_history(model, [(1, 161, DailyTag(d)) for d in days]))
    totals = [u.value["values"][0] for u in units]  # type: ignore[index]
    assert len(totals) == len(days)
    assert all(b > a for a, b in itertools.pairwise(totals))
    mean_kwh = meter_model(SEED, "4403", 12, 1).mean_w * 24 / Decimal(1000)
    assert Decimal("0.3") * mean_kwh < (totals[-1] - totals[0]) / 8 < 3 * mean_kwh


def test_no_record_before_history_start_in_the_future_or_after_a_meter_was_lost() -> None:
    lost_at = datetime(2025, 6, 5, tzinfo=UTC) - CST  # local midnight 5 June: the freeze tagged 4 June is lost
    model = _model(Scenario(history_start=HISTORY_START, lost={2: lost_at}))
    assert _is_denied(_history(model, [(1, 161, DailyTag(date(2025, 5, 30)))]))  # freeze 31 May 00:00 < start
    assert _is_denied(_history(model, [(1, 161, DailyTag(date(2025, 6, 10))), (9, 161, DailyTag(date(2025, 6, 2)))]))
    units = _units(_history(model, [(2, 161, DailyTag(date(2025, 6, d))) for d in (2, 3, 4, 5)]))
    assert [u.value["td_d"] for u in units] == [date(2025, 6, 2), date(2025, 6, 3)]  # type: ignore[index]
    assert set(model.served_daily) == {(2, date(2025, 6, 2)), (2, date(2025, 6, 3))}
    # the first day of history is there (freeze of 31 May = 1 June 00:00 = history start)
    assert _units(_history(model, [(1, 161, DailyTag(date(2025, 5, 31)))]))[0].pn == 1


def test_failing_meters_give_ee_or_are_left_out() -> None:
    model = _model(failing_pns={1: Failure.NO_VALUE, 2: Failure.DENY})
    units = _units(_history(model, [(pn, 161, DailyTag(date(2025, 6, 3))) for pn in (1, 2, 3)]))
    assert [u.pn for u in units] == [1, 3]
    assert units[0].value["values"] == (None,) * 5  # type: ignore[index]
    assert set(model.served_daily) == {(3, date(2025, 6, 3))}


def test_monthly_frozen_is_the_register_on_the_first_of_the_next_month() -> None:
    model = _model(Scenario(history_start=datetime(2025, 1, 1, tzinfo=UTC)))
    (unit,) = _units(_history(model, [(3, 177, MonthlyTag(2025, 5))]))
    meter = meter_model(SEED, "4403", 12, 3)
    first = datetime(2025, 6, 1)
    assert unit.value == {
        "td_m": YearMonth(2025, 5),
        "read_time": first,
        "m": 4,
        "values": (meter.energy_kwh(first), *meter.tariffs_kwh(first)),
    }
    assert _is_denied(_history(model, [(3, 177, MonthlyTag(2025, 6))]))  # June is not closed yet


def test_curves_hold_power_and_indications_with_ee_outside_the_history() -> None:
    model = _model()
    start = datetime(2025, 5, 31, 23, 0)  # two points before history start, two after
    power, energy = _units(_history(model, [(1, 81, CurveTag(start, 2, 4)), (1, 101, CurveTag(start, 2, 4))]))
    meter = meter_model(SEED, "4403", 12, 1)
    points = [start + timedelta(minutes=30 * i) for i in range(4)]
    assert power.value["values"][:2] == (None, None)  # type: ignore[index]
    assert energy.value["values"][:2] == (None, None)  # type: ignore[index]
    for t, p, e in zip(points[2:], power.value["values"][2:], energy.value["values"][2:], strict=True):  # type: ignore[index]
        assert abs(p - meter.power_kw(t)) < Decimal("0.0001")
        assert Decimal(0) <= meter.energy_kwh(t) - e < Decimal("0.01")
    assert _is_denied(_history(model, [(1, 81, CurveTag(datetime(2025, 5, 1), 2, 4))]))


def test_time_sync_sets_the_clock_that_f2_and_the_heartbeat_show() -> None:
    model = _model(clock_drift=timedelta(seconds=-95))
    f2 = parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS1, [(0, 2)], 1))
    (unit,) = _units(model.handle(f2, NOW))
    assert unit.value == TerminalClock(datetime(2025, 6, 10, 1, 58, 25))  # 95 s behind 02:00:00 local
    (confirm,) = _frames(
        model.handle(parse_frame(messages.time_sync(TERMINAL, datetime(2025, 6, 10, 2, 0, 3), 2)), NOW)
    )
    assert confirm.afn == Afn.CONFIRM_DENY
    assert [u.fn for u in decode_units(confirm.afn, confirm.data, Dir.UP)] == [1]
    later = NOW + timedelta(seconds=10)
    (unit,) = _units(model.handle(parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS1, [(0, 2)], 3)), later))
    assert unit.value == TerminalClock(datetime(2025, 6, 10, 2, 0, 13))
    assert model.time_syncs == [(timedelta(seconds=-95), timedelta(seconds=3))]


def _entry(index: int, pn: int, address: str) -> Record:
    return Record(
        {
            "index": index,
            "pn": pn,
            "port": Record({"port": 31, "baud": 3}),
            "protocol": 30,
            "address": address,
            "password": bytes(6),
            "tariffs": Record({"count": 4}),
            "digits": Record({"decimals": 3, "integers": 2}),
            "collector": "000000000000",
            "user_class": Record({"minor": 1, "major": 5}),
        }
    )


def test_archive_set_then_query_returns_what_was_set() -> None:
    assert {e.name for e in METER} == set(_entry(1, 1, "000000000001"))
    model = _model()
    entries = (_entry(1, 1, "000000000001"), _entry(2, 2, "000000000002"))
    set_frame = messages.command(TERMINAL, Afn.SET_PARAM, [DataUnit(0, 10, Record({"n": 2, "meters": entries}))], 1)
    (ack,) = _frames(model.handle(parse_frame(set_frame), NOW))
    assert [u.fn for u in decode_units(ack.afn, ack.data, Dir.UP)] == [1]
    query = Record({"n": 3, "indexes": (2, 7, 1)})
    answer = model.handle(parse_frame(messages.command(TERMINAL, Afn.QUERY_PARAM, [DataUnit(0, 10, query)], 2)), NOW)
    (unit,) = _units(answer)
    assert unit.value == {"n": 2, "meters": (entries[1], entries[0])}
    missing = Record({"n": 1, "indexes": (7,)})
    assert _is_denied(
        model.handle(parse_frame(messages.command(TERMINAL, Afn.QUERY_PARAM, [DataUnit(0, 10, missing)], 3)), NOW)
    )


def test_events_raise_acd_until_read_with_afn0e() -> None:
    model = _model(Scenario(history_start=HISTORY_START, unknown_meters=(UnknownMeter(NOW, "000000000777"),)))
    model.tick(NOW)
    model.power_restored(NOW - timedelta(hours=3), NOW - timedelta(hours=1))
    read = parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS1, [(1, 129)], 1))
    (frame,) = _frames(model.handle(read, NOW))
    assert frame.control.acd and frame.aux.ec == (1, 1)  # EC1: ERC14, EC2: ERC35
    (important,) = _units(model.handle(parse_frame(messages.event_request(TERMINAL, 1, 0, 1, 2)), NOW))
    assert isinstance(important.value, EventReport)
    (record,) = important.value.records
    assert record.erc == 14
    assert record.value == {
        "attribute": {"normal": 1, "valid": 1},
        "power_off": datetime(2025, 6, 9, 23, 0),
        "power_on": datetime(2025, 6, 10, 1, 0),
    }
    (normal,) = _units(model.handle(parse_frame(messages.event_request(TERMINAL, 2, 0, 1, 3)), NOW))
    assert isinstance(normal.value, EventReport)
    assert normal.value.records[0].erc == 35
    assert normal.value.records[0].value["meters"][0]["address"] == "000000000777"  # type: ignore[index]
    (frame,) = _frames(
        model.handle(parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS1, [(1, 129)], 4)), NOW)
    )
    assert not frame.control.acd and frame.aux.ec is None


def test_timed_report_after_midnight_is_a_con_push_of_yesterday() -> None:
    model = _model(Scenario(history_start=HISTORY_START, timed_report=True))
    before = datetime(2025, 6, 10, 15, 59, tzinfo=UTC)  # 23:59 local on 10 June
    model.tick(before)
    assert not model.outbox
    model.tick(before + timedelta(minutes=2))
    (push,) = model.outbox
    frame = parse_frame(model.push_frame(push, 7))
    assert (frame.raw[6], frame.seq.con, frame.seq.seq, frame.afn) == (0xC4, True, 7, Afn.REQUEST_CLASS2)
    units = decode_units(frame.afn, frame.data, Dir.UP)
    assert [(u.pn, u.value["td_d"]) for u in units] == [(pn, date(2025, 6, 10)) for pn in range(1, 5)]  # type: ignore[index]
    assert set(model.served_daily) == {(pn, date(2025, 6, 10)) for pn in range(1, 5)}
    model.push_confirmed(push)
    assert not model.outbox


def test_load_terminal_reports_the_sum_of_its_meters_power() -> None:
    model = _model(Scenario(load=True))
    answer = model.handle(
        parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS1, [(1, 17), (1, 25), (2, 25)], 1)), NOW
    )
    group, p1, p2 = _units(answer)
    powers = [meter_model(SEED, "4403", 12, pn).power_kw(NOW) for pn in range(1, 5)]
    total = sum(powers, Decimal(0))
    assert group.value["power"] == a2_value(total)  # type: ignore[index]
    assert abs(group.value["power"] - total) < total / 100  # type: ignore[index]
    assert abs(p1.value["p_total"] - powers[0]) < Decimal("0.0001")  # type: ignore[index]
    assert abs(p2.value["p_total"] - powers[1]) < Decimal("0.0001")  # type: ignore[index]


def test_a_drifting_clock_gains_per_day_until_synchronised_then_gains_again() -> None:
    model = _model(clock_drift=timedelta(seconds=10), drift_per_day=timedelta(seconds=4))
    local = datetime(2025, 6, 10, 2, 0)  # NOW in Shanghai
    assert model.clock(NOW) == local + timedelta(seconds=10)
    assert model.clock(NOW + timedelta(days=2)) == local + timedelta(days=2, seconds=18)
    synced_at = NOW + timedelta(days=2)
    sync = parse_frame(messages.time_sync(TERMINAL, local + timedelta(days=2), next(_PSEQ)))
    model.handle(sync, synced_at)
    assert model.time_syncs == [(timedelta(seconds=18), timedelta(0))]
    assert model.clock(synced_at + timedelta(hours=12)) == local + timedelta(days=2, hours=12, seconds=2)


def test_other_frozen_quantities_follow_the_active_register() -> None:
    model = _model()
    day = date(2025, 6, 5)
    units = {u.fn: u.value for u in _units(_history(model, [(1, fn, DailyTag(day)) for fn in (1, *range(161, 169))]))}
    assert sorted(units) == [1, *range(161, 169)]
    active, reactive = units[161]["values"], units[162]["values"]  # type: ignore[index]
    assert reactive[0] == sum(reactive[1:])
    assert Decimal("0.25") <= reactive[0] / active[0] <= Decimal("0.49")  # power factor 0.90…0.97
    assert units[165]["values"] == reactive  # type: ignore[index]  # 一象限 = 正向无功 for a consumer
    for fn in (163, 164, 166, 167, 168):
        assert units[fn]["values"] == (0,) * 5  # type: ignore[index]
    assert units[1]["forward_active"] == active  # type: ignore[index]
    assert units[1]["forward_reactive"] == units[1]["q1_reactive"] == reactive  # type: ignore[index]
    (next_day,) = _units(_history(model, [(1, 162, DailyTag(day + timedelta(days=1)))]))
    assert next_day.value["values"][0] > reactive[0]  # type: ignore[index]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([0x04, 0x05, 0x0A, 0x0C, 0x0D, 0x0E, 0x01, 0x10]),
    st.binary(max_size=40),
    st.integers(0, 15),
)
def test_any_request_body_gets_an_answer_that_parses(afn: int, data: bytes, pseq: int) -> None:
    model = _model()
    control = Control(Dir.DOWN, True, False, False, 11 if afn in (0x0C, 0x0D, 0x0E, 0x0A) else 10)
    raw = build_frame(control, TERMINAL, afn, Seq(False, True, True, False, pseq), data)
    try:
        request = parse_frame(raw)
    except ProtocolError:
        assume(False)  # not a frame (a body too short for its PW): nothing reaches the terminal
    answer = model.handle(request, NOW)
    assert answer
    for frame in _frames(answer):
        assert frame.afn in (afn, Afn.CONFIRM_DENY)
        assert frame.seq.seq == pseq or not frame.seq.fir
        decode_units(frame.afn, frame.data, Dir.UP)


def test_time_sync_without_a_clock_is_denied() -> None:
    model = _model(clock_drift=timedelta(seconds=30))
    unit = DataUnit(0, 31, Record({"clock": None}))
    answer = model.handle(parse_frame(messages.command(TERMINAL, Afn.CONTROL, [unit], next(_PSEQ))), NOW)
    assert _is_denied(answer)
    assert model.clock_drift == timedelta(seconds=30) and not model.time_syncs


def test_timed_report_waits_for_its_delay_after_midnight() -> None:
    model = _model(Scenario(timed_report=True, report_delay=timedelta(minutes=5)))
    midnight = datetime(2025, 6, 10, 16, 0, tzinfo=UTC)  # 00:00 local on 11 June
    model.tick(midnight - timedelta(minutes=1))
    model.tick(midnight + timedelta(minutes=4))
    assert not model.outbox
    model.tick(midnight + timedelta(minutes=6))
    (push,) = model.outbox
    units = decode_units(Afn.REQUEST_CLASS2, push.data, Dir.UP)
    assert {u.value["td_d"] for u in units} == {date(2025, 6, 10)}  # type: ignore[index]
    model.tick(midnight + timedelta(minutes=7))
    assert len(model.outbox) == 1  # once per day


def test_unknown_meters_are_logged_in_time_order_when_due() -> None:
    late = UnknownMeter(NOW + timedelta(hours=2), "000000000002")
    early = UnknownMeter(NOW + timedelta(hours=1), "000000000001")
    model = _model(Scenario(unknown_meters=(late, early)))
    model.tick(NOW)
    assert model.events.ec == [0, 0]
    model.tick(NOW + timedelta(minutes=90))
    model.tick(NOW + timedelta(minutes=100))
    assert model.events.ec == [0, 1]
    model.tick(NOW + timedelta(hours=3))
    report = model.events.report(1, 0, 2)
    assert [r.value["meters"][0]["address"] for r in report.records] == ["000000000001", "000000000002"]  # type: ignore[index]
    assert not model.events.pending  # ERC35 is a normal event: no ACD


def test_all_points_f161_answers_every_meter_that_has_the_day() -> None:
    model = _model(Scenario(history_start=HISTORY_START, lost={3: HISTORY_START}))
    raw = messages.history_request(TERMINAL, [(0xFFFF, 161, DailyTag(date(2025, 6, 2)))], next(_PSEQ))
    units = _units(model.handle(parse_frame(raw), NOW))
    assert [u.pn for u in units] == [1, 2, 4]
