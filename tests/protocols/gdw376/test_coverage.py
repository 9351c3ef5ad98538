"""Issue 3's Fn list, exactly: every Fn it names is either implemented (a codec in each direction that carries
a data unit, for both editions) or registered as reserved (备用) — and the test knows which, so a reserved Fn
that later gets a layout, or a layout that disappears, fails here."""

from __future__ import annotations

import pytest

from protocols.errors import LocalProtocolError, UnsupportedFn
from protocols.gdw376.da_dt import encode_da, encode_dt
from protocols.gdw376.link import Dir
from protocols.gdw376.units import DataUnit, decode_units, encode_units, lookup
from protocols.gdw376.units.erc import ERCS
from protocols.gdw376.units.registry import (
    EDITIONS,
    RESERVED,
    ReservedFn,
    only_in_edition,
    reservation,
    reserve,
)


def span(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


BOTH = (Dir.DOWN, Dir.UP)
PARAMETERS = [1, *span(3, 12), 16, 25, 26, 33, 38, 39, *span(41, 49), 57, *span(65, 68)]
#: AFN → (the Fn the issue lists, the directions in which the AFN carries a data unit).
ISSUE: dict[int, tuple[list[int], tuple[Dir, ...]]] = {
    0x00: (span(1, 3), BOTH),
    0x01: (span(1, 4), (Dir.DOWN,)),  # the answer is AFN00
    0x02: (span(1, 3), (Dir.UP,)),  # sent by the terminal, confirmed with AFN00
    0x04: (PARAMETERS, (Dir.DOWN,)),  # set: answered with AFN00
    0x0A: (PARAMETERS, BOTH),
    0x05: ([1, 2, *span(9, 12), *span(15, 39), *span(49, 53)], (Dir.DOWN,)),
    0x09: (span(1, 8), BOTH),
    0x0C: ([*span(2, 11), *span(17, 28), *span(31, 34), 49, 57, 58, 73, *span(129, 170)], BOTH),
    0x0D: ([*span(1, 12), *span(17, 32), *span(49, 56), *span(81, 110), *span(161, 196)], BOTH),
    0x0E: ([1, 2], BOTH),
    0x0F: ([1], BOTH),
    0x10: ([1, 9, 10, 11], BOTH),
}
#: (AFN, Fn) of the list that the standard marks 备用, → the editions that do.
RESERVED_IN_LIST: dict[tuple[int, int], frozenset[str]] = {
    (0x05, 21): frozenset(EDITIONS),
    (0x05, 22): frozenset(EDITIONS),
    (0x05, 30): frozenset({"2009"}),  # 2013: 终端对电能表对时功能的开启与关闭
    (0x0C, 162): frozenset({"2009"}),  # 2013: 电能表日历时钟
    (0x0C, 163): frozenset(EDITIONS),
    (0x0C, 164): frozenset(EDITIONS),
    (0x0D, 55): frozenset(EDITIONS),
    (0x0D, 56): frozenset(EDITIONS),
    (0x0D, 96): frozenset(EDITIONS),
}
CASES = [(afn, fn, edition) for afn, (fns, _) in ISSUE.items() for fn in fns for edition in EDITIONS]


def test_the_list_is_the_issue_list() -> None:
    counts = {afn: len(fns) for afn, (fns, _) in ISSUE.items()}
    # counted by hand from the issue text (a typo in a span above changes a count)
    assert counts == {0: 3, 1: 4, 2: 3, 4: 31, 0x0A: 31, 5: 36, 9: 8, 0x0C: 72, 0x0D: 102, 0x0E: 2, 0x0F: 1, 0x10: 4}


@pytest.mark.parametrize(("afn", "fn", "edition"), CASES)
def test_every_listed_fn_is_implemented_or_reserved(afn: int, fn: int, edition: str) -> None:
    dirs = ISSUE[afn][1]
    reserved_in = RESERVED_IN_LIST.get((afn, fn), frozenset())
    if edition in reserved_in:
        assert reservation(afn, fn, edition) is not None
        if reserved_in == set(EDITIONS):  # defined by neither edition: no codec in any direction
            assert all(lookup(afn, fn, d, edition) is None for d in Dir)
    else:
        assert reservation(afn, fn, edition) is None
        missing = [d.name for d in dirs if lookup(afn, fn, d, edition) is None]
        assert not missing, f"AFN{afn:02X} F{fn} ({edition}) has no codec for {missing}"


def test_the_reserved_registry_holds_exactly_what_the_test_expects_of_the_list() -> None:
    listed = {(afn, fn) for afn, (fns, _) in ISSUE.items() for fn in fns}
    assert {key: frozenset(v) for key, v in RESERVED.items() if key in listed} == RESERVED_IN_LIST


def test_every_erc_of_the_issue_has_a_body_layout() -> None:
    assert set(range(1, 42)) <= set(ERCS)


def test_fn_only_2013_defines_are_named_as_evidence() -> None:
    assert only_in_edition(0x05, 30) == "2013"
    assert only_in_edition(0x0C, 162) == "2013"
    assert only_in_edition(0x05, 21) is None  # reserved in both
    assert only_in_edition(0x0C, 129) is None  # defined in both


def _unit_bytes(pn: int, fn: int) -> bytes:
    return encode_da([pn]) + encode_dt([fn])


@pytest.mark.parametrize("edition", [None, *EDITIONS])
def test_decoding_a_reserved_fn_says_reserved_with_edition_and_clause(edition: str | None) -> None:
    with pytest.raises(ReservedFn) as info:
        decode_units(0x0D, _unit_bytes(1, 55), Dir.DOWN, edition=edition)
    assert isinstance(info.value, UnsupportedFn)
    assert (info.value.afn, info.value.fn) == (0x0D, 55)
    message = str(info.value)
    assert "AFN0D F55 is reserved (备用) in" in message
    assert ("Q/GDW 376.1-2009 (请求2类数据" in message) == (edition in (None, "2009"))
    assert ("Q/GDW 1376.1-2013 (请求2类数据" in message) == (edition in (None, "2013"))


def test_an_unknown_fn_is_not_called_reserved() -> None:
    with pytest.raises(UnsupportedFn) as info:
        decode_units(0x0C, _unit_bytes(1, 248), Dir.DOWN)
    assert not isinstance(info.value, ReservedFn)
    assert str(info.value) == "no codec for AFN0C F248"


def test_an_fn_reserved_in_2009_only_still_decodes_for_an_unknown_edition() -> None:
    data = _unit_bytes(0, 30) + b"\x01"
    assert decode_units(0x05, data, Dir.DOWN) == [DataUnit(0, 30, {"enabled": 1})]
    assert reservation(0x05, 30) is None  # not reserved in every edition
    assert reservation(0x05, 30, "2009") is not None


def test_encoding_a_reserved_fn_is_refused_with_the_reason() -> None:
    with pytest.raises(LocalProtocolError, match=r"no codec for AFN05 F21 DOWN: AFN05 F21 is reserved"):
        encode_units(0x05, [DataUnit(0, 21)], Dir.DOWN)


def test_reserve_checks_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("protocols.gdw376.units.registry.RESERVED", dict(RESERVED))
    with pytest.raises(LocalProtocolError, match="unknown edition"):
        reserve(0x7E, 1, {"2011": "x"})
    with pytest.raises(LocalProtocolError, match="reserved twice"):
        reserve(0x05, 21, {"2009": "x"})
    with pytest.raises(LocalProtocolError, match="cannot be reserved in every edition"):
        reserve(0x0C, 129, {"2009": "x", "2013": "y"})
