"""Writer starvation under a submit burst: does the spool writer still reach the store while thousands of
terminals keep submitting?

The producer side is what the daemon does in a poll round of a large fleet: ``--terminals`` sessions, each
submitting its 32 readings (one AFN0C F129 response's worth, 32 measurement points, built once) through
:class:`~headend.ingest.Ingest` (group commit into the spool, fsync per commit) and submitting again as soon as
the previous submit was acknowledged, for ``--seconds``. Meanwhile :class:`~headend.storage.writer.SpoolWriter`
drains the spool into a stub store that takes ``--db-ms`` per batch (the database round trip; the database is
not what is measured here, the contention for the spool is).

Reported: readings acknowledged and readings written to the store during the burst, the number of store batches,
the longest interval with nothing written (from the start of the burst, so a writer that never gets in shows the
whole burst), and the spool depth at the end. The figures are wall-clock and depend on the machine's load.

Run: ``.venv/bin/python benchmarks/bench_spool_burst.py`` (``--terminals``, ``--seconds``, ``--db-ms``,
``--batch``, ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from headend.metrics import Metrics
from headend.readings import Quality, Reading
from headend.storage.base import WriteResult
from headend.storage.records import Event
from headend.storage.spool import Spool
from headend.storage.writer import SpoolWriter

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 0, 0, tzinfo=ZONE)
POINTS = 32


class StubStore:
    """Counts what it is given; each write costs ``delay_s`` of (asynchronous) database time."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.rows = 0
        self.events = 0

    async def write(self, readings: Sequence[Reading]) -> WriteResult:
        await asyncio.sleep(self.delay_s)
        self.rows += len(readings)
        return WriteResult(inserted=len(readings), duplicates=0, conflicts=0)

    async def write_events(self, events: Sequence[Event]) -> int:
        await asyncio.sleep(self.delay_s)
        self.events += len(events)
        return len(events)


def readings(terminal: int, round_: int) -> list[Reading]:
    ts = T0 + timedelta(minutes=15 * round_)
    return [
        Reading(
            f"4403{terminal:05d}{pn:03d}",
            "energy.active.forward",
            0,
            ts,
            Decimal(1000 * pn + round_).scaleb(-2),
            "kWh",
            Quality.OK,
            "gdw376.1 AFN0C F129",
            f"4403:{terminal:05d}",
            pn,
            ts,
        )
        for pn in range(1, POINTS + 1)
    ]


@dataclass
class Result:
    terminals: int
    seconds: float
    db_ms: float
    batch: int
    acknowledged: int
    written: int
    store_batches: int
    longest_gap_s: float
    depth_at_end: int


async def burst(work: Path, terminals: int, seconds: float, db_ms: float, batch: int) -> Result:
    from headend.ingest import Ingest

    spool = Spool(work / "spool.sqlite3")
    store = StubStore(db_ms / 1000)
    started = time.perf_counter()
    writes: list[float] = [started]

    def written(_: WriteResult, __: int) -> None:
        writes.append(time.perf_counter())

    writer = SpoolWriter(spool, store, batch_size=batch, on_written=written)  # type: ignore[arg-type]
    ingest = Ingest(spool, Metrics(), on_durable=writer.notify)
    ingest.start()
    drain = asyncio.create_task(writer.run())
    acknowledged = 0
    deadline = started + seconds

    async def terminal(number: int) -> None:
        # built once: a session's own work between submits is not what is measured (the stub store does not
        # mind the repeated keys)
        mine = readings(number, 0)
        nonlocal acknowledged
        while time.perf_counter() < deadline:
            await ingest.submit(mine)
            acknowledged += POINTS

    await asyncio.gather(*(terminal(n) for n in range(1, terminals + 1)))
    ended = time.perf_counter()
    written_rows = store.rows
    writes.append(ended)
    gap = max(b - a for a, b in itertools.pairwise(writes))
    await ingest.stop()
    drain.cancel()
    await asyncio.gather(drain, return_exceptions=True)
    depth = spool.depth()
    spool.close()
    return Result(terminals, round(ended - started, 2), db_ms, batch, acknowledged, written_rows,
                  len(writes) - 2, round(gap, 3), depth)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--terminals", type=int, default=3000, help="submitting sessions (default 3000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the burst (default 20)")
    parser.add_argument("--db-ms", type=float, default=20.0, help="stub store time per batch (default 20 ms)")
    parser.add_argument("--batch", type=int, default=5000, help="writer batch size (default 5000)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        result = asyncio.run(burst(Path(work), args.terminals, args.seconds, args.db_ms, args.batch))
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        for key, value in asdict(result).items():
            print(f"{key:>16}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
