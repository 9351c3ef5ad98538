"""Q/GDW 376.1 link fields and whole frames: hand-written tables from PROTOCOLS.md A.2-A.7, error classes,
lenient fallbacks, and the build → parse → build property."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given

from protocols.errors import ChecksumError, DecodeError, FrameError, LocalProtocolError
from protocols.gdw376.link import (
    CON_IN_RESPONSE,
    Address,
    Afn,
    Aux,
    Control,
    Dir,
    LinkFrame,
    Seq,
    TimeLabel,
    build_frame,
    has_pw,
    parse_frame,
)

from .samples import CLOCK_RESPONSE_ACD, F129_REQUEST, LOGIN, frame, framed
from .strategies import link_fields

D, U = Dir.DOWN, Dir.UP


@pytest.mark.parametrize(
    ("byte", "expected"),
    [
        (0xC9, Control(U, True, False, False, 9)),  # login/heartbeat: DIR=1 PRM=1 FC=9 链路测试
        (0x0B, Control(D, False, False, False, 11)),  # master's answer to a link check: FC=11 链路状态
        (0x4B, Control(D, True, False, False, 11)),  # master read request: FC=11
        (0x4A, Control(D, True, False, False, 10)),  # master set/control request: FC=10
        (0x88, Control(U, False, False, False, 8)),  # terminal response with data
        (0xA8, Control(U, False, True, False, 8)),  # same with ACD=1
        (0x80, Control(U, False, False, False, 0)),  # terminal confirm (认可)
        (0x89, Control(U, False, False, False, 9)),  # deny: no requested data
        (0xC4, Control(U, True, False, False, 4)),  # terminal-initiated upload
        (0x7A, Control(D, True, True, True, 10)),  # FCB=1 FCV=1 in a downlink request
    ],
)
def test_control_byte_table(byte: int, expected: Control) -> None:
    assert Control.from_byte(byte) == expected
    assert expected.to_byte() == byte


def test_acd_is_the_uplink_meaning_of_d5() -> None:
    assert Control.from_byte(0xA8).acd
    assert not Control.from_byte(0x7A).acd  # D5 of a downlink frame is FCB


@pytest.mark.parametrize(
    ("raw", "expected", "terminal"),
    [
        ("0344 3412 04", Address("4403", 0x1234, 2, False), "4403:04660"),
        ("0344 0C00 00", Address("4403", 12, 0, False), "4403:00012"),
        ("0344 FFFF 01", Address("4403", 0xFFFF, 0, True), "4403:65535"),  # system broadcast
        ("0211 0100 FF", Address("1102", 1, 127, True), "1102:00001"),
    ],
)
def test_address_table(raw: str, expected: Address, terminal: str) -> None:
    assert Address.from_bytes(bytes.fromhex(raw)) == expected
    assert expected.to_bytes() == bytes.fromhex(raw)
    assert expected.terminal == terminal


def test_address_helpers() -> None:
    assert Address.broadcast("4403") == Address("4403", 0xFFFF, 0, True)
    assert Address("4403", 12, 5).with_msa(0) == Address("4403", 12, 0)
    assert not Address("44A3", 1).is_bcd


@pytest.mark.parametrize(
    "kwargs", [{"a1": "443"}, {"a1": "44g3"}, {"a2": 0x10000}, {"a2": -1}, {"msa": 128}, {"msa": -1}]
)
def test_address_out_of_range(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"a1": "4403", "a2": 1, **kwargs}
    with pytest.raises(LocalProtocolError):
        Address(**fields)  # type: ignore[arg-type]


def test_address_needs_five_bytes() -> None:
    with pytest.raises(DecodeError):
        Address.from_bytes(b"\x03\x44\x01\x00")


@pytest.mark.parametrize(
    ("byte", "expected"),
    [
        (0x60, Seq(False, True, True, False, 0)),  # single frame
        (0x75, Seq(False, True, True, True, 5)),  # single frame, confirm requested (login)
        (0xE3, Seq(True, True, True, False, 3)),  # with Tp
        (0x40, Seq(False, True, False, False, 0)),  # first of several
        (0x01, Seq(False, False, False, False, 1)),  # middle
        (0x2F, Seq(False, False, True, False, 15)),  # last
        (0xA2, Seq(True, False, True, False, 2)),  # odd single frame seen in the field (FIR=0)
    ],
)
def test_seq_table(byte: int, expected: Seq) -> None:
    assert Seq.from_byte(byte) == expected
    assert expected.to_byte() == byte


def test_seq_range() -> None:
    with pytest.raises(LocalProtocolError):
        Seq(False, True, True, False, 16)


def test_time_label() -> None:
    raw = bytes.fromhex("05 30 15 08 01 0A")  # PFC 5, 08:15:30 on day 1, 10 minutes allowed
    label = TimeLabel(5, 30, 15, 8, 1, 10)
    assert TimeLabel.from_bytes(raw) == label
    assert label.to_bytes() == raw


@pytest.mark.parametrize("raw", ["05 3A 15 08 01 0A", "05 30 15 08 01"])
def test_time_label_errors(raw: str) -> None:
    with pytest.raises(DecodeError):
        TimeLabel.from_bytes(bytes.fromhex(raw))


def test_time_label_range() -> None:
    with pytest.raises(LocalProtocolError):
        TimeLabel(256, 0, 0, 0, 1, 0)


@pytest.mark.parametrize(("direction", "afn", "expected"), [(D, 0x04, True), (D, 0x0C, False), (U, 0x10, False)])
def test_has_pw(direction: Dir, afn: int, expected: bool) -> None:
    assert has_pw(direction, afn) is expected


def test_pw_afns() -> None:
    assert [a for a in Afn if has_pw(D, a)] == [
        Afn.RESET,
        Afn.SET_PARAM,
        Afn.CONTROL,
        Afn.AUTH,
        Afn.FILE_TRANSFER,
        Afn.FORWARD,
    ]


def test_parse_login() -> None:
    parsed = parse_frame(LOGIN)
    assert parsed == LinkFrame(
        Control(U, True, False, False, 9),
        Address("4403", 12),
        0x02,
        Seq(False, True, True, True, 5),
        bytes.fromhex("0000 0100"),
        raw=LOGIN,
    )
    assert parsed.dir is U


def test_parse_accepts_bytearray_and_memoryview() -> None:
    assert parse_frame(bytearray(LOGIN)) == parse_frame(memoryview(LOGIN)) == parse_frame(LOGIN)


def test_build_login_and_request() -> None:
    assert (
        build_frame(Control(U, True, False, False, 9), Address("4403", 12), 2, Seq.from_byte(0x75), b"\0\0\1\0")
        == LOGIN
    )
    request = build_frame(Control.from_byte(0x4B), Address("4403", 12, 2), 0x0C, Seq.from_byte(0x63), b"\1\1\1\x10")
    assert request == F129_REQUEST


def test_parse_uplink_ec() -> None:
    parsed = parse_frame(CLOCK_RESPONSE_ACD)
    assert parsed.aux == Aux(ec=(3, 1))
    assert parsed.data == bytes.fromhex("0000 0200 300008016524")
    assert parsed.warnings == ()


# AFN04 F1 set, downlink: PW of 16 bytes 01..10 then Tp (PFC 9, 12:34:56 day 20, delay 5).
SET_WITH_PW_TP = frame(
    "68 A200 A200 68 4A 0344 0C00 04 04 F7 0000 0100 000000000000"
    " 0102030405060708090A0B0C0D0E0F10 09 56 34 12 20 05 EF 16"
)


def test_parse_pw_and_tp() -> None:
    parsed = parse_frame(SET_WITH_PW_TP)
    assert parsed.data == bytes.fromhex("0000 0100 000000000000")
    assert parsed.aux == Aux(pw=bytes(range(1, 17)), tp=TimeLabel(9, 56, 34, 12, 20, 5))
    assert parsed.to_bytes() == SET_WITH_PW_TP


def test_acd_without_ec_falls_back_when_length_does_not_fit() -> None:
    # A8 but no EC: a bare AFN0C F2 identifier (4 bytes) cannot also hold 2 bytes of EC.
    raw = framed("A8 0344 0C00 04 0C 61 0000 0200")
    parsed = parse_frame(raw)
    assert parsed.aux == Aux()
    assert parsed.data == bytes.fromhex("0000 0200")
    assert parsed.warnings == ("EC (ACD=1) expected but absent: user data length does not fit",)
    with pytest.raises(FrameError, match="AUX"):
        parse_frame(raw, strict=True)


def test_missing_pw_falls_back() -> None:
    raw = framed("4A 0344 0C00 04 04 61 0000 0100 00")  # AFN04 downlink, 5 bytes where 20 are needed
    assert parse_frame(raw).data == bytes.fromhex("0000 0100 00")
    assert "PW" in parse_frame(raw).warnings[0]


def test_missing_tp_is_an_error() -> None:
    with pytest.raises(FrameError, match="Tp"):
        parse_frame(framed("4B 0344 0C00 04 0C E1 0000 0200"))  # TpV=1, no room for Tp
    with pytest.raises(FrameError, match="Tp"):
        parse_frame(framed("A8 0344 0C00 04 0C E1 0000 0200 01"))  # ACD and TpV, 5 bytes left


def test_pid_1_is_a_warning_unless_strict() -> None:
    raw = bytearray(LOGIN)
    raw[1] = raw[3] = 0x31  # L D1..D0 = 01 (Q/GDW 130-2005)
    parsed = parse_frame(raw)
    assert parsed.protocol_id == 1
    assert parsed.warnings == ("protocol id 1 (Q/GDW 130-2005) on a 376.1 frame",)
    with pytest.raises(FrameError, match="protocol id 1"):
        parse_frame(raw, strict=True)


def test_non_bcd_a1_is_a_warning_unless_strict() -> None:
    raw = framed("C9 A344 0C00 00 02 75 0000 0100")
    assert parse_frame(raw).address.a1 == "44A3"
    assert parse_frame(raw).warnings == ("A1 44A3 is not BCD",)
    with pytest.raises(DecodeError, match="A1"):
        parse_frame(raw, strict=True)


def _patched(index: int, value: int) -> bytes:
    raw = bytearray(LOGIN)
    raw[index] = value
    return bytes(raw)


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        (LOGIN[:-1], FrameError, "L says"),
        (LOGIN[:10], FrameError, "shorter"),
        (_patched(0, 0x69), FrameError, "start"),
        (_patched(5, 0x69), FrameError, "start"),
        (_patched(3, 0x36), FrameError, "L fields differ"),
        (_patched(-1, 0x17), FrameError, "end byte"),
        (_patched(-2, 0x95), ChecksumError, "computed 94H, frame carries 95H"),
        (bytes.fromhex("68 3000 3000 68") + LOGIN[6:], FrameError, "protocol id 0"),
        (bytes.fromhex("68 3300 3300 68") + LOGIN[6:], FrameError, "protocol id 3"),
    ],
)
def test_parse_errors(raw: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_frame(raw)


def test_checksum_error_keeps_evidence() -> None:
    with pytest.raises(ChecksumError) as info:
        parse_frame(_patched(-2, 0x00))
    assert (info.value.expected, info.value.actual, info.value.raw) == (0x94, 0x00, _patched(-2, 0x00))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"afn": 0x04, "control": Control.from_byte(0x4A), "aux": Aux(pw=b"\0" * 15)}, "PW must be 16"),
        ({"aux": Aux(pw=b"\0" * 16)}, "PW given"),
        ({"control": Control.from_byte(0xA8)}, "EC"),
        ({"aux": Aux(ec=(1, 1))}, "EC"),
        ({"seq": Seq.from_byte(0xE1)}, "Tp"),
        ({"aux": Aux(tp=TimeLabel(1, 0, 0, 0, 1, 0))}, "Tp"),
        ({"aux": Aux(ec=(256, 0)), "control": Control.from_byte(0xA8)}, "EC1"),
        ({"data": bytes(0x3FFF)}, "exceeds"),
        ({"afn": 256}, "AFN"),
    ],
)
def test_build_rejects_inconsistent_frames(kwargs: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {
        "control": Control.from_byte(0x88),
        "address": Address("4403", 12),
        "afn": 0x0C,
        "seq": Seq.from_byte(0x61),
        **kwargs,
    }
    with pytest.raises(LocalProtocolError, match=match):
        build_frame(**fields)  # type: ignore[arg-type]


def test_build_fills_pw_with_zeros() -> None:
    built = build_frame(Control.from_byte(0x4A), Address("4403", 12, 2), 0x04, Seq.from_byte(0x71), b"\0\0\1\0")
    assert parse_frame(built).aux.pw == bytes(16)


@given(link_fields())
def test_build_parse_build_round_trip(fields: dict[str, object]) -> None:
    built = build_frame(**fields)  # type: ignore[arg-type]
    parsed = parse_frame(built)
    aux, control, seq = fields["aux"], fields["control"], fields["seq"]
    assert isinstance(aux, Aux) and isinstance(control, Control) and isinstance(seq, Seq)
    # the strategies draw any C and SEQ: a vendor C byte or CON in a response is a lenient warning (test_lenient.py)
    deviations = (control.deviation(), CON_IN_RESPONSE if seq.con and not control.prm else None)
    assert parsed.warnings == tuple(d for d in deviations if d is not None)
    if not parsed.warnings:
        assert parse_frame(built, strict=True) == parsed
    expected_pw = (aux.pw or bytes(16)) if has_pw(parsed.control.dir, parsed.afn) else None
    assert parsed == LinkFrame(
        fields["control"],  # type: ignore[arg-type]
        fields["address"],  # type: ignore[arg-type]
        fields["afn"],  # type: ignore[arg-type]
        fields["seq"],  # type: ignore[arg-type]
        fields["data"],  # type: ignore[arg-type]
        dataclasses.replace(aux, pw=expected_pw),
        warnings=parsed.warnings,
        raw=built,
    )
    assert parsed.to_bytes() == built
