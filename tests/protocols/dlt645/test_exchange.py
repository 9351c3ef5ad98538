"""Sans-IO multi-frame reads (DL/T 645-2007 §7.1/§7.2, 1997 01H/02H) and per-meter edition detection."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.dlt645.apdu import ErrorReply, ReadReply, build_data_reply, build_error_reply, load_profile_params
from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import lookup
from protocols.dlt645.exchange import MAX_FOLLOW_UPS, PROBES, DetectionState, EditionDetector, ReadExchange
from protocols.dlt645.formats import Scalar
from protocols.dlt645.link import WILDCARD, build_frame, parse_frame
from protocols.errors import DecodeError, Dlt645ErrorResponse, LocalProtocolError

from .strategies import chunked, meter_addresses

METER = "000000000001"
OTHER = "000000000002"


def hand(control: int, data: str, address: str = METER, preamble: int = 0) -> bytes:
    return build_frame(address, control, bytes.fromhex(data), preamble=preamble)


def test_single_frame_read() -> None:
    exchange = ReadExchange(METER, 0x00010000, preamble=0)
    assert exchange.request == hand(0x11, "00000100")
    assert not exchange.done
    assert exchange.receive(parse_frame(hand(0x91, "00000100 56341200"))) is None
    reply = exchange.result
    assert isinstance(reply, ReadReply)
    assert (reply.address, reply.di, [v.value for v in reply.values]) == (METER, 0x00010000, [Decimal("1234.56")])
    assert exchange.frames == (hand(0x91, "00000100 56341200"),)
    with pytest.raises(LocalProtocolError):
        _ = exchange.request


def test_follow_up_frames_are_requested_with_counting_seq_and_merged() -> None:
    # 0001FF00 with five values sent over three frames: B1H (2 values), B2H SEQ 1 (2 values), 92H SEQ 2 (1).
    exchange = ReadExchange(METER, 0x0001FF00, preamble=0)
    step = exchange.receive(parse_frame(hand(0xB1, "00FF0100 00001000 00000100")))
    assert step == hand(0x12, "00FF0100 01")  # 读后续数据: DI + SEQ 1
    assert exchange.seq == 1 and exchange.request == step
    step = exchange.receive(parse_frame(hand(0xB2, "00FF0100 00000200 00000300 01")))
    assert step == hand(0x12, "00FF0100 02")
    assert exchange.receive(parse_frame(hand(0x92, "00FF0100 00000400 02"))) is None
    reply = exchange.result
    assert isinstance(reply, ReadReply)
    assert [v.value for v in reply.values] == [Decimal(x) for x in ("1000.00", "100.00", "200.00", "300.00", "400.00")]
    assert reply.values[-1].name == "ENERGY_FORWARD_ACTIVE_T4"
    assert reply.raw_data == bytes.fromhex("00001000 00000100 00000200 00000300 00000400")
    assert len(exchange.frames) == 3


def test_1997_follow_up_has_no_seq() -> None:
    exchange = ReadExchange(METER, 0x901F, edition=Edition.V1997, preamble=0)
    assert exchange.request == hand(0x01, "1F90")
    assert exchange.receive(parse_frame(hand(0xA1, "1F90 00001000 00000100"))) == hand(0x02, "1F90")
    assert exchange.receive(parse_frame(hand(0x82, "1F90 00000200 00000300 00000400"))) is None
    reply = exchange.result
    assert isinstance(reply, ReadReply) and reply.edition is Edition.V1997
    assert [v.value for v in reply.values][-1] == Decimal("400.00")


def test_wildcard_request_follows_up_to_the_real_address() -> None:
    exchange = ReadExchange(WILDCARD, 0x0001FF00, preamble=0)
    assert exchange.request == hand(0x11, "00FF0100", WILDCARD)
    follow = exchange.receive(parse_frame(hand(0xB1, "00FF0100 00100000", METER)))
    assert follow == hand(0x12, "00FF0100 01", METER)
    # Now only that meter's replies are accepted.
    assert not exchange.accepts(parse_frame(hand(0x92, "00FF0100 00010000 01", OTHER)))


def test_abnormal_reply_ends_the_exchange() -> None:
    exchange = ReadExchange(METER, 0x02800002, preamble=0)
    assert exchange.receive(parse_frame(build_error_reply(METER, 0x11, 0x02))) is None
    result = exchange.result
    assert result == ErrorReply(METER, 0x11, 0x02)
    with pytest.raises(Dlt645ErrorResponse):
        result.check()


def test_accepts_only_the_awaited_reply() -> None:
    exchange = ReadExchange(METER, 0x00010000, preamble=0)
    assert not exchange.accepts(parse_frame(hand(0x91, "00000100 56341200", OTHER)))  # another meter
    assert not exchange.accepts(parse_frame(hand(0x11, "00000100")))  # our own request echoed
    assert not exchange.accepts(parse_frame(hand(0x92, "00000100 56341200 01")))  # a follow-up, not asked for
    assert not exchange.accepts(parse_frame(hand(0x81, "1090 56341200")))  # a 1997 reply
    assert exchange.accepts(parse_frame(hand(0xD1, "02")))
    with pytest.raises(DecodeError, match="not the awaited reply"):
        exchange.receive(parse_frame(hand(0x91, "00000100 56341200", OTHER)))


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        (["91 00000200 56341200"], "not for DI 00010000"),
        (["B1 00000100 56341200", "92 00000100 56341200 02"], "SEQ 2, not 1"),
        (["91 00000100 563412"], "00010000 ENERGY_FORWARD_ACTIVE_TOTAL: 3 bytes"),
        (["D1 0102"], "not one error word"),
        (["B1 00000100 56341200", "92 0000"], "not for DI"),
    ],
)
def test_refuses_wrong_replies(replies: list[str], error: str) -> None:
    exchange = ReadExchange(METER, 0x00010000, preamble=0)
    *good, bad = replies
    for reply in good:
        control, data = reply.split(" ", 1)
        exchange.receive(parse_frame(hand(int(control, 16), data)))
    control, data = bad.split(" ", 1)
    with pytest.raises(DecodeError, match=error):
        exchange.receive(parse_frame(hand(int(control, 16), data)))


def test_too_many_follow_ups() -> None:
    exchange = ReadExchange(METER, 0x0001FF00, preamble=0, max_follow_ups=2)
    exchange.receive(parse_frame(hand(0xB1, "00FF0100 00100000")))
    exchange.receive(parse_frame(hand(0xB2, "00FF0100 00100000 01")))
    with pytest.raises(DecodeError, match="more than 2 follow-up frames"):
        exchange.receive(parse_frame(hand(0xB2, "00FF0100 00100000 02")))
    assert MAX_FOLLOW_UPS >= 50


def test_result_before_the_end() -> None:
    with pytest.raises(LocalProtocolError):
        _ = ReadExchange(METER, 0x00010000).result


def test_load_profile_read_over_several_frames() -> None:
    # Two load records (表A.7) split across two frames: the value bytes are joined before decoding.
    item = lookup(0x06000001)
    values: list[Scalar | None] = [None] * 30
    values[0] = datetime(2024, 1, 5, 0, 15)
    values[1] = Decimal("220.1")
    second = list(values)
    second[0] = datetime(2024, 1, 5, 0, 30)
    data = item.encode(values + second)
    exchange = ReadExchange(METER, 0x06000001, params=load_profile_params(2, datetime(2024, 1, 5, 0, 15)), preamble=0)
    assert exchange.request == hand(0x11, "01000006 02 1500050124")
    cut = 13  # inside the first record
    first = build_data_reply(METER, 0x06000001, data[:cut], follow_up=True)
    assert exchange.receive(parse_frame(first)) == hand(0x12, "01000006 01")
    assert exchange.receive(parse_frame(build_data_reply(METER, 0x06000001, data[cut:], seq=1))) is None
    reply = exchange.result
    assert isinstance(reply, ReadReply)
    assert [v.value for v in reply.values] == values + second


@given(st.lists(st.integers(min_value=0, max_value=10**8 - 1), min_size=1, max_size=30), st.lists(st.integers()))
def test_any_split_into_frames_gives_the_same_values(cents: list[int], cuts: list[int]) -> None:
    values = [Decimal(c).scaleb(-2) for c in cents]
    data = lookup(0x0001FF00).encode(values)
    parts = chunked(data, cuts)
    exchange = ReadExchange(METER, 0x0001FF00, preamble=0)
    for seq, part in enumerate(parts):
        more = seq < len(parts) - 1
        reply = build_data_reply(METER, 0x0001FF00, part, follow_up=more, seq=seq or None)
        step = exchange.receive(parse_frame(reply))
        assert (step is not None) == more
    result = exchange.result
    assert isinstance(result, ReadReply)
    assert [v.value for v in result.values] == values


# ------------------------------------------------------------------------------------------- edition detection


def test_2007_meter_is_detected_on_the_first_probe() -> None:
    detector = EditionDetector(METER, preamble=0)
    assert detector.request == hand(0x11, "00000100")
    assert detector.probing is Edition.V2007
    assert detector.on_reply(parse_frame(hand(0x91, "00000100 56341200"))) is Edition.V2007
    assert (detector.state, detector.edition, detector.request) == (DetectionState.DETECTED, Edition.V2007, None)


def test_abnormal_2007_reply_still_decides_2007() -> None:
    detector = EditionDetector(METER, preamble=0)
    detector.on_reply(parse_frame(build_error_reply(METER, 0x11, 0x02)))
    assert detector.edition is Edition.V2007


def test_1997_meter_is_detected_after_a_silent_2007_probe() -> None:
    detector = EditionDetector(METER, preamble=0)
    assert detector.on_timeout() == hand(0x01, "1090")  # 1997 read of 9010
    assert detector.probing is Edition.V1997
    assert detector.on_reply(parse_frame(hand(0x81, "1090 00120000"))) is Edition.V1997
    assert detector.state is DetectionState.DETECTED


def test_1997_answer_to_the_2007_probe_decides_1997() -> None:
    detector = EditionDetector(METER, preamble=0)
    assert detector.on_reply(parse_frame(hand(0xC1, "01"))) is Edition.V1997


def test_silent_meter() -> None:
    detector = EditionDetector(METER, preamble=0)
    detector.on_timeout()
    assert detector.on_timeout() is None
    assert (detector.state, detector.edition, detector.request) == (DetectionState.SILENT, None, None)
    with pytest.raises(LocalProtocolError):
        detector.on_timeout()


def test_probe_order_is_configurable() -> None:
    detector = EditionDetector(METER, probes=tuple(reversed(PROBES)), preamble=0)
    assert detector.request == hand(0x01, "1090")
    with pytest.raises(LocalProtocolError):
        EditionDetector(METER, probes=())


def test_detector_ignores_other_frames() -> None:
    detector = EditionDetector(METER, preamble=0)
    assert not detector.accepts(parse_frame(hand(0x91, "00000100 56341200", OTHER)))
    assert not detector.accepts(parse_frame(hand(0x93, "010000000000")))
    assert not detector.accepts(parse_frame(hand(0x11, "00000100")))
    with pytest.raises(DecodeError):
        detector.on_reply(parse_frame(hand(0x9C, "")))
    detector.on_reply(parse_frame(hand(0x91, "00000100 56341200")))
    assert not detector.accepts(parse_frame(hand(0x91, "00000100 56341200")))  # decided: nothing more


@given(meter_addresses, st.lists(st.booleans(), max_size=3), st.sampled_from(list(Edition)))
def test_detector_decides_the_edition_that_answers(address: str, silences: list[bool], speaks: Edition) -> None:
    """A meter that answers only its own edition is detected as that edition, whatever the probes' order."""
    order = PROBES if silences and silences[0] else tuple(reversed(PROBES))
    detector = EditionDetector(address, probes=order)
    while (request := detector.request) is not None:
        frame = parse_frame(request)
        asked = Edition.V2007 if frame.function == 0x11 else Edition.V1997
        if asked is speaks:
            di = frame.data[: 4 if speaks is Edition.V2007 else 2]
            control = 0x91 if speaks is Edition.V2007 else 0x81
            detector.on_reply(parse_frame(build_frame(address, control, di + b"\x00\x00\x00\x00")))
        else:
            detector.on_timeout()
    assert detector.edition is speaks
