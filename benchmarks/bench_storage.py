"""Storage throughput: the spool → TimescaleDB writer against raw psycopg binary COPY of the same rows into the
same table, measured in the same run; and end to end, decoded frames → committed rows.

Cases:

* ``spool_to_db``: the spool holds N readings (appended before the clock starts); the clock runs while
  :class:`~headend.storage.writer.SpoolWriter` drains it into ``readings`` with :meth:`SpoolWriter.drain` — spool
  read, one write transaction per batch (ingest lock and batch number, binary COPY, commit), release. The
  **baseline** is what a hand-written loader does with the same rows already in memory as Python tuples: per
  batch of the same size, one transaction with one ``COPY readings (…, ingest_batch) FROM STDIN (FORMAT
  BINARY)``, ``set_types`` and ``write_row`` per row, commit. Both write the same columns of the same table,
  emptied (``TRUNCATE``) before every round, with the same commit granularity. Ratio = ours / baseline readings/s
  (target ≥ 0.8, issue 5).
* ``end_to_end``: Q/GDW 376.1 AFN0C F129 responses (当前正向有功电能示值, 附录A.15 + A.14 × (M+1)) decoded in
  advance (``decode_units``); the clock runs from the first :meth:`Ingest.submit` (readings built by
  :func:`headend.collect.readings_from_units`, group-committed into the spool with an fsync per commit, i.e.
  acknowledged) until the writer has committed the last row to the database. Reported as readings/s and as a
  ratio to the same baseline.

Before any timing each case checks that its rows in the database equal the baseline's (count, and every
``(meter, register, tariff, ts, value::text)``); that is a correctness check, not a timing assertion.

Method: ``time.perf_counter``; a warm-up round per side; then ``--repeat`` rounds, ours and the baseline
interleaved round by round so that background load hits both alike; the best round counts.

The database: ``--dsn`` (a TimescaleDB or PostgreSQL the benchmark may create and drop a database on), or by
default a throwaway PostgreSQL 15 + TimescaleDB cluster started like the test suite's (tests/pg_server.py,
``fsync=on``).

Run: ``.venv/bin/python benchmarks/bench_storage.py`` (``--quick``, ``--json``, ``--rows``, ``--batch``,
``--repeat``, ``--profile``, ``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from bench_decode import environment

from headend.collect import readings_from_units
from headend.ingest import Ingest
from headend.metrics import Metrics
from headend.readings import Quality, Reading
from headend.storage._pgcopy import COLUMNS
from headend.storage.base import WriteResult
from headend.storage.spool import Spool
from headend.storage.timescale import TimescaleStore
from headend.storage.writer import SpoolWriter
from protocols.gdw376.units import DataUnit, EnergyIndication

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 0, 0, tzinfo=ZONE)
TARIFFS = 4  # M: total + 4 tariffs = 5 readings per data unit, as AFN0C F129 carries them
POINTS = 32  # measurement points per terminal (per F129 response)
SOURCE = "gdw376.1 AFN0C F129"
_COLS = ", ".join(COLUMNS)
_TYPES = ["text", "text", "int2", "timestamptz", "numeric", "text", "text", "text", "text", "int4", "timestamptz",
          "int8"]  # fmt: skip
_CHECK = "SELECT meter, register, tariff, ts, value::text FROM readings ORDER BY meter, register, tariff, ts"


# ------------------------------------------------------------------------------------------------ the rows


def decoded_responses(rows: int) -> list[tuple[str, list[DataUnit]]]:
    """``rows`` readings' worth of decoded F129 responses: (terminal, data units of POINTS points), 5 readings per
    unit, synthetic terminals 4403:00001… and values that differ per point and per round (4 decimals, A.14)."""
    per_response = POINTS * (TARIFFS + 1)
    responses = []
    for k in range(-(-rows // per_response)):
        terminal, round_ = divmod(k, 96)  # 96 rounds of 15 minutes per terminal, then the next terminal
        read_time = (T0 + timedelta(minutes=15 * round_)).replace(tzinfo=None)
        units = []
        for pn in range(1, POINTS + 1):
            base = 1_000_000 * pn + 1_000 * round_ + terminal
            tariffs = tuple(Decimal(base + 100 * t).scaleb(-4) for t in range(1, TARIFFS + 1))
            units.append(DataUnit(pn, 129, EnergyIndication(read_time, sum(tariffs, Decimal("0.0000")), tariffs)))
        responses.append((f"4403:{terminal + 1:05d}", units))
    return responses


def readings_of(responses: Sequence[tuple[str, list[DataUnit]]], rows: int) -> list[Reading]:
    received = T0 + timedelta(seconds=7)
    out = [
        r
        for terminal, units in responses
        for r in readings_from_units(0x0C, units, terminal=terminal, zone=ZONE, received_at=received)
    ]
    del out[rows:]
    assert all(r.quality is Quality.OK and r.source == SOURCE for r in out)
    return out


# ------------------------------------------------------------------------------------------------ the sides


@dataclass
class Bench:
    dsn: str
    work: Path
    rows: list[Reading]
    responses: list[tuple[str, list[DataUnit]]]
    batch: int

    async def truncate(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute("TRUNCATE readings, frozen_readings, reading_conflicts, ingest_batches")
            await conn.execute("VACUUM ANALYZE readings")

    async def baseline(self) -> float:
        """Raw psycopg binary COPY of the rows as tuples, one transaction per batch; returns seconds."""
        tuples = [
            (r.meter, r.register, r.tariff, r.ts, r.value, r.unit, r.quality.value, r.source, r.terminal, r.pn,
             r.received_at, 1)
            for r in self.rows
        ]  # fmt: skip
        await self.truncate()
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            started = time.perf_counter()
            for start in range(0, len(tuples), self.batch):
                async with conn.transaction(), conn.cursor() as cur:
                    query = f"COPY readings ({_COLS}, ingest_batch) FROM STDIN (FORMAT BINARY)"
                    async with cur.copy(query.encode()) as copy:
                        copy.set_types(_TYPES)
                        for row in tuples[start : start + self.batch]:
                            await copy.write_row(row)
            return time.perf_counter() - started

    async def spool_to_db(self) -> float:
        """The writer draining a full spool; returns seconds (the spool is filled before the clock starts)."""
        await self.truncate()
        path = self.work / "spool.sqlite3"
        for leftover in self.work.glob("spool.sqlite3*"):
            leftover.unlink()
        spool = Spool(path)
        store = TimescaleStore(self.dsn, tz=ZONE)
        try:
            for start in range(0, len(self.rows), 20_000):
                spool.append(self.rows[start : start + 20_000])
            await store.open()
            writer = SpoolWriter(spool, store, batch_size=self.batch)
            started = time.perf_counter()
            drained = await writer.drain(3600)
            elapsed = time.perf_counter() - started
            assert drained, "the spool was not drained"
            return elapsed
        finally:
            await store.close()
            spool.close()

    async def end_to_end(self) -> float:
        """Decoded frames → readings → ingest (spool, fsync) → writer → committed rows; returns seconds."""
        await self.truncate()
        for leftover in self.work.glob("spool.sqlite3*"):
            leftover.unlink()
        spool = Spool(self.work / "spool.sqlite3")
        store = TimescaleStore(self.dsn, tz=ZONE)
        await store.open()
        emptied = asyncio.Event()

        def written(_: WriteResult, depth: int) -> None:
            if not depth:
                emptied.set()

        writer = SpoolWriter(spool, store, batch_size=self.batch, on_written=written)
        ingest = Ingest(spool, Metrics(), on_durable=writer.notify)
        try:
            started = time.perf_counter()
            ingest.start()
            drain = asyncio.create_task(writer.run())
            received = T0 + timedelta(seconds=7)
            remaining = len(self.rows) // (TARIFFS + 1)  # data units

            async def one(terminal: str, units: list[DataUnit]) -> None:
                readings = readings_from_units(0x0C, units, terminal=terminal, zone=ZONE, received_at=received)
                await ingest.submit(readings)

            # all responses of a poll round arrive together and are acknowledged by group commits, as in the daemon
            submitted = []
            for terminal, units in self.responses:
                take = min(remaining, POINTS)
                remaining -= take
                submitted.append(one(terminal, units[:take] if take < POINTS else units))
            await asyncio.gather(*submitted)
            emptied.clear()  # from here on the spool only shrinks: wait for the writer to report it empty
            if spool.depth():
                await emptied.wait()
            elapsed = time.perf_counter() - started
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)
            return elapsed
        finally:
            await ingest.stop()
            await store.close()
            spool.close()

    async def stored(self) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            return await (await conn.execute(_CHECK.encode())).fetchall()


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Result:
    name: str
    rows: int
    batch: int
    ours_rps: float
    baseline_rps: float

    @property
    def ratio(self) -> float:
        return self.ours_rps / self.baseline_rps


async def check(bench: Bench, ours: Callable[[], Coroutine[Any, Any, float]]) -> None:
    """Our side must store exactly what the baseline stores (the readings are already a multiple of 5 per unit,
    the end-to-end case cuts its last response to the same count)."""
    await bench.baseline()
    expected = await bench.stored()
    await ours()
    got = await bench.stored()
    if len(expected) != len(bench.rows) or got != expected:
        raise SystemExit(f"{ours.__name__}: stored rows differ from the baseline's ({len(got)} vs {len(expected)})")


async def measure(bench: Bench, name: str, repeat: int, profile: bool) -> tuple[Result, str]:
    ours: Callable[[], Coroutine[Any, Any, float]] = getattr(bench, name)
    await check(bench, ours)  # also the warm-up round of both sides
    best_ours = best_base = float("inf")
    report = ""
    for round_ in range(repeat):
        best_base = min(best_base, await bench.baseline())
        if profile and round_ == repeat - 1:
            profiler = cProfile.Profile()
            profiler.enable()
            elapsed = await ours()
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            report = out.getvalue()
        else:
            elapsed = await ours()
        best_ours = min(best_ours, elapsed)
    n = len(bench.rows)
    return Result(name, n, bench.batch, n / best_ours, n / best_base), report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dsn", help="use this database server (default: a throwaway local cluster)")
    parser.add_argument("--rows", type=int, help="readings per round (default 200000, quick 20000)")
    parser.add_argument("--batch", type=int, default=5000, help="readings per write transaction (default 5000)")
    parser.add_argument("--repeat", type=int, help="rounds per side; the best counts (default 5, quick 2)")
    parser.add_argument("--case", action="append", choices=["spool_to_db", "end_to_end"], help="only this case")
    parser.add_argument("--quick", action="store_true", help="a smoke run; its figures are rough")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of our side's last round")
    args = parser.parse_args(argv)
    for flag in ("rows", "batch", "repeat"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1")
    return args


async def run(args: argparse.Namespace, dsn: str) -> tuple[list[Result], list[str]]:
    rows = args.rows or (20_000 if args.quick else 200_000)
    rows -= rows % (TARIFFS + 1)  # whole data units, so both cases store the same rows
    responses = decoded_responses(rows)
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    try:
        store = TimescaleStore(dsn, tz=ZONE)
        await store.open()
        await store.migrate()
        await store.close()
        bench = Bench(dsn, work, readings_of(responses, rows), responses, args.batch)
        results, reports = [], []
        for name in args.case or ["spool_to_db", "end_to_end"]:
            result, report = await measure(bench, name, args.repeat or (2 if args.quick else 5), args.profile)
            results.append(result)
            reports.append(report)
        return results, reports
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server = None
    if args.dsn:
        dsn = args.dsn
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.pg_server import LocalPgServer

        server = LocalPgServer.create()
        dsn = server.dsn
    try:
        results, reports = asyncio.run(run(args, dsn))
    finally:
        if server is not None:
            server.close()
    env = {k: v for k, v in environment().items() if k != "construct_compiled"}
    if args.json:
        doc = {"environment": env, "results": [{**asdict(r), "ratio": r.ratio} for r in results]}
        print(json.dumps(doc, indent=2))
        return 0
    for key, value in env.items():
        print(f"{key}: {value}")
    head = f"{'case':<12} {'rows':>8} {'batch':>6} {'ours readings/s':>16} {'raw COPY readings/s':>20} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r.name:<12} {r.rows:>8} {r.batch:>6} {r.ours_rps:>16,.0f} {r.baseline_rps:>20,.0f} {r.ratio:>6.2f}")
    for result, report in zip(results, reports, strict=True):
        if report:
            print(f"\n--- profile of {result.name} (our side, last round) ---\n{report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
