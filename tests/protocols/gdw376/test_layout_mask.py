"""Masked counts (a count sharing its byte with flags) in declarative layouts, also ahead of raw bytes."""

from __future__ import annotations

import pytest

from protocols.errors import DecodeError
from protocols.gdw376.formats import BIN1
from protocols.gdw376.layout import Count, Field, LayoutCodec, Octets, Record, Repeat

MASKED = LayoutCodec("masked", (Count("n", 1, mask=0x0F), Repeat("items", "n", (Field("item", BIN1),))))
MASKED_OCTETS = LayoutCodec("masked octets", (Count("n", 1, mask=0x3F), Octets("data", "n")))


def test_flags_stay_in_the_count_value() -> None:
    record, size = MASKED.decode(bytes.fromhex("A2 07 08 FF"))  # flags AH, 2 items
    assert (record, size) == (Record({"n": 0xA2, "items": (7, 8)}), 3)
    assert MASKED.encode(record) == bytes.fromhex("A2 07 08")
    assert MASKED.compiled.parse(bytes.fromhex("A2 07 08")) == MASKED.interpreted.parse(bytes.fromhex("A2 07 08"))


def test_count_inferred_without_flags() -> None:
    assert MASKED.encode({"items": (1,)}) == bytes.fromhex("01 01")


def test_masked_octets_size_uses_the_count_bits_only() -> None:
    record, size = MASKED_OCTETS.decode(bytes.fromhex("C2 AA BB CC"))
    assert (record, size) == (Record({"n": 0xC2, "data": b"\xaa\xbb"}), 3)
    with pytest.raises(DecodeError):
        MASKED_OCTETS.decode(bytes.fromhex("C2 AA"))
