"""Q/GDW 376.1 decode and encode throughput against a hand-written ``struct`` baseline, measured in the same run.

Cases (synthetic terminal A1 4403, A2 1, MSA 2), each decoded and encoded:

* ``login``: AFN02 F1 登录 (C = C9H, p0, no body), 20 bytes.
* ``f25``: AFN0C F25 当前三相及总有/无功功率、功率因数，三相电压、电流、零序电流、视在功率 for p1 (附录A.15 + A.9 × 8
  + A.5 × 4 + A.7 × 3 + A.25 × 4 + A.9 × 4 = 67 bytes of body).
* ``f129_8pn``: AFN0C F129 当前正向有功电能示值 for p1..p8, M = 4 tariffs, one DA DT per point.
* ``afn0d_f161``: AFN0D F161 日冻结正向有功电能示值 for p1: Td_d (A.20) + A.15 + M = 4 + A.14 × 5 (skipped, with
  a note, while AFN0D F161 is not registered).
* ``multiframe_64``: 64 F129 units (p1..p64) in a 4-frame response (FIR/FIN 10, 00, 00, 01; RSEQ from the
  request's PSEQ), decoded by the framer + :class:`~protocols.gdw376.reassembly.Reassembler`, encoded frame by frame
  with :func:`~protocols.gdw376.messages.response`.

"Ours" decodes as the daemon does (one framer per connection, ``decode_units`` per frame; the multi-frame case
through the reassembler) and encodes with :mod:`protocols.gdw376.messages` from the values (typed classes or
Records). The baseline does the same work with ``struct`` and slicing only: header, L, CS, 16H and the DA DT walk
on decode, and the BCD fields to and from ``Decimal`` / ``datetime`` / ``date``; it builds the identical bytes on
encode. Before timing, the values of both sides must agree (``repr``, so Decimal exponents too) and the encoded
frames must be byte-identical — a correctness check, not a timing assertion.

Method and options as in ``bench_decode.py`` (whose harness this reuses): interleaved rounds, best round counts,
ratio = ours / baseline. Run: ``.venv/bin/python benchmarks/bench_gdw376.py`` (``--quick``, ``--json``,
``--profile``, ``--case NAME``).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import bench_decode as harness

from protocols.gdw376 import messages
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import Address, Afn, Dir, LinkFrame, parse_frame
from protocols.gdw376.reassembly import Completed, Reassembler
from protocols.gdw376.units import DataUnit, EnergyIndication, decode_units, lookup

TERMINAL = Address("4403", 1, msa=2)
READ_TIME = datetime(2024, 5, 1, 12, 30)
TARIFFS = 4
MULTI_UNITS, MULTI_FRAMES = 64, 4

# ---------------------------------------------------------------------------------------- baseline (struct only)

_HEAD = struct.Struct("<BHHB")  # 68 L L 68
_A = bytes((0x03, 0x44, 0x01, 0x00))  # A1 4403, A2 1; A3 = MSA << 1
_BCD = tuple(int(f"{b:02X}") if (b >> 4) < 10 and (b & 15) < 10 else -1 for b in range(256))
_FILLERS = b"\xee\xef\xff"
#: (size, decimals, signed) of the BCD formats used here (附录A.5, A.7, A.9, A.14, A.25).
A5, A7, A9, A14, A25 = (2, 1, True), (2, 1, False), (3, 4, True), (5, 4, False), (3, 3, True)
F25_FORMATS = (A9,) * 8 + (A5,) * 4 + (A7,) * 3 + (A25,) * 4 + (A9,) * 4


def bcd_decode(field: bytes, size: int, decimals: int, signed: bool) -> Decimal | None:
    if field[0] in _FILLERS and field.count(field[0]) == size:
        return None
    top = field[-1]
    negative = signed and top & 0x80
    digits = (field[:-1] + bytes((top & 0x7F,)) if signed else field)[::-1].hex()
    value = Decimal(int(digits)).scaleb(-decimals)
    return -value if negative else value


def bcd_encode(value: Decimal | None, size: int, decimals: int, signed: bool) -> bytes:
    if value is None:
        return b"\xee" * size
    raw = bytearray(bytes.fromhex(f"{int(abs(value).scaleb(decimals)):0{2 * size}d}")[::-1])
    if signed and value < 0:
        raw[-1] |= 0x80
    return bytes(raw)


def a15_decode(b: bytes) -> datetime:
    minute, hour, day, month, year = (_BCD[x] for x in b)
    return datetime(2000 + year, month, day, hour, minute)


def a15_encode(t: datetime) -> bytes:
    return bytes.fromhex(f"{t.minute:02d}{t.hour:02d}{t.day:02d}{t.month:02d}{t.year % 100:02d}")


def a20_decode(b: bytes) -> date:
    day, month, year = (_BCD[x] for x in b)
    return date(2000 + year, month, day)


def a20_encode(d: date) -> bytes:
    return bytes.fromhex(f"{d.day:02d}{d.month:02d}{d.year % 100:02d}")


def base_frame(control: int, afn: int, seq: int, data: bytes, msa: int = 2) -> bytes:
    user = bytes((control,)) + _A + bytes((msa << 1, afn, seq)) + data
    return _HEAD.pack(0x68, len(user) << 2 | 2, len(user) << 2 | 2, 0x68) + user + bytes((sum(user) & 0xFF, 0x16))


def base_parse(frame: bytes) -> tuple[int, int, int, bytes]:
    """(C, AFN, SEQ, data units) of one uplink frame without AUX; ValueError on anything wrong."""
    start, l1, l2, s2 = _HEAD.unpack_from(frame)
    end = 6 + (l1 >> 2)
    if start != 0x68 or s2 != 0x68 or l1 != l2 or l1 & 3 != 2 or end + 2 != len(frame):
        raise ValueError("bad header")
    if sum(frame[6:end]) & 0xFF != frame[end] or frame[end + 1] != 0x16:
        raise ValueError("bad CS or end")
    control, afn, seq = frame[6], frame[12], frame[13]
    if control & 0x20 or seq & 0x80:
        raise ValueError("this baseline reads no EC/Tp")
    return control, afn, seq, frame[14:end]


def _pn(da1: int, da2: int) -> int:
    if da2 == 0:
        return 0
    if da1 & (da1 - 1):
        raise ValueError("one point per identifier in these frames")
    return (da2 - 1) * 8 + da1.bit_length()


def _fn(dt1: int, dt2: int) -> int:
    return dt2 * 8 + dt1.bit_length()


def _id(pn: int, fn: int) -> bytes:
    da = b"\x00\x00" if pn == 0 else bytes((1 << (pn - 1) % 8, (pn - 1) // 8 + 1))
    return da + bytes((1 << (fn - 1) % 8, (fn - 1) // 8))


def _indication(data: bytes, pos: int) -> tuple[tuple[Any, ...], int]:
    """A.15 + M + A.14 × (M+1), as (read time, M, values)."""
    read_time, m = a15_decode(data[pos : pos + 5]), data[pos + 5]
    pos += 6
    values = tuple(bcd_decode(data[p : p + 5], *A14) for p in range(pos, pos + 5 * (m + 1), 5))
    return (read_time, m, values), pos + 5 * (m + 1)


def base_decode_units(data: bytes) -> list[tuple[Any, ...]]:
    """(pn, fn, *values) per unit of the Fn these cases send (AFN02 F1, AFN0C F25/F129, AFN0D F161)."""
    units: list[tuple[Any, ...]] = []
    pos = 0
    while pos < len(data):
        pn, fn = _pn(data[pos], data[pos + 1]), _fn(data[pos + 2], data[pos + 3])
        pos += 4
        if fn == 1 and pn == 0:
            units.append((pn, fn))
        elif fn == 25:
            values: list[Any] = [a15_decode(data[pos : pos + 5])]
            pos += 5
            for size, decimals, signed in F25_FORMATS:
                values.append(bcd_decode(data[pos : pos + size], size, decimals, signed))
                pos += size
            units.append((pn, fn, *values))
        elif fn == 129:
            (read_time, _, values), pos = _indication(data, pos)
            units.append((pn, fn, read_time, values[0], values[1:]))
        elif fn == 161:
            td = a20_decode(data[pos : pos + 3])
            body, pos = _indication(data, pos + 3)
            units.append((pn, fn, td, *body))
        else:
            raise ValueError(f"F{fn}")
    return units


def base_decode(frame: bytes) -> list[tuple[Any, ...]]:
    return base_decode_units(base_parse(frame)[3])


def base_decode_multi(stream: bytes) -> list[tuple[Any, ...]]:
    """Frames back to back: each checked, FIR/FIN/RSEQ checked in order, units concatenated."""
    units: list[tuple[Any, ...]] = []
    pos, index, pseq = 0, 0, -1
    while pos < len(stream):
        size = (stream[pos + 1] | stream[pos + 2] << 8) >> 2
        _, _, seq, data = base_parse(stream[pos : pos + size + 8])
        pos += size + 8
        if index == 0:
            pseq = seq & 15
        fir, fin = seq & 0x40, seq & 0x20
        if bool(fir) != (index == 0) or seq & 15 != (pseq + index) & 15:
            raise ValueError("out of sequence")
        units += base_decode_units(data)
        index += 1
        if fin:
            break
    return units


def _indication_bytes(read_time: datetime, values: Sequence[Decimal | None]) -> bytes:
    return a15_encode(read_time) + bytes((len(values) - 1,)) + b"".join(bcd_encode(v, *A14) for v in values)


# ------------------------------------------------------------------------------------------------ values, ours


def energy(pn: int) -> EnergyIndication:
    total = Decimal(123456789 + 1111 * pn).scaleb(-4)
    return EnergyIndication(READ_TIME, total, tuple(Decimal(10000000 * t + 101 * pn).scaleb(-4) for t in range(1, 5)))


def f25_values() -> list[Any]:
    """read time, P×4 (A.9), Q×4 (A.9), PF×4 (A.5), U×3 (A.7), I×4 (A.25), S×4 (A.9); signs included."""
    return [
        READ_TIME,
        *(Decimal(x) for x in ("12.3456", "4.1000", "-4.2000", "4.0456")),
        *(Decimal(x) for x in ("3.2100", "1.0000", "1.1000", "1.1100")),
        *(Decimal(x) for x in ("96.5", "97.0", "-95.0", "98.1")),
        *(Decimal(x) for x in ("220.1", "221.0", "219.9")),
        *(Decimal(x) for x in ("18.250", "18.500", "-17.900", "0.125")),
        *(Decimal(x) for x in ("12.8000", "4.3000", "4.4000", "4.1000")),
    ]


def canon(units: Sequence[DataUnit]) -> list[tuple[Any, ...]]:
    """Our units in the baseline's shape: (pn, fn, *values)."""
    out: list[tuple[Any, ...]] = []
    for unit in units:
        value = unit.value
        if isinstance(value, EnergyIndication):
            out.append((unit.pn, unit.fn, value.read_time, value.total, value.tariffs))
        elif isinstance(value, Mapping):
            out.append((unit.pn, unit.fn, *value.values()))
        else:
            out.append((unit.pn, unit.fn))
    return out


def ours_decode() -> Callable[[bytes], list[DataUnit]]:
    framer = Gdw376Framer()

    def decode(data: bytes) -> list[DataUnit]:
        return [u for e in framer.feed(data) if isinstance(e, LinkFrame) for u in decode_units(e.afn, e.data, Dir.UP)]

    return decode


def ours_decode_multi(pseq: int) -> Callable[[bytes], list[DataUnit]]:
    framer = Gdw376Framer()

    def decode(data: bytes) -> list[DataUnit]:
        reassembler = Reassembler(pseq)
        for event in framer.feed(data):
            if isinstance(event, LinkFrame):
                for step in reassembler.feed(event):
                    if isinstance(step, Completed):
                        return list(step.units)
        raise ValueError("incomplete")

    return decode


def request(afn: int, items: Sequence[tuple[int, int]], pseq: int = 3) -> LinkFrame:
    return parse_frame(messages.read_request(TERMINAL, afn, items, pseq))


# ---------------------------------------------------------------------------------------------------- cases


def _pair(
    name: str,
    what: str,
    frame: bytes,
    number: int,
    decode: Callable[[bytes], Any],
    base_dec: Callable[[bytes], Any],
    encode: Callable[[], bytes],
    base_enc: Callable[[], bytes],
    frames: int = 1,
) -> list[harness.Case]:
    """A decode case and an encode case for one frame (or stream): values and bytes checked before timing."""

    def check_decode() -> None:
        harness._agree(f"{name} decode", canon(decode(frame)), base_dec(frame), base_dec(frame))

    def check_encode() -> None:
        if encode() != frame or base_enc() != frame:
            raise AssertionError(f"{name} encode: the built frames differ")

    return [
        harness.Case(f"{name}.decode", f"{what}, decode", frame, frames, number, decode, base_dec, check_decode),
        harness.Case(
            f"{name}.encode",
            f"{what}, encode",
            frame,
            frames,
            number,
            lambda _: encode(),
            lambda _: base_enc(),
            check_encode,
        ),
    ]


def build_cases() -> tuple[list[harness.Case], list[str]]:
    notes: list[str] = []
    cases: list[harness.Case] = []

    login = messages.link_check(TERMINAL, 1, 5)
    cases += _pair(
        "login",
        "AFN02 F1 login",
        login,
        8_000,
        ours_decode(),
        base_decode,
        lambda: messages.link_check(TERMINAL, 1, 5),
        lambda: base_frame(0xC9, 0x02, 0x75, b"\x00\x00\x01\x00", msa=0),
    )

    values25 = f25_values()
    req25 = request(Afn.REQUEST_CLASS1, [(1, 25)])

    def base_f25() -> bytes:
        fields = (bcd_encode(v, *f) for v, f in zip(values25[1:], F25_FORMATS, strict=True))
        return base_frame(0x88, 0x0C, 0x63, _id(1, 25) + a15_encode(values25[0]) + b"".join(fields))

    f25 = base_f25()
    record25 = decode_units(0x0C, parse_frame(f25).data, Dir.UP)[0].value
    cases += _pair(
        "f25",
        "AFN0C F25, 1 point",
        f25,
        3_000,
        ours_decode(),
        base_decode,
        lambda: messages.response(req25, [DataUnit(1, 25, record25)]),
        base_f25,
    )

    pns8 = range(1, 9)
    req129 = request(Afn.REQUEST_CLASS1, [(pn, 129) for pn in pns8])
    units129 = [DataUnit(pn, 129, energy(pn)) for pn in pns8]

    def base_f129(pns: Sequence[int], control: int = 0x88, seq: int = 0x63) -> bytes:
        data = b"".join(
            _id(pn, 129) + _indication_bytes(READ_TIME, (energy(pn).total, *energy(pn).tariffs)) for pn in pns
        )
        return base_frame(control, 0x0C, seq, data)

    cases += _pair(
        "f129_8pn",
        "AFN0C F129, 8 points, M=4",
        base_f129(pns8),
        1_000,
        ours_decode(),
        base_decode,
        lambda: messages.response(req129, units129),
        lambda: base_f129(pns8),
    )

    if lookup(Afn.REQUEST_CLASS2, 161, Dir.UP) is None:
        notes.append("afn0d_f161 skipped: AFN0D F161 is not registered in this tree")
    else:
        td = date(2024, 4, 30)
        req161 = parse_frame(messages.command(TERMINAL, 0x0D, [DataUnit(1, 161, {"td_d": td})], 3))
        e1 = energy(1)

        def base_f161() -> bytes:
            return base_frame(
                0x88, 0x0D, 0x63, _id(1, 161) + a20_encode(td) + _indication_bytes(READ_TIME, (e1.total, *e1.tariffs))
            )

        f161 = base_f161()
        record161 = decode_units(0x0D, parse_frame(f161).data, Dir.UP)[0].value
        cases += _pair(
            "afn0d_f161",
            "AFN0D F161, 1 point, M=4",
            f161,
            3_000,
            ours_decode(),
            base_decode,
            lambda: messages.response(req161, [DataUnit(1, 161, record161)]),
            base_f161,
        )

    per = MULTI_UNITS // MULTI_FRAMES
    pns64 = list(range(1, MULTI_UNITS + 1))
    req64 = request(Afn.REQUEST_CLASS1, [(pn, 129) for pn in pns64])
    chunks = [pns64[i : i + per] for i in range(0, MULTI_UNITS, per)]
    units64 = [[DataUnit(pn, 129, energy(pn)) for pn in chunk] for chunk in chunks]

    def ours_multi() -> bytes:
        last = len(units64) - 1
        return b"".join(
            messages.response(req64, units, fir=i == 0, fin=i == last, seq=(3 + i) % 16)
            for i, units in enumerate(units64)
        )

    def base_multi() -> bytes:
        last = len(chunks) - 1
        return b"".join(
            base_f129(chunk, seq=(0x40 if i == 0 else 0) | (0x20 if i == last else 0) | (3 + i) % 16)
            for i, chunk in enumerate(chunks)
        )

    cases += _pair(
        "multiframe_64",
        f"{MULTI_UNITS} F129 units in a {MULTI_FRAMES}-frame response",
        base_multi(),
        100,
        ours_decode_multi(3),
        base_decode_multi,
        ours_multi,
        base_multi,
        frames=MULTI_FRAMES,
    )
    return cases, notes


def main(argv: Sequence[str] | None = None) -> int:
    cases, notes = build_cases()
    return harness.main(argv, build=lambda: cases, notes=notes)


if __name__ == "__main__":
    sys.exit(main())
