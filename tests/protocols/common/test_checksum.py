"""protocols.common.checksum.sum8: the CS of Q/GDW 376.1 §4.3.3.6 and DL/T 645-2007 §4.3."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.common.checksum import sum8


@pytest.mark.parametrize(
    ("data", "cs"),
    [
        ("", 0x00),
        ("4B0344", 0x92),
        ("FF01", 0x00),  # wraps mod 256
        ("68 AAAAAAAAAAAA 68 13 00", 0xDF),  # DL/T 645 read-address request, added up by hand
        ("68 610100000000 68 11 04 33333433", 0x14),  # DL/T 645 read of 00010000
    ],
)
def test_sum8_hand_computed(data: str, cs: int) -> None:
    raw = bytes.fromhex(data)
    assert sum8(raw) == cs
    assert sum8(bytearray(raw)) == cs
    assert sum8(memoryview(raw)) == cs


@given(st.binary(), st.binary())
def test_sum8_is_additive_mod_256(a: bytes, b: bytes) -> None:
    assert sum8(a + b) == (sum8(a) + sum8(b)) % 256
    assert 0 <= sum8(a) <= 0xFF
