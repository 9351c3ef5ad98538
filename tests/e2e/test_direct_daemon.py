"""The daemon reads meters on a serial bus from its configuration: TOML [[direct.serial]] → HeadendApp → the
same ingest/spool pipeline → the embedded SQLite store, with exact values, minute-truncated read times, and a dead
meter among live ones that costs nothing but its own readings."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from headend.app import HeadendApp
from headend.config import load_config
from protocols.dlt645.control import Edition
from tests.headend.direct.helpers import eventually
from tests.headend.direct.scripted_bus import ScriptedBus, ScriptedMeter

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 1, 8, 15, 42, 123456, tzinfo=ZONE)


def write_config(tmp_path: Path, bus_path: str) -> Path:
    path = tmp_path / "headend.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0
[metrics]
enabled = false
[storage]
sqlite_path = "{tmp_path / "h.sqlite3"}"
spool_path = "{tmp_path / "spool.sqlite3"}"

[[direct.serial]]
name = "ch1"
port = "{bus_path}"
baud = 9600
reply_delay_s = 0.1
retries = 1
interval_s = 0.2
jitter = 0
meters = [
  {{address = "000000000001", edition = "2007"}},
  {{address = "000000000002"}},
  {{address = "000000000003"}},
  {{address = "000000000004", edition = "1997"}},
]
""",
        encoding="utf-8",
    )
    return path


async def test_daemon_reads_direct_meters_into_the_store(tmp_path: Path) -> None:
    tariffs = [Decimal("100.10"), Decimal("60.05"), Decimal("40.05")]
    live = [
        ScriptedMeter("000000000001", {0x0001FF00: tariffs}),
        ScriptedMeter("000000000002", {0x0001FF00: [Decimal("5.00"), Decimal("5.00")]}),
        ScriptedMeter("000000000004", {0x901F: [Decimal("77.70"), None]}, edition=Edition.V1997),
    ]
    dead = ScriptedMeter("000000000003", silent=True)
    async with ScriptedBus(tmp_path, [*live, dead]) as bus:
        config = load_config(write_config(tmp_path, bus.path), environ={})
        app = HeadendApp(config, now=lambda: NOW)
        await app.start()
        try:
            stored = "headend_readings_stored_total"
            await eventually(
                lambda: (app.metrics.registry.get_sample_value(stored, {"result": "duplicate"}) or 0) >= 7,
                "a second round stored as duplicates",
            )
        finally:
            await app.stop()
    with contextlib.closing(sqlite3.connect(config.storage.sqlite_path)) as db:
        rows = db.execute("SELECT meter, register, tariff, ts, value, quality, source, terminal, pn FROM readings")
        got = {(m, t): (r, datetime.fromisoformat(ts), v, q, s, term, pn) for m, r, t, ts, v, q, s, term, pn in rows}
    minute = datetime(2024, 5, 1, 8, 15, tzinfo=ZONE)
    expected_values = {
        ("000000000001", 0): ("100.10", "dlt645-2007 DI 0001FF00"),
        ("000000000001", 1): ("60.05", "dlt645-2007 DI 0001FF00"),
        ("000000000001", 2): ("40.05", "dlt645-2007 DI 0001FF00"),
        ("000000000002", 0): ("5.00", "dlt645-2007 DI 0001FF00"),
        ("000000000002", 1): ("5.00", "dlt645-2007 DI 0001FF00"),
        ("000000000004", 0): ("77.70", "dlt645-1997 DI 901F"),
        ("000000000004", 1): (None, "dlt645-1997 DI 901F"),
    }
    assert set(got) == set(expected_values)  # nothing for the dead meter
    for key, (value, source) in expected_values.items():
        register, ts, stored_value, quality, stored_source, terminal, pn = got[key]
        assert register == "energy.active.forward"
        assert ts == minute
        assert (Decimal(stored_value) if stored_value is not None else None) == (
            Decimal(value) if value is not None else None
        )
        assert quality == ("ok" if value is not None else "invalid")
        assert (stored_source, terminal, pn) == (source, "", 0)
