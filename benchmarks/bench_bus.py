"""Reads per second on one simulated 2400-baud RS-485 bus, as a share of the physical limit.

    .venv/bin/python benchmarks/bench_bus.py            # 8 meters, 60 s of reads
    .venv/bin/python benchmarks/bench_bus.py --quick    # 15 s
    .venv/bin/python benchmarks/bench_bus.py --json     # one JSON document

The head-end's own bus master (:class:`headend.channels.serial_port.SerialChannel` → BusMaster) reads DI 00010000
round robin from simulated DL/T 645-2007 meters (concentrator_sim.meters: an Rs485Bus behind a pseudo-terminal,
paced at 11 bits a byte). The physical limit of one read is what the wire and the meter take, whatever the master
does: the request on the wire, the meter's reply delay, the reply on the wire — all from the baud rate and the
sizes of the frames actually exchanged (FE preambles included)::

    limit = 1 / ((request bytes + reply bytes) × 11 / baud + reply delay)

The ratio reads/s ÷ limit says how much of the bus the master wastes (target ≥ 0.9). Before timing, every value
read is checked against the simulator's register, so a fast wrong master cannot score.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from concentrator_sim.meters.bus import BusMeter, PtyPort, Rs485Bus, utc_now
from concentrator_sim.meters.model import Dlt645Meter, MeterConfig
from headend.channels.serial_port import SerialChannel
from headend.config import SerialChannelConfig
from protocols.dlt645.apdu import build_read, build_read_reply
from protocols.dlt645.control import Edition

DI = 0x00010000
BAUD = 2400
BITS_PER_BYTE = 11  # 8E1
#: the master's own preamble (FE × 4, PROTOCOLS.md B.1)
PREAMBLE = 4


def physical_limit(request_bytes: int, reply_bytes: int, reply_delay_s: float, baud: int = BAUD) -> float:
    """Reads per second a perfect master could do: one request and one reply on the wire, plus the meter's delay."""
    return 1.0 / ((request_bytes + reply_bytes) * BITS_PER_BYTE / baud + reply_delay_s)


async def run(meters: int, seconds: float, reply_delay_s: float) -> dict[str, Any]:
    addresses = [f"{n:012d}" for n in range(1, meters + 1)]
    bus = Rs485Bus(
        [BusMeter(Dlt645Meter(MeterConfig(address=a)), reply_delay_s=reply_delay_s) for a in addresses], baud=BAUD
    )
    with tempfile.TemporaryDirectory(prefix="bench_bus") as tmp:
        port = await PtyPort(bus, link=Path(tmp) / "ttyBUS").open()
        config = SerialChannelConfig(
            port=port.path, baud=BAUD, reply_delay_s=max(0.5, reply_delay_s * 2), preamble=PREAMBLE, retries=0
        )
        channel = SerialChannel(config)
        channel.start()
        try:
            async with asyncio.timeout(10):
                await channel.wait_up()
            master = channel.master
            # correctness first: every meter's value equals the simulator's register
            for address in addresses:
                meter = bus.meter(address).meter
                [low] = meter.read(DI, utc_now()) or [None]
                read = await master.read(address, DI, edition=Edition.V2007)
                [high] = meter.read(DI, utc_now()) or [None]
                value = read.values[0].value
                # energy only grows: the value read lies between the register before and after the read
                if low is None or high is None or not isinstance(value, Decimal) or not low <= value <= high:
                    raise SystemExit(f"{address}: read {value}, simulator held {low} .. {high}")
            reply_bytes = _reply_size(bus, addresses[0])
            request_bytes = len(build_read(addresses[0], DI, preamble=PREAMBLE))
            failures = 0
            reads = 0
            started = time.perf_counter()
            deadline = started + seconds
            while time.perf_counter() < deadline:
                try:
                    await master.read(addresses[reads % len(addresses)], DI, edition=Edition.V2007)
                except Exception:  # noqa: BLE001 - counted, a benchmark keeps going
                    failures += 1
                reads += 1
            elapsed = time.perf_counter() - started
        finally:
            await channel.stop()
            port.close()
            bus.close()
    rate = (reads - failures) / elapsed
    limit = physical_limit(request_bytes, reply_bytes, reply_delay_s)
    return {
        "baud": BAUD,
        "meters": meters,
        "seconds": round(elapsed, 2),
        "reads": reads,
        "failures": failures,
        "request_bytes": request_bytes,
        "reply_bytes": reply_bytes,
        "reply_delay_s": reply_delay_s,
        "reads_per_s": round(rate, 3),
        "limit_per_s": round(limit, 3),
        "ratio": round(rate / limit, 3),
    }


def _reply_size(bus: Rs485Bus, address: str) -> int:
    """Bytes of one reply to 00010000 on the wire, FE preamble included (the profile's)."""
    profile = bus.meter(address).meter.profile
    return len(build_read_reply(address, DI, [Decimal("0.00")], preamble=profile.preamble))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--reply-delay", type=float, default=0.05, help="meters' reply delay, s")
    parser.add_argument("--quick", action="store_true", help="15 s")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    seconds = 15.0 if args.quick else args.seconds
    result = asyncio.run(run(args.meters, seconds, args.reply_delay))
    result["environment"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"bus: {BAUD} baud 8E1, {args.meters} meters, reply delay {args.reply_delay * 1000:.0f} ms")
    print(f"frames: request {result['request_bytes']} B, reply {result['reply_bytes']} B")
    print(f"reads: {result['reads']} in {result['seconds']} s, {result['failures']} failed")
    print(f"reads/s: {result['reads_per_s']}  physical limit: {result['limit_per_s']}  ratio: {result['ratio']}")


if __name__ == "__main__":
    main()
