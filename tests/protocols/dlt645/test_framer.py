"""Dlt645Framer stream behaviour: chunking, preambles, garbage, bad frames, false starts, idle()."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.common.framing import Discarded, Framer
from protocols.common.scramble import sub33
from protocols.dlt645.framer import MAX_PREAMBLE, Dlt645Framer
from protocols.dlt645.link import Dlt645Frame, build_frame, parse_frame
from protocols.errors import LocalProtocolError
from tests.protocols import streams

from .strategies import chunked, frames, garbage, noise
from .test_link import CS_IS_END_BYTE, READ_ADDRESS, READ_REPLY, READ_REQUEST

Event = Dlt645Frame | Discarded


def feed_all(chunks: list[bytes], framer: Dlt645Framer | None = None) -> list[Event]:
    return streams.feed_all(framer or Dlt645Framer(), chunks)


def frames_of(events: list[Event]) -> list[bytes]:
    return [frame.raw for frame in streams.split_events(events)[0]]


def discards_of(events: list[Event]) -> list[tuple[str, bytes]]:
    return streams.split_events(events)[1]


def test_framer_implements_the_shared_protocol() -> None:
    framer: Framer[Dlt645Frame] = Dlt645Framer()
    assert framer.feed(READ_REQUEST)[0] == Dlt645Frame("000000000161", 0x11, b"\x00\x00\x01\x00", 0, READ_REQUEST)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_whole_frame_of_each_buffer_type(kind: type) -> None:
    framer = Dlt645Framer()
    events = framer.feed(kind(READ_REPLY))
    assert frames_of(events) == [READ_REPLY]
    assert framer.buffered == 0


@pytest.mark.parametrize("cut", range(1, len(READ_REPLY)))
def test_split_in_two_anywhere(cut: int) -> None:
    framer = Dlt645Framer()
    assert framer.feed(READ_REPLY[:cut]) == []
    assert framer.buffered == cut
    assert frames_of(framer.feed(READ_REPLY[cut:])) == [READ_REPLY]


def test_byte_by_byte() -> None:
    stream = READ_REQUEST + READ_REPLY + CS_IS_END_BYTE
    events = feed_all([stream[i : i + 1] for i in range(len(stream))])
    assert frames_of(events) == [READ_REQUEST, READ_REPLY, CS_IS_END_BYTE]
    assert discards_of(events) == []


@pytest.mark.parametrize("preamble", range(5))
def test_fe_preambles(preamble: int) -> None:
    raw = b"\xfe" * preamble + READ_ADDRESS
    (frame,) = Dlt645Framer().feed(raw)
    assert isinstance(frame, Dlt645Frame)
    assert (frame.preamble, frame.raw, frame.address) == (preamble, raw, "AAAAAAAAAAAA")


def test_fe_flood_keeps_only_max_preamble() -> None:
    flood = b"\xfe" * (MAX_PREAMBLE + 5)
    framer = Dlt645Framer()
    assert discards_of(framer.feed(flood)) == [("garbage", b"\xfe" * 5)]
    assert framer.buffered == MAX_PREAMBLE
    (frame,) = framer.feed(READ_ADDRESS)
    assert isinstance(frame, Dlt645Frame)
    assert frame.preamble == MAX_PREAMBLE


def test_garbage_before_and_between_frames() -> None:
    stream = b"\x00\x11\x22" + READ_REQUEST + b"\xab\xcd" + b"\xfe\xfe" + READ_REPLY
    events = Dlt645Framer().feed(stream)
    assert frames_of(events) == [READ_REQUEST, b"\xfe\xfe" + READ_REPLY]
    assert discards_of(events) == [("garbage", b"\x00\x11\x22"), ("garbage", b"\xab\xcd")]


def test_fe_inside_garbage_is_garbage_unless_right_before_68() -> None:
    events = Dlt645Framer().feed(b"\xfe\x01\xfe" + READ_ADDRESS)
    assert discards_of(events) == [("garbage", b"\xfe\x01")]
    assert frames_of(events) == [b"\xfe" + READ_ADDRESS]


def test_bad_checksum_then_good_frame() -> None:
    corrupted = READ_REPLY[:-2] + b"\x01\x16"
    events = Dlt645Framer().feed(corrupted + READ_REQUEST)
    assert frames_of(events) == [READ_REQUEST]
    # The failed start drops only its 68H; the rest of the false frame is then reported in later discards.
    assert events[0] == Discarded(b"\x68", "checksum", "CS computed 00H, frame carries 01H")
    assert b"".join(data for _, data in discards_of(events)) == corrupted


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (READ_REQUEST[:7] + b"\x00" + READ_REQUEST[8:], "bad_header"),
        (READ_REQUEST[:-1] + b"\x17", "bad_end"),
    ],
)
def test_bad_header_and_bad_end_then_recover(stream: bytes, reason: str) -> None:
    events = Dlt645Framer().feed(stream + READ_REPLY)
    assert discards_of(events)[0] == (reason, b"\x68")
    assert frames_of(events) == [READ_REPLY]


def test_checksum_equal_to_end_byte() -> None:
    assert CS_IS_END_BYTE[-2:] == b"\x16\x16"
    for cut in range(1, len(CS_IS_END_BYTE)):
        events = feed_all([CS_IS_END_BYTE[:cut], CS_IS_END_BYTE[cut:], READ_REQUEST])
        assert frames_of(events) == [CS_IS_END_BYTE, READ_REQUEST]


def test_false_start_with_long_length_is_dropped_by_idle() -> None:
    # A stray 68, six bytes, 68 at +7, C, and L=C8H: 212 bytes would be needed. The line then goes quiet.
    false_start = bytes.fromhex("68 000000000000 68 11 C8 33")
    framer = Dlt645Framer()
    assert framer.feed(false_start) == []
    assert framer.buffered == len(false_start)
    assert framer.idle() == [Discarded(false_start, "stalled", f"{len(false_start)} bytes of an incomplete frame")]
    assert framer.buffered == 0
    assert framer.idle() == []
    assert frames_of(framer.feed(READ_REPLY)) == [READ_REPLY]


def test_false_start_does_not_hold_a_complete_frame_behind_it() -> None:
    false_start = bytes.fromhex("68 000000000000 68 11 C8 33")
    framer = Dlt645Framer()
    events = framer.feed(false_start) + framer.feed(READ_REPLY)
    assert frames_of(events) == [READ_REPLY]
    assert events[0] == Discarded(b"\x68", "bad_length", "a complete frame starts 11 bytes into the length L announced")
    assert framer.buffered == 0


def test_max_data_length_refuses_long_frames() -> None:
    framer = Dlt645Framer(max_data_length=4)
    events = framer.feed(READ_REPLY + READ_REQUEST)
    assert events[0] == Discarded(b"\x68", "too_long", "L=8 exceeds the limit 4")
    assert frames_of(events) == [READ_REQUEST]


@pytest.mark.parametrize("limit", [-1, 256])
def test_max_data_length_must_fit_l(limit: int) -> None:
    with pytest.raises(LocalProtocolError):
        Dlt645Framer(max_data_length=limit)


def test_idle_on_empty_framer() -> None:
    assert Dlt645Framer().idle() == []


# ---------------------------------------------------------------------------------------------------- properties


@given(st.lists(st.tuples(garbage, frames), max_size=5), st.lists(st.integers(min_value=0), max_size=20))
def test_any_chunking_yields_the_same_frames(parts: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    stream = b"".join(g + f for g, f in parts)
    whole = feed_all([stream])
    split = feed_all(chunked(stream, cuts))
    assert frames_of(whole) == frames_of(split) == [f for _, f in parts]
    assert b"".join(d for _, d in discards_of(split)) == b"".join(g for g, _ in parts)


@given(noise, frames, st.lists(st.integers(min_value=0), max_size=10))
def test_noise_before_a_frame_is_survived(prefix: bytes, frame: bytes, cuts: list[int]) -> None:
    framer = Dlt645Framer()
    events = feed_all(chunked(prefix + frame, cuts), framer)
    found = [e for e in events if isinstance(e, Dlt645Frame)]
    assert found, "the real frame was lost"
    assert found[-1].raw.lstrip(b"\xfe") == frame.lstrip(b"\xfe")
    assert framer.buffered == 0


@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=20))
def test_random_bytes_only_yield_events_and_conserve_bytes(stream: bytes, cuts: list[int]) -> None:
    framer = Dlt645Framer()
    events = feed_all(chunked(stream, cuts), framer)
    events += framer.idle()
    assert all(isinstance(e, Dlt645Frame | Discarded) for e in events)
    # Every byte fed is in exactly one event, in stream order.
    assert b"".join(e.raw if isinstance(e, Dlt645Frame) else e.data for e in events) == stream
    assert framer.buffered == 0


def test_frame_carrying_a_whole_frame_in_its_data_yields_the_inner_one() -> None:
    # Documented trade-off of the false-start rule: the inner frame wins whatever the chunking.
    outer = build_frame("000000000001", 0x91, sub33(READ_REQUEST))
    assert parse_frame(outer).data == sub33(READ_REQUEST)
    for chunks in ([outer], [outer[:20], outer[20:]], [outer[i : i + 1] for i in range(len(outer))]):
        events = feed_all(chunks)
        assert frames_of(events) == [READ_REQUEST]
        assert b"".join(d for _, d in discards_of(events)) == outer.replace(READ_REQUEST, b"")
