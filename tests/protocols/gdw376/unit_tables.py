"""Table-test helper for data-unit codecs: a hand-written body (hex grouped by field) goes through the registry's
DA DT walker and must decode to the hand-written value, and that value must encode back to the same bytes."""

from __future__ import annotations

from protocols.gdw376.da_dt import encode_da, encode_dt
from protocols.gdw376.link import Dir
from protocols.gdw376.units import DataUnit, decode_units, encode_units


def unit_bytes(pn: int, fn: int, body_hex: str) -> bytes:
    """DA DT of (pn, fn) followed by the body (hex with any spacing)."""
    return encode_da([pn]) + encode_dt([fn]) + bytes.fromhex(body_hex)


def decode_one(afn: int, fn: int, direction: Dir, body_hex: str, pn: int = 0, edition: str | None = None) -> object:
    """The value of the single unit (pn, fn) whose body is ``body_hex`` (layouts of ``edition``, default 2009)."""
    units = decode_units(afn, unit_bytes(pn, fn, body_hex), direction, edition=edition)
    assert [(u.pn, u.fn) for u in units] == [(pn, fn)]
    return units[0].value


def check_table(
    afn: int, fn: int, direction: Dir, body_hex: str, expected: object, pn: int = 0, edition: str | None = None
) -> None:
    """Decode equals ``expected`` and encoding ``expected`` gives the body back."""
    assert decode_one(afn, fn, direction, body_hex, pn, edition) == expected
    encoded = encode_units(afn, [DataUnit(pn, fn, expected)], direction, edition=edition)
    assert encoded == unit_bytes(pn, fn, body_hex)
