"""DL/T 645 commands other than reads (DL/T 645-2007 §7.3–§7.12, 1CH of the smart-meter supplement; 1997 §4.2.3).

Each expected DATA is written by hand from the layouts in :mod:`protocols.dlt645.commands` (33H is added by the
link layer, whose own tests pin it against hand-added checksums), so a builder is compared with
``build_frame(address, C, <hand-written DATA>)``.
"""

from __future__ import annotations

from datetime import datetime, time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from protocols.dlt645.apdu import (
    Ack,
    BaudRateAck,
    PasswordAck,
    ReadFollowRequest,
    ReadReply,
    ReadRequest,
    RereadRequest,
    build_data_reply,
    build_load_profile_read,
    build_read_follow,
    build_reread,
    load_profile_params,
    parse_any_request,
    parse_load_profile_params,
    parse_reply,
)
from protocols.dlt645.commands import (
    ALL_EVENTS,
    BAUD_RATES,
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
    baud_from_word,
    baud_word,
    build_ack,
    build_baud_reply,
    build_broadcast_time,
    build_change_baud,
    build_change_password,
    build_clear_demand,
    build_clear_events,
    build_clear_meter,
    build_control,
    build_freeze,
    build_password_reply,
    build_write,
    build_write_address,
    parse_command,
    password_di,
)
from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import DataItem
from protocols.dlt645.formats import Scalar
from protocols.dlt645.link import BROADCAST, WILDCARD, build_frame, parse_frame
from protocols.errors import DecodeError, LocalProtocolError, ProtocolError

from .strategies import clock_times, item_values, meter_addresses

METER = "000000000001"
PW = Password(2, "123456")  # wire: 02 56 34 12
OP = "00000001"  # wire: 01 00 00 00


def hand(control: int, data: str, address: str = METER) -> bytes:
    return build_frame(address, control, bytes.fromhex(data))


@pytest.mark.parametrize(
    ("built", "expected", "parsed"),
    [
        pytest.param(
            build_broadcast_time(datetime(2024, 1, 5, 12, 30, 45), preamble=0),
            hand(0x08, "45 30 12 05 01 24", BROADCAST),  # ss mm hh DD MM YY
            BroadcastTimeRequest(BROADCAST, datetime(2024, 1, 5, 12, 30, 45)),
            id="08H broadcast time",
        ),
        pytest.param(
            build_write(METER, 0x04000102, [time(12, 34, 56)], password=PW, operator=OP, preamble=0),
            hand(0x14, "02010004 02563412 01000000 563412"),  # DI, PA P0P1P2, C0..C3, hhmmss
            WriteRequest(METER, 0x04000102, PW, OP, bytes.fromhex("563412")),
            id="14H write time",
        ),
        pytest.param(
            build_write_address("000000000002", preamble=0),
            hand(0x15, "020000000000", WILDCARD),
            WriteAddressRequest(WILDCARD, "000000000002"),
            id="15H write address",
        ),
        pytest.param(
            build_freeze(BROADCAST, FreezeTime(hour=0, minute=0), preamble=0),
            hand(0x16, "00 00 99 99", BROADCAST),  # mm hh DD MM: daily at 00:00
            FreezeRequest(BROADCAST, FreezeTime(None, None, 0, 0)),
            id="16H daily freeze",
        ),
        pytest.param(
            build_freeze(METER, FreezeTime(), preamble=0),
            hand(0x16, "99 99 99 99"),
            FreezeRequest(METER, FreezeTime()),
            id="16H immediate freeze",
        ),
        pytest.param(
            build_change_baud(METER, 9600, preamble=0),
            hand(0x17, "20"),  # D5
            ChangeBaudRequest(METER, 9600),
            id="17H 9600",
        ),
        pytest.param(
            build_change_password(METER, Password(4, "000000"), PW, preamble=0),
            hand(0x18, "030C0004 04000000 02563412"),  # DI 04000C03 (level 2), old, new
            ChangePasswordRequest(METER, 0x04000C03, Password(4, "000000"), PW),
            id="18H password",
        ),
        pytest.param(
            build_clear_demand(METER, password=PW, operator="12345678", preamble=0),
            hand(0x19, "02563412 78563412"),
            ClearDemandRequest(METER, PW, "12345678"),
            id="19H demand reset",
        ),
        pytest.param(
            build_clear_meter(METER, password=PW, operator=OP, preamble=0),
            hand(0x1A, "02563412 01000000"),
            ClearMeterRequest(METER, PW, OP),
            id="1AH meter reset",
        ),
        pytest.param(
            build_clear_events(METER, password=PW, operator=OP, preamble=0),
            hand(0x1B, "02563412 01000000 FFFFFFFF"),
            ClearEventsRequest(METER, PW, OP, ALL_EVENTS),
            id="1BH all events",
        ),
        pytest.param(
            build_clear_events(METER, 0x03300D00, password=PW, operator=OP, preamble=0),
            hand(0x1B, "02563412 01000000 000D3003"),
            ClearEventsRequest(METER, PW, OP, 0x03300D00),
            id="1BH cover-open events",
        ),
        pytest.param(
            # As in a real trip: PA 02, operator 00000001, valid until 2099-12-30 00:00:00.
            build_control(
                METER,
                ControlAction.TRIP,
                datetime(2099, 12, 30),
                password=Password(2, "000000"),
                operator=OP,
                preamble=0,
            ),
            hand(0x1C, "02000000 01000000 1A 00 00 00 00 30 12 99"),
            ControlRequest(METER, Password(2, "000000"), OP, ControlAction.TRIP, datetime(2099, 12, 30)),
            id="1CH trip",
        ),
        pytest.param(
            build_control(
                METER, ControlAction.KEEP_POWER, datetime(2024, 6, 1, 8), password=PW, operator=OP, preamble=0
            ),
            hand(0x1C, "02563412 01000000 3A 00 00 00 08 01 06 24"),
            ControlRequest(METER, PW, OP, ControlAction.KEEP_POWER, datetime(2024, 6, 1, 8)),
            id="1CH keep power",
        ),
        pytest.param(
            build_write(
                METER, 0xC011, [time(8, 0, 0)], password=Password(0, "000000"), edition=Edition.V1997, preamble=0
            ),
            hand(0x04, "11C0 00000000 000008"),  # 1997: DI(2), PA P0P1P2, value; no operator code
            WriteRequest(METER, 0xC011, Password(0, "000000"), None, bytes.fromhex("000008"), Edition.V1997),
            id="1997 04H write",
        ),
        pytest.param(
            build_write_address("000000000002", address=BROADCAST, edition=Edition.V1997, preamble=0),
            hand(0x0A, "020000000000", BROADCAST),
            WriteAddressRequest(BROADCAST, "000000000002", Edition.V1997),
            id="1997 0AH write address",
        ),
        pytest.param(
            build_change_baud(METER, 1200, edition=Edition.V1997, preamble=0),
            hand(0x0C, "04"),
            ChangeBaudRequest(METER, 1200, Edition.V1997),
            id="1997 0CH 1200",
        ),
        pytest.param(
            build_change_password(METER, Password(0, "000000"), PW, edition=Edition.V1997, preamble=0),
            hand(0x0F, "00000000 02563412"),
            ChangePasswordRequest(METER, None, Password(0, "000000"), PW, Edition.V1997),
            id="1997 0FH password",
        ),
        pytest.param(
            build_clear_demand(METER, password=None, edition=Edition.V1997, preamble=0),
            hand(0x10, ""),
            ClearDemandRequest(METER, None, None, Edition.V1997),
            id="1997 10H, no password",
        ),
        pytest.param(
            build_clear_demand(METER, password=PW, edition=Edition.V1997, preamble=0),
            hand(0x10, "02563412"),
            ClearDemandRequest(METER, PW, None, Edition.V1997),
            id="1997 10H with password",
        ),
    ],
)
def test_command_hand_written(built: bytes, expected: bytes, parsed: object) -> None:
    assert built == expected
    assert parse_command(parse_frame(built)) == parsed
    assert parse_any_request(parse_frame(built)) == parsed


def test_write_request_decodes_its_values() -> None:
    request = parse_command(parse_frame(hand(0x14, "02010004 02563412 01000000 563412")))
    assert isinstance(request, WriteRequest)
    assert request.values() == (time(12, 34, 56),)


def test_write_raw_bytes() -> None:
    assert build_write(METER, 0x07000000, b"\x01", password=PW, preamble=0) == hand(
        0x14, "00000007 02563412 00000000 01"
    )


@pytest.mark.parametrize(
    ("built", "expected", "reply"),
    [
        (build_ack(METER, 0x1C), hand(0x9C, ""), Ack(METER, 0x1C)),
        (build_ack(METER, 0x14), hand(0x94, ""), Ack(METER, 0x14)),
        (build_ack(METER, 0x04), hand(0x84, ""), Ack(METER, 0x04)),  # 1997 write
        (build_baud_reply(METER, 2400), hand(0x97, "08"), BaudRateAck(METER, 0x17, 2400)),
        (build_baud_reply(METER, 4800, edition=Edition.V1997), hand(0x8C, "10"), BaudRateAck(METER, 0x0C, 4800)),
        (build_password_reply(METER, PW), hand(0x98, "02563412"), PasswordAck(METER, 0x18, PW)),
        (
            build_password_reply(METER, PW, edition=Edition.V1997),
            hand(0x8F, "02563412"),
            PasswordAck(METER, 0x0F, PW),
        ),
    ],
)
def test_replies(built: bytes, expected: bytes, reply: Ack) -> None:
    assert built == expected
    parsed = parse_reply(parse_frame(built))
    assert parsed == reply
    assert isinstance(parsed, Ack)


@pytest.mark.parametrize(
    ("built", "expected", "parsed"),
    [
        (
            build_read_follow(METER, 0x06000001, 1, preamble=0),
            hand(0x12, "01000006 01"),  # DI + SEQ 1
            ReadFollowRequest(METER, 0x06000001, 1),
        ),
        (
            build_read_follow(METER, 0x901F, None, edition=Edition.V1997, preamble=0),
            hand(0x02, "1F90"),
            ReadFollowRequest(METER, 0x901F, None, Edition.V1997),
        ),
        (build_reread(METER, preamble=0), hand(0x03, ""), RereadRequest(METER)),
        (
            build_load_profile_read(METER, 0x06000001, 4, datetime(2024, 1, 5, 12, 15), preamble=0),
            hand(0x11, "01000006 04 1512050124"),  # N = 4, mm hh DD MM YY
            ReadRequest(METER, 0x06000001, bytes.fromhex("04 1512050124")),
        ),
        (
            build_load_profile_read(METER, 0x06000002, 12, preamble=0),
            hand(0x11, "02000006 12"),  # the latest 12 blocks, N is BCD
            ReadRequest(METER, 0x06000002, bytes.fromhex("12")),
        ),
    ],
)
def test_read_side_requests(built: bytes, expected: bytes, parsed: object) -> None:
    assert built == expected
    assert parse_any_request(parse_frame(built)) == parsed


def test_load_profile_params_round_trip() -> None:
    assert parse_load_profile_params(load_profile_params(4, datetime(2024, 1, 5, 12, 15))) == (
        4,
        datetime(2024, 1, 5, 12, 15),
    )
    assert parse_load_profile_params(load_profile_params(99)) == (99, None)
    with pytest.raises(DecodeError):
        parse_load_profile_params(b"\x01\x02")
    with pytest.raises(DecodeError):
        parse_load_profile_params(bytes.fromhex("01 0000000000"))  # empty start time


def test_follow_up_reply_with_seq() -> None:
    # 92H / B2H: DI + values + SEQ (DL/T 645-2007 §7.2).
    built = build_data_reply(METER, 0x00010000, bytes.fromhex("56341200"), seq=2, follow_up=True)
    assert built == hand(0xB2, "00000100 56341200 02")
    reply = parse_reply(parse_frame(built))
    assert isinstance(reply, ReadReply)
    assert (reply.seq, reply.has_follow_up, reply.raw_data) == (2, True, bytes.fromhex("56341200"))


@pytest.mark.parametrize(
    ("control", "data", "error"),
    [
        (0x9C, "", "is a reply"),
        (0x1F, "", "no decoder"),
        (0x11, "00000100", "no decoder"),  # reads are apdu's
        (0x08, "45301205", "not 6"),
        (0x08, "453012320124", "not a valid date"),  # 2024-01-32
        (0x08, "000000000000", "not a date and time"),
        (0x14, "02010004 02563412", "not 12"),
        (0x15, "0200", "not 6"),
        (0x16, "00009999 00", "not 4"),
        (0x16, "0A009999", "not BCD"),
        (0x17, "03", "does not select one baud rate"),
        (0x17, "80", "does not select one baud rate"),
        (0x18, "030C0004 04000000", "not 12"),
        (0x19, "02563412", "not 8"),
        (0x1B, "02563412 01000000", "not 12"),
        (0x1C, "02000000 01000000 55 00 000000301299", "N1 = 55H is not defined"),
        (0x1C, "02000000 01000000 1A 00 0000003012", "not 16"),
        (0x04, "11C000", "not 6"),
        (0x0F, "00000000", "not 8"),
        (0x10, "00", "not 4"),
    ],
)
def test_parse_command_refuses(control: int, data: str, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        parse_command(parse_frame(hand(control, data)))


@pytest.mark.parametrize(
    ("control", "data", "error"),
    [(0x12, "00000100", "not DI \\+ SEQ"), (0x02, "1F", "not a DI"), (0x91, "00000100", "is a reply")],
)
def test_parse_any_request_refuses(control: int, data: str, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        parse_any_request(parse_frame(hand(control, data)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: Password(256).to_wire(),
        lambda: Password(2, "12345").to_wire(),
        lambda: Password(2, "xyz123").to_wire(),
        lambda: build_clear_meter(METER, password=PW, operator="123"),
        lambda: build_clear_meter(METER, password=PW, operator="GGGGGGGG"),
        lambda: build_change_baud(METER, 300),
        lambda: build_freeze(METER, FreezeTime(minute=60)),
        lambda: build_freeze(METER, FreezeTime(month=13)),
        lambda: build_clear_demand(METER, password=None),
        lambda: build_write_address("AA0000000001"),
        lambda: build_write(METER, 0x1_0000_0000, b"", password=PW),
        lambda: password_di(10),
        lambda: build_read_follow(METER, 0x00010000, None),
        lambda: build_read_follow(METER, 0x00010000, 256),
        lambda: build_data_reply(METER, 0x9010, b"", seq=1, edition=Edition.V1997),
        lambda: load_profile_params(0),
        lambda: load_profile_params(100),
        lambda: build_broadcast_time(datetime(1999, 12, 31)),
    ],
)
def test_builders_refuse(call: object) -> None:
    with pytest.raises(LocalProtocolError):
        call()  # type: ignore[operator]


def test_baud_words() -> None:
    # 通信速率特征字: D1 600, D2 1200, D3 2400, D4 4800, D5 9600, D6 19200.
    assert {rate: baud_word(rate) for rate in BAUD_RATES.values()} == {
        600: 0x02,
        1200: 0x04,
        2400: 0x08,
        4800: 0x10,
        9600: 0x20,
        19200: 0x40,
    }
    for word in (0x00, 0x01, 0x80, 0x0C, 0xFF):
        with pytest.raises(DecodeError):
            baud_from_word(word)


def test_control_actions_are_the_supplement_codes() -> None:
    assert {a.name: a.value for a in ControlAction} == {
        "TRIP": 0x1A,
        "ALLOW_CLOSE": 0x1B,
        "CLOSE": 0x1C,
        "ALARM": 0x2A,
        "ALARM_RELEASE": 0x2B,
        "KEEP_POWER": 0x3A,
        "KEEP_POWER_RELEASE": 0x3B,
    }


# -------------------------------------------------------------------------------------------------- properties

passwords = st.builds(Password, st.integers(0, 0xFF), st.text(alphabet="0123456789ABCDEF", min_size=6, max_size=6))
operators = st.text(alphabet="0123456789ABCDEF", min_size=8, max_size=8)
optional = st.one_of(st.none(), st.integers(0, 59))
freeze_times = st.builds(
    FreezeTime,
    month=st.one_of(st.none(), st.integers(1, 12)),
    day=st.one_of(st.none(), st.integers(1, 31)),
    hour=st.one_of(st.none(), st.integers(0, 23)),
    minute=optional,
)


@given(meter_addresses, passwords, operators, st.sampled_from(list(ControlAction)), clock_times)
def test_control_round_trip(
    address: str, password: Password, operator: str, action: ControlAction, until: datetime
) -> None:
    raw = build_control(address, action, until, password=password, operator=operator)
    assert parse_command(parse_frame(raw)) == ControlRequest(address, password, operator, action, until)


@given(clock_times)
def test_broadcast_time_round_trip(when: datetime) -> None:
    assert parse_command(parse_frame(build_broadcast_time(when))) == BroadcastTimeRequest(BROADCAST, when)


@given(meter_addresses, freeze_times)
def test_freeze_round_trip(address: str, at: FreezeTime) -> None:
    assert parse_command(parse_frame(build_freeze(address, at))) == FreezeRequest(address, at)


@given(meter_addresses, st.sampled_from(list(BAUD_RATES.values())), st.sampled_from(list(Edition)))
def test_baud_round_trip(address: str, baud: int, edition: Edition) -> None:
    assert parse_command(parse_frame(build_change_baud(address, baud, edition=edition))) == ChangeBaudRequest(
        address, baud, edition
    )
    reply = parse_reply(parse_frame(build_baud_reply(address, baud, edition=edition)))
    assert isinstance(reply, BaudRateAck) and reply.baud == baud


@given(meter_addresses, passwords, passwords)
def test_password_round_trip(address: str, old: Password, new: Password) -> None:
    for edition in Edition:
        if edition is Edition.V2007 and new.level > 9:
            with pytest.raises(LocalProtocolError):
                build_change_password(address, old, new)
            continue
        parsed = parse_command(parse_frame(build_change_password(address, old, new, edition=edition)))
        assert isinstance(parsed, ChangePasswordRequest)
        assert (parsed.old, parsed.new, parsed.edition) == (old, new, edition)
        reply = parse_reply(parse_frame(build_password_reply(address, new, edition=edition)))
        assert isinstance(reply, PasswordAck) and reply.password == new


@given(meter_addresses, passwords, operators, st.integers(0, 0xFFFFFFFF))
def test_clear_round_trip(address: str, password: Password, operator: str, di: int) -> None:
    assert parse_command(parse_frame(build_clear_meter(address, password=password, operator=operator))) == (
        ClearMeterRequest(address, password, operator)
    )
    assert parse_command(parse_frame(build_clear_demand(address, password=password, operator=operator))) == (
        ClearDemandRequest(address, password, operator)
    )
    assert parse_command(parse_frame(build_clear_events(address, di, password=password, operator=operator))) == (
        ClearEventsRequest(address, password, operator, di)
    )


@given(meter_addresses, meter_addresses, st.sampled_from(list(Edition)))
def test_write_address_round_trip(address: str, new: str, edition: Edition) -> None:
    raw = build_write_address(new, address=address, edition=edition)
    assert parse_command(parse_frame(raw)) == WriteAddressRequest(address, new, edition)


@given(st.binary(max_size=40), st.integers(0, 0x1F))
def test_any_request_data_parses_or_raises_a_protocol_error(data: bytes, function: int) -> None:
    try:
        request = parse_any_request(parse_frame(build_frame(METER, function, data)))
    except ProtocolError:
        pass
    else:
        assert request.address == METER
    try:
        reply = parse_reply(parse_frame(build_frame(METER, function | 0x80, data)))
    except ProtocolError:
        pass
    else:
        assert not isinstance(reply, ReadReply) or reply.address == METER


@given(meter_addresses, item_values(), passwords, operators)
def test_write_round_trip(
    address: str, item_and_values: tuple[DataItem, list[Scalar | None]], password: Password, operator: str
) -> None:
    item, values = item_and_values
    assume(len(item.encode(values)) <= 255 - 12)  # 14H spends 12 bytes on DI, password and operator
    raw = build_write(address, item.di, values, password=password, operator=operator, edition=item.edition)
    request = parse_command(parse_frame(raw))
    assert isinstance(request, WriteRequest)
    assert (request.di, request.password, request.edition) == (item.di, password, item.edition)
    assert request.operator == (operator if item.edition is Edition.V2007 else None)
    assert list(request.values()) == values
