"""The test infrastructure itself: the PostgreSQL + TimescaleDB fixtures, the `db` marker, the thread leak check."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.pg_server import (
    INSTALL_HINT,
    LocalPgServer,
    PgServer,
    PgSetupError,
    ShutdownMode,
    check_extension_files,
    find_bindir,
    service_user,
    unique_dbname,
)

pytest_plugins = ("pytester",)

CONFTEST = Path(__file__).with_name("conftest.py")


def _one(conn: psycopg.Connection[tuple[object, ...]], query: str) -> object:
    row = conn.execute(query).fetchone()
    assert row is not None, query
    return row[0]


def test_timescaledb_extension_is_loaded_and_created(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        version = _one(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        preload = _one(conn, "SHOW shared_preload_libraries")
    assert isinstance(version, str)
    assert int(version.split(".")[0]) >= 2, version
    assert "timescaledb" in str(preload)


def test_local_server_keeps_durability_and_telemetry_settings(pg_server: PgServer) -> None:
    if not isinstance(pg_server, LocalPgServer):
        pytest.skip("settings of an external server (HEADEND_TEST_DSN) are its owner's")
    with psycopg.connect(pg_server.dsn) as conn:
        settings = {name: _one(conn, f"SHOW {name}") for name in ("fsync", "synchronous_commit", "full_page_writes")}
        telemetry = _one(conn, "SHOW timescaledb.telemetry_level")
        listen = _one(conn, "SHOW listen_addresses")
    assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    assert telemetry == "off"
    assert listen == "127.0.0.1"
    assert pg_server.dsn == f"postgresql://postgres@127.0.0.1:{pg_server.port}/headend_test"
    assert pg_server.admin_dsn.endswith(f":{pg_server.port}/postgres")


def test_hypertable_splits_rows_into_chunks_and_keeps_exact_decimals(fresh_db_dsn: str) -> None:
    with psycopg.connect(fresh_db_dsn) as conn:
        conn.execute("CREATE TABLE probe (ts timestamptz NOT NULL, meter text NOT NULL, value numeric NOT NULL)")
        conn.execute("SELECT create_hypertable('probe', by_range('ts', INTERVAL '1 day'))")
        conn.execute(
            "INSERT INTO probe VALUES (%s, %s, %s), (%s, %s, %s)",
            (
                "2024-01-01 00:00+08", "000000000001", Decimal("12345.67"),
                "2024-01-03 00:00+08", "000000000001", Decimal("0.01"),
            ),
        )  # fmt: skip
        chunks = _one(conn, "SELECT count(*) FROM show_chunks('probe')")
        hypertables = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables").fetchall()
        values = conn.execute("SELECT value FROM probe ORDER BY ts").fetchall()
    assert chunks == 2  # two days apart with one-day chunks
    assert hypertables == [("probe",)]
    assert values == [(Decimal("12345.67"),), (Decimal("0.01"),)]


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_outage_stop_and_start_keep_committed_rows(pg_server: PgServer, fresh_db_dsn: str, mode: ShutdownMode) -> None:
    """`immediate` is a crash: the restart replays the WAL. Either way a committed row must survive."""
    with psycopg.connect(fresh_db_dsn) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY, value numeric NOT NULL)")
        conn.execute("INSERT INTO kept VALUES (1, 96.5)")
    survivor = psycopg.connect(fresh_db_dsn, autocommit=True)
    try:
        pg_server.stop(mode)
        # What the head-end sees during an outage: open connections break, new ones are refused.
        with pytest.raises(psycopg.OperationalError):
            survivor.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(fresh_db_dsn, connect_timeout=5).close()
    finally:
        survivor.close()
    pg_server.start()
    with psycopg.connect(fresh_db_dsn) as conn:
        rows = conn.execute("SELECT id, value FROM kept").fetchall()
    assert rows == [(1, Decimal("96.5"))]


def test_fresh_db_is_a_new_empty_database_with_timescaledb(fresh_db_dsn: str, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        shared_db = _one(conn, "SELECT current_database()")
    with psycopg.connect(fresh_db_dsn) as conn:
        fresh_db = _one(conn, "SELECT current_database()")
        tables = _one(conn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        extension = _one(conn, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    assert fresh_db != shared_db
    assert tables == 0
    assert extension == 1


def test_drop_database_ends_open_sessions(pg_server: PgServer) -> None:
    dbname = unique_dbname("headend_infra")
    dsn = pg_server.create_database(dbname)
    lingering = psycopg.connect(dsn)
    try:
        pg_server.drop_database(dbname)
        with psycopg.connect(pg_server.admin_dsn) as conn:
            left = _one(conn, f"SELECT count(*) FROM pg_database WHERE datname = '{dbname}'")
        assert left == 0
        with pytest.raises(psycopg.OperationalError):
            lingering.execute("SELECT 1")
    finally:
        lingering.close()


def test_next_session_reaps_the_server_of_a_killed_session(pg_server: PgServer) -> None:
    if not isinstance(pg_server, LocalPgServer):
        pytest.skip("only local throwaway servers are reaped")
    # A session that dies without its teardown (os._exit skips every finalizer, like SIGKILL).
    killed = "import os; from tests.pg_server import LocalPgServer; print(LocalPgServer.create().base); os._exit(0)"
    out = subprocess.run([sys.executable, "-c", killed], capture_output=True, text=True, check=True, timeout=120)
    base = Path(out.stdout.strip())
    orphan = LocalPgServer(pg_server.bindir, base, 0, service_user())
    assert orphan.running
    reaped = LocalPgServer.reap_orphans(pg_server.bindir, service_user())
    assert base in reaped
    assert not base.exists()
    assert pg_server.base not in reaped  # our own session is alive
    assert pg_server.running


def test_db_fixtures_mark_the_test_db(request: pytest.FixtureRequest, pg_dsn: str) -> None:
    assert request.node.get_closest_marker("db") is not None


def test_other_tests_are_not_marked_db(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("db") is None


def test_missing_server_binaries_fail_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PgSetupError, match=re.escape("scripts/install-timescaledb.sh")) as excinfo:
        find_bindir(default=tmp_path, pg_config=None)
    assert str(tmp_path) in str(excinfo.value)


def test_missing_extension_fails_with_the_fix(tmp_path: Path) -> None:
    sharedir = tmp_path / "share"
    (sharedir / "extension").mkdir(parents=True)
    pg_config = tmp_path / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho {sharedir}\n")
    pg_config.chmod(0o755)
    with pytest.raises(PgSetupError) as excinfo:
        check_extension_files(tmp_path)
    assert str(sharedir / "extension" / "timescaledb.control") in str(excinfo.value)
    assert INSTALL_HINT in str(excinfo.value)


def test_thread_leak_check_fails_only_the_leaking_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_threads="""
        import threading

        def test_leaks_a_thread():
            threading.Thread(target=threading.Event().wait, name="leaky-worker", daemon=True).start()

        def test_joins_its_thread():
            worker = threading.Thread(target=lambda: None, name="tidy-worker")
            worker.start()
            worker.join()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks_a_thread*", "*1 thread(s) running: leaky-worker*"])
