"""Every declarative data-unit codec: build → parse → build is the identity on generated values, the compiled
construct schema agrees with the interpreted one, and truncation is an error, not a silent short read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import A14, A15
from protocols.gdw376.layout import Count, Field, LayoutCodec, Record, Repeat
from protocols.gdw376.units import REGISTRY
from protocols.gdw376.units.registry import VARIANTS

from .layout_strategies import records

LAYOUT_CODECS = sorted(
    [(afn, fn, d.name, codec.layout) for (afn, fn, d), codec in REGISTRY.items() if codec.layout is not None]
    + [(afn, fn, f"{d.name}-{ed}", c.layout) for (afn, fn, d, ed), c in VARIANTS.items() if c.layout is not None],
    key=lambda t: (t[0], t[1], t[2]),
)
IDS = [f"AFN{afn:02X}-F{fn}-{d}" for afn, fn, d, _ in LAYOUT_CODECS]
#: Generated values per codec and test. Hundreds of codecs are registered (each also pinned by a hand-written
#: table test), so 25 each keeps this file to a few minutes on a 2-core machine instead of half an hour.
EXAMPLES = settings(max_examples=25)

INDICATION = LayoutCodec(
    "test indication", (Field("read_time", A15), Count("m"), Repeat("values", "m", (Field("value", A14),), offset=1))
)


def test_there_are_layout_codecs() -> None:
    assert LAYOUT_CODECS


@pytest.mark.parametrize(("afn", "fn", "direction", "codec"), LAYOUT_CODECS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_round_trip_and_compiled_equals_interpreted(
    afn: int, fn: int, direction: str, codec: LayoutCodec, data: st.DataObject
) -> None:
    value = data.draw(records(codec.layout))
    body = codec.encode(value)
    decoded, size = codec.decode(body + b"\x99\x99")  # trailing bytes belong to the next unit
    assert size == len(body)
    assert decoded == value
    assert codec.encode(decoded) == body
    assert codec.compiled.parse(body) == codec.interpreted.parse(body)


@pytest.mark.parametrize(("afn", "fn", "direction", "codec"), LAYOUT_CODECS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_every_truncation_is_a_decode_error(
    afn: int, fn: int, direction: str, codec: LayoutCodec, data: st.DataObject
) -> None:
    body = codec.encode(data.draw(records(codec.layout)))
    cut = data.draw(st.integers(0, len(body) - 1))
    with pytest.raises(DecodeError):
        codec.decode(body[:cut])


def test_hand_written_example() -> None:
    # 2026-11-23 08:30, M=2: total 1.0000, T1 0.5000, T2 no value (EE)
    body = bytes.fromhex("30082311260200000100000050000000EEEEEEEEEE")
    record, size = INDICATION.decode(body)
    assert size == 21
    assert record == {
        "read_time": datetime(2026, 11, 23, 8, 30),
        "m": 2,
        "values": (Decimal("1.0000"), Decimal("0.5000"), None),
    }
    assert INDICATION.encode({"read_time": datetime(2026, 11, 23, 8, 30), "values": record["values"]}) == body


def test_encode_checks_counts() -> None:
    with pytest.raises(LocalProtocolError, match="count says"):
        INDICATION.encode({"read_time": None, "m": 1, "values": (Decimal(1),)})
    with pytest.raises(LocalProtocolError, match="missing field"):
        INDICATION.encode({"values": ()})


def test_record_is_an_immutable_hashable_mapping() -> None:
    a = Record([("x", 1), ("y", (2, 3))])
    assert a == {"x": 1, "y": (2, 3)} and hash(a) == hash(Record({"x": 1, "y": (2, 3)}))
    assert list(a) == ["x", "y"]
    with pytest.raises(TypeError):
        a["x"] = 2  # type: ignore[index]
