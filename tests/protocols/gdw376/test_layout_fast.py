"""The direct decode paths of LayoutCodec (fields only; fields + counts + one-field repeats) give exactly what the
compiled schema gives — values, sizes and errors — for every registered layout that takes them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.gdw376.formats import A14, A15
from protocols.gdw376.layout import Count, Field, LayoutCodec, Repeat
from protocols.gdw376.units import REGISTRY
from protocols.gdw376.units.registry import VARIANTS

from .layout_strategies import records

CODECS = sorted(
    {
        id(c.layout): c.layout
        for c in (*REGISTRY.values(), *VARIANTS.values())
        if c.layout is not None and (c.layout.slices is not None or c.layout.flat)
    }.values(),
    key=lambda c: c.name,
)


def _outcome(decode: object, data: bytes) -> object:
    try:
        return decode(data)  # type: ignore[operator]
    except DecodeError as exc:
        return ("DecodeError", exc.path)


def test_both_fast_paths_are_taken() -> None:
    assert any(c.slices is not None for c in CODECS)
    assert any(c.flat for c in CODECS)
    indication = LayoutCodec("t", (Field("t", A15), Count("m"), Repeat("v", "m", (Field("x", A14),), offset=1)))
    assert indication.flat and indication.slices is None


@pytest.mark.parametrize("codec", CODECS, ids=[c.name for c in CODECS])
@settings(max_examples=15)
@given(data=st.data())
def test_fast_path_equals_compiled(codec: LayoutCodec, data: st.DataObject) -> None:
    body = codec.encode(data.draw(records(codec.layout)))
    tail = data.draw(st.binary(max_size=4))
    assert codec.decode(body + tail) == codec.decode_compiled(body + tail)
    junk = data.draw(st.binary(max_size=len(body) + 4))
    assert _outcome(codec.decode, junk) == _outcome(codec.decode_compiled, junk)
    cut = data.draw(st.integers(0, max(len(body) - 1, 0)))
    assert _outcome(codec.decode, body[:cut]) == _outcome(codec.decode_compiled, body[:cut])
