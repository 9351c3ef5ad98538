"""Tp 时间标签 checked against a clock passed in, and PFC (Q/GDW 376.1 §4.3.4.6.3, §4.3.4.5; timelabel.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import LocalProtocolError
from protocols.gdw376.link import TimeLabel, parse_frame
from protocols.gdw376.timelabel import (
    Pfc,
    TpStatus,
    check_frame,
    check_tp,
    make_tp,
    pfc_matches_seq,
    response_tp,
    sent_at,
)

from .samples import framed

NOW = datetime(2024, 5, 1, 8, 0, 30)


@pytest.mark.parametrize(
    ("tp", "now", "status", "age"),
    [
        # PFC, ss mm hh DD, delay (min)                       receiver's clock
        (TimeLabel(1, 0, 0, 8, 1, 5), NOW, TpStatus.OK, timedelta(seconds=30)),
        (TimeLabel(1, 30, 55, 7, 1, 5), NOW, TpStatus.OK, timedelta(minutes=5)),  # exactly the delay: still ok
        (TimeLabel(1, 29, 55, 7, 1, 5), NOW, TpStatus.EXPIRED, timedelta(minutes=5, seconds=1)),
        (TimeLabel(1, 0, 0, 6, 1, 0), NOW, TpStatus.UNCHECKED, timedelta(hours=2, seconds=30)),  # delay 0
        (TimeLabel(1, 0, 2, 8, 1, 1), NOW, TpStatus.OK, timedelta(seconds=-90)),  # sender's clock ahead
        # sent 23:59:00 on 30 April, received 00:01:00 on 1 May: the month is the previous one
        (TimeLabel(1, 0, 59, 23, 30, 1), datetime(2024, 5, 1, 0, 1), TpStatus.EXPIRED, timedelta(minutes=2)),
        (TimeLabel(1, 0, 59, 23, 30, 3), datetime(2024, 5, 1, 0, 1), TpStatus.OK, timedelta(minutes=2)),
        # over New Year
        (TimeLabel(1, 50, 59, 23, 31, 1), datetime(2025, 1, 1, 0, 0, 10), TpStatus.OK, timedelta(seconds=20)),
        # receiver on the last day, sender already on the 1st (its clock ahead): next month
        (TimeLabel(1, 5, 0, 0, 1, 1), datetime(2024, 2, 29, 23, 59, 55), TpStatus.OK, timedelta(seconds=-10)),
    ],
)
def test_check_tp_table(tp: TimeLabel, now: datetime, status: TpStatus, age: timedelta) -> None:
    verdict = check_tp(tp, now)
    assert verdict.status is status
    assert verdict.age == age
    assert verdict.ok is (status is not TpStatus.EXPIRED)


@pytest.mark.parametrize(
    "tp", [TimeLabel(1, 0, 0, 25, 1, 5), TimeLabel(1, 0, 61, 8, 1, 5), TimeLabel(1, 0, 0, 8, 0, 5)]
)
def test_impossible_send_time_is_invalid(tp: TimeLabel) -> None:
    verdict = check_tp(tp, NOW)
    assert verdict.status is TpStatus.INVALID and not verdict.ok and verdict.sent is None


def test_day_31_received_in_a_30_day_month() -> None:
    # 31 exists in the previous month (March) only
    assert sent_at(TimeLabel(0, 0, 0, 12, 31, 0), datetime(2024, 4, 2)) == datetime(2024, 3, 31, 12)


def test_aware_clock_keeps_its_zone() -> None:
    cst = timezone(timedelta(hours=8))
    now = datetime(2024, 5, 1, 8, 0, 30, tzinfo=cst)
    assert check_tp(TimeLabel(1, 0, 0, 8, 1, 5), now).sent == datetime(2024, 5, 1, 8, 0, 0, tzinfo=cst)


def test_check_frame() -> None:
    # AFN0C F2 request with Tp: PFC 0x21, 08:00:00 on day 1, 5 minutes; SEQ E1 = TpV FIR FIN, PSEQ 1
    with_tp = parse_frame(framed("4B 0344 0C00 04 0C E1 0000 0200 21 00 00 08 01 05"))
    assert check_frame(with_tp, NOW).status is TpStatus.OK
    assert check_frame(with_tp, NOW + timedelta(minutes=10)).status is TpStatus.EXPIRED
    without = parse_frame(framed("4B 0344 0C00 04 0C 61 0000 0200"))
    assert check_frame(without, NOW).status is TpStatus.UNCHECKED
    assert pfc_matches_seq(with_tp)  # 0x21 & 0x0F = 1 = PSEQ
    assert not pfc_matches_seq(parse_frame(framed("4B 0344 0C00 04 0C E2 0000 0200 21 00 00 08 01 05")))
    # a response keeps the request's PFC while its RSEQ counts frames
    assert pfc_matches_seq(parse_frame(framed("88 0344 0C00 04 0C A5 0000 0200 300008016524 21 00 00 08 01 05")))


def test_make_and_response_tp() -> None:
    tp = make_tp(0x121, NOW, 5)
    assert tp.to_bytes() == bytes.fromhex("21 30 00 08 01 05")
    answer = response_tp(tp, datetime(2024, 5, 1, 8, 1, 2))
    assert answer.to_bytes() == bytes.fromhex("21 02 01 08 01 05")


def test_pfc_counter() -> None:
    pfc = Pfc(254)
    assert [pfc.next(), pfc.next(), pfc.next()] == [255, 0, 1]
    assert pfc.pseq == 1
    pfc = Pfc(0x1E)
    pfc.next()
    assert (pfc.value, pfc.pseq) == (0x1F, 0x0F)
    with pytest.raises(LocalProtocolError):
        Pfc(256)


@given(
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31)),
    st.integers(-3600 * 24 * 10, 3600 * 24 * 10),
    st.integers(1, 255),
)
def test_age_is_recovered_within_a_few_days(now: datetime, seconds: int, delay: int) -> None:
    now = now.replace(microsecond=0)
    sent = now - timedelta(seconds=seconds)
    verdict = check_tp(make_tp(7, sent, delay), now)
    assert verdict.sent == sent
    assert verdict.status is (TpStatus.EXPIRED if seconds > delay * 60 else TpStatus.OK)
