"""数据单元标识 DA (信息点 Pn) and DT (信息类 Fn), Q/GDW 376.1 §5.1.1.2 / §5.1.1.3 (PROTOCOLS.md A.6).

- DA = DA1 (bitmap of 8 points) + DA2 (group 1..255): pn = (DA2 − 1) × 8 + bit + 1. ``00 00`` = p0 (the terminal
  itself); ``FF 00`` = all valid measurement points (:data:`ALL_POINTS`). Max p2040.
- DT = DT1 (bitmap of 8 Fn) + DT2 (group 0..30): Fn = DT2 × 8 + bit + 1. Max F248.
- One identifier with k points and m Fn stands for k × m data units, points outer, Fn inner, ascending
  (checked against ``guyingzhi/learngit`` decode_AFN0C.c and ``qgdw_3761_api.h`` "8 Pn × 8 Fn per DaDt").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from protocols.errors import DecodeError, LocalProtocolError

#: Sentinel pn for DA ``FF 00``: "all valid measurement points" (所有有效测量点, p0 excluded).
ALL_POINTS = 0xFFFF
MAX_PN = 2040
MAX_FN = 248
GROUP = 8

Identifier = tuple[tuple[int, ...], tuple[int, ...]]


def _bitmap(values: Sequence[int], what: str) -> tuple[int, int]:
    """(bitmap, group index) of 1-based ``values`` that must share one group of 8."""
    groups = {(v - 1) // GROUP for v in values}
    if len(groups) != 1:
        raise LocalProtocolError(f"{what} {sorted(values)} are not in one group of {GROUP}")
    bits = 0
    for v in values:
        bits |= 1 << (v - 1) % GROUP
    return bits, groups.pop()


def _indices(bits: int) -> list[int]:
    return [i for i in range(GROUP) if bits >> i & 1]


def encode_da(pns: Sequence[int]) -> bytes:
    """DA for ``pns``: ``[0]`` → ``00 00``, ``[ALL_POINTS]`` → ``FF 00``, else points of one group of 8."""
    if not pns:
        raise LocalProtocolError("DA needs at least one point")
    if 0 in pns or ALL_POINTS in pns:
        if len(set(pns)) != 1:
            raise LocalProtocolError(f"p0 / all-points cannot share a DA with other points: {list(pns)}")
        return b"\x00\x00" if pns[0] == 0 else b"\xff\x00"
    if not all(1 <= pn <= MAX_PN for pn in pns):
        raise LocalProtocolError(f"pn outside 1..{MAX_PN}: {list(pns)}")
    bits, group = _bitmap(pns, "points")
    return bytes((bits, group + 1))


def decode_da(raw: bytes | bytearray | memoryview) -> list[int]:
    """Points named by a DA, ascending; ``00 00`` → ``[0]``, ``FF 00`` → ``[ALL_POINTS]``."""
    if len(raw) != 2:
        raise DecodeError(f"DA needs 2 bytes, got {len(raw)}", raw=bytes(raw), path="DA")
    da1, da2 = raw[0], raw[1]
    if da2 == 0:
        if da1 == 0:
            return [0]
        if da1 == 0xFF:
            return [ALL_POINTS]
        raise DecodeError(f"DA {da1:02X} 00 names no point", raw=bytes(raw), path="DA")
    if da1 == 0:
        raise DecodeError(f"DA 00 {da2:02X} names no point", raw=bytes(raw), path="DA")
    return [(da2 - 1) * GROUP + i + 1 for i in _indices(da1)]


def encode_dt(fns: Sequence[int]) -> bytes:
    """DT for ``fns``, all in one group of 8."""
    if not fns:
        raise LocalProtocolError("DT needs at least one Fn")
    if not all(1 <= fn <= MAX_FN for fn in fns):
        raise LocalProtocolError(f"Fn outside 1..{MAX_FN}: {list(fns)}")
    bits, group = _bitmap(fns, "Fn")
    return bytes((bits, group))


def decode_dt(raw: bytes | bytearray | memoryview) -> list[int]:
    """Fn named by a DT, ascending."""
    if len(raw) != 2:
        raise DecodeError(f"DT needs 2 bytes, got {len(raw)}", raw=bytes(raw), path="DT")
    dt1, dt2 = raw[0], raw[1]
    if dt1 == 0 or dt2 > (MAX_FN - 1) // GROUP:
        raise DecodeError(f"DT {dt1:02X} {dt2:02X} names no Fn", raw=bytes(raw), path="DT")
    return [dt2 * GROUP + i + 1 for i in _indices(dt1)]


def _pn_group(pn: int) -> int:
    """Merge group of a pn: p0 and all-points never merge with anything (they have their own DA)."""
    if pn == 0:
        return -1
    if pn == ALL_POINTS:
        return -2
    return (pn - 1) // GROUP


def merge_identifiers(items: Iterable[tuple[int, int]]) -> list[Identifier]:
    """Pack (pn, fn) pairs into few DA DT identifiers, in the standard's order (points outer, Fn inner).

    Pairs are grouped by (pn group, Fn group). Inside a group, points asking for the same Fn set share one
    identifier, or Fn wanted by the same point set do — whichever gives fewer identifiers (points on a tie).
    That is the minimum whenever each group's pairs form a rectangle (the usual "these Fn for these points"
    request). Duplicate pairs are merged.
    """
    blocks: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for pn, fn in items:
        encode_da([pn])
        encode_dt([fn])
        blocks.setdefault((_pn_group(pn), (fn - 1) // GROUP), set()).add((pn, fn))
    out: list[Identifier] = []
    for block in blocks.values():
        by_pn: dict[int, set[int]] = {}
        by_fn: dict[int, set[int]] = {}
        for pn, fn in block:
            by_pn.setdefault(pn, set()).add(fn)
            by_fn.setdefault(fn, set()).add(pn)
        rows = _group_equal(by_pn)
        cols = [(pns, fns) for fns, pns in _group_equal(by_fn)]
        out.extend(rows if len(rows) <= len(cols) else cols)
    out.sort(key=lambda ident: (_order(ident[0][0]), ident[1][0]))
    return out


def _order(pn: int) -> tuple[int, int]:
    """p0 first, then all-points, then numbered points ascending."""
    return (1, 0) if pn == ALL_POINTS else (0 if pn == 0 else 2, pn)


def _group_equal(mapping: dict[int, set[int]]) -> list[Identifier]:
    """Keys with equal value sets, joined: {1: {a, b}, 2: {a, b}} → [((1, 2), (a, b))]."""
    joined: dict[frozenset[int], list[int]] = {}
    for key, values in mapping.items():
        joined.setdefault(frozenset(values), []).append(key)
    return [(tuple(sorted(keys)), tuple(sorted(values))) for values, keys in joined.items()]


def expand_identifier(pns: Iterable[int], fns: Iterable[int]) -> list[tuple[int, int]]:
    """(pn, fn) data units an identifier stands for: points outer, Fn inner, ascending."""
    fn_list = sorted(fns)
    return [(pn, fn) for pn in sorted(pns) for fn in fn_list]
