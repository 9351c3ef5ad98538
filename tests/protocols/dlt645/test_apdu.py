"""DL/T 645 read exchange: requests, replies, error words (DL/T 645-2007 §7.1, §7.4; 1997 §4.2.3)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.dlt645.apdu import (
    Ack,
    AddressReply,
    ErrorReply,
    ReadAddressRequest,
    ReadReply,
    ReadRequest,
    Value,
    build_address_reply,
    build_error_reply,
    build_read,
    build_read_address,
    build_read_reply,
    parse_reply,
    parse_request,
)
from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import DataItem
from protocols.dlt645.errors import (
    ERROR_BITS,
    BaudRateNotChangeable,
    DailyPeriodCountExceeded,
    NoRequestedData,
    OtherError,
    PasswordError,
    TariffCountExceeded,
    YearZoneCountExceeded,
    error_class,
)
from protocols.dlt645.formats import Kind, Scalar
from protocols.dlt645.link import Dlt645Frame, build_frame, parse_frame
from protocols.errors import (
    DecodeError,
    DeviceError,
    Dlt645ErrorResponse,
    LocalProtocolError,
    ProtocolError,
    UnknownDataItem,
)

from .strategies import ALL_ITEMS, addresses, frame_fields, item_values, largest
from .test_link import READ_ADDRESS, READ_REPLY, READ_REQUEST

METER = "000000000161"
# 1997 read of 9010 (C=01H, DI 10 90 → +33 → 43 C3) and the reply 81H with 12.00 kWh (00 12 00 00 → 33 45 33 33).
READ_1997 = bytes.fromhex("68 610100000000 68 01 02 43C3 3B 16")
REPLY_1997 = bytes.fromhex("68 610100000000 68 81 06 43C3 33453333 9D 16")
# Abnormal reply to a read (D1H) with error word 02H (D1: no requested data).
ERROR_REPLY = bytes.fromhex("68 610100000000 68 D1 01 35 39 16")
# Read-address reply (93H), DATA = the address low byte first, +33.
ADDRESS_REPLY = bytes.fromhex("68 610100000000 68 93 06 943433333333 5F 16")


def test_build_read_hand_written() -> None:
    assert build_read(METER, 0x00010000, preamble=0) == READ_REQUEST
    assert build_read(METER, 0x00010000) == b"\xfe" * 4 + READ_REQUEST
    assert build_read(METER, 0x9010, preamble=0, edition=Edition.V1997) == READ_1997


def test_build_read_address_hand_written() -> None:
    assert build_read_address() == b"\xfe" * 4 + READ_ADDRESS
    assert build_read_address(preamble=0) == READ_ADDRESS


def test_build_replies_hand_written() -> None:
    assert build_read_reply(METER, 0x00010000, [Decimal("1234.56")]) == READ_REPLY
    assert build_read_reply(METER, 0x9010, [Decimal("12.00")], edition=Edition.V1997) == REPLY_1997
    assert build_error_reply(METER, 0x11, 0x02) == ERROR_REPLY
    assert build_address_reply(METER) == ADDRESS_REPLY


def test_parse_read_reply() -> None:
    assert parse_reply(parse_frame(READ_REPLY)) == ReadReply(
        address=METER,
        di=0x00010000,
        values=(Value("ENERGY_FORWARD_ACTIVE_TOTAL", Decimal("1234.56"), "kWh"),),
        raw_data=bytes.fromhex("56341200"),
    )


def test_parse_1997_read_reply() -> None:
    assert parse_reply(parse_frame(REPLY_1997)) == ReadReply(
        address=METER,
        di=0x9010,
        values=(Value("ENERGY_FORWARD_ACTIVE_TOTAL", Decimal("12.00"), "kWh"),),
        raw_data=bytes.fromhex("00120000"),
        edition=Edition.V1997,
    )


def test_parse_block_reply_with_four_tariffs() -> None:
    # 0001FF00: total 100.00 = T1 10.00 + T2 20.00 + T3 30.00 + T4 40.00, values low byte first, +33 on the wire.
    data = bytes.fromhex("00FF0100 00000100 00100000 00200000 00300000 00400000")
    raw = build_frame(METER, 0x91, data)
    reply = parse_reply(parse_frame(raw))
    assert isinstance(reply, ReadReply)
    assert [(v.name, v.value) for v in reply.values] == [
        ("ENERGY_FORWARD_ACTIVE_TOTAL", Decimal("100.00")),
        ("ENERGY_FORWARD_ACTIVE_T1", Decimal("10.00")),
        ("ENERGY_FORWARD_ACTIVE_T2", Decimal("20.00")),
        ("ENERGY_FORWARD_ACTIVE_T3", Decimal("30.00")),
        ("ENERGY_FORWARD_ACTIVE_T4", Decimal("40.00")),
    ]


def test_parse_follow_up_reply_with_seq() -> None:
    # 读后续数据 reply (B2H: D5 set, more follows): DI + value + SEQ 01.
    raw = build_frame(METER, 0xB2, bytes.fromhex("00000100 56341200 01"))
    reply = parse_reply(parse_frame(raw))
    assert isinstance(reply, ReadReply)
    assert (reply.di, reply.values[0].value, reply.seq, reply.has_follow_up) == (
        0x00010000,
        Decimal("1234.56"),
        1,
        True,
    )


def test_parse_error_and_address_replies() -> None:
    assert parse_reply(parse_frame(ERROR_REPLY)) == ErrorReply(METER, 0x11, 0x02)
    assert parse_reply(parse_frame(ADDRESS_REPLY)) == AddressReply(METER)


def test_parse_ack() -> None:
    # 9CH, L=0: control command accepted.
    assert parse_reply(parse_frame(build_frame(METER, 0x9C))) == Ack(METER, 0x1C)


@pytest.mark.parametrize(
    ("control", "data", "error"),
    [
        (0x11, "00000100", "is a request"),
        (0xD1, "", "not one error word"),
        (0xD1, "0102", "not one error word"),
        (0x91, "000001", "less than its DI"),
        (0xB2, "00000100", "less than its DI|bytes where"),
        (0x81, "10", "less than its DI"),
        (0x93, "6101", "not 6"),
        (0x97, "0102", "no decoder"),
        (0x97, "03", "does not select one baud rate"),
        (0x98, "020000", "no decoder"),
        (0x91, "04030207 00", "unknown data identifier 07020304"),
        (0x91, "00000100 563412", "00010000 ENERGY_FORWARD_ACTIVE_TOTAL: 3 bytes where XXXXXX.XX takes 4"),
        (0x91, "00010102 0A10", "02010100 VOLTAGE_A: byte 0AH is not BCD"),
    ],
)
def test_parse_reply_refuses(control: int, data: str, error: str) -> None:
    frame = parse_frame(build_frame(METER, control, bytes.fromhex(data)))
    with pytest.raises(DecodeError, match=error):
        parse_reply(frame)


def test_unknown_di_is_its_own_class() -> None:
    frame = parse_frame(build_frame(METER, 0x91, bytes.fromhex("04030207 00")))
    with pytest.raises(UnknownDataItem) as info:
        parse_reply(frame)
    assert info.value.di == 0x07020304
    assert info.value.raw == frame.raw


def test_parse_request() -> None:
    assert parse_request(parse_frame(READ_REQUEST)) == ReadRequest(METER, 0x00010000)
    assert parse_request(parse_frame(READ_1997)) == ReadRequest(METER, 0x9010, edition=Edition.V1997)
    assert parse_request(parse_frame(READ_ADDRESS)) == ReadAddressRequest()
    # Load-profile read: DI 06000001 + N=1 + mmhhDDMMYY.
    raw = build_frame(METER, 0x11, bytes.fromhex("01000006 01 0000010124"))
    assert parse_request(parse_frame(raw)) == ReadRequest(METER, 0x06000001, bytes.fromhex("01 0000010124"))


@pytest.mark.parametrize(
    ("control", "data", "error"),
    [
        (0x91, "00000100", "is a reply"),
        (0x11, "000001", "less than its DI"),
        (0x13, "00", "no decoder"),
        (0x14, "00000100", "no decoder"),
    ],
)
def test_parse_request_refuses(control: int, data: str, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        parse_request(parse_frame(build_frame(METER, control, bytes.fromhex(data))))


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (build_read, (METER, 1 << 32)),
        (build_read, (METER, -1)),
        (build_error_reply, (METER, 0x11, 0x100)),
        (build_error_reply, (METER, 0x20, 0x01)),
        (build_read_reply, (METER, 0x00010000, [Decimal("0.001")])),
    ],
)
def test_builders_refuse(call: object, args: tuple[object, ...]) -> None:
    with pytest.raises(LocalProtocolError):
        call(*args)  # type: ignore[operator]


def test_build_read_1997_di_must_fit_two_bytes() -> None:
    with pytest.raises(LocalProtocolError):
        build_read(METER, 0x10000, edition=Edition.V1997)


# ------------------------------------------------------------------------------------------------- error words


@pytest.mark.parametrize(
    ("err", "cls"),
    [
        (0x01, OtherError),
        (0x02, NoRequestedData),
        (0x04, PasswordError),
        (0x08, BaudRateNotChangeable),
        (0x10, YearZoneCountExceeded),
        (0x20, DailyPeriodCountExceeded),
        (0x40, TariffCountExceeded),
        (0x06, NoRequestedData),  # lowest set bit wins
        (0x44, PasswordError),
        (0xFF, OtherError),
    ],
)
def test_check_raises_the_class_of_the_lowest_bit(err: int, cls: type[Dlt645ErrorResponse]) -> None:
    reply = parse_reply(parse_frame(build_error_reply(METER, 0x11, err)))
    assert isinstance(reply, ErrorReply)
    with pytest.raises(cls) as info:
        reply.check()
    assert type(info.value) is cls
    assert info.value.err == err
    assert isinstance(info.value, DeviceError)
    assert f"{err:02X}H" in str(info.value)


@pytest.mark.parametrize("err", [0x00, 0x80])
def test_error_word_without_a_registered_bit_raises_the_base(err: int) -> None:
    with pytest.raises(Dlt645ErrorResponse) as info:
        ErrorReply(METER, 0x11, err).check()
    assert type(info.value) is Dlt645ErrorResponse
    assert info.value.err == err


def test_registry_covers_d0_to_d6() -> None:
    assert {bit: cls.__name__ for bit, cls in ERROR_BITS.items()} == {
        0: "OtherError",
        1: "NoRequestedData",
        2: "PasswordError",
        3: "BaudRateNotChangeable",
        4: "YearZoneCountExceeded",
        5: "DailyPeriodCountExceeded",
        6: "TariffCountExceeded",
    }
    assert error_class(0x80) is Dlt645ErrorResponse


# -------------------------------------------------------------------------------------------------- properties


@given(addresses, st.integers(min_value=0, max_value=0xFFFFFFFF), st.integers(min_value=0, max_value=4))
def test_build_read_parse_request_round_trip(address: str, di: int, preamble: int) -> None:
    frame = parse_frame(build_read(address, di, preamble=preamble))
    assert parse_request(frame) == ReadRequest(address, di)
    assert frame.preamble == preamble


@given(addresses, st.integers(min_value=0, max_value=0xFFFF))
def test_build_read_1997_round_trip(address: str, di: int) -> None:
    frame = parse_frame(build_read(address, di, edition=Edition.V1997))
    assert parse_request(frame) == ReadRequest(address, di, edition=Edition.V1997)


@given(addresses, item_values(), st.booleans())
def test_build_read_reply_parse_reply_round_trip(
    address: str, item_and_values: tuple[DataItem, list[Decimal | None]], follow_up: bool
) -> None:
    item, values = item_and_values
    raw = build_read_reply(address, item.di, values, follow_up=follow_up, edition=item.edition)
    reply = parse_reply(parse_frame(raw))
    assert isinstance(reply, ReadReply)
    assert (reply.address, reply.di, reply.edition, reply.has_follow_up) == (address, item.di, item.edition, follow_up)
    assert [v.value for v in reply.values] == values
    assert [v.name for v in reply.values] == list(item.value_names(len(values)))
    assert [v.unit for v in reply.values] == [f.unit for _, f in item.value_fields(len(values))]


def test_every_registered_di_round_trips_its_largest_value_and_no_value() -> None:
    for item in ALL_ITEMS:
        values: list[Scalar | None] = [largest(f) for f in item.fields]
        if item.repeat:
            values += [None if f.kind is not Kind.BITS else Decimal(0) for f in item.fields]
        reply = parse_reply(parse_frame(build_read_reply(METER, item.di, values, edition=item.edition)))
        assert isinstance(reply, ReadReply), item
        assert [v.value for v in reply.values] == values, item
        if all(f.kind is not Kind.BITS for f in item.fields):
            nothing = [None] * len(item.fields)
            none_reply = parse_reply(parse_frame(build_read_reply(METER, item.di, nothing, edition=item.edition)))
            assert isinstance(none_reply, ReadReply)
            assert [v.value for v in none_reply.values] == nothing


@given(addresses, st.integers(min_value=0, max_value=0x1F), st.integers(min_value=0, max_value=0xFF))
def test_error_reply_round_trip(address: str, function: int, err: int) -> None:
    assert parse_reply(parse_frame(build_error_reply(address, function, err))) == ErrorReply(address, function, err)


@given(addresses.filter(lambda a: "AA" not in a))
def test_address_reply_round_trip(address: str) -> None:
    assert parse_reply(parse_frame(build_address_reply(address))) == AddressReply(address)


@given(frame_fields)
def test_any_frame_decodes_or_raises_a_protocol_error(fields: dict[str, object]) -> None:
    frame = parse_frame(build_frame(**fields))  # type: ignore[arg-type]
    for decode in (parse_reply, parse_request):
        try:
            message = decode(frame)
        except ProtocolError:
            continue
        assert message is not None
    assert isinstance(frame, Dlt645Frame)
