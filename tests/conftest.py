"""Session-wide test fixtures: the PostgreSQL + TimescaleDB server, per-test databases, the thread leak check.

Database fixtures (a test that uses any of them, directly or through another fixture, is marked `db`):

* `pg_server` -> `PgServer`: the session's server. `.dsn`, `.admin_dsn`, `.port`, `.stop(mode)`, `.start()`.
  A test may stop it (the database outage tests do); it is started again after the test if it was left down.
* `pg_dsn` -> str: DSN of the session's shared database `headend_test` (TimescaleDB extension created).
* `fresh_db_dsn` -> str: a new empty database with the extension, for this test only; dropped afterwards.

The server is a throwaway cluster (tests/pg_server.py) unless `HEADEND_TEST_DSN` names an existing one. When
PostgreSQL 15 or TimescaleDB is missing, these fixtures fail with the fix (scripts/install-timescaledb.sh):
they never skip.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.pg_server import ENV_DSN, ExternalPgServer, LocalPgServer, PgServer, PgSetupError, unique_dbname

DB_FIXTURES = frozenset({"pg_server", "pg_dsn", "fresh_db_dsn"})

# Threads that libraries start once and keep for the life of the process, by name prefix. A thread that a test
# or fixture started and left running is a leak (an unclosed client, server or executor), whatever its name.
PERSISTENT_THREAD_PREFIXES: tuple[str, ...] = ()
# How long a thread that is already shutting down gets to finish before it counts as leaked.
THREAD_EXIT_GRACE_S = 2.0

# Hypothesis: under CI (CI=true) Hypothesis loads its own "ci" profile (derandomized, no deadline, no example
# database). Elsewhere the tests share two cores with other test runs, where the 200 ms default deadline fails
# tests at random; the deadline is off there too. HYPOTHESIS_PROFILE=default restores it.
settings.register_profile("dev", deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif settings.get_current_profile_name() == "default":
    settings.load_profile("dev")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the database server `db` (so `-m "not db"` runs the rest)."""
    for item in items:
        if DB_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def _pg_session_server() -> Iterator[PgServer]:
    try:
        server: PgServer = ExternalPgServer(os.environ[ENV_DSN]) if os.environ.get(ENV_DSN) else LocalPgServer.create()
    except PgSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_server(_pg_session_server: PgServer) -> Iterator[PgServer]:
    """The session's server; brought back up after a test that stopped it."""
    yield _pg_session_server
    _pg_session_server.ensure_running()


@pytest.fixture(scope="session")
def pg_dsn(_pg_session_server: PgServer) -> str:
    """DSN of the session's shared test database (rows persist across tests: prefer `fresh_db_dsn`)."""
    return _pg_session_server.dsn


@pytest.fixture
def fresh_db_dsn(pg_server: PgServer) -> Iterator[str]:
    """A new, empty database with the TimescaleDB extension, for this test alone."""
    dbname = unique_dbname()
    dsn = pg_server.create_database(dbname)
    yield dsn
    pg_server.ensure_running()  # runs before pg_server's own teardown, which would bring it back too late
    pg_server.drop_database(dbname)


def _is_persistent(thread: threading.Thread) -> bool:
    return thread.name.startswith(PERSISTENT_THREAD_PREFIXES) if PERSISTENT_THREAD_PREFIXES else False


@pytest.fixture(autouse=True)
def _no_thread_leaks() -> Iterator[None]:
    """Fail a test that leaves threads running (pymodbus `_check_system_health`): compare threading.enumerate()
    before and after the test and its function-scoped fixtures."""
    before = set(threading.enumerate())
    yield
    new = [t for t in threading.enumerate() if t not in before and t.is_alive() and not _is_persistent(t)]
    for thread in new:
        thread.join(THREAD_EXIT_GRACE_S)
    leaked = [t for t in new if t.is_alive()]
    if leaked:
        names = ", ".join(f"{t.name} (daemon={t.daemon}, target={getattr(t, '_target', None)!r})" for t in leaked)
        pytest.fail(f"test left {len(leaked)} thread(s) running: {names}", pytrace=False)
