"""Decode throughput: our protocol stack against a hand-written ``struct`` baseline, measured in the same run.

Cases (all frames are built with our own builders, synthetic addresses):

* ``gdw376_f129_1pn``: one Q/GDW 376.1 AFN0C F129 response (当前正向有功电能示值, §5.1.3.13 / 附录A.15 + A.14) for
  one point with 4 tariffs (费率 M = 4).
* ``gdw376_f129_16pn``: the same for 16 points (p1..p16), one DA DT per point, as :func:`messages.response` builds.
* ``dlt645_00010000``: a DL/T 645-2007 §7.1 read reply (C = 91H) for DI 00010000 (正向有功总电能, one value).
* ``dlt645_0001FF00``: the read reply for the block DI 0001FF00 (total + 4 tariffs).
* ``gdw376_stream``: 1000 one-point F129 responses back to back, fed to one framer in 1400-byte chunks (a TCP
  segment's worth), every frame decoded.

"Ours" is what the daemon does per received frame: ``framer.feed(bytes)`` → verified frame object → data units
(376.1: :func:`~protocols.gdw376.units.decode_units`; 645: :func:`~protocols.dlt645.apdu.parse_reply`) with exact
``Decimal`` values. The baseline does the equivalent work with ``struct`` and slicing only: find 68H, check L and
the second 68H, verify CS (sum of the bytes, mod 256), check 16H, walk the DA DT / read the DI, and turn the BCD
fields into ``Decimal`` (for 645 after subtracting 33H). Before timing, both sides must produce the same values
(and those must be the values the frames were built from); that is a correctness check, not a timing assertion.

Method: ``time.perf_counter``; a warm-up, then ``--repeat`` rounds of ``--number`` iterations each, ours and the
baseline interleaved round by round (so background load hits both alike); the best round counts. GC stays on, as
in the daemon. Frames/s = frames decoded per round / best round time; ratio = ours / baseline (1.0 = as fast as
the hand-written parser, 0.25 = four times slower).

Run: ``.venv/bin/python benchmarks/bench_decode.py`` (``--quick``, ``--json``, ``--profile``, ``--help``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.metadata
import io
import json
import os
import platform
import pstats
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal

from protocols.dlt645 import apdu
from protocols.dlt645.framer import Dlt645Framer
from protocols.dlt645.link import Dlt645Frame
from protocols.gdw376 import messages
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import Address, Afn, Dir, LinkFrame, parse_frame
from protocols.gdw376.units import DataUnit, EnergyIndication, decode_units

# ----------------------------------------------------------------------------------------------- test frames

TERMINAL = Address("4403", 1, msa=2)  # synthetic A1 4403, A2 1
METER = "000000000001"  # synthetic meter address
F129 = 129
TARIFFS = 4
READ_TIME = datetime(2024, 5, 1, 12, 30)
DI_TOTAL = 0x00010000  # 正向有功总电能
DI_BLOCK = 0x0001FF00  # 正向有功电能数据块 (总 + 费率1..4)
STREAM_FRAMES = 1000
CHUNK = 1400

#: One expected data unit, the same shape for ours and the baseline: (pn, fn, read time, total, tariffs).
Unit376 = tuple[int, int, datetime, Decimal | None, tuple[Decimal | None, ...]]
#: One expected 645 reply: (address, di, values).
Reply645 = tuple[str, int, tuple[Decimal | None, ...]]


def _indication(pn: int, k: int = 0) -> EnergyIndication:
    """Plausible A.14 readings (XXXXXX.XXXX kWh) that differ per point and per frame."""
    total = Decimal(123456789 + 1111 * pn + 7 * k).scaleb(-4)
    tariffs = tuple(Decimal(10000000 * t + 101 * pn + k).scaleb(-4) for t in range(1, TARIFFS + 1))
    return EnergyIndication(READ_TIME, total, tariffs)


def f129_response(pns: Sequence[int], k: int = 0) -> bytes:
    """AFN0C F129 response (C = 88H) answering a read request (C = 4BH) of ``pns``, PSEQ ``k`` mod 16."""
    request = parse_frame(messages.read_request(TERMINAL, Afn.REQUEST_CLASS1, [(pn, F129) for pn in pns], k & 0x0F))
    return messages.response(request, [DataUnit(pn, F129, _indication(pn, k)) for pn in pns])


def expected_376(pns: Sequence[int], k: int = 0) -> list[Unit376]:
    return [_canon_unit(DataUnit(pn, F129, _indication(pn, k))) for pn in pns]


def block_values() -> list[Decimal | None]:
    """XXXXXX.XX kWh: total, then tariffs 1..4 (尖峰平谷)."""
    return [Decimal("12345.67"), Decimal("1234.50"), Decimal("4567.01"), Decimal("5000.00"), Decimal("1544.16")]


# ------------------------------------------------------------------------------------------------------ ours


def _canon_unit(unit: DataUnit) -> Unit376:
    value = unit.value
    if not isinstance(value, EnergyIndication):
        raise TypeError(f"F{unit.fn} p{unit.pn} decoded to {value!r}")
    return unit.pn, unit.fn, value.read_time, value.total, value.tariffs


def ours_376() -> Callable[[bytes], list[list[DataUnit]]]:
    """One framer per connection, as in the daemon; every frame's data units decoded (``Dir.UP``)."""
    framer = Gdw376Framer()

    def decode(data: bytes) -> list[list[DataUnit]]:
        return [decode_units(e.afn, e.data, Dir.UP) for e in framer.feed(data) if isinstance(e, LinkFrame)]

    return decode


def ours_376_stream(chunks: Sequence[bytes]) -> Callable[[bytes], list[list[DataUnit]]]:
    """The stream case: ``chunks`` fed one by one to a fresh framer (the argument is ignored)."""

    def decode(_: bytes) -> list[list[DataUnit]]:
        step = ours_376()
        return [units for chunk in chunks for units in step(chunk)]

    return decode


def ours_645() -> Callable[[bytes], list[apdu.ReadReply | apdu.ErrorReply | apdu.AddressReply | apdu.Ack]]:
    framer = Dlt645Framer()

    def decode(data: bytes) -> list[apdu.ReadReply | apdu.ErrorReply | apdu.AddressReply | apdu.Ack]:
        return [apdu.parse_reply(e) for e in framer.feed(data) if isinstance(e, Dlt645Frame)]

    return decode


def canon_376(decoded: list[list[DataUnit]]) -> list[Unit376]:
    return [_canon_unit(unit) for units in decoded for unit in units]


def canon_645(decoded: list[apdu.ReadReply | apdu.ErrorReply | apdu.AddressReply | apdu.Ack]) -> list[Reply645]:
    out: list[Reply645] = []
    for reply in decoded:
        if not isinstance(reply, apdu.ReadReply):
            raise TypeError(f"expected a read reply, got {reply!r}")
        out.append((reply.address, reply.di, tuple(v.value for v in reply.values)))
    return out


# -------------------------------------------------------------------------------------------------- baseline
# Deliberately lean: the checks a careful hand-written parser makes, no objects but tuples, no error paths
# beyond ValueError. It only understands what these cases send (uplink AFN0C F129; 645 reads of 2 DIs).

_HEAD_376 = struct.Struct("<BHHB")  # 68 L L 68 (Q/GDW 376.1 §4.3.2)
_HEAD_645 = struct.Struct("<B6sBBB")  # 68 A0..A5 68 C L (DL/T 645-2007 §4)
_FILLERS = b"\xee\xef\xff"
#: Packed BCD byte → 0..99, or -1 when a nibble is above 9.
_BCD = tuple((b >> 4) * 10 + (b & 15) if b >> 4 < 10 and b & 15 < 10 else -1 for b in range(256))
_SUB33 = bytes((b - 0x33) & 0xFF for b in range(256))
#: DI → (value size, decimals): 正向有功总电能 and its block (XXXXXX.XX).
_DI_645 = {DI_TOTAL: (4, 2), DI_BLOCK: (4, 2)}


def _bcd_decimal(field: bytes, decimals: int) -> Decimal | None:
    """Little-endian packed BCD → Decimal; all-EE/EF/FF → None; ``int`` rejects a nibble above 9."""
    first = field[0]
    if first in _FILLERS and field.count(first) == len(field):
        return None
    return Decimal(int(field[::-1].hex())).scaleb(-decimals)


def _bits(bitmap: int) -> list[int]:
    return [i for i in range(8) if bitmap >> i & 1]


def baseline_376_at(buf: bytes | bytearray, start: int) -> tuple[int, list[Unit376]] | None:
    """Check and decode the frame whose first 68H is ``buf[start]``: (end offset, units), or None when the
    buffer does not hold the whole frame yet."""
    if len(buf) - start < 6:
        return None
    _, l1, l2, s2 = _HEAD_376.unpack_from(buf, start)
    if l1 != l2 or s2 != 0x68 or l1 & 3 != 2:
        raise ValueError("bad 376.1 header")
    end = start + 6 + (l1 >> 2)  # offset of CS
    if end + 2 > len(buf):
        return None
    if sum(buf[start + 6 : end]) & 0xFF != buf[end] or buf[end + 1] != 0x16:
        raise ValueError("bad CS or end byte")
    control, afn, seq = buf[start + 6], buf[start + 12], buf[start + 13]
    if afn != 0x0C or not control & 0x80:
        raise ValueError("not an uplink AFN0C frame")
    stop = end - (2 if control & 0x20 else 0) - (6 if seq & 0x80 else 0)  # EC (ACD=1), Tp (TpV=1)
    pos = start + 14
    units: list[Unit376] = []
    while pos < stop:
        da1, da2, dt1, dt2 = buf[pos : pos + 4]
        pos += 4
        pns = [(da2 - 1) * 8 + i + 1 for i in _bits(da1)] if da2 else [0]
        for pn in pns:
            for fn in [dt2 * 8 + i + 1 for i in _bits(dt1)]:
                if fn != F129:
                    raise ValueError(f"F{fn}")
                minute, hour, day, month, year = (_BCD[b] for b in buf[pos : pos + 5])
                if min(minute, hour, day, month, year) < 0:
                    raise ValueError("read time is not BCD")
                read_time = datetime(2000 + year, month, day, hour, minute)
                count = buf[pos + 5] + 1
                pos += 6
                values = [_bcd_decimal(bytes(buf[p : p + 5]), 4) for p in range(pos, pos + 5 * count, 5)]
                pos += 5 * count
                units.append((pn, fn, read_time, values[0], tuple(values[1:])))
    if pos != stop:
        raise ValueError("data units overrun the frame")
    return end + 2, units


def baseline_376(data: bytes) -> list[Unit376]:
    result = baseline_376_at(data, data.find(0x68))
    if result is None:
        raise ValueError("incomplete frame")
    return result[1]


def baseline_376_stream(chunks: Sequence[bytes]) -> Callable[[bytes], list[Unit376]]:
    """A buffering stream scanner: append, find 68H, decode whole frames, drop the consumed prefix."""

    def decode(_: bytes) -> list[Unit376]:
        buf = bytearray()
        units: list[Unit376] = []
        for chunk in chunks:
            buf += chunk
            pos = 0
            while (start := buf.find(0x68, pos)) >= 0:
                result = baseline_376_at(buf, start)
                if result is None:
                    break
                pos, frame_units = result
                units += frame_units
            del buf[:pos]
        return units

    return decode


def baseline_645(data: bytes) -> list[Reply645]:
    start = data.find(0x68)
    _, wire_address, s2, control, length = _HEAD_645.unpack_from(data, start)
    end = start + 12 + length
    if s2 != 0x68 or end > len(data):
        raise ValueError("bad 645 header")
    if sum(data[start : end - 2]) & 0xFF != data[end - 2] or data[end - 1] != 0x16:
        raise ValueError("bad CS or end byte")
    if control & 0xDF != 0x91:
        raise ValueError("not a normal read reply")
    body = data[start + 10 : end - 2].translate(_SUB33)
    di = int.from_bytes(body[:4], "little")
    size, decimals = _DI_645[di]
    values = tuple(_bcd_decimal(body[p : p + size], decimals) for p in range(4, len(body), size))
    return [(wire_address[::-1].hex().upper(), di, values)]


# ---------------------------------------------------------------------------------------------------- harness


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    description: str
    payload: bytes  # one frame, or the whole stream
    frames: int  # frames decoded per iteration
    number: int  # default iterations per round
    ours: Callable[[bytes], object]
    baseline: Callable[[bytes], object]
    check: Callable[[], None]  # raises when ours, the baseline and the built values disagree


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    description: str
    frame_bytes: int
    frames_per_iteration: int
    number: int
    repeat: int
    ours_fps: float
    baseline_fps: float
    ratio: float


def _agree(name: str, ours: object, baseline: object, built: object) -> None:
    """Same values on both sides (``repr`` also compares the Decimal exponents), equal to what was built."""
    if repr(ours) != repr(baseline):
        raise AssertionError(f"{name}: ours and the baseline disagree:\n{ours!r}\n{baseline!r}")
    if ours != built:
        raise AssertionError(f"{name}: decoded values differ from the built ones:\n{ours!r}\n{built!r}")


def build_cases() -> list[Case]:
    one = f129_response([1])
    sixteen_pns = range(1, 17)
    sixteen = f129_response(sixteen_pns)
    single = apdu.build_read_reply(METER, DI_TOTAL, block_values()[:1])
    block = apdu.build_read_reply(METER, DI_BLOCK, block_values())
    stream_pns = [k % 64 + 1 for k in range(STREAM_FRAMES)]
    stream = b"".join(f129_response([pn], k) for k, pn in enumerate(stream_pns))
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
    stream_built = [unit for k, pn in enumerate(stream_pns) for unit in expected_376([pn], k)]

    def check_376(name: str, frame: bytes, built: list[Unit376]) -> Callable[[], None]:
        return lambda: _agree(name, canon_376(ours_376()(frame)), baseline_376(frame), built)

    def check_645(name: str, frame: bytes, di: int, values: list[Decimal | None]) -> Callable[[], None]:
        return lambda: _agree(name, canon_645(ours_645()(frame)), baseline_645(frame), [(METER, di, tuple(values))])

    def check_stream() -> None:
        ours = canon_376(ours_376_stream(chunks)(b""))
        _agree("gdw376_stream", ours, baseline_376_stream(chunks)(b""), stream_built)

    return [
        Case(
            "gdw376_f129_1pn",
            "376.1 AFN0C F129 response, 1 point, 4 tariffs",
            one,
            1,
            3_000,
            ours_376(),
            baseline_376,
            check_376("gdw376_f129_1pn", one, expected_376([1])),
        ),
        Case(
            "gdw376_f129_16pn",
            "376.1 AFN0C F129 response, 16 points, 4 tariffs",
            sixteen,
            1,
            300,
            ours_376(),
            baseline_376,
            check_376("gdw376_f129_16pn", sixteen, expected_376(sixteen_pns)),
        ),
        Case(
            "dlt645_00010000",
            "645-2007 read reply, DI 00010000 (1 value)",
            single,
            1,
            8_000,
            ours_645(),
            baseline_645,
            check_645("dlt645_00010000", single, DI_TOTAL, block_values()[:1]),
        ),
        Case(
            "dlt645_0001FF00",
            "645-2007 read reply, DI 0001FF00 (total + 4 tariffs)",
            block,
            1,
            4_000,
            ours_645(),
            baseline_645,
            check_645("dlt645_0001FF00", block, DI_BLOCK, block_values()),
        ),
        Case(
            "gdw376_stream",
            f"376.1 stream: {STREAM_FRAMES} F129 1-point responses in {CHUNK}-byte chunks",
            stream,
            STREAM_FRAMES,
            3,
            ours_376_stream(chunks),
            baseline_376_stream(chunks),
            check_stream,
        ),
    ]


def _round(func: Callable[[bytes], object], payload: bytes, number: int) -> float:
    loop = range(number)
    start = time.perf_counter()
    for _ in loop:
        func(payload)
    return time.perf_counter() - start


def measure(case: Case, *, repeat: int, number: int, warmup: float) -> Result:
    """Warm up both sides, then ``repeat`` interleaved rounds of ``number`` iterations; best round wins."""
    for func in (case.ours, case.baseline):
        deadline = time.perf_counter() + warmup
        while time.perf_counter() < deadline:
            _round(func, case.payload, max(1, number // 20))
    best_ours = best_base = float("inf")
    for _ in range(repeat):
        best_ours = min(best_ours, _round(case.ours, case.payload, number))
        best_base = min(best_base, _round(case.baseline, case.payload, number))
    frames = number * case.frames
    ours_fps, base_fps = frames / best_ours, frames / best_base
    size = len(case.payload) // case.frames
    ratio = ours_fps / base_fps
    return Result(case.name, case.description, size, case.frames, number, repeat, ours_fps, base_fps, ratio)


def profile(case: Case, number: int, top: int) -> str:
    """cProfile of our side (``tottime`` order): where the decode path spends its time."""
    profiler = cProfile.Profile()
    profiler.enable()
    _round(case.ours, case.payload, number)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def construct_usage() -> str:
    """Whether our decode path runs compiled ``construct`` schemas (``construct.Compiled`` module constants)."""
    if "construct" not in sys.modules:
        return "no (the decode path does not import construct)"
    construct = sys.modules["construct"]
    compiled = [
        f"{module_name}.{attr}"
        for module_name, module in list(sys.modules.items())
        if module_name.startswith("protocols") and module is not None
        for attr, value in vars(module).items()
        if isinstance(value, construct.Compiled)
    ]
    version = importlib.metadata.version("construct")
    if compiled:
        return f"yes, construct {version}: {', '.join(sorted(compiled))}"
    return f"no (construct {version} is imported, but no compiled schema is in protocols/)"


def environment() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": f"{platform.machine()}, {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "load_average": load,
        "construct_compiled": construct_usage(),
        "date": date.today().isoformat(),
    }


def parse_args(argv: Sequence[str] | None, names: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--quick", action="store_true", help="short run (repeat 3, number / 10, warm-up 0.05 s)")
    parser.add_argument("--repeat", type=int, help="rounds per side; the best counts (default 15, quick 3)")
    parser.add_argument("--number", type=int, help="iterations per round, every case (default: per case)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per side and case (default 0.2)")
    parser.add_argument("--case", action="append", choices=names, help="run only this case (repeatable)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of our side per case")
    args = parser.parse_args(argv)
    for flag in ("repeat", "number"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    return args


def _table(results: Sequence[Result]) -> str:
    head = f"{'case':<18} {'bytes':>6} {'ours frames/s':>14} {'baseline frames/s':>18} {'ours/baseline':>14}"
    rows = [
        f"{r.name:<18} {r.frame_bytes:>6} {r.ours_fps:>14,.0f} {r.baseline_fps:>18,.0f} {r.ratio:>14.2f}"
        for r in results
    ]
    return "\n".join([head, "-" * len(head), *rows])


def main(
    argv: Sequence[str] | None = None,
    *,
    build: Callable[[], list[Case]] = build_cases,
    notes: Sequence[str] = (),
) -> int:
    """Run the cases ``build`` gives (bench_gdw376.py passes its own, with ``notes`` for the header)."""
    cases = build()
    args = parse_args(argv, [c.name for c in cases])
    selected = [c for c in cases if not args.case or c.name in args.case]
    repeat = args.repeat or (3 if args.quick else 15)
    warmup = args.warmup if args.warmup is not None else (0.05 if args.quick else 0.2)
    for case in selected:
        case.check()
    env = environment()
    if not args.json:
        for key, value in env.items():
            print(f"{key + ':':<20}{value}")
        for note in notes:
            print(f"{'note:':<20}{note}")
        print(f"{'settings:':<20}repeat {repeat}, warm-up {warmup} s, GC on, best round counts\n", flush=True)
    results: list[Result] = []
    for case in selected:
        number = args.number or (max(1, case.number // 10) if args.quick else case.number)
        results.append(measure(case, repeat=repeat, number=number, warmup=warmup))
        gc.collect()
        if args.profile and not args.json:
            print(f"--- profile of ours: {case.name}, {number} iterations\n{profile(case, number, 15)}")
    if args.json:
        settings = {"repeat": repeat, "warmup_s": warmup, "gc": True, "quick": args.quick}
        document = {
            "environment": env,
            "settings": settings,
            "notes": list(notes),
            "results": [asdict(r) for r in results],
        }
        print(json.dumps(document, indent=2))
    else:
        print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
