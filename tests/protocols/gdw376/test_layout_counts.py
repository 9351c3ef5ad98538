"""Layout counts beyond a plain M: a bit string whose 1 bits announce the blocks (有效标志位, AFN0C F5/F6), and a
count that an offset makes negative (谐波次数N = 0 with "2～N次" blocks)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import A7, BIN1
from protocols.gdw376.layout import Count, Field, LayoutCodec, Repeat

GROUPS = LayoutCodec(
    "test groups",
    (
        Count("valid", 1, "有效标志位", bitmap=True),
        Repeat("groups", "valid", (Field("scheme", BIN1), Field("x", BIN1))),
    ),
)
HARMONICS = LayoutCodec("test harmonics", (Count("n"), Repeat("u", "n", (Field("value", A7),), offset=-1)))


def test_bitmap_count_is_the_number_of_one_bits() -> None:
    body = bytes.fromhex(
        "05"  # 有效标志位: D0 and D2 -> groups 1 and 3
        "01 AA"  # group 1: scheme 1, x AAH
        "02 BB"  # group 3: scheme 2, x BBH
        "FF"  # next unit
    )
    record, size = GROUPS.decode(body)
    assert size == 5
    assert record == {"valid": 5, "groups": ({"scheme": 1, "x": 0xAA}, {"scheme": 2, "x": 0xBB})}
    assert GROUPS.compiled.parse(body[:5]) == GROUPS.interpreted.parse(body[:5])
    assert GROUPS.encode(record) == body[:5]


def test_bitmap_count_with_no_bit_set_has_no_blocks() -> None:
    assert GROUPS.decode(b"\x00") == ({"valid": 0, "groups": ()}, 1)


def test_bitmap_count_truncated_blocks_are_an_error() -> None:
    with pytest.raises(DecodeError):
        GROUPS.decode(bytes.fromhex("07 01AA 02BB"))  # three bits, two blocks


def test_bitmap_count_must_match_the_blocks_on_encode() -> None:
    with pytest.raises(LocalProtocolError, match="count says 2"):
        GROUPS.encode({"valid": 0b11, "groups": ({"scheme": 1, "x": 0},)})
    with pytest.raises(LocalProtocolError, match="missing count"):  # the bits cannot be guessed from the blocks
        GROUPS.encode({"groups": ()})


def test_negative_item_count_is_a_decode_error_not_an_empty_list() -> None:
    assert HARMONICS.decode(bytes.fromhex("02 3022"))[0] == {"n": 2, "u": (Decimal("223.0"),)}  # 2次: 223.0 V
    with pytest.raises(DecodeError, match="invalid count"):
        HARMONICS.decode(b"\x00")
