"""Load profiles (负荷记录, DL/T 645-2007 附录A 表A.7) and State Grid per-channel curves, as catalogue layouts.

**06000000 / 06000001 / 06000002** (最早记录块 / 给定时间记录块 / 最近一个记录块): the request adds the block count
N (``NN``, 负荷记录块数) and, for 06000001, the start time ``mmhhDDMMYY``; the reply carries N load records
back to back, each (DL/T 645-2007 附录A 负荷记录格式)::

    A0 A0  L  time(YYMMDDhhmm)  block1 AA  block2 AA  block3 AA  block4 AA  block5 AA  block6 AA  CS  E5 E5

``L`` counts the bytes from the time to the last AAH; ``CS`` is the sum of A0 A0 L and those bytes, mod 256. A
channel that is not recorded leaves only its AAH separator. The six blocks (sizes from the record layout; the
block lengths were checked against a terminal firmware that reads these records, which skips 23/25/9/17/17/7
bytes per block including the time and separator)::

    1  voltage A/B/C XXX.X V, current A/B/C XXX.XXX A (signed), frequency XX.XX Hz      6 + 9 + 2
    2  active power total/A/B/C, reactive power total/A/B/C, XX.XXXX kW / kvar (signed)   12 + 12
    3  power factor total/A/B/C, X.XXX (signed)                                          8
    4  forward active, reverse active, combined reactive 1, 2 totals, XXXXXX.XX            16
    5  reactive Q1..Q4 totals, XXXXXX.XX kvarh                                            16
    6  present active / reactive demand, XX.XXXX kW / kvar (signed)                        6

Each record decodes to :data:`RECORD_VALUES` values, the time first; an absent block gives ``None`` s, and
encoding writes a block whose values are all ``None`` as absent.

**0610xxxx** (Q/GDW smart-meter supplement, per-channel curves: 0610 01 01..03 phase voltages, 02 currents,
03 active power total/A/B/C, 04 reactive, 05 power factor, 06 01..04 energy totals, 07 01..04 quadrant
reactive, 08 01/02 present demand): the request is the same DI + N + ``mmhhDDMMYY``; the reply holds the time of
the first point (YYMMDDhhmm) and then N values of the channel's format. Layout checked against the same terminal
firmware's curve reader (time, then fixed-size values). The point interval is a meter parameter (负荷记录间隔时间,
04000A02..), not in the reply, so points are numbered, not timed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocols.common.checksum import sum8
from protocols.dlt645.formats import Field, Named, Scalar, field_of
from protocols.errors import DecodeError, LocalProtocolError

START = b"\xa0\xa0"  #: 起始码
END = b"\xe5\xe5"  #: 结束码
SEPARATOR = 0xAA  #: 块分隔码

TIME = field_of("YYMMDDhhmm")
_V = field_of("XXX.X", "V")
_I = field_of("XXX.XXX", "A", signed=True)
_P = field_of("XX.XXXX", "kW", signed=True)
_Q = field_of("XX.XXXX", "kvar", signed=True)
_PF = field_of("X.XXX", signed=True)
_KWH = field_of("XXXXXX.XX", "kWh")
_KVARH = field_of("XXXXXX.XX", "kvarh")
_KVARH_SIGNED = field_of("XXXXXX.XX", "kvarh", signed=True)

_PHASES = ("A", "B", "C")
_TOTAL_PHASES = ("TOTAL", *_PHASES)

#: The six blocks of a load record: (name, field) per value.
BLOCKS: tuple[tuple[tuple[str, Field], ...], ...] = (
    (
        *((f"VOLTAGE_{p}", _V) for p in _PHASES),
        *((f"CURRENT_{p}", _I) for p in _PHASES),
        ("FREQUENCY", field_of("XX.XX", "Hz")),
    ),
    (*((f"ACTIVE_POWER_{p}", _P) for p in _TOTAL_PHASES), *((f"REACTIVE_POWER_{p}", _Q) for p in _TOTAL_PHASES)),
    tuple((f"POWER_FACTOR_{p}", _PF) for p in _TOTAL_PHASES),
    (
        ("ENERGY_FORWARD_ACTIVE_TOTAL", _KWH),
        ("ENERGY_REVERSE_ACTIVE_TOTAL", _KWH),
        ("ENERGY_COMBINED_REACTIVE_1_TOTAL", _KVARH_SIGNED),
        ("ENERGY_COMBINED_REACTIVE_2_TOTAL", _KVARH_SIGNED),
    ),
    tuple((f"ENERGY_REACTIVE_Q{q}_TOTAL", _KVARH) for q in range(1, 5)),
    (("DEMAND_ACTIVE_PRESENT", _P), ("DEMAND_REACTIVE_PRESENT", _Q)),
)
#: Name of the record time value.
RECORD_TIME = "LOAD_RECORD_TIME"
#: (name, field) of every value of one record, in order.
RECORD_FIELDS: tuple[tuple[str, Field], ...] = ((RECORD_TIME, TIME), *(pair for block in BLOCKS for pair in block))
RECORD_VALUES = len(RECORD_FIELDS)


def _block_size(block: Sequence[tuple[str, Field]]) -> int:
    return sum(f.size for _, f in block)


@dataclass(frozen=True, slots=True)
class LoadRecords:
    """Layout of 06000000..02 replies: N load records (see the module docstring)."""

    def decode(self, name: str, raw: bytes) -> list[Named]:
        out: list[Named] = []
        pos = 0
        while pos < len(raw):
            pos = _decode_record(raw, pos, out)
        if not out:
            raise DecodeError(f"{name}: no load record", raw=raw)
        return out

    def encode(self, name: str, values: Sequence[Scalar | None]) -> bytes:
        if not values or len(values) % RECORD_VALUES:
            raise LocalProtocolError(f"{name} takes whole records of {RECORD_VALUES} values, not {len(values)}")
        return b"".join(_encode_record(values[i : i + RECORD_VALUES]) for i in range(0, len(values), RECORD_VALUES))

    def fields(self, name: str, count: int) -> list[tuple[str, Field]]:
        return [RECORD_FIELDS[i % RECORD_VALUES] for i in range(count)]


def _decode_record(raw: bytes, pos: int, out: list[Named]) -> int:
    if raw[pos : pos + 2] != START or len(raw) < pos + 3:
        raise DecodeError(f"load record at byte {pos} does not start with A0A0H", raw=raw, offset=pos)
    length = raw[pos + 2]
    body_at = pos + 3
    end = body_at + length + 3  # body, CS, E5 E5
    if end > len(raw):
        raise DecodeError(f"load record at byte {pos} announces {length} bytes, more than remain", raw=raw)
    body = raw[body_at : body_at + length]
    if sum8(raw[pos : body_at + length]) != raw[body_at + length]:
        raise DecodeError(f"load record at byte {pos}: checksum mismatch", raw=raw, offset=body_at + length)
    if raw[end - 2 : end] != END:
        raise DecodeError(f"load record at byte {pos} does not end with E5E5H", raw=raw, offset=end - 2)
    if len(body) < TIME.size:
        raise DecodeError(f"load record at byte {pos} is too short for its time", raw=raw)
    out.append((RECORD_TIME, TIME, TIME.decode(body[: TIME.size])))
    at = TIME.size
    for block in BLOCKS:
        if at < len(body) and body[at] == SEPARATOR:
            out.extend((n, f, None) for n, f in block)
            at += 1
            continue
        size = _block_size(block)
        if at + size >= len(body) or body[at + size] != SEPARATOR:
            raise DecodeError(f"load record at byte {pos}: block without its AAH separator", raw=raw)
        for n, f in block:
            out.append((n, f, f.decode(body[at : at + f.size])))
            at += f.size
        at += 1
    if at != len(body):
        raise DecodeError(f"load record at byte {pos}: {len(body) - at} bytes after the last block", raw=raw)
    return end


def _encode_record(values: Sequence[Scalar | None]) -> bytes:
    body = bytearray(TIME.encode(values[0]))
    at = 1
    for block in BLOCKS:
        chunk = values[at : at + len(block)]
        if any(v is not None for v in chunk):
            for (_, f), v in zip(block, chunk, strict=True):
                body += f.encode(v)
        body.append(SEPARATOR)
        at += len(block)
    head = START + bytes((len(body),)) + body
    return head + bytes((sum8(head),)) + END


@dataclass(frozen=True, slots=True)
class Curve:
    """Layout of a 0610xxxx reply: the first point's time, then points of one field."""

    point: Field

    def decode(self, name: str, raw: bytes) -> list[Named]:
        size = self.point.size
        if len(raw) < TIME.size or (len(raw) - TIME.size) % size:
            raise DecodeError(f"{name}: {len(raw)} bytes are not a time and whole {size}-byte points", raw=raw)
        out: list[Named] = [(f"{name}_START", TIME, TIME.decode(raw[: TIME.size]))]
        for i, at in enumerate(range(TIME.size, len(raw), size), start=1):
            out.append((f"{name}_POINT{i}", self.point, self.point.decode(raw[at : at + size])))
        return out

    def encode(self, name: str, values: Sequence[Scalar | None]) -> bytes:
        if not values:
            raise LocalProtocolError(f"{name} takes a start time and points")
        return TIME.encode(values[0]) + b"".join(self.point.encode(v) for v in values[1:])

    def fields(self, name: str, count: int) -> list[tuple[str, Field]]:
        return [(f"{name}_START", TIME)][:count] + [(f"{name}_POINT{i}", self.point) for i in range(1, count)]
