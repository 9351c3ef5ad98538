"""DL/T 645 link frame (帧格式): ``[FE…] 68 A0..A5 68 C L DATA CS 16``.

DL/T 645-2007 §4 (帧格式, Part B.2 of PROTOCOLS.md); the 1997 edition uses the same frame (§4.1):

* ``FE`` wake-up bytes (前导字节) may precede the frame; they are outside the checksum.
* A0..A5 地址域: 12 BCD digits, low byte first; ``AA`` bytes are wildcards for high-order digits (缩位寻址),
  ``99…99`` is broadcast (广播地址).
* C 控制码 (see :mod:`protocols.dlt645.control`), L 数据域长度 (one byte, 0 = no data).
* DATA 数据域: every byte sent +33H, received −33H (§4.3), DI included.
* CS 校验码: sum mod 256 of every byte from the first ``68`` to the byte before CS; then the end byte 16H.

Layout checked against the field-by-field description in cnblogs chen1880/p/11243135 (1997 vs 2007) and
PROTOCOLS.md Part B/D. Parsing here is hand-written (no construct): the framer and the CLI share
:func:`verify` so a frame is judged the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.common.checksum import sum8
from protocols.common.scramble import add33, sub33
from protocols.dlt645.control import ABNORMAL_BIT, DIRECTION_BIT, FOLLOW_UP_BIT, FUNCTION_MASK
from protocols.errors import ChecksumError, FrameError, LocalProtocolError

#: 广播地址: broadcast time/freeze; meters do not reply.
BROADCAST = "999999999999"
#: 通配地址: all wildcard bytes, used with C=13H to read the address of the only meter on a bus.
WILDCARD = "AAAAAAAAAAAA"

START = 0x68  #: 帧起始符
END = 0x16  #: 结束符
PREAMBLE_BYTE = 0xFE  #: 前导字节 (wake-up)
WILDCARD_BYTE = 0xAA
#: 68 A(6) 68 C L: the bytes before DATA.
HEADER_SIZE = 10
#: Header plus CS and 16H: a frame is ``OVERHEAD + L`` bytes without its preamble.
OVERHEAD = 12
#: L is one byte.
MAX_DATA_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Dlt645Frame:
    """One verified DL/T 645 frame (DL/T 645-2007 §4).

    ``address`` is printed as on the meter's name plate, most significant digit first (wire ``61 01 00 00 00
    00`` → ``"000000000161"``); wildcard bytes render as ``"AA"`` in their position. ``data`` has the 33H
    already subtracted. ``preamble`` counts the ``FE`` bytes seen before the frame, and ``raw`` holds the frame
    as received, preamble included.
    """

    address: str
    control: int
    data: bytes
    preamble: int = 0
    raw: bytes = b""

    @property
    def is_reply(self) -> bool:
        """C.D7 传送方向: the meter sent this frame."""
        return bool(self.control & DIRECTION_BIT)

    @property
    def is_abnormal(self) -> bool:
        """C.D6 从站异常应答: DATA is an error word."""
        return bool(self.control & ABNORMAL_BIT)

    @property
    def has_follow_up(self) -> bool:
        """C.D5 后续帧标志: more data follows in further frames."""
        return bool(self.control & FOLLOW_UP_BIT)

    @property
    def function(self) -> int:
        """C.D4..D0 功能码."""
        return self.control & FUNCTION_MASK


def address_to_wire(address: str) -> bytes:
    """Encode a printed address (12 characters, most significant first) as the 6 wire bytes, low byte first.

    Each byte is two decimal digits or the wildcard ``AA`` (DL/T 645-2007 §4.2.3 地址域, 缩位寻址).

    >>> address_to_wire("000000000161").hex()
    '610100000000'
    >>> address_to_wire("AAAA00000161").hex()
    '61010000aaaa'
    """
    if len(address) != 12:
        raise LocalProtocolError(f"address {address!r} is not 12 characters")
    pairs = [address[i : i + 2].upper() for i in range(0, 12, 2)]
    for pair in pairs:
        if pair != "AA" and not (pair.isascii() and pair.isdigit()):
            raise LocalProtocolError(f"address {address!r}: {pair!r} is neither two BCD digits nor AA")
    return bytes(int(pair, 16) for pair in reversed(pairs))


def address_from_wire(raw: bytes | bytearray | memoryview) -> str:
    """Render 6 wire bytes (low byte first) as the printed address. Bytes that are not BCD are shown as hex
    rather than rejected: the checksum already vouched for them, and the caller decides what to do.

    >>> address_from_wire(bytes.fromhex("610100000000"))
    '000000000161'
    """
    return bytes(raw)[::-1].hex().upper()


def is_broadcast(address: str) -> bool:
    """True for the broadcast address 999999999999 (广播地址, DL/T 645-2007 §4.2.3): no meter replies."""
    return address == BROADCAST


def address_matches(requested: str, own: str) -> bool:
    """Meter side: whether a frame sent to ``requested`` is for the meter whose address is ``own``
    (DL/T 645-2007 §4.2.3): its own address, the broadcast address, or a wildcard address whose non-``AA``
    bytes equal the meter's (缩位寻址; AAAAAAAAAAAA matches every meter).

    >>> address_matches("AAAAAA000161", "000000000161"), address_matches("AAAAAA000162", "000000000161")
    (True, False)
    """
    requested, own = requested.upper(), own.upper()
    if requested in (own, BROADCAST):
        return True
    return len(requested) == len(own) == 12 and all(
        mine == theirs or theirs == "AA"
        for mine, theirs in zip(
            (own[i : i + 2] for i in range(0, 12, 2)), (requested[i : i + 2] for i in range(0, 12, 2)), strict=True
        )
    )


def build_frame(address: str, control: int, data: bytes = b"", *, preamble: int = 0) -> bytes:
    """Build a frame: adds 33H to ``data``, computes CS, prefixes ``preamble`` × ``FE``.

    >>> build_frame("000000000161", 0x13).hex(" ")
    '68 61 01 00 00 00 00 68 13 00 45 16'
    """
    if not 0 <= control <= 0xFF:
        raise LocalProtocolError(f"control code {control:#x} is not one byte")
    if len(data) > MAX_DATA_LENGTH:
        raise LocalProtocolError(f"{len(data)} bytes of data do not fit L (max {MAX_DATA_LENGTH})")
    if preamble < 0:
        raise LocalProtocolError(f"preamble {preamble} is negative")
    body = bytes((START, *address_to_wire(address), START, control, len(data))) + add33(data)
    return bytes((PREAMBLE_BYTE,)) * preamble + body + bytes((sum8(body), END))


@dataclass(frozen=True, slots=True)
class Fault:
    """Why the bytes at a start position are not a frame: a :class:`~protocols.common.framing.Discarded`
    reason, a human detail and, for checksum faults, the computed and carried CS."""

    reason: str
    detail: str
    expected: int = 0
    actual: int = 0


#: :func:`verify` result: the candidate is a valid prefix, more bytes are needed.
NEED_MORE = 0


def verify(buf: bytes | bytearray, start: int, stop: int, max_data_length: int = MAX_DATA_LENGTH) -> int | Fault:
    """Judge the candidate frame whose first ``68`` is at ``buf[start]``, looking only at ``buf[:stop]``.

    Returns the end offset (exclusive) of a complete valid frame, :data:`NEED_MORE` while the bytes so far are a
    valid prefix, or a :class:`Fault`. Checks run in wire order — second ``68`` at +7, L at +9 against
    ``max_data_length``, CS, then 16H — so a false start is refused as early as the bytes allow. The end byte is
    located by L, never searched for: CS may itself be 16H (PROTOCOLS.md Part D.1).
    """
    available = stop - start
    if available < 8:
        return NEED_MORE
    if buf[start + 7] != START:
        return Fault("bad_header", f"second start byte is {buf[start + 7]:02X}H, not 68H")
    if available < HEADER_SIZE:
        return NEED_MORE
    length = buf[start + 9]
    if length > max_data_length:
        return Fault("too_long", f"L={length} exceeds the limit {max_data_length}")
    end = start + OVERHEAD + length
    if end > stop:
        return NEED_MORE
    expected = sum8(buf[start : end - 2])
    actual = buf[end - 2]
    if expected != actual:
        return Fault("checksum", f"CS computed {expected:02X}H, frame carries {actual:02X}H", expected, actual)
    if buf[end - 1] != END:
        return Fault("bad_end", f"end byte is {buf[end - 1]:02X}H, not 16H")
    return end


def frame_at(buf: bytes | bytearray, first: int, start: int, end: int) -> Dlt645Frame:
    """Make the frame out of bytes :func:`verify` accepted: preamble ``buf[first:start]``, frame
    ``buf[start:end]``."""
    return Dlt645Frame(
        address=address_from_wire(buf[start + 1 : start + 7]),
        control=buf[start + 8],
        data=sub33(buf[start + HEADER_SIZE : end - 2]),
        preamble=start - first,
        raw=bytes(buf[first:end]),
    )


def parse_frame(raw: bytes | bytearray | memoryview) -> Dlt645Frame:
    """Parse exactly one whole frame, optionally preceded by ``FE`` bytes (DL/T 645-2007 §4).

    Raises :class:`ChecksumError` for a CS mismatch and :class:`FrameError` for anything else (no start byte,
    wrong second start byte, L not matching the length, missing 16H, trailing bytes).

    >>> frame = parse_frame(bytes.fromhex("FEFE 68 610100000000 68 13 00 45 16"))
    >>> frame.address, hex(frame.control), frame.preamble
    ('000000000161', '0x13', 2)
    """
    data = bytes(raw)
    start = 0
    while start < len(data) and data[start] == PREAMBLE_BYTE:
        start += 1
    if start == len(data) or data[start] != START:
        raise FrameError("no 68H start byte after the preamble", raw=data, offset=start)
    verdict = verify(data, start, len(data))
    if isinstance(verdict, Fault):
        if verdict.reason == "checksum":
            cs_offset = start + HEADER_SIZE + data[start + 9]
            raise ChecksumError(verdict.expected, verdict.actual, raw=data, offset=cs_offset)
        raise FrameError(verdict.detail, raw=data, offset=start)
    if verdict == NEED_MORE:
        raise FrameError(f"truncated: {len(data) - start} bytes do not hold the frame L announces", raw=data)
    if verdict != len(data):
        raise FrameError(f"{len(data) - verdict} bytes after the end byte", raw=data, offset=verdict)
    return frame_at(data, 0, start, verdict)
