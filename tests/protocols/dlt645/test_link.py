"""DL/T 645 link frame: addresses, scramble, CS, build/parse (DL/T 645-2007 §4).

Expected bytes are written by hand from the standard's rules (PROTOCOLS.md Part B.2); the checksums were added
up on paper.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.dlt645.link import (
    BROADCAST,
    WILDCARD,
    Dlt645Frame,
    address_from_wire,
    address_matches,
    address_to_wire,
    build_frame,
    is_broadcast,
    parse_frame,
)
from protocols.errors import ChecksumError, FrameError, LocalProtocolError, ProtocolError

from .strategies import frame_fields

# 68 A0..A5 68 C L DATA CS 16 — a read of 00010000 (forward active total) from meter 000000000161.
READ_REQUEST = bytes.fromhex("68 610100000000 68 11 04 33333433 14 16")
# The reply: DI + 00123456 (1234.56 kWh) low byte first, every DATA byte +33H; CS adds up to 100H → 00.
READ_REPLY = bytes.fromhex("68 610100000000 68 91 08 33333433 89674533 00 16")
# Same reply with 2834.56 kWh: the sum grows by 16H, so the checksum is 16H, the end byte's value.
CS_IS_END_BYTE = bytes.fromhex("68 610100000000 68 91 08 33333433 89675B33 16 16")
# Read address, the well-known wildcard request (C=13H, L=0).
READ_ADDRESS = bytes.fromhex("68 AAAAAAAAAAAA 68 13 00 DF 16")


@pytest.mark.parametrize(
    ("wire", "printed"),
    [
        ("610100000000", "000000000161"),  # PROTOCOLS.md B.2 worked example
        ("785634120000", "000012345678"),
        ("999999999999", BROADCAST),
        ("AAAAAAAAAAAA", WILDCARD),
        ("610100AAAAAA", "AAAAAA000161"),  # 缩位寻址: wildcards in the high-order bytes
    ],
)
def test_address_wire_to_printed_and_back(wire: str, printed: str) -> None:
    assert address_from_wire(bytes.fromhex(wire)) == printed
    assert address_to_wire(printed) == bytes.fromhex(wire)


@pytest.mark.parametrize("bad", ["00000000016", "0000000001611", "00000000016A", "0000000001 1", "A00000000161"])
def test_address_to_wire_refuses_non_bcd(bad: str) -> None:
    with pytest.raises(LocalProtocolError):
        address_to_wire(bad)


@pytest.mark.parametrize(
    ("raw", "address", "control", "data", "preamble"),
    [
        (READ_REQUEST, "000000000161", 0x11, bytes.fromhex("00000100"), 0),
        (READ_REPLY, "000000000161", 0x91, bytes.fromhex("00000100 56341200"), 0),
        (CS_IS_END_BYTE, "000000000161", 0x91, bytes.fromhex("00000100 56342800"), 0),
        (bytes.fromhex("FEFEFEFE") + READ_ADDRESS, WILDCARD, 0x13, b"", 4),
    ],
)
def test_parse_and_build_hand_written_frames(
    raw: bytes, address: str, control: int, data: bytes, preamble: int
) -> None:
    frame = parse_frame(raw)
    assert frame == Dlt645Frame(address, control, data, preamble, raw)
    assert build_frame(address, control, data, preamble=preamble) == raw


def test_control_bits() -> None:
    reply = parse_frame(READ_REPLY)
    assert (reply.is_reply, reply.is_abnormal, reply.has_follow_up, reply.function) == (True, False, False, 0x11)
    follow = Dlt645Frame("000000000161", 0xB2, b"")
    assert (follow.is_reply, follow.is_abnormal, follow.has_follow_up, follow.function) == (True, False, True, 0x12)
    abnormal = Dlt645Frame("000000000161", 0xD1, b"\x02")
    assert (abnormal.is_reply, abnormal.is_abnormal, abnormal.function) == (True, True, 0x11)
    assert not parse_frame(READ_REQUEST).is_reply


def test_parse_accepts_bytearray_and_memoryview() -> None:
    assert parse_frame(bytearray(READ_REPLY)) == parse_frame(memoryview(READ_REPLY)) == parse_frame(READ_REPLY)


def test_checksum_error_keeps_evidence() -> None:
    bad = READ_REPLY[:-2] + b"\x01\x16"
    with pytest.raises(ChecksumError, match="computed 00H, frame carries 01H") as info:
        parse_frame(bad)
    assert (info.value.expected, info.value.actual, info.value.raw, info.value.offset) == (0, 1, bad, 18)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "no 68H"),
        (b"\xfe\xfe", "no 68H"),
        (b"\x00" + READ_REQUEST, "no 68H"),
        (READ_REQUEST[:7] + b"\x00" + READ_REQUEST[8:], "second start byte"),
        (READ_REQUEST[:-1] + b"\x17", "end byte is 17H"),
        (READ_REQUEST[:-1], "truncated"),
        (READ_REQUEST + b"\x00", "1 bytes after the end byte"),
        (READ_REQUEST[:9] + b"\x05" + READ_REQUEST[10:], "truncated"),
    ],
)
def test_parse_frame_errors(raw: bytes, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        parse_frame(raw)


@pytest.mark.parametrize(
    ("address", "control", "data", "preamble"),
    [
        ("000000000161", 0x100, b"", 0),
        ("000000000161", -1, b"", 0),
        ("000000000161", 0x11, bytes(256), 0),
        ("000000000161", 0x11, b"", -1),
        ("00000000016", 0x11, b"", 0),
    ],
)
def test_build_frame_refuses_what_does_not_fit(address: str, control: int, data: bytes, preamble: int) -> None:
    with pytest.raises(LocalProtocolError):
        build_frame(address, control, data, preamble=preamble)


@given(frame_fields)
def test_build_parse_round_trip(fields: dict[str, object]) -> None:
    raw = build_frame(**fields)  # type: ignore[arg-type]
    frame = parse_frame(raw)
    assert (frame.address, frame.control, frame.data, frame.preamble, frame.raw) == (
        fields["address"],
        fields["control"],
        fields["data"],
        fields["preamble"],
        raw,
    )


@given(st.binary(max_size=300))
def test_parse_random_bytes_raises_only_protocol_errors(raw: bytes) -> None:
    try:
        frame = parse_frame(raw)
    except ProtocolError:
        return
    assert frame.raw == raw


@pytest.mark.parametrize(
    ("requested", "own", "matches"),
    [
        ("000000000161", "000000000161", True),
        ("000000000162", "000000000161", False),
        (BROADCAST, "000000000161", True),  # 广播地址
        (WILDCARD, "000000000161", True),  # AAAAAAAAAAAA: the only meter on the line
        ("AAAAAA000161", "000000000161", True),  # 缩位寻址: the low digits must match
        ("AAAAAA000162", "000000000161", False),
        ("aaaaaa000161", "000000000161", True),
        ("AAAA", "000000000161", False),
    ],
)
def test_address_matches(requested: str, own: str, matches: bool) -> None:
    assert address_matches(requested, own) is matches
    assert is_broadcast(requested) is (requested == BROADCAST)
