"""protocols.common.scramble: the DL/T 645 ±33H of the data field (DL/T 645-2007 §4.3 数据域)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.common.scramble import add33, sub33


@pytest.mark.parametrize(
    ("plain", "wire"),
    [
        ("", ""),
        ("00000100", "33333433"),  # DI 00010000 low byte first
        ("56341200", "89674533"),  # 1234.56 kWh
        ("CD", "00"),  # wraps mod 256
        ("FF", "32"),
        ("EEEEEEEE", "21212121"),  # "no value" filler as sent
    ],
)
def test_scramble_hand_computed(plain: str, wire: str) -> None:
    assert add33(bytes.fromhex(plain)) == bytes.fromhex(wire)
    assert sub33(bytes.fromhex(wire)) == bytes.fromhex(plain)
    assert add33(bytearray.fromhex(plain)) == add33(memoryview(bytes.fromhex(plain)))


@given(st.binary())
def test_round_trip(data: bytes) -> None:
    assert sub33(add33(data)) == data
    assert add33(sub33(data)) == data
    assert all((w - p) % 256 == 0x33 for p, w in zip(data, add33(data), strict=True))
