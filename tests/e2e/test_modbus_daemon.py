"""The daemon reads Modbus devices from its configuration: TOML [[modbus.devices]] → HeadendApp → the same
ingest/spool pipeline → the embedded SQLite store and TimescaleDB, with exact values, the injected clock's time
(to the second), and a device that is not there costing nothing but its own readings."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from headend.app import HeadendApp
from headend.channels.modbus import build_links
from headend.config import load_config
from headend.metrics import Metrics
from tests.headend.direct.helpers import eventually
from tests.headend.modbus.servers import sim_device, tcp_server

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 1, 8, 15, 42, 123456, tzinfo=ZONE)
EXAMPLE = Path(__file__).parents[2] / "config" / "modbus.example.toml"

# unit 1: 1234.56 kWh total, 600.10 kWh tariff 1 (60010 = 0xEA6A); unit 2: 230.1 kW (float32), -12.3 kvar
HOLDING = {0: [0x0001, 0xE240, 0x0000, 0xEA6A]}
INPUTS = {10: [0x4366, 0x1999, 0xFF85]}
EXPECTED = {
    ("meter-1", "energy.active.forward", 0): (Decimal("1234.56"), "kWh", "modbus-tcp unit 1 reg 40001"),
    ("meter-1", "energy.active.forward", 1): (Decimal("600.10"), "kWh", "modbus-tcp unit 1 reg 40003"),
    ("inverter-2", "power.active", 0): (Decimal("230.1"), "kW", "modbus-tcp unit 2 reg 30011"),
    ("inverter-2", "power.reactive", 0): (Decimal("-12.3"), "kvar", "modbus-tcp unit 2 reg 30013"),
}


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(tmp_path: Path, port: int, dead_port: int) -> Path:
    timing = (
        "interval_s = 0.2\njitter = 0\ntimeout_s = 0.5\nretries = 0\nreconnect_base_s = 0.05\nreconnect_cap_s = 0.2"
    )
    path = tmp_path / "headend.toml"
    path.write_text(
        f"""
[[modbus.devices]]
id = "meter-1"
host = "127.0.0.1"
port = {port}
unit = 1
{timing}
registers = [
  {{name = "energy.active.forward", address = 0, type = "uint32", scale = "0.01", unit = "kWh"}},
  {{name = "energy.active.forward", address = 2, type = "uint32", scale = "0.01", unit = "kWh", tariff = 1}},
]

[[modbus.devices]]
id = "inverter-2"
host = "127.0.0.1"
port = {port}
unit = 2
{timing}

[[modbus.devices.registers]]
name = "power.active"
address = 10
function = "input"
type = "float32"
unit = "kW"

[[modbus.devices.registers]]
name = "power.reactive"
address = 12
function = "input"
type = "int16"
scale = "0.1"
unit = "kvar"

[[modbus.devices]]
id = "not-there"
host = "127.0.0.1"
port = {dead_port}
{timing}
registers = [{{name = "energy.active.forward", address = 0, type = "uint32"}}]
""",
        encoding="utf-8",
    )
    return path


async def run_daemon(tmp_path: Path, dsn: str = "") -> Path:
    """Run the daemon until a second round of every live device is stored (as duplicates); return the config."""
    devices = [sim_device(1, holding=HOLDING), sim_device(2, inputs=INPUTS)]
    async with tcp_server(devices) as server:
        daemon = {
            "server": {"host": "127.0.0.1", "port": 0},
            "metrics": {"enabled": False},
            "storage": {"dsn": dsn, "sqlite_path": tmp_path / "h.sqlite3", "spool_path": tmp_path / "spool.sqlite3"},
        }
        config = load_config(write_config(tmp_path, server.port, free_port()), environ={}, overrides=daemon)
        app = HeadendApp(config, now=lambda: NOW)
        await app.start()
        try:
            stored = "headend_readings_stored_total"
            await eventually(
                lambda: (app.metrics.registry.get_sample_value(stored, {"result": "duplicate"}) or 0) >= 4,
                "a second round stored as duplicates",
            )
            failed = {"transport": "tcp", "result": "failed"}
            assert (app.metrics.registry.get_sample_value("headend_modbus_connects_total", failed) or 0) >= 1
        finally:
            await app.stop()
    return tmp_path


def check(rows: list[tuple[object, ...]]) -> None:
    got = {(m, r, t): (ts, v, u, q, s, term, pn) for m, r, t, ts, v, u, q, s, term, pn in rows}
    assert set(got) == set(EXPECTED)  # nothing from the device that is not there
    second = datetime(2024, 5, 1, 8, 15, 42, tzinfo=ZONE)
    for key, (value, unit, source) in EXPECTED.items():
        ts, stored, stored_unit, quality, stored_source, terminal, pn = got[key]
        assert isinstance(ts, datetime)
        assert ts == second
        assert Decimal(str(stored)) == value
        assert (stored_unit, quality, stored_source, terminal, pn) == (unit, "ok", source, "", 0)


COLUMNS = "meter, register, tariff, ts, value, unit, quality, source, terminal, pn"


async def test_daemon_reads_modbus_devices_into_sqlite(tmp_path: Path) -> None:
    await run_daemon(tmp_path)
    with contextlib.closing(sqlite3.connect(tmp_path / "h.sqlite3")) as db:
        rows = [
            (m, r, t, datetime.fromisoformat(ts), v, u, q, s, term, pn)
            for m, r, t, ts, v, u, q, s, term, pn in db.execute(f"SELECT {COLUMNS} FROM readings")
        ]
    check(rows)


async def test_daemon_reads_modbus_devices_into_timescaledb(tmp_path: Path, fresh_db_dsn: str) -> None:
    await run_daemon(tmp_path, fresh_db_dsn)
    with psycopg.connect(fresh_db_dsn) as conn:
        rows = [tuple(row) for row in conn.execute(f"SELECT {COLUMNS} FROM readings").fetchall()]
    assert all(isinstance(row[4], Decimal) for row in rows)  # numeric, exact
    check(rows)


async def test_modbus_example_config_is_valid() -> None:
    config = load_config(EXAMPLE, environ={})
    devices = config.modbus.devices
    assert {d.transport for d in devices} == {"tcp", "rtu"}
    assert all(d.registers for d in devices)
    assert len(build_links(config.modbus, Metrics())) == 2  # the two RTU devices agree on their shared line
    # everything but the example's Modbus section is the defaults
    assert config.model_copy(update={"modbus": load_config(None, environ={}).modbus}) == load_config(None, environ={})
