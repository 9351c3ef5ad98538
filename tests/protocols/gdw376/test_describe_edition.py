"""``describe_frame(frame, edition)``: auto picks 2009 unless the frame proves 2013 and says why; a fixed edition
is used as given, with a warning for an Fn that edition marks 备用."""

from __future__ import annotations

from typing import Any

import pytest

from protocols.gdw376.describe import describe_bytes, describe_frame, detect_edition
from protocols.gdw376.link import parse_frame

from .samples import CLOCK_RESPONSE, HEARTBEAT_2009, HEARTBEAT_2013, framed

# AFN05 F30 (DT 20 03) p0, body 01 = 开启; C=4A, MSA 1, SEQ 61, PW all zero.
F30_COMMAND = framed("4A 0344 0C00 02 05 61 0000 2003 01" + "00" * 16)
# AFN0C F165 (DT 10 14) p1 answered in the 2013 layout: 抄表时间 A.15 08:00 2024-05-01, then A.10 count + A.1 time
# twice (1 programming-switch operation, 2 cover openings). With 2009's A.8 + A.15 the bytes do not fit.
F165_2013 = framed(
    "88 0344 0C00 04 0C 61 0101 1014 0008010524 010000 000008010524 020000 000009010524",
)


def edition_of(raw: bytes, edition: str = "auto") -> dict[str, object]:
    described = describe_frame(parse_frame(raw), edition)
    value = described["edition"]
    assert isinstance(value, dict)
    return value


def test_auto_is_2009_without_evidence() -> None:
    for raw in (HEARTBEAT_2009, CLOCK_RESPONSE):
        assert edition_of(raw) == {"requested": "auto", "used": "2009", "evidence": None}
        assert detect_edition(parse_frame(raw)) == ("2009", None)


def test_auto_sees_a_heartbeat_with_a_clock() -> None:
    assert edition_of(HEARTBEAT_2013) == {
        "requested": "auto",
        "used": "2013",
        "evidence": "heartbeat carries a clock (AFN02 F3 with A.1)",
    }


def test_auto_sees_an_fn_only_2013_defines_and_2009_warns_about_it() -> None:
    assert edition_of(F30_COMMAND)["evidence"] == "AFN05 F30 exists only in Q/GDW 1376.1-2013"
    described: dict[str, Any] = describe_frame(parse_frame(F30_COMMAND), "2009")
    assert described["valid"] is True
    assert described["edition"] == {"requested": "2009", "used": "2009", "evidence": None}
    assert described["units"] == [{"pn": 0, "fn": 30, "name": "终端对电能表对时功能的开启与关闭", "enabled": 1}]
    (warning,) = described["warnings"]
    assert warning.startswith("AFN05 F30 is reserved (备用) in Q/GDW 376.1-2009 (§5.6")
    assert warning.endswith("; decoded with its 2013 layout")


def test_auto_sees_units_that_decode_only_with_2013_layouts() -> None:
    auto: dict[str, Any] = describe_frame(parse_frame(F165_2013))
    assert auto["valid"] is True
    assert auto["edition"] == {
        "requested": "auto",
        "used": "2013",
        "evidence": "the data units decode only with the Q/GDW 1376.1-2013 layouts",
    }
    (unit,) = auto["units"]
    assert unit["fn"] == 165
    # read time, then count (A.10) and time (A.1) twice, in wire order
    assert list(unit.values())[3:] == [
        "2024-05-01T08:00:00",
        "1",
        "2024-05-01T08:00:00",
        "2",
        "2024-05-01T09:00:00",
    ]
    fixed = describe_frame(parse_frame(F165_2013), "2009")
    assert fixed["valid"] is False and fixed["errors"]
    assert fixed["edition"] == {"requested": "2009", "used": "2009", "evidence": None}


def test_auto_sees_an_erc_only_2013_defines() -> None:
    # AFN0E F1 answer: EC1 1, EC2 0, Pm 0, Pn 1, one record ERC41 (29H) Le 14 (0EH): p5, 08:00:00 → 08:00:30.
    raw = framed("88 0344 0C00 04 0E 61 0000 0100 01 00 00 01 29 0E 0500 000008016524 300008016524")
    assert edition_of(raw) == {
        "requested": "auto",
        "used": "2013",
        "evidence": "event ERC41 exists only in Q/GDW 1376.1-2013",
    }


def test_a_fixed_edition_is_used_as_given() -> None:
    assert edition_of(HEARTBEAT_2013, "2009") == {"requested": "2009", "used": "2009", "evidence": None}
    assert edition_of(HEARTBEAT_2009, "2013") == {"requested": "2013", "used": "2013", "evidence": None}


def test_describe_bytes_covers_frames_that_do_not_parse() -> None:
    assert describe_bytes(HEARTBEAT_2013, "2013")["edition"] == {"requested": "2013", "used": "2013", "evidence": None}
    broken: dict[str, Any] = describe_bytes(HEARTBEAT_2013[:-3] + b"\x00\x00\x16")
    assert broken["valid"] is False
    assert broken["edition"]["requested"] == "auto"


def test_a_reserved_fn_is_reported_as_reserved() -> None:
    # AFN0D request p1 F55 (DT 40 06): 备用 in both editions' lists; the message names the edition decoded with.
    raw = framed("4B 0344 0C00 04 0D 61 0101 4006")
    for edition, standard in (("auto", "Q/GDW 376.1-2009"), ("2013", "Q/GDW 1376.1-2013")):
        described: dict[str, Any] = describe_bytes(raw, edition)
        assert described["valid"] is False
        (error,) = described["errors"]
        assert error.startswith(f"ReservedFn: AFN0D F55 is reserved (备用) in {standard} (请求2类数据")


def test_an_unknown_edition_is_refused() -> None:
    with pytest.raises(ValueError, match="edition must be one of"):
        describe_frame(parse_frame(HEARTBEAT_2009), "2011")
