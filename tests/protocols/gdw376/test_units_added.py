"""Table tests for the Fn added to close issue 3's list (bytes written by hand from the layouts cited in the
modules' docstrings)."""

from __future__ import annotations

from datetime import datetime

import pytest

from protocols.errors import DecodeError
from protocols.gdw376.link import Dir
from protocols.gdw376.units import DataUnit, decode_units, encode_units, lookup
from protocols.gdw376.units.erc import decode_event, encode_event, event_record

# DA p0 = 00 00; DT of F30: (30 - 1) = 29 → DT1 = 1 << (29 % 8) = 20H, DT2 = 29 // 8 = 03H.
F30_ID = bytes.fromhex("0000 2003")


@pytest.mark.parametrize(("body", "enabled"), [("01", 1), ("00", 0), ("55", 0x55)])
def test_afn05_f30_meter_time_set_switch(body: str, enabled: int) -> None:
    data = F30_ID + bytes.fromhex(body)
    for edition in (None, "2013"):
        assert decode_units(0x05, data, Dir.DOWN, edition=edition) == [DataUnit(0, 30, {"enabled": enabled})]
    assert encode_units(0x05, [DataUnit(0, 30, {"enabled": enabled})], Dir.DOWN) == data


def test_afn05_f30_name_and_truncation() -> None:
    codec = lookup(0x05, 30, Dir.DOWN, "2013")
    assert codec is not None and codec.name == "终端对电能表对时功能的开启与关闭"
    with pytest.raises(DecodeError, match="AFN05/F30/p0"):
        decode_units(0x05, F30_ID, Dir.DOWN)


# ERC41 对时事件记录 in its two published shapes: Le 14 (point, before, after — a terminal firmware) and Le 19 (发生时间
# A.15 first — a master-side decoder). p5, 08:00:00 → 08:00:30 on Wednesday 2024-05-01 (A.1 month byte 65).
ERC41_SHORT = "0500 000008016524 300008016524"
ERC41_LONG = "3008010524 " + ERC41_SHORT  # 发生时间 08:30 2024-05-01 (A.15)
CLOCK_SET = {
    "point": {"pn": 5, "start": 0},
    "before": datetime(2024, 5, 1, 8, 0),
    "after": datetime(2024, 5, 1, 8, 0, 30),
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [(ERC41_SHORT, CLOCK_SET), (ERC41_LONG, {"time": datetime(2024, 5, 1, 8, 30), **CLOCK_SET})],
)
def test_erc41_both_shapes_decode_and_encode(body: str, expected: dict[str, object]) -> None:
    raw = bytes.fromhex(body)
    record = decode_event(41, raw, strict=True)
    assert record.value == expected
    assert record.value is not None and list(record.value) == list(expected)  # wire order
    assert encode_event(event_record(41, expected)) == bytes((41, len(raw))) + raw
