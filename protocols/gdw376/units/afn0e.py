"""AFN0E 请求3类数据（事件数据） (Q/GDW 376.1-2009 §5.14; PROTOCOLS.md A.9 AFN0E, A.11), p0.

- F1 请求重要事件 / F2 请求一般事件. Downlink: 请求事件记录起始指针 Pm BIN1, 结束指针 Pn BIN1. Uplink (the answer,
  and the terminal's own 主动上报 with C=C4, CON=1 — the same body): 当前重要事件计数器 EC1 BIN1, 当前一般事件计数器
  EC2 BIN1, 本帧报文传送的事件记录起始指针 Pm BIN1, 结束指针 Pn BIN1, then Y records ``ERC | Le | body``
  (:mod:`.erc`), Y = Pn − Pm when Pm < Pn, 256 + Pn − Pm when Pm > Pn (``qgdw_3761_api.h`` sMtResEvent1; the
  same rule in ``baiej214/TmnlHUB`` ``protocol/698.js`` AFN14 Fn1 and ``yangboshan/C3761Protocol``
  ``XL3761AFNE.c`` parseEvents). Pm = Pn carries no record here.

The uplink value is an :class:`EventReport`; each record an :class:`~.erc.EventRecord`. Decoding is lenient (the
registry has no mode): records that cannot be decoded are kept raw with a warning, and a frame that ends before
the Y records Pm/Pn announce keeps the records it holds and says so in :attr:`EventReport.warnings`.
:func:`decode_event_report` takes ``strict=True`` for callers that want those cases to raise.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import BIN1
from protocols.gdw376.layout import Field, Layout
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.erc import EventRecord, decode_event, encode_event
from protocols.gdw376.units.registry import UnitCodec, UnitReader, from_layout, register

F1_IMPORTANT = 1
F2_NORMAL = 2

#: Pm/Pn are named ``pointer_pm``/``pointer_pn``: ``pn`` alone reads as the unit's point (测量点号).
REQUEST: Layout = (
    Field("pointer_pm", BIN1, "请求事件记录起始指针Pm"),
    Field("pointer_pn", BIN1, "请求事件记录结束指针Pn"),
)


def record_count(pm: int, pn: int) -> int:
    """Y, the records between the pointers Pm and Pn (mod 256; 0 when they are equal)."""
    return (pn - pm) % 256


@dataclass(frozen=True, slots=True)
class EventReport:
    """AFN0E F1/F2 uplink: the event counters EC1/EC2, this frame's pointers Pm/Pn (``pointer_pm``/``pointer_pn``)
    and its records."""

    ec1: int
    ec2: int
    pointer_pm: int
    pointer_pn: int
    records: tuple[EventRecord, ...]
    warnings: tuple[str, ...] = ()


def decode_event_report(reader: UnitReader, *, strict: bool = False) -> EventReport:
    """Read EC1 EC2 Pm Pn and the Y records they announce from ``reader``."""
    ec1, ec2, pm, pn = reader.take(4)
    expected = record_count(pm, pn)
    records: list[EventRecord] = []
    warnings: list[str] = []
    for _ in range(expected):
        if not reader.remaining and not strict:
            warnings.append(f"Pm={pm} Pn={pn} announce {expected} records, the frame holds {len(records)}")
            break
        erc, le = reader.take(2)
        start = reader.pos
        body = reader.take(le)
        try:
            records.append(decode_event(erc, body, strict=strict))
        except DecodeError as exc:
            raise DecodeError(str(exc), raw=reader.data, offset=start, path=reader.path) from exc
    warnings.extend(r.warning for r in records if r.warning)
    return EventReport(ec1, ec2, pm, pn, tuple(records), tuple(warnings))


def encode_event_report(value: object) -> bytes:
    if not isinstance(value, EventReport):
        raise LocalProtocolError(f"AFN0E F1/F2 needs an EventReport, got {value!r}")
    head = (value.ec1, value.ec2, value.pointer_pm, value.pointer_pn)
    if not all(0 <= v <= 0xFF for v in head):
        raise LocalProtocolError(f"EC1/EC2/Pm/Pn out of range in {head}")
    expected = record_count(value.pointer_pm, value.pointer_pn)
    if len(value.records) != expected:
        raise LocalProtocolError(
            f"Pm={value.pointer_pm} Pn={value.pointer_pn} announce {expected} records, got {len(value.records)}"
        )
    return bytes(head) + b"".join(encode_event(r) for r in value.records)


for _fn, _name in ((F1_IMPORTANT, "请求重要事件"), (F2_NORMAL, "请求一般事件")):
    register(Afn.REQUEST_CLASS3, _fn, (Dir.DOWN,), from_layout(_name, REQUEST))
    register(Afn.REQUEST_CLASS3, _fn, (Dir.UP,), UnitCodec(_name, decode_event_report, encode_event_report))
