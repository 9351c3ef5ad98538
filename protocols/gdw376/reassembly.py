"""Multi-frame responses (多帧响应), reassembled sans-IO (Q/GDW 376.1-2009 §4.3.4.5 帧序列域 SEQ; PROTOCOLS.md A.5,
A.11).

The rules (§4.3.4.5):

- A response too long for one frame is sent as several, each a complete frame with its own data-unit
  identifiers (no data unit is split): FIR=1 FIN=0 first (``10``), FIR=0 FIN=0 middle (``00``), FIR=0 FIN=1 last
  (``01``); FIR=1 FIN=1 is a single frame (``11``).
- 响应帧序号 RSEQ: the first response frame carries the request's PSEQ; each further frame increments it, mod 16.
- "an initiator that receives two responses with the same RSEQ drops the second": duplicates are dropped.
- CON=1 (请求确认标志位) in a received frame asks for an AFN00 confirmation, whatever happens to the frame.

:class:`Reassembler` takes the frames of one exchange (the caller has already matched the terminal's address) and
returns events: :class:`ConfirmRequired`, :class:`Accepted`, :class:`Ignored`, :class:`Completed` and
:class:`Failed`. It never raises for what the terminal sends. A frame out of order is a :class:`Failed` with a
:class:`ReassemblyError`; the partial response is thrown away and the reassembler waits for the response's first
frame again (a terminal that gets the request again resends its whole response, §4.3.4.5 "重发"), which it takes
at once when the out-of-order frame itself is one.

Lenient mode (default) accepts a first frame with FIR=0 (a terminal answering a single-frame request with SEQ
``A2``, FIR=0 FIN=1 — PROTOCOLS.md A.5) and says so in the frame's ``warnings``; strict mode fails it.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

from protocols.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from protocols.gdw376.link import LinkFrame
from protocols.gdw376.units import DataUnit, decode_frame_units

#: RSEQ is 4 bits (D3..D0 of SEQ).
RSEQ_MOD = 16
#: A response of more frames than this fails (a bound on memory, not a rule of the standard).
MAX_FRAMES = 1024
FIR0_SINGLE = "FIR=0/FIN=1 on a single-frame response"
FIR0_FIRST = "FIR=0 on the first frame of a multi-frame response"


class ReassemblyError(RemoteProtocolError):
    """The frames of a response do not follow the FIR/FIN/RSEQ rules (§4.3.4.5)."""


@dataclass(frozen=True, slots=True)
class ConfirmRequired:
    """``frame`` has CON=1: answer it with AFN00 F1 (:func:`protocols.gdw376.messages.confirm`)."""

    frame: LinkFrame


@dataclass(frozen=True, slots=True)
class Accepted:
    """Frame ``index`` (0-based) of the response, with its decoded data units; ``frame`` carries any lenient
    warnings added here and by :func:`~protocols.gdw376.units.decode_frame_units`."""

    frame: LinkFrame
    units: tuple[DataUnit, ...]
    index: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A frame dropped without harm: a duplicate, one not answering this request, or one after the end."""

    frame: LinkFrame
    reason: str


@dataclass(frozen=True, slots=True)
class Completed:
    """FIN seen: every frame of the response, and all their data units in order."""

    frames: tuple[LinkFrame, ...]
    units: tuple[DataUnit, ...]


@dataclass(frozen=True, slots=True)
class Failed:
    """The response cannot be completed as received: ``error`` is a :class:`ReassemblyError` (sequence) or the
    :class:`~protocols.errors.DecodeError` of a frame's data units. The partial response is discarded."""

    frame: LinkFrame
    error: ProtocolError


Event = ConfirmRequired | Accepted | Ignored | Completed | Failed


class Reassembler:
    """Collects the response to one request whose SEQ carried ``pseq`` (0..15)."""

    def __init__(
        self, pseq: int, *, strict: bool = False, edition: str | None = None, max_frames: int = MAX_FRAMES
    ) -> None:
        if not 0 <= pseq < RSEQ_MOD:
            raise LocalProtocolError(f"PSEQ {pseq} outside 0..15")
        self.pseq = pseq
        self.strict = strict
        self.edition = edition  #: the terminal's edition for its data-unit layouts (Profile.edition.value)
        self.max_frames = max_frames
        self._frames: list[LinkFrame] = []
        self._units: list[DataUnit] = []
        #: RSEQ and raw bytes of the last 15 accepted frames, to recognise duplicates across the mod-16 wrap.
        self._recent: deque[tuple[int, bytes]] = deque(maxlen=RSEQ_MOD - 1)
        self.completed: Completed | None = None

    @property
    def expected_rseq(self) -> int:
        """RSEQ of the next frame: PSEQ + frames accepted so far, mod 16."""
        return (self.pseq + len(self._frames)) % RSEQ_MOD

    @property
    def frames(self) -> tuple[LinkFrame, ...]:
        return tuple(self._frames)

    @property
    def done(self) -> bool:
        return self.completed is not None

    def feed(self, frame: LinkFrame) -> list[Event]:
        """Take one frame from the terminal (already matched by address); return what it means, in order."""
        events: list[Event] = [ConfirmRequired(frame)] if frame.seq.con else []
        if self.completed is not None:
            events.append(Ignored(frame, "the response is already complete"))
            return events
        rseq = frame.seq.seq
        if not self._frames:
            if rseq != self.pseq:
                events.append(Ignored(frame, f"RSEQ {rseq} does not answer PSEQ {self.pseq}"))
                return events
            self._first(frame, events)
            return events
        if rseq == self.expected_rseq and not frame.seq.fir:
            self._accept(frame, events)
        elif any(rseq == seen and frame.raw == raw for seen, raw in self._recent):
            events.append(Ignored(frame, f"duplicate of the frame with RSEQ {rseq}"))
        else:
            what = "a new first frame (FIR=1)" if frame.seq.fir else f"RSEQ {rseq}"
            self._fail(frame, events, f"{what} where RSEQ {self.expected_rseq} (FIR=0) was expected")
            if rseq == self.pseq and frame.seq.fir:
                self._first(frame, events)  # the terminal started its response over
        return events

    def _first(self, frame: LinkFrame, events: list[Event]) -> None:
        if not frame.seq.fir:
            deviation = FIR0_SINGLE if frame.seq.fin else FIR0_FIRST
            if self.strict:
                self._fail(frame, events, deviation)
                return
            frame = dataclasses.replace(frame, warnings=(*frame.warnings, deviation))
        self._accept(frame, events)

    def _accept(self, frame: LinkFrame, events: list[Event]) -> None:
        if len(self._frames) >= self.max_frames:
            self._fail(frame, events, f"more than {self.max_frames} frames")
            return
        try:
            units, frame = decode_frame_units(frame, edition=self.edition)
        except ProtocolError as exc:
            self._reset()
            events.append(Failed(frame, exc))
            return
        events.append(Accepted(frame, tuple(units), len(self._frames)))
        self._frames.append(frame)
        self._units.extend(units)
        self._recent.append((frame.seq.seq, frame.raw))
        if frame.seq.fin:
            self.completed = Completed(tuple(self._frames), tuple(self._units))
            events.append(self.completed)

    def _fail(self, frame: LinkFrame, events: list[Event], reason: str) -> None:
        self._reset()
        events.append(Failed(frame, ReassemblyError(reason, raw=frame.raw)))

    def _reset(self) -> None:
        self._frames.clear()
        self._units.clear()
        self._recent.clear()
