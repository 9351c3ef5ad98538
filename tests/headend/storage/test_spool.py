"""The durable spool: exact round trip, FIFO peek/release, persistence, size limit, kill -9."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headend.readings import Quality, Reading, ReadingKind
from headend.storage._pgcopy import reading_row
from headend.storage.errors import SpoolFull, StorageError
from headend.storage.spool import EncodedBatch, Spool
from tests.headend.storage.helpers import T0, batch, reading

CHILD = Path(__file__).with_name("spool_child.py")


def identical(a: Reading, b: Reading) -> bool:
    """Equal, and also the same decimal text (scale, exponent) and the same zone and offset of each time."""
    return (
        a == b
        and str(a.value) == str(b.value)
        and all(
            x.utcoffset() == y.utcoffset() and getattr(x.tzinfo, "key", None) == getattr(y.tzinfo, "key", None)
            for x, y in ((a.ts, b.ts), (a.received_at, b.received_at))
        )
    )


# -- exact round trip ----------------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=20)
zones = st.sampled_from(
    [
        ZoneInfo("Asia/Shanghai"),
        ZoneInfo("Europe/Berlin"),
        ZoneInfo("America/New_York"),
        UTC,
        timezone(timedelta(hours=8)),
    ]
)
moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31), timezones=zones, allow_imaginary=False
)
readings = st.builds(
    Reading,
    meter=text.filter(bool),
    register=text.filter(bool),
    tariff=st.integers(0, 32767),
    ts=moments,
    # what PostgreSQL numeric holds (up to 131072 digits before the point, 16383 after): larger is refused
    value=st.none()
    | st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e100"), max_value=Decimal("1e100"))
    | st.builds(lambda d, p: Decimal(d).scaleb(p), st.integers(-(10**30), 10**30), st.integers(-16000, 100_000)),
    unit=text,
    quality=st.sampled_from(Quality),
    source=text,
    terminal=text,
    pn=st.integers(0, 2**31 - 1),
    received_at=moments,
)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(readings, min_size=1, max_size=20))
def test_every_reading_comes_back_exactly(spool: Spool, rows: list[Reading]) -> None:
    spool.append(rows)
    last_id, got = spool.peek(len(rows))
    spool.release(last_id)
    assert len(got) == len(rows)
    assert all(identical(a, b) for a, b in zip(got, rows, strict=True))
    assert spool.depth() == 0


# -- FIFO ----------------------------------------------------------------------------------------------------


def test_peek_returns_oldest_first_and_removes_nothing(spool: Spool) -> None:
    first, second = batch(0, 3), batch(1, 4)
    spool.append(first)
    spool.append(second)

    last_id, got = spool.peek(5)
    assert got == [*first, *second[:2]]
    assert spool.peek(5) == (last_id, got)
    assert spool.depth() == 7


def test_release_deletes_up_to_the_id(spool: Spool) -> None:
    rows = batch(0, 10)
    spool.append(rows)
    last_id, _ = spool.peek(4)

    spool.release(last_id)

    assert spool.depth() == 6
    assert spool.peek(100)[1] == rows[4:]
    assert spool.oldest_received() == rows[4].received_at


def test_ids_are_not_reused_after_the_spool_emptied(spool: Spool) -> None:
    spool.append(batch(0, 3))
    last_id, _ = spool.peek(10)
    spool.release(last_id)
    spool.append(batch(1, 2))
    next_id, _ = spool.peek(10)
    assert next_id == last_id + 2


def test_empty_spool(spool: Spool) -> None:
    assert spool.peek(10) == (0, [])
    assert spool.depth() == 0
    assert spool.oldest_received() is None
    spool.append([])
    assert spool.depth() == 0


def test_reopen_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    rows = batch(0, 25)
    first = Spool(path)
    first.append(rows)
    first.close()

    second = Spool(path)
    try:
        assert second.depth() == 25
        assert second.peek(100)[1] == rows
    finally:
        second.close()


def test_invalid_readings_are_refused_and_nothing_of_the_batch_is_kept(spool: Spool) -> None:
    spool.append(batch(0, 2))
    bad = [
        dataclasses.replace(reading(10), ts=T0.replace(tzinfo=None)),
        dataclasses.replace(reading(11), value=Decimal("NaN")),
        dataclasses.replace(reading(12), meter="0000\x0000"),
        dataclasses.replace(reading(13), tariff=-1),
        dataclasses.replace(reading(14), value=Decimal("1E-16384")),  # beyond numeric's 16383 digits after the point
        dataclasses.replace(reading(15), value=Decimal("1E+131072")),  # beyond numeric's 131072 digits before it
        dataclasses.replace(reading(16), unit="k\udc80Wh"),  # a lone surrogate: not UTF-8
    ]
    for wrong in bad:
        with pytest.raises(ValueError, match=r"Reading\."):
            spool.append([reading(9), wrong])
    assert spool.depth() == 2


def test_another_spool_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match="spool format 99"):
        Spool(path)


def test_appends_from_many_threads(spool: Spool) -> None:
    def work(t: int) -> None:
        for i in range(20):
            spool.append(batch(t * 100 + i, 5))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    got = spool.peek(10_000)[1]
    assert len(got) == spool.depth() == 4 * 20 * 5
    assert sorted(got, key=lambda r: r.key) == sorted(
        (r for t in range(4) for i in range(20) for r in batch(t * 100 + i, 5)), key=lambda r: r.key
    )


# -- size limit ----------------------------------------------------------------------------------------------


def _fill(spool: Spool, batch_size: int) -> tuple[list[Reading], SpoolFull]:
    """Append batches until the spool refuses one; return what it accepted and the refusal."""
    accepted: list[Reading] = []
    for index in range(100_000):
        rows = batch(index, batch_size)
        try:
            spool.append(rows)
        except SpoolFull as exc:
            return accepted, exc
        accepted.extend(rows)
    raise AssertionError("the spool never became full")


def test_a_full_spool_refuses_the_batch_and_keeps_what_it_holds(tmp_path: Path) -> None:
    limit = 64 * 1024
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=limit)
    try:
        accepted, full = _fill(spool, batch_size=20)
        assert full.rejected == 20
        assert full.max_bytes == limit
        assert full.size_bytes > limit
        assert accepted  # it did take something before it was full

        assert spool.size_bytes() <= limit
        assert spool.peek(100_000)[1] == accepted

        # once the writer released entries there is room again, and the space is reused
        last_id, _ = spool.peek(len(accepted) // 2)
        spool.release(last_id)
        spool.append(batch(5000, 20))
        assert spool.depth() == len(accepted) - len(accepted) // 2 + 20
        assert spool.size_bytes() <= limit
    finally:
        spool.close()


# -- kill -9 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_every_acknowledged_append_survives_sigkill(tmp_path: Path, round_: int) -> None:
    """A child appends in a loop and prints each acknowledged batch; it is killed at a random moment.

    Every acknowledged batch must be there, complete and exact; a batch being appended at the kill is either
    wholly there (committed before the print) or not at all.
    """
    size = 7
    path = tmp_path / "spool.sqlite3"
    wanted = random.Random(round_).randint(5, 60)
    child = subprocess.Popen([sys.executable, str(CHILD), str(path), str(size)], stdout=subprocess.PIPE, text=True)
    acknowledged = -1
    try:
        assert child.stdout is not None
        while acknowledged < wanted:
            line = child.stdout.readline()
            assert line, f"child exited early with {child.wait()}"
            acknowledged = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    spool = Spool(path)
    try:
        got = spool.peek(1_000_000)[1]
    finally:
        spool.close()
    complete, partial = divmod(len(got), size)
    assert partial == 0
    assert complete >= acknowledged + 1
    assert got == [r for index in range(complete) for r in batch(index, size)]


# -- the COPY form, format upgrade, read-only inspection -------------------------------------------------------

FORMAT_1 = """
CREATE TABLE spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter TEXT NOT NULL, register TEXT NOT NULL, tariff INTEGER NOT NULL, ts TEXT NOT NULL, value TEXT,
    unit TEXT NOT NULL, quality TEXT NOT NULL, source TEXT NOT NULL, terminal TEXT NOT NULL, pn INTEGER NOT NULL,
    received_at TEXT NOT NULL
) STRICT;
PRAGMA user_version = 1;
"""


def _mixed() -> list[Reading]:
    """Instantaneous readings and frozen registers, interleaved."""
    daily = ReadingKind.DAILY.register("energy.active.forward")
    return [reading(n, register=daily if n % 3 == 0 else "energy.active.forward") for n in range(1, 11)]


def test_peek_encoded_gives_the_copy_rows_split_by_table(spool: Spool) -> None:
    rows = _mixed()
    spool.append(rows)

    first = spool.peek_encoded(6)
    rest = spool.peek_encoded(100, after_id=first.last_id)

    assert len(first) == 6 and len(rest) == 4
    assert first.frozen == [reading_row(r) for r in rows[:6] if r.kind.frozen]
    assert first.readings == [reading_row(r) for r in rows[:6] if not r.kind.frozen]
    assert rest.frozen + rest.readings == [reading_row(r) for r in rows[6:] if r.kind.frozen] + [
        reading_row(r) for r in rows[6:] if not r.kind.frozen
    ]
    assert spool.peek(100, after_id=first.last_id)[1] == rows[6:]
    assert spool.peek_encoded(100, after_id=rest.last_id) == EncodedBatch(0, [], [])
    assert spool.depth() == 10  # peeking removes nothing


def test_a_format_1_spool_is_upgraded_in_place(tmp_path: Path) -> None:
    """A spool left by the previous headend (text columns only) keeps every entry and gains the COPY form."""
    path = tmp_path / "spool.sqlite3"
    rows = _mixed()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(FORMAT_1)
        conn.executemany(
            "INSERT INTO spool (meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.meter, r.register, r.tariff, r.ts.isoformat(), str(r.value), r.unit, r.quality.value, r.source,
              r.terminal, r.pn, r.received_at.isoformat()) for r in rows],
        )  # fmt: skip
        conn.commit()

    spool = Spool(path)
    try:
        assert spool.format == 3  # 1 → 2 → 3: the COPY form, then the events table
        assert spool.peek(100)[1] == rows
        assert spool.peek_events(10) == (0, [])
        encoded = spool.peek_encoded(100)
        assert encoded.frozen == [reading_row(r) for r in rows if r.kind.frozen]
        assert encoded.readings == [reading_row(r) for r in rows if not r.kind.frozen]
        spool.append([reading(99)])
        assert spool.depth() == 11
    finally:
        spool.close()


def test_read_only_inspection_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    with pytest.raises(sqlite3.OperationalError):
        Spool(path, readonly=True)  # nothing to inspect, and nothing is created
    assert not path.exists()

    writer = Spool(path)
    writer.append(batch(0, 5))
    inspector = Spool(path, readonly=True)
    try:
        assert (inspector.depth(), inspector.peek(10)[1], inspector.format) == (5, batch(0, 5), 3)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            inspector.append(batch(1, 1))
        writer.append(batch(1, 1))
        assert inspector.depth() == 6  # sees the daemon's appends
    finally:
        inspector.close()
        writer.close()


def test_the_two_half_past_ones_of_a_dst_fall_back_come_back_apart(spool: Spool) -> None:
    first = datetime(2012, 11, 4, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    rows = [reading(1, ts=first), reading(1, ts=first.replace(fold=1))]
    spool.append(rows)
    got = spool.peek(10)[1]
    assert [r.ts.utcoffset() for r in got] == [timedelta(hours=-4), timedelta(hours=-5)]
    assert all(identical(a, b) for a, b in zip(got, rows, strict=True))


def test_the_same_instant_in_two_zones_comes_back_in_each_zone(spool: Spool) -> None:
    """Aware datetimes compare by instant: 08:00+08:00 (fixed offset) and 08:00 Asia/Shanghai are equal, and a
    cache keyed on the datetime alone gave the second the text of the first."""
    shanghai = datetime(2034, 9, 13, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    fixed = shanghai.replace(tzinfo=timezone(timedelta(hours=8)))
    rows = [reading(1, ts=shanghai, received_at=fixed), reading(2, ts=fixed, received_at=shanghai)]
    spool.append(rows)
    got = spool.peek(10)[1]
    assert [(type(r.ts.tzinfo), type(r.received_at.tzinfo)) for r in got] == [
        (ZoneInfo, timezone),
        (timezone, ZoneInfo),
    ]
    assert all(identical(a, b) for a, b in zip(got, rows, strict=True))
