"""时间标签 Tp and the frame counter PFC (Q/GDW 376.1-2009 §4.3.4.6.3, §4.3.4.5; PROTOCOLS.md A.5, A.7), sans-IO:
the clock is always passed in (``now``), never read.

Tp = PFC 启动帧帧序号计数器 (BIN 1) + 启动帧发送时标 ss mm hh DD (附录A.16) + 允许发送传输延时时间 (BIN 1, minutes).

- The receiver compares its clock with the send time; when the difference exceeds the allowed delay the frame is
  discarded (舍弃). Delay 0 means "do not check". :func:`check_tp` makes that decision and nothing else.
- The send time has no month or year: it is placed in the month (this, previous or next) that puts it nearest to
  ``now`` — a frame sent at 23:59 on the 31st and received at 00:01 on the 1st is two minutes old.
- A send time in the future (the sender's clock is ahead) is not "expired": its age is negative and reported.
- PFC counts the initiating station's frames (0..255, +1 per new initiating frame, unchanged on retransmission);
  PSEQ is its low 4 bits (§4.3.4.5). A responder copies the request's PFC and delay into its own Tp and puts its
  own send time (:func:`response_tp`).

Checked against ``liangminhua/qgdw376.1.ksy`` (Tp = pfc, A.16 time stamp, allow_delay in minutes) and public
terminal code that documents the delay byte as "分钟, 0表示不做超时判断" (code search, C struct ``AppAuxTp``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from protocols.errors import LocalProtocolError
from protocols.gdw376.link import LinkFrame, TimeLabel

PFC_MOD = 256
PSEQ_MOD = 16


class TpStatus(Enum):
    OK = "ok"  #: within the allowed delay
    EXPIRED = "expired"  #: older than the allowed delay: discard the frame
    UNCHECKED = "unchecked"  #: delay 0: the sender asked for no check
    INVALID = "invalid"  #: the send time names no real time (e.g. 25:61, day 0): cannot be judged


@dataclass(frozen=True, slots=True)
class TpVerdict:
    """Result of :func:`check_tp`: the status, and the reconstructed send time and age when there is one."""

    status: TpStatus
    sent: datetime | None = None
    age: timedelta | None = None

    @property
    def ok(self) -> bool:
        """The frame may be processed (within its delay, or not to be checked)."""
        return self.status in (TpStatus.OK, TpStatus.UNCHECKED)


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def sent_at(tp: TimeLabel, now: datetime) -> datetime | None:
    """The full send time of ``tp`` nearest to ``now`` (same tzinfo), or None when it names no valid time."""
    candidates: list[datetime] = []
    for by in (-1, 0, 1):
        year, month = _shift_month(now.year, now.month, by)
        try:
            candidates.append(
                now.replace(
                    year=year, month=month, day=tp.day, hour=tp.hour, minute=tp.minute, second=tp.second, microsecond=0
                )
            )
        except ValueError:
            continue
    if not candidates:
        return None
    return min(candidates, key=lambda sent: abs(now - sent))


def check_tp(tp: TimeLabel, now: datetime) -> TpVerdict:
    """Is a frame with this Tp, received at ``now`` (the receiver's clock), within its allowed delay?"""
    sent = sent_at(tp, now)
    if sent is None:
        return TpVerdict(TpStatus.INVALID)
    age = now - sent
    if tp.delay_min == 0:
        return TpVerdict(TpStatus.UNCHECKED, sent, age)
    status = TpStatus.EXPIRED if age > timedelta(minutes=tp.delay_min) else TpStatus.OK
    return TpVerdict(status, sent, age)


def check_frame(frame: LinkFrame, now: datetime) -> TpVerdict:
    """:func:`check_tp` for a frame; a frame without Tp (TpV=0) is ``UNCHECKED``."""
    if frame.aux.tp is None:
        return TpVerdict(TpStatus.UNCHECKED)
    return check_tp(frame.aux.tp, now)


def make_tp(pfc: int, now: datetime, delay_min: int) -> TimeLabel:
    """Tp of an initiating frame: frame counter ``pfc``, send time ``now``, allowed delay in minutes."""
    return TimeLabel(pfc % PFC_MOD, now.second, now.minute, now.hour, now.day, delay_min)


def response_tp(request: TimeLabel, now: datetime) -> TimeLabel:
    """Tp of a response: the request's PFC and delay, the responder's own send time ``now``."""
    return TimeLabel(request.pfc, now.second, now.minute, now.hour, now.day, request.delay_min)


def pfc_matches_seq(frame: LinkFrame) -> bool:
    """An initiating frame's (PRM=1) PSEQ should be the low 4 bits of its Tp's PFC; True without Tp or for
    responses (their RSEQ counts the response frames, their PFC is the request's)."""
    tp = frame.aux.tp
    if tp is None or not frame.control.prm:
        return True
    return tp.pfc % PSEQ_MOD == frame.seq.seq


class Pfc:
    """启动帧帧序号计数器 PFC of one initiating station towards one peer: +1 per new initiating frame, mod 256;
    a retransmission reuses the value (§4.3.4.5)."""

    def __init__(self, start: int = 0) -> None:
        if not 0 <= start < PFC_MOD:
            raise LocalProtocolError(f"PFC {start} outside 0..255")
        self.value = start

    def next(self) -> int:
        """Advance for a new initiating frame and return the new PFC."""
        self.value = (self.value + 1) % PFC_MOD
        return self.value

    @property
    def pseq(self) -> int:
        """PSEQ of the current frame: the low 4 bits of PFC."""
        return self.value % PSEQ_MOD
