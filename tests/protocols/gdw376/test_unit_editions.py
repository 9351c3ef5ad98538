"""Edition-specific data-unit layouts: a terminal of edition "2013" gets the 1376.1-2013 codec where one is
registered, every other Fn (and every terminal without an edition) the default one."""

from __future__ import annotations

import pytest

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import BIN1, BIN2
from protocols.gdw376.layout import Field
from protocols.gdw376.link import Dir
from protocols.gdw376.units import DataUnit, decode_units, encode_units, lookup
from protocols.gdw376.units.registry import REGISTRY, VARIANTS, from_layout, register

AFN = 0x7E  # no such AFN in the standard: the test owns it
OLD = from_layout("one byte", (Field("x", BIN1),))
NEW = from_layout("two bytes", (Field("x", BIN2),))


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, (AFN, 1, Dir.UP), OLD)
    monkeypatch.setitem(VARIANTS, (AFN, 1, Dir.UP, "2013"), NEW)


@pytest.mark.usefixtures("registered")
def test_edition_picks_the_variant_and_falls_back_to_the_default() -> None:
    assert lookup(AFN, 1, Dir.UP) is OLD
    assert lookup(AFN, 1, Dir.UP, "2009") is OLD
    assert lookup(AFN, 1, Dir.UP, "2013") is NEW
    assert lookup(AFN, 2, Dir.UP, "2013") is None


@pytest.mark.usefixtures("registered")
def test_the_same_bytes_decode_per_edition() -> None:
    data = bytes.fromhex("0000 0100 3412")  # p0 F1, then 34 12
    with pytest.raises(DecodeError, match="truncated"):
        decode_units(AFN, data, Dir.UP)  # one byte per unit: 12 is left over as a truncated identifier
    assert decode_units(AFN, data, Dir.UP, edition="2013") == [DataUnit(0, 1, {"x": 0x1234})]
    assert encode_units(AFN, [DataUnit(0, 1, {"x": 0x1234})], Dir.UP, edition="2013") == data
    assert encode_units(AFN, [DataUnit(0, 1, {"x": 0x34})], Dir.UP) == bytes.fromhex("0000 0100 34")


def test_register_checks_the_edition_and_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("protocols.gdw376.units.registry.VARIANTS", dict(VARIANTS))
    with pytest.raises(LocalProtocolError, match="unknown edition"):
        register(AFN, 1, (Dir.UP,), NEW, edition="2011")
    register(AFN, 1, (Dir.UP,), NEW, edition="2013")
    with pytest.raises(LocalProtocolError, match=r"AFN7E F1 UP \(2013\) registered twice"):
        register(AFN, 1, (Dir.UP,), NEW, edition="2013")
