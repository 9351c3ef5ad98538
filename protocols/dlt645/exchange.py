"""Sans-IO 读数据 exchange with its follow-up frames (读后续数据), and per-meter edition detection.

**ReadExchange** — DL/T 645-2007 §7.1 / §7.2, 1997 §4.2.3: a reply with C.D5 = 1 (B1H; 1997 A1H) means more data
follows. The master asks for it with 读后续数据 — 2007 12H carrying DI + SEQ (帧序号: 1 for the first follow-up,
counting up), 1997 02H carrying the DI — until a reply without D5 (92H; 1997 82H). 2007 follow-up replies end
with the SEQ they answer. The value bytes of all frames, in order, make the item's DATA, decoded once at the end
(a load-profile read of N blocks is the usual multi-frame reply). The exchange tells the IO layer what to send::

    exchange = ReadExchange(address, di)
    send(exchange.request)
    while not exchange.done:
        frame = <next frame, or on a reply timeout: send(exchange.request) again / give up>
        if exchange.accepts(frame):          # a late reply of someone else is ignored
            if (follow_up := exchange.receive(frame)) is not None:
                send(follow_up)
    reply = exchange.result                  # ReadReply (merged) or ErrorReply (call .check())

**EditionDetector** — which edition a meter speaks (PROTOCOLS.md Part C): probe with a 2007 read of 00010000
(正向有功总电能); a reply of a 2007 read function (91H/B1H/D1H — an abnormal reply counts: the meter understood)
decides 2007. On no reply, probe with a 1997 read of 9010, whose replies (81H/A1H/C1H) decide 1997. No reply to
any probe leaves the meter :attr:`DetectionState.SILENT`. The order of the probes is configurable (a site of
old meters probes 1997 first). Timeouts and retries stay with the IO layer: it calls :meth:`on_timeout` once it
has given up on a probe.

Both are plain state machines: no clock, no IO; methods return the bytes to send.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from protocols.dlt645.apdu import (
    DEFAULT_PREAMBLE,
    FOLLOW_FUNCTIONS,
    READ_FUNCTIONS,
    ErrorReply,
    ReadReply,
    build_read,
    build_read_follow,
    decode_values,
)
from protocols.dlt645.control import Edition, Function, Function1997, edition_of
from protocols.dlt645.data_items import di_to_wire
from protocols.dlt645.link import Dlt645Frame, address_matches
from protocols.errors import DecodeError, LocalProtocolError

#: More follow-up frames than this is a meter bug, not data (63 tariffs fit in two frames, a load-profile read
#: of 99 blocks in about 50).
MAX_FOLLOW_UPS = 64


class ReadExchange:
    """One 读数据 of ``di`` from ``address`` (which may hold AA wildcards), follow-up frames included.

    ``params`` are the bytes after the DI of the first request (load-profile N and start time, see
    :func:`protocols.dlt645.apdu.load_profile_params`).
    """

    def __init__(
        self,
        address: str,
        di: int,
        *,
        edition: Edition = Edition.V2007,
        params: bytes = b"",
        preamble: int = DEFAULT_PREAMBLE,
        max_follow_ups: int = MAX_FOLLOW_UPS,
    ) -> None:
        self._address = address
        self._di = di
        self._edition = edition
        self._preamble = preamble
        self._max_follow_ups = max_follow_ups
        self._di_bytes = di_to_wire(di, edition)
        self._request = build_read(address, di, edition=edition, params=params, preamble=preamble)
        self._seq = 0
        self._parts: list[bytes] = []
        self._frames: list[bytes] = []
        self._result: ReadReply | ErrorReply | None = None

    @property
    def request(self) -> bytes:
        """What to send now: the read, or the current follow-up request (send it again after a timeout)."""
        if self._result is not None:
            raise LocalProtocolError("the exchange is complete; nothing more to send")
        return self._request

    @property
    def seq(self) -> int:
        """0 while waiting for the first reply, then the SEQ of the follow-up frame being asked for."""
        return self._seq

    @property
    def done(self) -> bool:
        return self._result is not None

    @property
    def result(self) -> ReadReply | ErrorReply:
        """The merged reply (values of every frame, ``raw_data`` their value bytes), or the meter's refusal."""
        if self._result is None:
            raise LocalProtocolError("the exchange is not complete")
        return self._result

    @property
    def frames(self) -> tuple[bytes, ...]:
        """The reply frames received, as on the wire."""
        return tuple(self._frames)

    def _expected_function(self) -> int:
        return (FOLLOW_FUNCTIONS if self._seq else READ_FUNCTIONS)[self._edition]

    def accepts(self, frame: Dlt645Frame) -> bool:
        """Whether ``frame`` is a reply this exchange waits for: from the meter asked, to the current request."""
        return (
            not self.done
            and frame.is_reply
            and frame.function == self._expected_function()
            and address_matches(self._address, frame.address)
        )

    def receive(self, frame: Dlt645Frame) -> bytes | None:
        """Take the reply; return the follow-up request to send, or ``None`` when the exchange is complete.

        Raises :class:`DecodeError` for a frame that is not the awaited reply (see :meth:`accepts`), a reply for
        another DI or SEQ, too many follow-ups, or values that do not decode.
        """
        if not self.accepts(frame):
            raise DecodeError(f"C={frame.control:02X}H from {frame.address} is not the awaited reply", raw=frame.raw)
        self._frames.append(frame.raw)
        self._address = frame.address  # a wildcard request is answered with the real address
        if frame.is_abnormal:
            if len(frame.data) != 1:
                raise DecodeError(f"abnormal reply carries {len(frame.data)} bytes, not one error word", raw=frame.raw)
            self._result = ErrorReply(frame.address, frame.function, frame.data[0])
            return None
        self._parts.append(self._value_bytes(frame))
        if frame.has_follow_up:
            self._seq += 1
            if self._seq > self._max_follow_ups:
                raise DecodeError(f"more than {self._max_follow_ups} follow-up frames", raw=frame.raw)
            self._request = build_read_follow(
                self._address, self._di, self._seq, edition=self._edition, preamble=self._preamble
            )
            return self._request
        body = b"".join(self._parts)
        values = decode_values(self._di, body, edition=self._edition, raw=frame.raw)
        self._result = ReadReply(self._address, self._di, values, raw_data=body, edition=self._edition)
        return None

    def _value_bytes(self, frame: Dlt645Frame) -> bytes:
        data = frame.data
        size = len(self._di_bytes)
        with_seq = self._seq > 0 and self._edition is Edition.V2007
        if len(data) < size + with_seq or data[:size] != self._di_bytes:
            raise DecodeError(f"reply is not for DI {self._di_bytes[::-1].hex().upper()}", raw=frame.raw)
        if with_seq:
            if data[-1] != self._seq:
                raise DecodeError(f"follow-up reply carries SEQ {data[-1]}, not {self._seq}", raw=frame.raw)
            return data[size:-1]
        return data[size:]


class DetectionState(enum.Enum):
    """Where an :class:`EditionDetector` stands."""

    PROBING = "probing"  #: a probe is out (or about to be sent)
    DETECTED = "detected"  #: the meter answered: :attr:`EditionDetector.edition`
    SILENT = "silent"  #: no probe was answered


#: Default probes, in order: 2007 正向有功总电能, then 1997 9010.
PROBES: tuple[tuple[Edition, int], ...] = ((Edition.V2007, 0x00010000), (Edition.V1997, 0x9010))


class EditionDetector:
    """Decides which edition of DL/T 645 the meter at ``address`` speaks, from its replies to probe reads.

    Transition table (the IO layer sends :attr:`request` while :attr:`state` is PROBING)::

        PROBING --reply of a 2007 read function (91/B1/D1)--> DETECTED (2007)
        PROBING --reply of a 1997 read function (81/A1/C1)--> DETECTED (1997)
        PROBING --on_timeout, probes left-------------------> PROBING (next probe)
        PROBING --on_timeout, none left---------------------> SILENT
    """

    def __init__(
        self, address: str, *, probes: Sequence[tuple[Edition, int]] = PROBES, preamble: int = DEFAULT_PREAMBLE
    ) -> None:
        if not probes:
            raise LocalProtocolError("edition detection needs at least one probe")
        self._address = address
        self._probes = tuple(probes)
        self._preamble = preamble
        self._index = 0
        self._edition: Edition | None = None
        self._state = DetectionState.PROBING

    @property
    def state(self) -> DetectionState:
        return self._state

    @property
    def edition(self) -> Edition | None:
        """The detected edition (``None`` while probing or when the meter is silent)."""
        return self._edition

    @property
    def probing(self) -> Edition:
        """The edition the current probe is written in."""
        return self._probes[min(self._index, len(self._probes) - 1)][0]

    @property
    def request(self) -> bytes | None:
        """The probe to send now, or ``None`` once decided."""
        if self._state is not DetectionState.PROBING:
            return None
        edition, di = self._probes[self._index]
        return build_read(self._address, di, edition=edition, preamble=self._preamble)

    def accepts(self, frame: Dlt645Frame) -> bool:
        """Whether ``frame`` is a reply to a read, in either edition, from the meter being probed."""
        return (
            self._state is DetectionState.PROBING
            and frame.is_reply
            and frame.function in (Function.READ, Function1997.READ)
            and address_matches(self._address, frame.address)
        )

    def on_reply(self, frame: Dlt645Frame) -> Edition:
        """The meter answered a probe: decide from the reply's function code (normal or abnormal alike)."""
        if not self.accepts(frame):
            raise DecodeError(f"C={frame.control:02X}H from {frame.address} is not a probe reply", raw=frame.raw)
        edition = edition_of(frame.control)
        assert edition is not None  # accepts() admitted read functions only
        self._edition, self._state = edition, DetectionState.DETECTED
        return edition

    def on_timeout(self) -> bytes | None:
        """The current probe went unanswered (after the IO layer's retries): the next probe, or ``None`` when the
        meter turned out silent."""
        if self._state is not DetectionState.PROBING:
            raise LocalProtocolError(f"detection is {self._state.value}, no probe is out")
        self._index += 1
        if self._index == len(self._probes):
            self._state = DetectionState.SILENT
        return self.request
