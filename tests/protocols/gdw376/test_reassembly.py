"""Multi-frame responses: FIR/FIN, RSEQ from the request's PSEQ mod 16, duplicates, order, CON (Q/GDW 376.1
§4.3.4.5; protocols/gdw376/reassembly.py). Frames are hand-written (samples.framed works out L and CS only)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376 import messages
from protocols.gdw376.link import Address, Afn, Control, LinkFrame, Seq, build_frame, parse_frame
from protocols.gdw376.reassembly import (
    FIR0_SINGLE,
    Accepted,
    Completed,
    ConfirmRequired,
    Event,
    Failed,
    Ignored,
    Reassembler,
    ReassemblyError,
)
from protocols.gdw376.units import DataUnit, EnergyIndication

from .samples import framed

#: DA of p1..p8 (DA2 = 1, DA1 = bit pn-1).
DA = {pn: f"{1 << (pn - 1):02X}01" for pn in range(1, 9)}


def f129(seq: int, pn: int, total: str = "7856341200") -> LinkFrame:
    """AFN0C F129 response (C=88, MSA 2) for one point: read 2024-05-01 08:00, M=0, total only (A.14)."""
    return parse_frame(framed(f"88 0344 0C00 04 0C {seq:02X} {DA[pn]} 0110 0008010524 00 {total}"))


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_three_frames_first_middle_last() -> None:
    r = Reassembler(3)
    first = r.feed(f129(0x43, 1))  # FIR=1 FIN=0, RSEQ 3 = PSEQ
    middle = r.feed(f129(0x04, 2))  # FIR=0 FIN=0, RSEQ 4
    last = r.feed(f129(0x25, 3))  # FIR=0 FIN=1, RSEQ 5
    assert kinds(first) == kinds(middle) == ["Accepted"]
    assert kinds(last) == ["Accepted", "Completed"]
    assert [e.index for e in (*first, *middle) if isinstance(e, Accepted)] == [0, 1]
    done = last[-1]
    assert isinstance(done, Completed)
    assert [(u.pn, u.fn) for u in done.units] == [(1, 129), (2, 129), (3, 129)]
    assert isinstance(done.units[0].value, EnergyIndication)
    assert done.units[0].value.total == Decimal("1234.5678")
    assert [f.seq.seq for f in done.frames] == [3, 4, 5]
    assert r.done and r.completed is done


def test_single_frame() -> None:
    events = Reassembler(3).feed(f129(0x63, 1))
    assert kinds(events) == ["Accepted", "Completed"]


def test_rseq_wraps_mod_16() -> None:
    r = Reassembler(15)
    events = [*r.feed(f129(0x4F, 1)), *r.feed(f129(0x00, 2)), *r.feed(f129(0x21, 3))]
    assert kinds(events) == ["Accepted", "Accepted", "Accepted", "Completed"]


def test_more_than_16_frames_wrap_and_still_complete() -> None:
    r = Reassembler(0)
    events: list[Event] = []
    for i in range(20):
        fir, fin = i == 0, i == 19
        seq = (0x40 if fir else 0) | (0x20 if fin else 0) | (i % 16)
        events += r.feed(f129(seq, i % 8 + 1))
    assert kinds(events).count("Accepted") == 20
    assert isinstance(events[-1], Completed) and len(events[-1].units) == 20


def test_duplicate_is_dropped() -> None:
    r = Reassembler(3)
    r.feed(f129(0x43, 1))
    r.feed(f129(0x04, 2))
    again = r.feed(f129(0x04, 2))
    assert kinds(again) == ["Ignored"]
    assert isinstance(again[0], Ignored) and "duplicate" in again[0].reason
    assert kinds(r.feed(f129(0x25, 3))) == ["Accepted", "Completed"]


def test_frame_not_answering_this_request_is_ignored() -> None:
    r = Reassembler(3)
    events = r.feed(f129(0x62, 1))  # RSEQ 2: a late answer to the previous request
    assert kinds(events) == ["Ignored"]
    assert not r.done and r.expected_rseq == 3


def test_out_of_order_fails_then_the_resent_response_completes() -> None:
    r = Reassembler(3)
    r.feed(f129(0x43, 1))
    skipped = r.feed(f129(0x25, 3))  # RSEQ 5 where 4 was due
    assert kinds(skipped) == ["Failed"]
    assert isinstance(skipped[0], Failed) and isinstance(skipped[0].error, ReassemblyError)
    assert "RSEQ 4" in str(skipped[0].error)
    assert r.frames == () and r.expected_rseq == 3
    # the terminal answers the retransmitted request with the whole response again
    events = [*r.feed(f129(0x43, 1)), *r.feed(f129(0x04, 2)), *r.feed(f129(0x25, 3))]
    assert kinds(events) == ["Accepted", "Accepted", "Accepted", "Completed"]


def test_a_new_first_frame_restarts_the_collection() -> None:
    r = Reassembler(3)
    r.feed(f129(0x43, 1))
    events = r.feed(f129(0x43, 1, total="0000000000"))  # FIR=1 RSEQ=PSEQ again, other contents
    assert kinds(events) == ["Failed", "Accepted"]
    assert kinds(r.feed(f129(0x24, 2))) == ["Accepted", "Completed"]
    assert r.completed is not None and len(r.completed.units) == 2


def test_con_asks_for_a_confirmation_even_on_a_duplicate() -> None:
    r = Reassembler(3)
    first = r.feed(f129(0x53, 1))  # FIR, CON=1
    assert kinds(first) == ["ConfirmRequired", "Accepted"]
    assert isinstance(first[0], ConfirmRequired)
    # the confirmation answers that frame: AFN00 F1, C=0 (PRM=0 FC=0 认可), RSEQ 3
    answer = parse_frame(messages.confirm(first[0].frame))
    assert (answer.afn, answer.seq.seq, answer.control.to_byte()) == (Afn.CONFIRM_DENY, 3, 0x00)
    assert kinds(r.feed(f129(0x53, 1))) == ["ConfirmRequired", "Ignored"]  # our confirmation was lost
    assert kinds(r.feed(f129(0x34, 2))) == ["ConfirmRequired", "Accepted", "Completed"]


def test_frames_after_the_end_are_ignored() -> None:
    r = Reassembler(3)
    r.feed(f129(0x63, 1))
    assert kinds(r.feed(f129(0x63, 1))) == ["Ignored"]


def test_fir0_single_frame_lenient_warns_strict_fails() -> None:
    odd = f129(0x23, 1)  # FIR=0 FIN=1 on the only frame (PROTOCOLS.md A.5: SEQ A2 seen in the field)
    events = Reassembler(3).feed(odd)
    assert kinds(events) == ["Accepted", "Completed"]
    assert isinstance(events[0], Accepted) and events[0].frame.warnings == (FIR0_SINGLE,)
    strict = Reassembler(3, strict=True).feed(odd)
    assert kinds(strict) == ["Failed"]
    assert isinstance(strict[0], Failed) and str(strict[0].error) == FIR0_SINGLE


def test_undecodable_frame_fails_with_the_decode_error() -> None:
    r = Reassembler(3)
    r.feed(f129(0x43, 1))
    bad = parse_frame(framed(f"88 0344 0C00 04 0C 04 {DA[2]} 0110 0008010524 04 7856341200"))  # M=4, 1 value
    events = r.feed(bad)
    assert kinds(events) == ["Failed"]
    assert isinstance(events[0], Failed) and isinstance(events[0].error, DecodeError)
    assert r.frames == ()


def test_deny_completes_with_the_afn00_unit() -> None:
    deny = parse_frame(framed("89 0344 0C00 04 00 63 0000 0200"))  # AFN00 F2 全部否认, RSEQ 3
    events = Reassembler(3).feed(deny)
    assert isinstance(events[-1], Completed) and events[-1].units == (DataUnit(0, 2),)


def test_limits() -> None:
    with pytest.raises(LocalProtocolError):
        Reassembler(16)
    r = Reassembler(3, max_frames=1)
    r.feed(f129(0x43, 1))
    assert kinds(r.feed(f129(0x04, 2))) == ["Failed"]


# --- property: any split into frames, duplicates anywhere, gives back the units -------------------------------

TERMINAL = Address("4403", 12, 2)


@given(
    pseq=st.integers(0, 15),
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=20),
    dups=st.lists(st.integers(0, 100), max_size=5),
)
def test_any_split_with_duplicates_reassembles(pseq: int, sizes: list[int], dups: list[int]) -> None:
    clock = parse_frame(framed("88 0344 0C00 04 0C 60 0000 0200 300008016524")).data  # DA DT + A.1
    frames = [
        build_frame(
            Control.from_byte(0x88),
            TERMINAL,
            Afn.REQUEST_CLASS1,
            Seq(False, i == 0, i == len(sizes) - 1, False, (pseq + i) % 16),
            clock * size,
        )
        for i, size in enumerate(sizes)
    ]
    stream = list(frames)
    for d in dups:
        at = d % len(stream)
        stream.insert(at + 1, stream[at])
    r = Reassembler(pseq)
    events = [e for raw in stream for e in r.feed(parse_frame(raw))]
    assert not any(isinstance(e, Failed) for e in events)
    done = [e for e in events if isinstance(e, Completed)]
    assert len(done) == 1
    assert len(done[0].units) == sum(sizes)
    assert len(done[0].frames) == len(sizes)
