"""Data units: hand-written bodies per registered codec, multi-pn/multi-Fn identifiers, errors, round trips."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError, Gdw376Denied, LocalProtocolError, ProtocolError, UnsupportedFn
from protocols.gdw376.link import Dir, parse_frame
from protocols.gdw376.units import (
    REGISTRY,
    ConfirmItem,
    ConfirmList,
    DataUnit,
    EnergyIndication,
    Heartbeat,
    TerminalClock,
    check_confirmation,
    decode_frame_units,
    decode_units,
    encode_units,
    register,
)
from protocols.gdw376.units.registry import no_body

from .samples import (
    CLOCK_RESPONSE,
    CLOCK_RESPONSE_ACD,
    F129_RESPONSE,
    F129_RESPONSE_EE,
    HEARTBEAT_2009,
    HEARTBEAT_2013,
    frame,
    framed,
)

D, U = Dir.DOWN, Dir.UP
READ_AT = datetime(2024, 5, 1, 8, 0)
CLOCK = datetime(2024, 5, 1, 8, 0, 30)


def data_of(raw: bytes) -> bytes:
    return parse_frame(raw).data


@pytest.mark.parametrize(
    ("raw", "afn", "expected"),
    [
        (HEARTBEAT_2009, 0x02, [DataUnit(0, 3, Heartbeat(None))]),
        (HEARTBEAT_2013, 0x02, [DataUnit(0, 3, Heartbeat(CLOCK))]),
        (CLOCK_RESPONSE, 0x0C, [DataUnit(0, 2, TerminalClock(CLOCK))]),
        (
            F129_RESPONSE,
            0x0C,
            [
                DataUnit(
                    1,
                    129,
                    EnergyIndication(
                        READ_AT,
                        Decimal("1234.5678"),
                        (Decimal("100.0000"), Decimal("200.5000"), Decimal("300.0000"), Decimal("634.0678")),
                    ),
                )
            ],
        ),
        (
            F129_RESPONSE_EE,
            0x0C,
            [DataUnit(2, 129, EnergyIndication(READ_AT, Decimal("5.0000"), (None, Decimal("5.0000"))))],
        ),
    ],
)
def test_uplink_samples(raw: bytes, afn: int, expected: list[DataUnit]) -> None:
    assert decode_units(afn, data_of(raw), U) == expected
    assert encode_units(afn, expected, U) == data_of(raw)


# p1 and p2 × F129 and F130 in one identifier (DA 03 01, DT 03 10): bodies points outer, Fn inner.
MULTI = bytes.fromhex(
    "0301 0310"
    " 0008010524 00 0000010000"  # p1 F129: total 1.0000 kWh (A.14)
    " 0008010524 00 00020000"  # p1 F130: total 2.00 kvarh (A.11)
    " 0008010524 00 0000030000"  # p2 F129: 3.0000
    " 0008010524 00 00040000"  # p2 F130: 4.00
)


def test_multi_point_multi_fn_identifier() -> None:
    assert decode_units(0x0C, MULTI, U) == [
        DataUnit(1, 129, EnergyIndication(READ_AT, Decimal("1.0000"), ())),
        DataUnit(1, 130, EnergyIndication(READ_AT, Decimal("2.00"), ())),
        DataUnit(2, 129, EnergyIndication(READ_AT, Decimal("3.0000"), ())),
        DataUnit(2, 130, EnergyIndication(READ_AT, Decimal("4.00"), ())),
    ]


def test_requests_merge_and_expand() -> None:
    units = [DataUnit(1, 129), DataUnit(2, 129), DataUnit(1, 130), DataUnit(2, 130)]
    assert encode_units(0x0C, units, D) == bytes.fromhex("0301 0310")
    assert decode_units(0x0C, bytes.fromhex("0301 0310"), D) == sorted(units, key=lambda u: (u.pn, u.fn))


def test_several_identifiers_in_sequence() -> None:
    data = bytes.fromhex("0000 0200 0101 0110 0201 0210")
    assert decode_units(0x0C, data, D) == [DataUnit(0, 2), DataUnit(1, 129), DataUnit(2, 130)]


def test_data_bodies_get_one_identifier_each() -> None:
    units = [
        DataUnit(1, 129, EnergyIndication(READ_AT, None, ())),
        DataUnit(2, 129, EnergyIndication(READ_AT, None, ())),
    ]
    assert encode_units(0x0C, units, U) == bytes.fromhex(
        "0101 0110 0008010524 00 EEEEEEEEEE 0201 0110 0008010524 00 EEEEEEEEEE"
    )


def test_afn00_f3_confirm_list() -> None:
    # Answering AFN04: p0 F1 confirmed (ERR 0), p0 F3 denied (ERR 1).
    data = bytes.fromhex("0000 0400 04 0000 0100 00 0000 0400 01")
    units = decode_units(0x00, data, U)
    value = ConfirmList(4, (ConfirmItem(0, 1, 0), ConfirmItem(0, 3, 1)))
    assert units == [DataUnit(0, 3, value)]
    assert encode_units(0x00, units, U) == data
    with pytest.raises(Gdw376Denied) as info:
        value.check()
    assert (info.value.afn, info.value.fn, info.value.pn, info.value.code) == (4, 3, 0, 1)


def test_afn00_f3_expands_merged_identifiers() -> None:
    units = decode_units(0x00, bytes.fromhex("0000 0400 0C 0301 0110 00"), D)
    assert units == [DataUnit(0, 3, ConfirmList(0x0C, (ConfirmItem(1, 129, 0), ConfirmItem(2, 129, 0))))]
    ConfirmList(0x0C, (ConfirmItem(1, 129, 0),)).check()


def test_check_confirmation() -> None:
    check_confirmation([DataUnit(0, 1)], 0x04)
    with pytest.raises(Gdw376Denied, match="AFN04"):
        check_confirmation([DataUnit(0, 2)], 0x04)
    with pytest.raises(Gdw376Denied, match="F1 p0"):
        check_confirmation([DataUnit(0, 3, ConfirmList(4, (ConfirmItem(0, 1, 2),)))], 0x04)


@pytest.mark.parametrize(
    ("afn", "data", "path"),
    [
        (0x0C, data_of(F129_RESPONSE)[:-1], "AFN0C/F129/p1"),
        (0x0C, data_of(F129_RESPONSE)[:9], "AFN0C/F129/p1"),
        (0x0C, data_of(CLOCK_RESPONSE)[:-2], "AFN0C/F2/p0"),
        (0x0C, MULTI[:-4], "AFN0C/F130/p2"),
        (0x0C, bytes.fromhex("0101 01"), "AFN0C/DADT"),
        (0x0C, bytes.fromhex("0100 0110"), "AFN0C/DADT"),  # DA 01 00 names no point
        (0x0C, bytes.fromhex("0000 0200 EEEEEEEEEEEE"), "AFN0C/F2/p0"),  # clock "no value"
        (0x0C, bytes.fromhex("0101 0110 EEEEEEEEEE 00 0000000000"), "AFN0C/F129/p1"),  # read time "no value"
        (0x0C, bytes.fromhex("0101 0110 0008010524 00 7A00000000"), "AFN0C/F129/p1"),  # not BCD
        (0x02, bytes.fromhex("0000 0400 300008326524"), "AFN02/F3/p0"),  # day 32
        (0x00, bytes.fromhex("0000 0400"), "AFN00/F3/p0"),
    ],
)
def test_malformed_bodies_raise_decode_error_with_path(afn: int, data: bytes, path: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_units(afn, data, U)
    assert info.value.path == path
    assert info.value.raw == data


def test_unknown_fn() -> None:
    data = bytes.fromhex("0101 801E")  # AFN0C F248: not defined by the standard, no codec
    with pytest.raises(UnsupportedFn) as info:
        decode_units(0x0C, data, U)
    assert (info.value.afn, info.value.fn, info.value.raw) == (0x0C, 248, data)
    with pytest.raises(UnsupportedFn):
        decode_units(0x02, bytes.fromhex("0000 0100"), D)  # login is uplink only


@pytest.mark.parametrize(
    ("afn", "unit", "direction"),
    [
        (0x0C, DataUnit(1, 248), D),  # no codec
        (0x0C, DataUnit(0, 2, "now"), D),  # request has no body
        (0x0C, DataUnit(0, 2, "now"), U),  # wrong value type
        (0x0C, DataUnit(1, 129, TerminalClock(CLOCK)), U),
        (0x0C, DataUnit(1, 129, EnergyIndication(READ_AT, None, (None,) * 256)), U),
        (0x02, DataUnit(0, 3, None), U),
        (0x00, DataUnit(0, 3, None), U),
        (0x00, DataUnit(0, 3, ConfirmList(256, ())), U),
        (0x0C, DataUnit(1, 129, EnergyIndication(datetime(2024, 5, 1, 8, 0, 1), None, ())), U),
    ],
)
def test_encode_errors(afn: int, unit: DataUnit, direction: Dir) -> None:
    with pytest.raises(LocalProtocolError):
        encode_units(afn, [unit], direction)


def test_register_twice_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="twice"):
        register(0x0C, 129, (U,), no_body("again"))
    assert REGISTRY[(0x0C, 129, U)].name.startswith("当前正向有功")


def test_decode_frame_units_without_fallback() -> None:
    parsed = parse_frame(CLOCK_RESPONSE_ACD)
    units, final = decode_frame_units(parsed)
    assert units == [DataUnit(0, 2, TerminalClock(CLOCK))]
    assert final is parsed


def test_acd_without_ec_that_fits_the_length_is_fixed_by_unit_decoding() -> None:
    # A8 and no EC, but 10 data bytes still "fit" with EC: the link layer takes 65 24 as EC; the units say no.
    raw = frame("68 4A00 4A00 68 A8 0344 0C00 04 0C 61 0000 0200 300008016524 30 16")
    parsed = parse_frame(raw)
    assert parsed.aux.ec == (0x65, 0x24)
    units, final = decode_frame_units(parsed)
    assert units == [DataUnit(0, 2, TerminalClock(CLOCK))]
    assert final.aux.ec is None
    assert final.data == bytes.fromhex("0000 0200 300008016524")
    assert final.warnings == ("ACD=1 but no EC: the 2 bytes before Tp/CS are data",)


def test_decode_frame_units_reports_the_first_error_when_the_fallback_fails_too() -> None:
    raw = framed("A8 0344 0C00 04 0C 61 0000 0200 3000080165 0324")  # 5 clock bytes, 7 with "EC"
    with pytest.raises(DecodeError, match="truncated: needs 6 bytes, 5 left"):
        decode_frame_units(parse_frame(raw))
    with pytest.raises(UnsupportedFn):
        decode_frame_units(parse_frame(framed("A8 0344 0C00 04 0C 61 0101 801E 0301")))
    with pytest.raises(DecodeError):  # no EC to give back
        decode_frame_units(parse_frame(framed("88 0344 0C00 04 0C 61 0000 0200 01")))


# ---- properties ------------------------------------------------------------------------------------------

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59))


def energy(places: int, size: int) -> st.SearchStrategy[Decimal | None]:
    return st.one_of(st.none(), st.integers(0, 10 ** (2 * size) - 1).map(lambda n: Decimal(n).scaleb(-places)))


def indications(places: int, size: int) -> st.SearchStrategy[EnergyIndication]:
    return st.builds(
        EnergyIndication,
        times.map(lambda t: t.replace(second=0, microsecond=0)),
        energy(places, size),
        st.lists(energy(places, size), max_size=14).map(tuple),
    )


points = st.integers(min_value=1, max_value=2040)
unit_lists = st.one_of(
    st.lists(st.builds(DataUnit, points, st.just(129), indications(4, 5)), min_size=1, max_size=4),
    st.lists(st.builds(DataUnit, points, st.just(130), indications(2, 4)), min_size=1, max_size=4),
    st.builds(lambda t: [DataUnit(0, 2, TerminalClock(t.replace(microsecond=0)))], times),
)


@given(unit_lists)
def test_afn0c_round_trip(units: list[DataUnit]) -> None:
    assert decode_units(0x0C, encode_units(0x0C, units, U), U) == units


@given(st.one_of(st.none(), times.map(lambda t: t.replace(microsecond=0))))
def test_heartbeat_round_trip(clock: datetime | None) -> None:
    units = [DataUnit(0, 3, Heartbeat(clock))]
    assert decode_units(0x02, encode_units(0x02, units, U), U) == units


confirm_items = st.builds(ConfirmItem, points, st.integers(1, 248), st.integers(0, 255))


@given(st.integers(0, 255), st.lists(confirm_items, max_size=6), st.sampled_from(Dir))
def test_confirm_list_round_trip(afn: int, items: list[ConfirmItem], direction: Dir) -> None:
    units = [DataUnit(0, 3, ConfirmList(afn, tuple(items)))]
    assert decode_units(0x00, encode_units(0x00, units, direction), direction) == units


@given(st.lists(st.tuples(st.integers(0, 2040), st.sampled_from([2, 129, 130])), min_size=1, max_size=20))
def test_request_round_trip(items: list[tuple[int, int]]) -> None:
    units = [DataUnit(pn, fn) for pn, fn in items]
    decoded = decode_units(0x0C, encode_units(0x0C, units, D), D)
    assert sorted(decoded, key=lambda u: (u.pn, u.fn)) == sorted(set(units), key=lambda u: (u.pn, u.fn))


@given(st.sampled_from([0x00, 0x02, 0x0C, 0x0D]), st.binary(max_size=80), st.sampled_from(Dir))
def test_random_bytes_raise_only_protocol_errors(afn: int, data: bytes, direction: Dir) -> None:
    try:
        units = decode_units(afn, data, direction)
    except ProtocolError:
        return
    assert all(isinstance(u, DataUnit) for u in units)
