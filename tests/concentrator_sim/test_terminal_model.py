"""TerminalModel: requests built with protocols.gdw376.messages in, frames out, decoded with protocols/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from concentrator_sim.model import Failure, TerminalModel, expected_indication
from protocols.gdw376 import messages
from protocols.gdw376.link import Address, Afn, Dir, LinkFrame, TimeLabel, parse_frame
from protocols.gdw376.units import (
    ConfirmList,
    DataUnit,
    EnergyIndication,
    Heartbeat,
    TerminalClock,
    decode_units,
)

TERMINAL = Address("4403", 12)
SEED = 5
# 2025-06-01 04:05:59Z = 12:05:59 in Shanghai
NOW = datetime(2025, 6, 1, 4, 5, 59, tzinfo=UTC)
LOCAL_MINUTE = datetime(2025, 6, 1, 12, 5)


def _model(meters: range = range(1, 9), **kwargs: object) -> TerminalModel:
    return TerminalModel(TERMINAL, meters, seed=SEED, **kwargs)  # type: ignore[arg-type]


def _request(items: list[tuple[int, int]], pseq: int = 1, *, address: Address = TERMINAL, **kw: object) -> LinkFrame:
    return parse_frame(messages.read_request(address.with_msa(3), Afn.REQUEST_CLASS1, items, pseq, **kw))  # type: ignore[arg-type]


def _units(frames: list[bytes]) -> list[DataUnit]:
    units: list[DataUnit] = []
    for raw in frames:
        frame = parse_frame(raw)
        units.extend(decode_units(frame.afn, frame.data, frame.dir))
    return units


def test_f129_for_eight_points_decodes_to_the_expected_indications() -> None:
    model = _model()
    frames = model.handle(_request([(pn, 129) for pn in range(1, 9)]), NOW)
    assert len(frames) == 1
    frame = parse_frame(frames[0])
    assert frame.raw[6] == 0x88  # C: DIR=1 PRM=0 FC=8 用户数据
    assert frame.afn == Afn.REQUEST_CLASS1
    assert frame.address == TERMINAL.with_msa(3)  # MSA echoed
    assert (frame.seq.fir, frame.seq.fin, frame.seq.seq) == (True, True, 1)
    units = decode_units(frame.afn, frame.data, Dir.UP)
    assert [(u.pn, u.fn) for u in units] == [(pn, 129) for pn in range(1, 9)]
    for unit in units:
        assert isinstance(unit.value, EnergyIndication)
        assert unit.value.read_time == LOCAL_MINUTE
        assert unit.value == expected_indication(SEED, "4403", 12, unit.pn, LOCAL_MINUTE)
    assert model.counters.readings == 8
    assert [(s.pn, s.read_time) for s in model.served] == [(pn, LOCAL_MINUTE) for pn in range(1, 9)]


@given(st.lists(st.tuples(st.integers(1, 24), st.sampled_from([2, 129])), min_size=1, max_size=30))
def test_any_mix_of_points_and_fn_is_answered_in_order(items: list[tuple[int, int]]) -> None:
    """Several identifiers, several pn per identifier: every known (pn, 129) is answered, p0 F2 only for
    pn 0, in the standard's order (points outer, Fn inner, identifiers in sequence)."""
    model = _model(range(1, 17))
    request = _request(items)
    asked = decode_units(Afn.REQUEST_CLASS1, request.data, Dir.DOWN)
    frames = model.handle(request, NOW)
    answerable = [(u.pn, u.fn) for u in asked if u.fn == 129 and u.pn <= 16]
    if not answerable:
        assert [parse_frame(f).afn for f in frames] == [Afn.CONFIRM_DENY]
        return
    assert [(u.pn, u.fn) for u in _units(frames)] == answerable


def test_terminal_clock_with_drift() -> None:
    model = _model(clock_drift=timedelta(seconds=-90))
    (unit,) = _units(model.handle(_request([(0, 2)]), NOW))
    # 12:05:59 local minus 90 s
    assert unit == DataUnit(0, 2, TerminalClock(datetime(2025, 6, 1, 12, 4, 29)))


def test_drifted_clock_stamps_the_readings() -> None:
    model = _model(clock_drift=timedelta(minutes=10))
    (unit,) = _units(model.handle(_request([(1, 129)]), NOW))
    assert isinstance(unit.value, EnergyIndication)
    assert unit.value.read_time == datetime(2025, 6, 1, 12, 15)
    assert unit.value == expected_indication(SEED, "4403", 12, 1, datetime(2025, 6, 1, 12, 15))


def test_clock_and_energy_in_one_request() -> None:
    units = _units(_model().handle(_request([(0, 2), (1, 129), (9, 129), (2, 129)]), NOW))
    # p9 does not exist on this terminal: the other items are answered, p9 left out
    assert [(u.pn, u.fn) for u in units] == [(0, 2), (1, 129), (2, 129)]


def test_all_points_fill_several_frames() -> None:
    model = _model(range(1, 41))
    frames = [parse_frame(f) for f in model.handle(_request([(0xFFFF, 129)], pseq=14), NOW)]
    assert len(frames) >= 2
    assert [(f.seq.fir, f.seq.fin) for f in frames] == [(i == 0, i == len(frames) - 1) for i in range(len(frames))]
    assert [f.seq.seq for f in frames] == [(14 + i) % 16 for i in range(len(frames))]  # RSEQ + 1 per frame
    assert all(len(f.raw) - 8 <= model.max_user_data + 16 for f in frames)
    units = [u for f in frames for u in decode_units(f.afn, f.data, f.dir)]
    assert [u.pn for u in units] == list(range(1, 41))


def test_unknown_point_is_denied_with_f2() -> None:
    model = _model()
    (raw,) = model.handle(_request([(9, 129), (10, 129)]), NOW)
    frame = parse_frame(raw)
    assert frame.raw[6] == 0x89  # DIR=1 PRM=0 FC=9 否认：无所召唤的数据
    assert frame.afn == Afn.CONFIRM_DENY
    assert frame.seq.seq == 1
    assert decode_units(frame.afn, frame.data, frame.dir) == [DataUnit(0, 2)]
    assert model.counters.denied == 1


def test_unknown_fn_is_denied_per_item_with_f3() -> None:
    model = _model(deny_with="f3")
    (raw,) = model.handle(_request([(1, 25), (2, 25), (0, 3)]), NOW)
    frame = parse_frame(raw)
    assert frame.afn == Afn.CONFIRM_DENY
    (unit,) = decode_units(frame.afn, frame.data, frame.dir)
    assert unit.fn == 3
    assert isinstance(unit.value, ConfirmList)
    assert unit.value.afn == Afn.REQUEST_CLASS1
    assert [(i.pn, i.fn) for i in unit.value.items] == [(0, 3), (1, 25), (2, 25)]
    assert all(i.err != 0 for i in unit.value.items)


def test_unsupported_afn_is_denied() -> None:
    request = parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS2, [(1, 161)], 4))
    (raw,) = _model().handle(request, NOW)
    frame = parse_frame(raw)
    assert (frame.afn, frame.seq.seq) == (Afn.CONFIRM_DENY, 4)
    assert decode_units(frame.afn, frame.data, frame.dir) == [DataUnit(0, 2)]


def test_failing_meters() -> None:
    model = _model(failing_pns={2: Failure.NO_VALUE, 3: Failure.DENY})
    units = _units(model.handle(_request([(1, 129), (2, 129), (3, 129)]), NOW))
    assert [u.pn for u in units] == [1, 2]
    no_value = units[1].value
    assert no_value == EnergyIndication(LOCAL_MINUTE, None, (None, None, None, None))
    assert (model.counters.readings, model.counters.no_value) == (1, 1)
    (raw,) = model.handle(_request([(3, 129)], pseq=2), NOW)
    assert parse_frame(raw).afn == Afn.CONFIRM_DENY


def test_same_pseq_resends_without_re_executing() -> None:
    model = _model()
    request = _request([(1, 129), (2, 129)], pseq=7)
    first = model.handle(request, NOW)
    # an hour later the meters have moved on; a duplicate must still get the old answer
    again = model.handle(request, NOW + timedelta(hours=1))
    assert again == first
    assert (model.counters.requests, model.counters.duplicates, len(model.served)) == (1, 1, 2)
    fresh = model.handle(_request([(1, 129), (2, 129)], pseq=8), NOW + timedelta(hours=1))
    assert fresh != first
    assert (model.counters.requests, len(model.served)) == (2, 4)


def test_duplicate_memory_is_per_link() -> None:
    model = _model()
    request = _request([(1, 129)], pseq=7)
    first = model.handle(request, NOW)
    model.reset_link()
    assert model.handle(request, NOW + timedelta(hours=1)) != first
    assert model.counters.duplicates == 0


def test_tp_pfc_distinguishes_requests_with_the_same_pseq() -> None:
    model = _model()
    tp1 = TimeLabel(pfc=0x17, second=0, minute=5, hour=12, day=1, delay_min=0)
    tp2 = TimeLabel(pfc=0x27, second=0, minute=5, hour=13, day=1, delay_min=0)
    model.handle(_request([(1, 129)], pseq=7, tp=tp1), NOW)
    answer = model.handle(_request([(1, 129)], pseq=7, tp=tp2), NOW + timedelta(hours=1))
    assert model.counters.duplicates == 0
    assert parse_frame(answer[0]).aux.tp == tp2  # Tp copied from the request


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(_request([(1, 129)], address=Address("4403", 13)), id="other-terminal"),
        pytest.param(_request([(1, 129)], address=Address("4404", 12)), id="other-a1"),
        pytest.param(_request([(1, 129)], address=Address.broadcast("4403")), id="broadcast"),
        pytest.param(parse_frame(messages.link_check(TERMINAL, 1, 3)), id="uplink"),
    ],
)
def test_frames_not_for_this_terminal_are_ignored(frame: LinkFrame) -> None:
    model = _model()
    assert model.handle(frame, NOW) == []
    assert model.counters.ignored == 1


def test_confirms_from_the_master_are_not_requests() -> None:
    login = parse_frame(messages.link_check(TERMINAL, 1, 3))
    confirm = parse_frame(messages.confirm(login))
    assert _model().handle(confirm, NOW) == []


@pytest.mark.parametrize(("version", "clock"), [("2013", datetime(2025, 6, 1, 12, 5, 59)), ("2009", None)])
def test_heartbeat_clock_by_version(version: str, clock: datetime | None) -> None:
    model = _model(version=version)
    frame = parse_frame(model.link_check(3, 9, NOW))
    assert frame.raw[6] == 0xC9
    assert (frame.seq.con, frame.seq.seq) == (True, 9)
    assert decode_units(frame.afn, frame.data, frame.dir) == [DataUnit(0, 3, Heartbeat(clock))]


def test_login_has_no_clock() -> None:
    frame = parse_frame(_model().link_check(1, 0, NOW))
    assert frame.address == TERMINAL
    assert decode_units(frame.afn, frame.data, frame.dir) == [DataUnit(0, 1)]
