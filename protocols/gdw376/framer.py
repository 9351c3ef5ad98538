"""Hand-written stream framer for Q/GDW 376.1 (§4.3.2 帧格式; PROTOCOLS.md Part D.1).

A candidate frame starts at a 68H whose header checks out: L1 == L2, protocol id 2 (or 1, Q/GDW 130-2005, with a
warning unless strict), user-data length within ``max_length`` and a second 68H at offset 5. The framer then waits
for ``(L >> 2) + 8`` bytes, checks CS over the user data and the 16H end byte, and hands the frame to
:func:`~protocols.gdw376.link.decode_verified` (what ``parse_frame`` runs after the same checks). The end is found
from L only, never by scanning for 16H (a CS can be 16H).

Resync: when a candidate fails, the framer drops bytes from that 68H up to the next 68H and tries again there — not
after the whole claimed length, so a false 68H claiming a long L cannot swallow a real frame behind it. A false
start that claims more bytes than ever arrive stalls the stream until :meth:`Gdw376Framer.idle` is called after an
inter-frame silence: it gives the false start up (``stalled``) and rescans what is buffered. Frames found by that
rescan are returned by the next :meth:`~Gdw376Framer.feed` call (``feed(b"")`` collects them at once), because
``idle()`` reports only :class:`~protocols.common.framing.Discarded` events (the
:class:`~protocols.common.framing.Framer` protocol).

A frame whose CS and end byte are right but whose link fields do not decode is one whole, real frame: it is
dropped as ``decode`` and scanning resumes after it.

Performance: one ``bytearray`` buffer, C-level ``find`` for the start byte, one ``del`` of the consumed prefix per
call (no quadratic copying); no construct.
"""

from __future__ import annotations

from protocols.common.checksum import sum8
from protocols.common.framing import Discarded
from protocols.errors import ProtocolError
from protocols.gdw376.link import (
    END,
    FIXED_USER_LEN,
    HEADER_LEN,
    MAX_USER_LEN,
    OVERHEAD,
    PID_376_1,
    START,
    LinkFrame,
    decode_verified,
    read_length,
)

#: Result of checking a candidate: total frame length, ``None`` (need more bytes) or (reason, detail).
_Check = int | tuple[str, str] | None


class Gdw376Framer:
    """Bytes in (any chunking), :class:`LinkFrame` and :class:`Discarded` events out; sans-IO."""

    def __init__(self, *, max_length: int = MAX_USER_LEN, strict: bool = False) -> None:
        self.max_length = max_length
        self.strict = strict
        self._buf = bytearray()
        self._recovered: list[LinkFrame] = []

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (frames recovered by ``idle()`` not included)."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[LinkFrame | Discarded]:
        """Take newly received bytes; return every event they complete, in stream order."""
        if not self._buf and type(data) is bytes and not self._recovered:
            # The usual read: exactly one whole frame and nothing buffered. The checks of _check, in one
            # expression; whatever fails them (and every other case) takes the general path, which then says why.
            size = len(data)
            l1 = data[1] | data[2] << 8 if size > 2 else 0
            if (
                l1 & 0b11 == PID_376_1
                and size == (l1 >> 2) + OVERHEAD
                and data[0] == START
                and data[5] == START
                and data[3] | data[4] << 8 == l1
                and FIXED_USER_LEN <= l1 >> 2 <= self.max_length
                and data[-1] == END
                and sum(data[HEADER_LEN:-2]) & 0xFF == data[-2]
            ):
                try:
                    return [decode_verified(data, strict=self.strict)]
                except ProtocolError as exc:
                    return [Discarded(data, "decode", str(exc))]
        self._buf += data
        events: list[LinkFrame | Discarded] = [*self._recovered]
        self._recovered.clear()
        self._scan(events, give_up=False)
        return events

    def idle(self) -> list[Discarded]:
        """The line went silent: give up every incomplete candidate and rescan the buffer.

        Returns what was dropped; complete frames found behind a false start are returned by the next ``feed``.
        """
        events: list[LinkFrame | Discarded] = []
        self._scan(events, give_up=True)
        self._recovered.extend(e for e in events if isinstance(e, LinkFrame))
        return [e for e in events if isinstance(e, Discarded)]

    def _check(self, start: int) -> _Check:
        """Validate the candidate at ``start`` as far as the buffered bytes allow."""
        buf = self._buf
        avail = len(buf) - start
        if avail < 3:
            return None
        l1 = buf[start + 1] | buf[start + 2] << 8
        try:
            user_len, _ = read_length(l1, strict=self.strict)
        except ProtocolError as exc:
            return "bad_header", str(exc)
        if user_len < FIXED_USER_LEN:
            return "bad_length", f"L says {user_len} user bytes, fewer than C+A+AFN+SEQ"
        if user_len > self.max_length:
            return "too_long", f"L says {user_len} user bytes, limit {self.max_length}"
        if avail < HEADER_LEN - 1:
            return None
        if buf[start + 3] | buf[start + 4] << 8 != l1:
            return "bad_length", "L1 and L2 differ"
        if avail < HEADER_LEN:
            return None
        if buf[start + 5] != START:
            return "bad_header", "no second 68H at offset 5"
        total = user_len + OVERHEAD
        if avail < total:
            return None
        cs_at = start + HEADER_LEN + user_len
        expected = sum8(memoryview(buf)[start + HEADER_LEN : cs_at])
        if expected != buf[cs_at]:
            return "checksum", f"computed {expected:02X}H, frame carries {buf[cs_at]:02X}H"
        if buf[cs_at + 1] != END:
            return "bad_end", f"end byte {buf[cs_at + 1]:02X}H is not 16H"
        return total

    def _scan(self, events: list[LinkFrame | Discarded], *, give_up: bool) -> None:
        buf = self._buf
        pos = 0
        n = len(buf)
        while pos < n:
            start = buf.find(START, pos)
            if start < 0:
                events.append(Discarded(bytes(buf[pos:]), "garbage", "no start byte 68H"))
                pos = n
                break
            if start > pos:
                events.append(Discarded(bytes(buf[pos:start]), "garbage", "bytes before start byte 68H"))
                pos = start
            result = self._check(start)
            if result is None:
                if not give_up:
                    break
                result = ("stalled", "incomplete frame given up after the line went idle")
            if isinstance(result, tuple):
                nxt = buf.find(START, start + 1)
                pos = n if nxt < 0 else nxt
                events.append(Discarded(bytes(buf[start:pos]), *result))
                continue
            pos = start + result
            raw = bytes(buf[start:pos])
            try:
                events.append(decode_verified(raw, strict=self.strict))
            except ProtocolError as exc:
                events.append(Discarded(raw, "decode", str(exc)))
        del buf[:pos]
