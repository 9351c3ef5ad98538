"""AFN00 确认／否认 (Q/GDW 376.1 §5.1.3.1; PROTOCOLS.md A.9): F1 全部确认, F2 全部否认 (no data),
F3 按数据单元标识确认和否认: AFN being answered (1) + n × (DA DT ERR(1)), ERR 0 = 正确, non-zero = 错误.

Decoding never raises on a deny (STYLE.md §3.4): :meth:`ConfirmList.check` and :func:`check_confirmation` do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocols.errors import Gdw376Denied, LocalProtocolError
from protocols.gdw376.da_dt import encode_da, encode_dt, expand_identifier
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import DataUnit, UnitCodec, UnitReader, no_body, register

F1_ALL_CONFIRMED = 1
F2_ALL_DENIED = 2
F3_PER_UNIT = 3


@dataclass(frozen=True, slots=True)
class ConfirmItem:
    """One (pn, Fn) of AFN00 F3 with its error code ERR (0 = confirmed)."""

    pn: int
    fn: int
    err: int


@dataclass(frozen=True, slots=True)
class ConfirmList:
    """AFN00 F3 body: the AFN being answered and one :class:`ConfirmItem` per (pn, Fn)."""

    afn: int
    items: tuple[ConfirmItem, ...]

    def check(self) -> None:
        """Raise :class:`Gdw376Denied` for the first item with a non-zero ERR."""
        for item in self.items:
            if item.err:
                raise Gdw376Denied(self.afn, item.fn, item.pn, item.err)


def _decode_f3(reader: UnitReader) -> ConfirmList:
    """The F3 body runs to the end of the data-unit region (n is implied by the length)."""
    afn = reader.byte()
    items: list[ConfirmItem] = []
    while reader.remaining:
        pns, fns = reader.identifier()
        err = reader.byte()
        items.extend(ConfirmItem(pn, fn, err) for pn, fn in expand_identifier(pns, fns))
    return ConfirmList(afn, tuple(items))


def _encode_f3(value: object) -> bytes:
    if not isinstance(value, ConfirmList):
        raise LocalProtocolError(f"AFN00 F3 needs a ConfirmList, got {value!r}")
    if not 0 <= value.afn <= 0xFF or not all(0 <= i.err <= 0xFF for i in value.items):
        raise LocalProtocolError(f"AFN/ERR out of range in {value!r}")
    return bytes((value.afn,)) + b"".join(encode_da([i.pn]) + encode_dt([i.fn]) + bytes((i.err,)) for i in value.items)


def check_confirmation(units: Sequence[DataUnit], afn: int) -> None:
    """Raise :class:`Gdw376Denied` if AFN00 ``units`` answering a request of ``afn`` deny anything."""
    for unit in units:
        if unit.fn == F2_ALL_DENIED:
            raise Gdw376Denied(afn)
        if isinstance(unit.value, ConfirmList):
            unit.value.check()


_BOTH = (Dir.DOWN, Dir.UP)
register(Afn.CONFIRM_DENY, F1_ALL_CONFIRMED, _BOTH, no_body("全部确认"))
register(Afn.CONFIRM_DENY, F2_ALL_DENIED, _BOTH, no_body("全部否认"))
register(Afn.CONFIRM_DENY, F3_PER_UNIT, _BOTH, UnitCodec("按数据单元标识确认和否认", _decode_f3, _encode_f3))
