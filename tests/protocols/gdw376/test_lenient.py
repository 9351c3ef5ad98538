"""Strict and lenient modes (docs/gdw376.md "Strict and lenient"): every deviation real terminals send is accepted
with a warning on the frame in lenient mode and rejected in strict mode — parse_frame and the framer alike.

Deviations (PROTOCOLS.md A.2, A.5, A.7, D.3, D.5): protocol id 01, ACD=1 without EC, CON set in a response, a
vendor C byte, FIR=0/FIN=1 on a single-frame response (that one needs the response's context, so it is checked
by the reassembler: test_reassembly.py), and a non-BCD A1.
"""

from __future__ import annotations

import pytest

from protocols.common.framing import Discarded
from protocols.errors import ProtocolError
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import LinkFrame, parse_frame
from protocols.gdw376.units import decode_frame_units

from .samples import frame, framed

# name, frame, the lenient warning (hand-written), the strict error class
CASES = [
    (
        "protocol id 01",
        frame("68 3100 3100 68 C9 0344 0C00 00 02 75 0000 0100 94 16"),  # L D1..D0 = 01
        "protocol id 1 (Q/GDW 130-2005) on a 376.1 frame",
        "FrameError",
    ),
    (
        "ACD=1 without EC",
        framed("A0 0344 0C00 04 00 61 0000 0100"),  # AFN00 F1 with A0 = ACD, but only DA DT follow
        "EC (ACD=1) expected but absent: user data length does not fit",
        "FrameError",
    ),
    (
        "CON set in a response",
        framed("88 0344 0C00 04 0C 71 0000 0200 300008016524"),  # SEQ 71: CON=1 on a PRM=0 frame
        "CON=1 in a responding-station frame (PRM=0)",
        "DecodeError",
    ),
    (
        "vendor C byte: PRM=0 FC=5",
        framed("85 0344 0C00 04 0C 61 0000 0200 300008016524"),
        "vendor C byte 85H: function code 5 is not defined for PRM=0",
        "DecodeError",
    ),
    (
        "vendor C byte: PRM=1 FC=3",
        framed("C3 0344 0C00 00 02 75 0000 0100"),
        "vendor C byte C3H: function code 3 is not defined for PRM=1",
        "DecodeError",
    ),
    (
        "vendor C byte: uplink D4 set",
        framed("98 0344 0C00 04 0C 61 0000 0200 300008016524"),  # 98 = DIR PRM=0 D4 FC=8
        "vendor C byte 98H: reserved D4 set in an uplink frame",
        "DecodeError",
    ),
    (
        "A1 not BCD",
        framed("C9 A344 0C00 00 02 75 0000 0100"),
        "A1 44A3 is not BCD",
        "DecodeError",
    ),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("name", "raw", "warning", "error"), CASES, ids=IDS)
def test_lenient_accepts_with_a_warning(name: str, raw: bytes, warning: str, error: str) -> None:
    parsed = parse_frame(raw)
    assert parsed.warnings == (warning,)
    assert decode_frame_units(parsed)[1].warnings == (warning,)
    (event,) = Gdw376Framer().feed(raw)
    assert isinstance(event, LinkFrame) and event.warnings == (warning,)


@pytest.mark.parametrize(("name", "raw", "warning", "error"), CASES, ids=IDS)
def test_strict_rejects(name: str, raw: bytes, warning: str, error: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_frame(raw, strict=True)
    assert type(info.value).__name__ == error
    events = Gdw376Framer(strict=True).feed(raw)
    assert events and all(isinstance(e, Discarded) for e in events)


def test_acd_without_ec_found_only_by_the_data_units() -> None:
    # 6 bytes after the F2 identifier fit "A.1 clock" or "4 bytes + EC"; the link takes EC, the units put it back
    raw = framed("A8 0344 0C00 04 0C 61 0000 0200 300008016524")
    link = parse_frame(raw)
    assert link.aux.ec == (0x65, 0x24) and link.warnings == ()
    units, fixed = decode_frame_units(link)
    assert fixed.aux.ec is None
    assert fixed.warnings == ("ACD=1 but no EC: the 2 bytes before Tp/CS are data",)
    assert units[0].fn == 2


def test_standard_frames_have_no_warnings_in_either_mode() -> None:
    for hex_ in ("88 0344 0C00 04 0C 61 0000 0200 300008016524", "C9 0344 0C00 00 02 75 0000 0100"):
        raw = framed(hex_)
        assert parse_frame(raw).warnings == ()
        assert parse_frame(raw, strict=True) == parse_frame(raw)
