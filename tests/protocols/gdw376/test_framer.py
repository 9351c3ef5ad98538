"""Gdw376Framer stream behaviour: chunking, garbage, bad frames, false starts, idle(), strictness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.common.framing import Discarded, Framer
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import LinkFrame, parse_frame
from tests.protocols import streams

from .samples import CLOCK_RESPONSE, F129_RESPONSE, LOGIN, LOGIN_CONFIRM
from .strategies import chunked, frames, garbage, noise

Event = LinkFrame | Discarded
STREAM = LOGIN + F129_RESPONSE + CLOCK_RESPONSE


def run(chunks: list[bytes], framer: Gdw376Framer | None = None) -> list[Event]:
    return streams.feed_all(framer or Gdw376Framer(), chunks)


def frames_of(events: list[Event]) -> list[bytes]:
    return [frame.raw for frame in streams.split_events(events)[0]]


def discards_of(events: list[Event]) -> list[tuple[str, bytes]]:
    return streams.split_events(events)[1]


def test_framer_implements_the_shared_protocol() -> None:
    framer: Framer[LinkFrame] = Gdw376Framer()
    assert framer.feed(LOGIN) == [parse_frame(LOGIN)]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_whole_stream_of_each_buffer_type(kind: type) -> None:
    framer = Gdw376Framer()
    assert frames_of(framer.feed(kind(STREAM))) == [LOGIN, F129_RESPONSE, CLOCK_RESPONSE]
    assert framer.buffered == 0


@pytest.mark.parametrize("cut", range(1, len(F129_RESPONSE)))
def test_split_in_two_anywhere(cut: int) -> None:
    framer = Gdw376Framer()
    assert framer.feed(F129_RESPONSE[:cut]) == []
    assert framer.buffered == cut
    assert frames_of(framer.feed(F129_RESPONSE[cut:])) == [F129_RESPONSE]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_byte_by_byte(kind: type) -> None:
    events = run([kind(STREAM[i : i + 1]) for i in range(len(STREAM))])
    assert events == [parse_frame(LOGIN), parse_frame(F129_RESPONSE), parse_frame(CLOCK_RESPONSE)]


def test_garbage_before_and_between() -> None:
    events = run([b"\x01\x02" + LOGIN + b"\xff\x16" + LOGIN_CONFIRM])
    assert frames_of(events) == [LOGIN, LOGIN_CONFIRM]
    assert discards_of(events) == [("garbage", b"\x01\x02"), ("garbage", b"\xff\x16")]
    assert isinstance(events[0], Discarded)  # stream order kept


def test_garbage_without_start_byte_is_dropped_at_once() -> None:
    framer = Gdw376Framer()
    assert discards_of(framer.feed(b"\x00\x16\x01")) == [("garbage", b"\x00\x16\x01")]
    assert framer.buffered == 0


def test_bad_checksum_then_good_frame() -> None:
    bad = bytearray(LOGIN)
    bad[-2] ^= 0xFF
    events = run([bytes(bad) + LOGIN_CONFIRM])
    assert frames_of(events) == [LOGIN_CONFIRM]
    # Resync starts at the byte after the failed 68H: the bad frame is dropped up to the next 68H (its own 2nd one).
    assert discards_of(events)[0] == ("checksum", bytes(bad[:5]))
    assert all(reason in {"checksum", "bad_header", "bad_length", "garbage"} for reason, _ in discards_of(events))
    assert b"".join(d for _, d in discards_of(events)) == bytes(bad)


def test_bad_end_byte() -> None:
    bad = LOGIN[:-1] + b"\x17"
    events = run([bad + LOGIN])
    assert discards_of(events)[0][0] == "bad_end"
    assert frames_of(events) == [LOGIN]


def test_checksum_equal_to_end_byte() -> None:
    # AFN02 F1 from terminal 4403:00142 (A2 = 8EH): CS = 16H; the framer must use L, not look for 16H.
    raw = bytes.fromhex("68 3200 3200 68 C9 0344 8E00 00 02 75 0000 0100 16 16")
    for cut in range(1, len(raw)):
        assert frames_of(run([raw[:cut], raw[cut:]])) == [raw]


def test_l1_differs_from_l2() -> None:
    bad = bytes.fromhex("68 3200 3600 68") + LOGIN[6:]
    events = run([bad + LOGIN])
    assert discards_of(events)[0] == ("bad_length", bad[:5])
    assert frames_of(events) == [LOGIN]


def test_no_second_start_byte() -> None:
    bad = bytes.fromhex("68 3200 3200 69") + LOGIN[6:]
    events = run([bad + LOGIN])
    assert discards_of(events)[0][0] == "bad_header"
    assert frames_of(events) == [LOGIN]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("68 0A00", "bad_length"),  # 2 user bytes: less than C+A+AFN+SEQ
        ("68 3000", "bad_header"),  # protocol id 0
        ("68 FEFF", "too_long"),  # 16383 user bytes > max_length 1000
    ],
)
def test_header_checks_before_the_whole_header_arrives(header: str, reason: str) -> None:
    framer = Gdw376Framer(max_length=1000)
    events = framer.feed(bytes.fromhex(header))
    assert discards_of(events) == [(reason, bytes.fromhex(header))]
    assert framer.buffered == 0


def test_pid_1_lenient_warns_and_strict_discards() -> None:
    raw = bytearray(LOGIN)
    raw[1] = raw[3] = 0x31
    lenient = Gdw376Framer().feed(bytes(raw))
    assert isinstance(lenient[0], LinkFrame)
    assert lenient[0].warnings == ("protocol id 1 (Q/GDW 130-2005) on a 376.1 frame",)
    strict = Gdw376Framer(strict=True).feed(bytes(raw))
    assert not frames_of(strict)
    assert discards_of(strict)[0][0] == "bad_header"


def test_link_decode_failure_skips_the_whole_frame() -> None:
    # CS and end are right but A1 is not BCD: strict mode rejects the link fields.
    body = bytes.fromhex("C9 A344 0C00 00 02 75 0000 0100")
    raw = bytes.fromhex("68 3200 3200 68") + body + bytes((sum(body) & 0xFF, 0x16))
    events = Gdw376Framer(strict=True).feed(raw + LOGIN)
    assert discards_of(events) == [("decode", raw)]
    assert frames_of(events) == [LOGIN]


def test_false_start_claiming_a_long_length_then_idle_recovers_the_frame() -> None:
    false_start = bytes.fromhex("68 FE0F FE0F 68 00")  # claims 1023 user bytes that never come
    framer = Gdw376Framer()
    assert framer.feed(false_start + LOGIN) == []
    assert framer.buffered == len(false_start + LOGIN)
    dropped = framer.idle()
    # The false start goes as "stalled"; its own second 68H (followed by 00) then fails the header checks.
    assert [(d.reason, d.data) for d in dropped] == [("stalled", false_start[:5]), ("bad_header", false_start[5:])]
    assert framer.buffered == 0
    assert framer.feed(b"") == [parse_frame(LOGIN)]
    assert framer.feed(b"") == []


def test_idle_drops_a_partial_frame() -> None:
    framer = Gdw376Framer()
    framer.feed(LOGIN[:9])
    # 68 32 00 32 00 | 68 C9 03 44: the second 68H is tried too (its L reads 03C9H) and given up as well.
    assert [(d.reason, d.data) for d in framer.idle()] == [("stalled", LOGIN[:5]), ("stalled", LOGIN[5:9])]
    assert framer.buffered == 0
    assert framer.idle() == []


def test_idle_with_a_partial_frame_then_the_stream_goes_on() -> None:
    framer = Gdw376Framer()
    framer.feed(LOGIN[:9])
    framer.idle()
    assert frames_of(framer.feed(LOGIN_CONFIRM)) == [LOGIN_CONFIRM]


@given(st.lists(frames, min_size=1, max_size=5), st.lists(st.integers(min_value=0), max_size=12))
def test_any_chunking_yields_the_same_frames(built: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(built)
    events = run(chunked(stream, cuts))
    assert frames_of(events) == built
    assert not discards_of(events)


@given(garbage, frames, garbage, frames)
def test_garbage_before_and_between_frames_is_survived(g1: bytes, f1: bytes, g2: bytes, f2: bytes) -> None:
    events = run([g1 + f1 + g2 + f2])
    assert frames_of(events) == [f1, f2]
    assert b"".join(d for _, d in discards_of(events)) == g1 + g2


@given(noise, frames)
def test_noise_then_idle_then_frame(junk: bytes, built: bytes) -> None:
    """Whatever came before, after idle() the next whole frame is found."""
    framer = Gdw376Framer()
    framer.feed(junk)
    framer.idle()
    framer.feed(b"")
    assert frames_of(framer.feed(built)) == [built]


@given(st.lists(noise, max_size=6))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    framer = Gdw376Framer()
    events: list[Event] = []
    for chunk in chunks:
        events += framer.feed(chunk)
    events += framer.idle()
    events += framer.feed(b"")
    assert all(isinstance(e, Discarded) for e in events)
    assert sum(len(e.data) for e in events if isinstance(e, Discarded)) == sum(map(len, chunks))
    assert framer.buffered == 0
