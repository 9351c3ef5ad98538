"""The :class:`~protocols.gdw376.layout.Octets` element: a counted run of raw bytes (AFN10 透明转发内容, AFN0F
文件数据), with a negative offset for counts that include a fixed head (AFN10 F9 "k+4")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import BIN1, RawFormat
from protocols.gdw376.layout import Count, Field, LayoutCodec, Octets

from .layout_strategies import records

# port, k+4, DI(4), k bytes — the shape of AFN10 F9's uplink answer
CODEC = LayoutCodec(
    "test k+4",
    (Field("port", BIN1), Count("length"), Field("di", RawFormat(4)), Octets("data", "length", offset=-4)),
)
FIXED = LayoutCodec("test fixed", (Octets("pw", 3), Field("tail", BIN1)))


def test_hand_written_body() -> None:
    body = bytes.fromhex("1F 06 00010203 AABB")  # port 31, k+4 = 6, DI, two data bytes
    record, size = CODEC.decode(body + b"\x99")
    assert size == 8
    assert record == {"port": 31, "length": 6, "di": bytes.fromhex("00010203"), "data": b"\xaa\xbb"}
    assert CODEC.encode({"port": 31, "di": bytes.fromhex("00010203"), "data": b"\xaa\xbb"}) == body


def test_fixed_count() -> None:
    assert FIXED.decode(bytes.fromhex("010203 04")) == ({"pw": b"\x01\x02\x03", "tail": 4}, 4)


@pytest.mark.parametrize(
    "hex_body",
    [
        "1F 02 00010203",  # k+4 = 2: a negative data length
        "1F 06 00010203 AA",  # one data byte short
        "1F 06 000102",  # DI truncated
        "0102",  # FIXED-shaped: too short for the CODEC
    ],
)
def test_bad_lengths_are_decode_errors(hex_body: str) -> None:
    with pytest.raises(DecodeError):
        CODEC.decode(bytes.fromhex(hex_body))


def test_encode_checks_the_count() -> None:
    with pytest.raises(LocalProtocolError, match="count says"):
        CODEC.encode({"port": 1, "length": 7, "di": bytes(4), "data": b"\xaa"})
    with pytest.raises(LocalProtocolError, match="count says"):
        FIXED.encode({"pw": b"\x01", "tail": 0})


@given(data=st.data())
def test_round_trip(data: st.DataObject) -> None:
    value = data.draw(records(CODEC.layout))
    body = CODEC.encode(value)
    assert CODEC.decode(body) == (value, len(body))
    assert CODEC.compiled.parse(body) == CODEC.interpreted.parse(body)
