"""Table tests for the Fn added to close issue 3's list (bytes written by hand from the layouts cited in the
modules' docstrings)."""

from __future__ import annotations

import pytest

from protocols.errors import DecodeError
from protocols.gdw376.link import Dir
from protocols.gdw376.units import DataUnit, decode_units, encode_units, lookup

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
