"""The meter archive (headend/collection/archive.py): config and database merge, F10 records, comparison, and
verify + repair over loopback TCP against a scripted concentrator that keeps an archive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from headend.collection.archive import Archive, ArchiveEntry, ArchiveSync, Difference, compare, unknown_meter_events
from headend.config_collection import ArchiveConfig, ArchiveMeterConfig, ArchiveTerminalConfig
from headend.storage.collection import StoredArchive
from headend.storage.records import Event, EventOrigin, MeasurementPoint, MeterInfo, TerminalInfo
from headend.storage.sqlite_store import SqliteStore
from protocols.gdw376 import messages
from protocols.gdw376.auth import FixedAuthenticator
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Afn, Dir, LinkFrame
from protocols.gdw376.units import DataUnit, decode_units
from protocols.gdw376.units.erc import encode_event, event_record
from tests.headend import test_terminal_server
from tests.headend.collection.logged_in import logged_in, serving
from tests.headend.scripted_terminal import ScriptedTerminal
from tests.headend.storage.helpers import TZ
from tests.headend.test_terminal_server import Harness

A = Address("4403", 12)
T = A.terminal
PW = bytes(range(16))

#: a terminal listener on a free loopback port with its registry and metrics
harness = test_terminal_server.harness


def _config(*meters: ArchiveMeterConfig, repair: bool = True) -> ArchiveConfig:
    return ArchiveConfig(repair=repair, batch=2, terminals=[ArchiveTerminalConfig(terminal=T, meters=list(meters))])


def _meter(pn: int, **kw: object) -> ArchiveMeterConfig:
    return ArchiveMeterConfig(pn=pn, address=f"{pn:012d}", **kw)  # type: ignore[arg-type]


def test_meter_id_maps_points_to_addresses_with_the_old_fallback() -> None:
    archive = Archive.from_config(_config(_meter(1), _meter(7)))
    assert archive.meter_id(T, 7) == "000000000007"
    assert archive.meter_id(T, 8) == "4403:00012/p8"
    assert archive.meter_id("4403:00013", 1) == "4403:00013/p1"


def test_f10_record_round_trips_through_the_query_answer_codec() -> None:
    entry = ArchiveEntry(T, 5, "000000000005", "dlt645-1997", port=3, baud=1200, tariff_count=2)
    wire = messages.response(
        _frame(messages.read_request(A, Afn.QUERY_PARAM, [(0, 10)], 1)),
        [DataUnit(0, 10, Record({"meters": [entry.f10_record()]}))],
    )
    (unit,) = decode_units(Afn.QUERY_PARAM, _frame(wire).data, Dir.UP)
    assert [ArchiveEntry.from_f10(T, r) for r in _body(unit)["meters"]] == [entry]


def test_compare_names_missing_unexpected_and_changed_fields() -> None:
    ours = [ArchiveEntry(T, 1, "000000000001"), ArchiveEntry(T, 2, "000000000002")]
    theirs = [
        ArchiveEntry(T, 1, "000000000001", baud=9600),
        ArchiveEntry(T, 3, "000000000003"),
        ArchiveEntry(T, 0, "000000000009"),  # pn 0: deleted record, ignored
    ]
    assert compare(ours, theirs) == [
        Difference(T, 1, "baud", "2400", "9600"),
        Difference(T, 2, "missing", "000000000002", ""),
        Difference(T, 3, "unexpected", "", "000000000003"),
    ]
    assert compare(ours, ours) == []


def test_config_overrides_the_database_per_point() -> None:
    stored = StoredArchive(
        (TerminalInfo(T, name="from db"),),
        (MeterInfo("000000000001", "000000000001", "dlt645-2007", 4), MeterInfo("m2", "000000000022", "", None)),
        (MeasurementPoint(T, 1, "000000000001", 2, 2400), MeasurementPoint(T, 2, "m2", None, None)),
    )
    merged = Archive.from_stored(stored).merged(Archive.from_config(_config(_meter(1, baud=9600))))
    assert merged.entries() == [
        ArchiveEntry(T, 1, "000000000001", baud=9600, ct_ratio=Decimal(1), pt_ratio=Decimal(1)),
        ArchiveEntry(T, 2, "000000000022"),
    ]


async def test_archive_saved_to_the_store_reads_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", tz=TZ)
    await store.open()
    try:
        await store.migrate()
        archive = Archive.from_config(_config(_meter(1, ct_ratio="200"), _meter(2)))
        await archive.save(store, valid_from=datetime(2024, 1, 1, tzinfo=TZ))
        # saved again later (a restart): the same ratios add no rows; a changed one is a new row from then on
        await archive.save(
            store, valid_from=datetime(2024, 2, 1, tzinfo=TZ), stored_ratios=(await store.load_archive()).ratios
        )
        changed = Archive.from_config(_config(_meter(1, ct_ratio="300"), _meter(2)))
        await changed.save(
            store, valid_from=datetime(2024, 3, 1, tzinfo=TZ), stored_ratios=(await store.load_archive()).ratios
        )
        stored = await store.load_archive()
        again = Archive.from_stored(stored)
    finally:
        await store.close()
    assert [(r.meter, r.valid_from.month, r.ct_ratio) for r in stored.ratios] == [
        ("000000000001", 1, Decimal(200)),
        ("000000000001", 3, Decimal(300)),
        ("000000000002", 1, Decimal(1)),
    ]
    assert [(e.terminal, e.pn, e.address, e.port, e.baud) for e in again.entries()] == [
        (e.terminal, e.pn, e.address, e.port, e.baud) for e in archive.entries()
    ]


# -- over TCP against a scripted concentrator ----------------------------------------------------------------------


def _body(unit: DataUnit) -> Record:
    assert isinstance(unit.value, Record)
    return unit.value


def _frame(data: bytes) -> LinkFrame:
    (frame,) = Gdw376Framer().feed(data)
    assert isinstance(frame, LinkFrame)
    return frame


class Concentrator:
    """Answers AFN04 F10 (stores the records, checks PW, confirms) and AFN0A F10 (the stored records asked for)."""

    def __init__(self, terminal: ScriptedTerminal, archive: Sequence[ArchiveEntry]) -> None:
        self.terminal = terminal
        self.records = {e.pn: e.f10_record() for e in archive}
        self.pushes: list[list[int]] = []

    async def serve(self) -> None:
        while True:
            request = await self.terminal.frames.get()
            (unit,) = decode_units(request.afn, request.data, Dir.DOWN)
            if request.afn == Afn.SET_PARAM:
                assert request.aux.pw == PW
                self.pushes.append([r["pn"] for r in _body(unit)["meters"]])
                self.records.update({r["pn"]: r for r in _body(unit)["meters"]})
                self.terminal.send(messages.confirm(request))
            else:
                found = [self.records[i] for i in _body(unit)["indexes"] if i in self.records]
                self.terminal.send(messages.response(request, [DataUnit(0, 10, Record({"meters": found}))]))


async def _reconcile(
    harness: Harness, config: ArchiveConfig, held: Sequence[ArchiveEntry]
) -> tuple[list[Difference], Concentrator, list[Event]]:
    events: list[Event] = []

    async def sink(batch: Sequence[Event]) -> None:
        events.extend(batch)

    sync = ArchiveSync(
        Archive.from_config(config),
        config,
        metrics=harness.metrics,
        events=sink,
        now=lambda: datetime(2024, 5, 2, 1, 0, tzinfo=UTC),
        authenticator=FixedAuthenticator(PW),
    )
    async with logged_in(harness, A) as (terminal, session):
        concentrator = Concentrator(terminal, held)
        async with serving(concentrator.serve()):
            remaining = await sync.reconcile(session)
    return remaining, concentrator, events


async def test_differences_are_reported_and_repaired(harness: Harness) -> None:
    config = _config(_meter(1), _meter(2), _meter(3, baud=9600))
    held = [ArchiveEntry(T, 1, "000000000001"), ArchiveEntry(T, 3, "000000000003")]  # p2 missing, p3 at 2400
    remaining, concentrator, events = await _reconcile(harness, config, held)
    assert remaining == []
    assert concentrator.pushes == [[2, 3]]  # only the points that differ, one frame (batch 2)
    assert sorted(concentrator.records) == [1, 2, 3]
    assert [(e.code, e.terminal, e.severity.value) for e in events] == [("archive_mismatch", T, "warning")]
    assert events[0].detail["differences"] == [
        {"pn": 2, "kind": "missing", "expected": "000000000002", "actual": ""},
        {"pn": 3, "kind": "baud", "expected": "9600", "actual": "2400"},
    ]
    assert harness.sample("headend_archive_differences_total", kind="missing") == 1
    assert harness.sample("headend_archive_pushes_total", result="ok") == 1


async def test_matching_archive_is_left_alone_and_repair_can_be_off(harness: Harness) -> None:
    config = _config(_meter(1), _meter(2), repair=False)
    matching = [ArchiveEntry(T, 1, "000000000001"), ArchiveEntry(T, 2, "000000000002")]
    remaining, concentrator, events = await _reconcile(harness, config, matching)
    assert (remaining, concentrator.pushes, events) == ([], [], [])
    remaining, concentrator, events = await _reconcile(harness, config, matching[:1])
    assert remaining == [Difference(T, 2, "missing", "000000000002", "")]
    assert concentrator.pushes == []
    assert len(events) == 1


def test_archive_config_from_toml_and_errors_name_the_key(tmp_path: Path) -> None:
    from headend.config import load_config
    from headend.errors import ConfigError

    good = tmp_path / "good.toml"
    good.write_text(
        '[[archive.terminals]]\nterminal = "4403:00012"\n[[archive.terminals.meters]]\npn = 3\n'
        'address = "000000000003"\nct_ratio = "200"\n'
    )
    archive = Archive.from_config(load_config(good, environ={}).archive)
    assert archive.entries() == [ArchiveEntry(T, 3, "000000000003", ct_ratio=Decimal(200), pt_ratio=Decimal(1))]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[archive.terminals]]\nterminal = "4403:00012"\n[[archive.terminals.meters]]\npn = 3\naddress = "12"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad, environ={})
    assert [p.key for p in info.value.problems] == ["archive.terminals.0.meters.0.address"]


def test_erc35_reports_become_unknown_meter_events() -> None:
    block = Record({"address": "000000000002", "phase": Record({"quality": 5, "a": 1, "b": 0, "c": 0}), "protocol": 1})
    other = Record({"address": "000000000777", "phase": Record({"quality": 1, "a": 0, "b": 1, "c": 0}), "protocol": 0})
    record = event_record(35, {"time": datetime(2024, 5, 2, 8, 30), "port": 2, "n": 2, "meters": (block, other)})
    seen = datetime(2024, 5, 2, 8, 30, tzinfo=TZ)
    erc35 = Event(EventOrigin.TERMINAL, "ERC35", seen, seen, terminal=T, raw=encode_event(record), source="x")
    erc14 = Event(EventOrigin.TERMINAL, "ERC14", seen, seen, terminal=T, raw=bytes((14, 0)), source="x")
    archive = Archive.from_config(_config(_meter(1), _meter(2)))
    events = unknown_meter_events([erc14, erc35], archive)
    assert [(e.code, e.terminal, e.meter, dict(e.detail)) for e in events] == [
        ("unknown_meter", T, "000000000002", {"port": 2, "protocol": 1, "archived_as": f"{T}/p2"}),
        ("unknown_meter", T, "000000000777", {"port": 2, "protocol": 0, "archived_as": ""}),
    ]
    assert {e.key for e in events} == {
        f"unknown_meter:{T}:000000000002:2024-05-02",
        f"unknown_meter:{T}:000000000777:2024-05-02",
    }
