"""DA (Pn) and DT (Fn) tables from PROTOCOLS.md A.6, identifier merging and expansion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.da_dt import (
    ALL_POINTS,
    decode_da,
    decode_dt,
    encode_da,
    encode_dt,
    expand_identifier,
    merge_identifiers,
)


@pytest.mark.parametrize(
    ("raw", "pns"),
    [
        ("00 00", [0]),
        ("FF 00", [ALL_POINTS]),
        ("01 01", [1]),
        ("02 01", [2]),
        ("10 01", [5]),
        ("80 01", [8]),
        ("01 02", [9]),
        ("03 01", [1, 2]),
        ("FF 01", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("81 02", [9, 16]),
        ("80 FF", [2040]),
    ],
)
def test_da_table(raw: str, pns: list[int]) -> None:
    assert decode_da(bytes.fromhex(raw)) == pns
    assert encode_da(pns) == bytes.fromhex(raw)


@pytest.mark.parametrize(
    ("raw", "fns"),
    [
        ("01 00", [1]),
        ("02 00", [2]),
        ("04 00", [3]),
        ("01 03", [25]),
        ("40 03", [31]),
        ("01 04", [33]),
        ("01 06", [49]),
        ("01 10", [129]),
        ("02 10", [130]),
        ("03 10", [129, 130]),
        ("01 14", [161]),
        ("02 15", [170]),
        ("80 1E", [248]),
    ],
)
def test_dt_table(raw: str, fns: list[int]) -> None:
    assert decode_dt(bytes.fromhex(raw)) == fns
    assert encode_dt(fns) == bytes.fromhex(raw)


@pytest.mark.parametrize("raw", ["01 00", "00 05", "01", "01 01 01"])
def test_da_decode_errors(raw: str) -> None:
    with pytest.raises(DecodeError):
        decode_da(bytes.fromhex(raw))


@pytest.mark.parametrize("raw", ["00 00", "01 1F", "01"])
def test_dt_decode_errors(raw: str) -> None:
    with pytest.raises(DecodeError):
        decode_dt(bytes.fromhex(raw))


@pytest.mark.parametrize("pns", [[], [8, 9], [0, 1], [ALL_POINTS, 3], [2041], [-1]])
def test_da_encode_errors(pns: list[int]) -> None:
    with pytest.raises(LocalProtocolError):
        encode_da(pns)


@pytest.mark.parametrize("fns", [[], [8, 9], [0], [249]])
def test_dt_encode_errors(fns: list[int]) -> None:
    with pytest.raises(LocalProtocolError):
        encode_dt(fns)


def test_expand_points_outer_fn_inner() -> None:
    assert expand_identifier([2, 1], [130, 129]) == [(1, 129), (1, 130), (2, 129), (2, 130)]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        # A rectangle of 2 points × 2 Fn: one identifier.
        ([(1, 129), (2, 130), (2, 129), (1, 130)], [((1, 2), (129, 130))]),
        # Points in different groups of 8 cannot share a DA.
        ([(8, 129), (9, 129)], [((8,), (129,)), ((9,), (129,))]),
        # Fn in different groups of 8 cannot share a DT.
        ([(1, 128), (1, 129)], [((1,), (128,)), ((1,), (129,))]),
        # p0 never merges with numbered points; duplicates collapse; p0 comes first.
        ([(1, 2), (0, 2), (0, 2)], [((0,), (2,)), ((1,), (2,))]),
        # An L shape: p1 wants F129+F130, p2 only F129 → two identifiers; on a tie, one per point set.
        ([(1, 129), (1, 130), (2, 129)], [((1,), (129, 130)), ((2,), (129,))]),
        # Three points want F1, one of them also F2 → grouping by Fn wins (2 identifiers, not 3 by point).
        ([(1, 1), (2, 1), (3, 1), (3, 2), (4, 2)], [((1, 2, 3), (1,)), ((3, 4), (2,))]),
        ([(ALL_POINTS, 129), (3, 129)], [((ALL_POINTS,), (129,)), ((3,), (129,))]),
    ],
)
def test_merge_identifiers(
    items: list[tuple[int, int]], expected: list[tuple[tuple[int, ...], tuple[int, ...]]]
) -> None:
    assert merge_identifiers(items) == expected


def test_merge_rejects_bad_pairs() -> None:
    with pytest.raises(LocalProtocolError):
        merge_identifiers([(1, 0)])


pairs = st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=40))


@given(st.lists(pairs, max_size=30))
def test_merged_identifiers_cover_exactly_the_pairs(items: list[tuple[int, int]]) -> None:
    merged = merge_identifiers(items)
    covered = [pair for pns, fns in merged for pair in expand_identifier(pns, fns)]
    assert sorted(covered) == sorted(set(items))
    for pns, fns in merged:  # every identifier is encodable, and decodes back to itself
        assert decode_da(encode_da(pns)) == list(pns)
        assert decode_dt(encode_dt(fns)) == list(fns)


@given(st.sets(st.integers(min_value=1, max_value=8), min_size=1), st.sets(st.integers(1, 8), min_size=1))
def test_a_rectangle_in_one_group_is_one_identifier(pns: set[int], fns: set[int]) -> None:
    assert merge_identifiers([(p, f) for p in pns for f in fns]) == [(tuple(sorted(pns)), tuple(sorted(fns)))]
