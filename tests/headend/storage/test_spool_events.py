"""Events through the durable spool (format 3): exact round trip with the key fixed at acknowledgement, one
transaction with the readings of the same group commit, FIFO peek/release, depth and oldest including events,
the in-place upgrade of a real format-2 file, and the spool writer draining events into the store exactly once."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headend.readings import ReadingKind
from headend.storage.errors import SpoolFull
from headend.storage.records import Event, EventOrigin, Severity, detail_json, event_key
from headend.storage.spool import Spool
from headend.storage.sqlite_store import SqliteStore
from headend.storage.writer import SpoolWriter
from tests.headend.storage.conftest import Backend
from tests.headend.storage.helpers import T0, TZ, batch, reading

RECEIVED = T0 + timedelta(seconds=7)


def erc(n: int, *, ts: datetime = T0, received_at: datetime = RECEIVED) -> Event:
    """ERC14 (停/上电事件, Q/GDW 376.1-2009 附录B ERC14) record ``n`` of synthetic terminal 4403:00012."""
    return Event(
        origin=EventOrigin.TERMINAL,
        code="ERC14",
        ts=ts + timedelta(minutes=n),
        received_at=received_at,
        terminal="4403:00012",
        severity=Severity.ALARM,
        detail={"name": "停/上电事件", "n": n},
        raw=bytes((14, 10)) + n.to_bytes(10, "little"),
        source="gdw376.1 AFN0E F1",
    )


def same_event(got: Event, sent: Event) -> bool:
    """What the store receives is what was appended: every field, the detail as its canonical JSON, and the key
    computed from the event as it was appended."""
    return (
        got.key == event_key(sent)
        and event_key(got) == event_key(sent)
        and detail_json(got.detail) == detail_json(sent.detail)
        and (got.origin, got.code, got.terminal, got.pn, got.meter, got.severity, got.raw, got.source)
        == (sent.origin, sent.code, sent.terminal, sent.pn, sent.meter, sent.severity, sent.raw, sent.source)
        and (got.ts, got.received_at) == (sent.ts, sent.received_at)
        and got.ts.utcoffset() == sent.ts.utcoffset()
        and getattr(got.ts.tzinfo, "key", None) == getattr(sent.ts.tzinfo, "key", None)
    )


# -- round trip ----------------------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=12)
moments = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.sampled_from([ZoneInfo("Asia/Shanghai"), UTC, timezone(timedelta(hours=8))]),
    allow_imaginary=False,
)
details = st.dictionaries(
    text, st.one_of(text, st.integers(-(2**40), 2**40), st.decimals(allow_nan=False, allow_infinity=False)), max_size=4
)
events = st.builds(
    Event,
    origin=st.sampled_from(EventOrigin),
    code=text.filter(bool),
    ts=moments,
    received_at=moments,
    terminal=text,
    pn=st.integers(0, 2**31 - 1),
    meter=text,
    severity=st.sampled_from(Severity),
    detail=details,
    raw=st.none() | st.binary(max_size=40),
    source=text,
    key=st.just("") | text,
)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=st.lists(events, min_size=1, max_size=10))
def test_every_event_comes_back_with_its_key(spool: Spool, sent: list[Event]) -> None:
    spool.append((), sent)
    last_id, got = spool.peek_events(100)
    spool.release_events(last_id)
    assert len(got) == len(sent)
    assert all(same_event(g, s) for g, s in zip(got, sent, strict=True))
    assert spool.depth() == 0


# -- one transaction, FIFO, depth ----------------------------------------------------------------------------


def test_readings_and_events_of_one_append_are_kept_together(spool: Spool) -> None:
    spool.append(batch(0, 3), [erc(1), erc(2)])
    spool.append((), [erc(3)])
    spool.append(batch(1, 2))

    assert spool.depth() == 3 + 3 + 2
    assert spool.event_depth() == 3
    first_id, first = spool.peek_events(2)
    assert [e.key for e in first] == [event_key(erc(1)), event_key(erc(2))]
    assert spool.release_events(first_id) == 3 + 1 + 2
    assert [e.key for e in spool.peek_events(10)[1]] == [event_key(erc(3))]
    assert spool.peek(10)[1] == batch(0, 3) + batch(1, 2)  # readings untouched by the event release


def test_an_invalid_event_refuses_the_whole_append(spool: Spool) -> None:
    naive = erc(1, ts=datetime(2024, 5, 1))
    with pytest.raises(ValueError, match=r"Event\.ts must be timezone-aware"):
        spool.append(batch(0, 3), [erc(2), naive])
    with pytest.raises(ValueError, match=r"Event\.detail is not JSON"):
        spool.append((), [Event(EventOrigin.HEADEND, "x", T0, RECEIVED, detail={"f": 1.5j})])
    with pytest.raises(ValueError, match=r"Event\.detail contains NUL"):
        spool.append((), [Event(EventOrigin.HEADEND, "x", T0, RECEIVED, detail={"f": "a\x00b"})])
    assert spool.depth() == 0


def test_a_full_spool_refuses_readings_and_events_together(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", max_bytes=64 << 10)
    try:
        kept = 0
        while kept < 1000:
            try:
                spool.append(batch(kept, 20), [erc(kept)])
            except SpoolFull:
                break
            kept += 1
        assert 0 < kept < 1000
        assert spool.event_depth() == kept
        assert spool.depth() == kept * 21
    finally:
        spool.close()


def test_oldest_received_covers_events(spool: Spool) -> None:
    assert spool.oldest_received() is None
    spool.append([reading(1, received_at=T0 + timedelta(hours=1))])
    spool.append((), [erc(1, received_at=T0 + timedelta(minutes=5))])
    assert spool.oldest_received() == T0 + timedelta(minutes=5)
    spool.release_events(spool.peek_events(10)[0])
    assert spool.oldest_received() == T0 + timedelta(hours=1)


# -- the in-place upgrade from format 2 ------------------------------------------------------------------------

#: the spool table exactly as format 2 created it (headend before the events table)
FORMAT_2 = """
CREATE TABLE spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter TEXT NOT NULL, register TEXT NOT NULL, tariff INTEGER NOT NULL, ts TEXT NOT NULL, value TEXT,
    unit TEXT NOT NULL, quality TEXT NOT NULL, source TEXT NOT NULL, terminal TEXT NOT NULL, pn INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    frozen INTEGER NOT NULL,
    copy BLOB NOT NULL
) STRICT;
PRAGMA user_version = 2;
"""


def test_a_format_2_spool_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    daily = ReadingKind.DAILY.register("energy.active.forward")
    rows = [reading(n, register=daily if n % 2 else "energy.active.forward") for n in range(1, 7)]
    # the file a format-2 headend leaves: WAL mode, its table, its entries (text form + COPY form)
    donor = Spool(tmp_path / "donor.sqlite3")
    donor.append(rows)
    encoded = donor.peek_encoded(100)
    texts = sqlite3.connect(tmp_path / "donor.sqlite3").execute(
        "SELECT meter, register, tariff, ts, value, unit, quality, source, terminal, pn, received_at, frozen"
        " FROM spool ORDER BY id"
    )
    copies = iter(encoded.frozen), iter(encoded.readings)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(FORMAT_2)
        conn.executemany(
            "INSERT INTO spool (meter, register, tariff, ts, value, unit, quality, source, terminal, pn,"
            " received_at, frozen, copy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, next(copies[0] if row[-1] else copies[1])) for row in texts],
        )
        conn.commit()
    donor.close()

    spool = Spool(path)
    try:
        assert spool.format == 3
        assert spool.peek(100)[1] == rows
        assert spool.peek_encoded(100) == encoded
        spool.append([reading(99)], [erc(1)])
        assert (spool.depth(), spool.event_depth()) == (8, 1)
    finally:
        spool.close()
    reopened = Spool(path)  # the upgraded file opens as it is
    try:
        assert reopened.format == 3 and reopened.event_depth() == 1
    finally:
        reopened.close()


def test_read_only_inspection_of_a_format_2_spool(tmp_path: Path) -> None:
    """``headend db status`` beside a daemon that has not upgraded its spool yet: no events table, no events."""
    path = tmp_path / "spool.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(FORMAT_2)
    inspector = Spool(path, readonly=True)
    try:
        assert (inspector.format, inspector.depth(), inspector.event_depth()) == (2, 0, 0)
        assert inspector.peek_events(10) == (0, [])
        assert inspector.oldest_received() is None
    finally:
        inspector.close()


# -- the writer: events into the store, exactly once -----------------------------------------------------------


class ReleaseFailsOnce(Spool):
    """A spool whose first event release fails: the crash window between the store's commit and the release."""

    failed = False

    def release_events(self, upto_id: int) -> int:
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return super().release_events(upto_id)


async def test_events_are_drained_into_the_store_once_even_when_replayed(tmp_path: Path, migrated: Backend) -> None:
    spool = ReleaseFailsOnce(tmp_path / "spool.sqlite3")
    sent = [erc(n) for n in range(1, 6)]
    headend_event = Event(EventOrigin.HEADEND, "unknown_meter", T0, RECEIVED, meter="000000000042",
                          detail={"address": "000000000042", "value": Decimal("1.50")})  # fmt: skip
    spool.append(batch(0, 4), sent[:3])
    spool.append((), [*sent[3:], headend_event])
    spool.append((), sent[:2])  # the same records polled again after they were pushed
    written: list[tuple[int, int, int]] = []
    writer = SpoolWriter(
        spool, migrated.store, retry_initial_s=0.01, retry_max_s=0.02,
        on_events_written=lambda new, count, depth: written.append((new, count, depth)),
    )  # fmt: skip
    try:
        assert await writer.drain(60)
    finally:
        spool.close()
    assert spool.failed
    # the first attempt committed 6 new events (8 with the 2 repeats) and failed to release them; the replay of
    # the whole batch adds nothing, and only then is it released and reported (4 readings still to go)
    assert written == [(0, 8, 4)]
    keys = sorted(row[0] for row in migrated.query("SELECT event_key FROM events"))
    assert keys == sorted(event_key(e) for e in [*sent, headend_event])
    details = migrated.query("SELECT detail FROM events WHERE code = 'unknown_meter'")
    assert [d if isinstance(d, dict) else json.loads(d) for (d,) in details] == [
        {"address": "000000000042", "value": "1.50"}
    ]
    assert await migrated.store.count_readings() == 4


async def test_events_wait_in_the_spool_while_the_store_is_down(tmp_path: Path) -> None:
    class Down(SqliteStore):
        async def write_events(self, events: Sequence[Event]) -> int:
            raise ConnectionRefusedError("database is down")

    spool = Spool(tmp_path / "spool.sqlite3")
    store = Down(tmp_path / "store.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    spool.append((), [erc(1)])
    writer = SpoolWriter(spool, store, retry_initial_s=0.01, retry_max_s=0.02)
    try:
        assert not await writer.drain(0.3)
        assert not writer.healthy
        assert [e.key for e in spool.peek_events(10)[1]] == [event_key(erc(1))]
    finally:
        await store.close()
        spool.close()
