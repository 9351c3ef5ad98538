"""The PostgreSQL + TimescaleDB server the tests run against (the fixtures are in tests/conftest.py).

Two kinds, one interface (`PgServer`):

* `LocalPgServer`: a throwaway PostgreSQL 15 cluster made for the test session: `initdb` into a temporary
  directory, TCP on a free port of 127.0.0.1, trust authentication, `shared_preload_libraries='timescaledb'`,
  `fsync=on` (the storage tests test durability). It can be stopped and started again on the same port and data
  directory, which is how the "database outage" tests take the database away and bring it back. As root,
  initdb and postgres refuse to run, so they run as the `postgres` system user (`runuser -u postgres --`).
* `ExternalPgServer`: the server named by `HEADEND_TEST_DSN`, for a developer with a TimescaleDB of their own.
  The tests cannot stop it: `stop()` and `start()` skip the calling test with the reason.

Missing binaries or a missing extension raise `PgSetupError`, whose message says to run
scripts/install-timescaledb.sh; the fixtures turn it into a test failure, never a skip.

Import as `from tests.pg_server import PgServer` (the editable install puts the repository root on sys.path).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ENV_DSN = "HEADEND_TEST_DSN"
PG_MAJOR = 15
DEFAULT_BINDIR = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
SUPERUSER = "postgres"
# Who runs initdb/postgres when the tests run as root (both refuse to run as root).
SERVICE_USER = "postgres"
TEST_DBNAME = "headend_test"
BASE_PREFIX = "headend-pg-"
OWNER_FILE = "owner.pid"
ADMIN_DBNAME = "postgres"
INSTALL_HINT = (
    "Run scripts/install-timescaledb.sh (as root or with sudo; `bash scripts/test` does it for you), "
    f"or point the tests at an existing PostgreSQL with TimescaleDB: export {ENV_DSN}=postgresql://..."
)
# Start-up and shutdown wait for pg_ctl -w, in seconds. Generous: two cores shared with other test runs.
PG_CTL_TIMEOUT_S = 120
# A port picked as free can be taken before postgres binds it (other test sessions run at the same time).
START_ATTEMPTS = 5

ShutdownMode = Literal["smart", "fast", "immediate"]


class PgSetupError(RuntimeError):
    """The test database cannot be provided; the message says what to install or set."""


class PgServer(ABC):
    """A PostgreSQL server with TimescaleDB for tests: DSNs, databases, and (when local) stop/start."""

    @property
    @abstractmethod
    def dsn(self) -> str:
        """DSN of the session's shared test database (TimescaleDB extension created)."""

    @property
    @abstractmethod
    def admin_dsn(self) -> str:
        """DSN of the maintenance database `postgres`, for CREATE/DROP DATABASE."""

    @property
    @abstractmethod
    def port(self) -> int:
        """TCP port the server listens on."""

    @abstractmethod
    def dsn_for(self, dbname: str) -> str:
        """DSN of another database on the same server, as the same user."""

    @abstractmethod
    def start(self) -> None:
        """Start the server again after `stop()`; same port, same data."""

    @abstractmethod
    def stop(self, mode: ShutdownMode = "fast") -> None:
        """Stop the server: `fast` disconnects clients and shuts down cleanly; `immediate` is a crash (the next
        start runs WAL recovery)."""

    @abstractmethod
    def ensure_running(self) -> None:
        """Start the server if a test left it stopped (fixture teardown calls this)."""

    @abstractmethod
    def close(self) -> None:
        """End of session: release everything this object made."""

    def create_database(self, dbname: str) -> str:
        """CREATE DATABASE plus CREATE EXTENSION timescaledb in it; returns its DSN."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        dsn = self.dsn_for(dbname)
        ensure_timescaledb(dsn)
        return dsn

    def drop_database(self, dbname: str) -> None:
        """DROP DATABASE IF EXISTS … WITH (FORCE): also ends the sessions a test left open."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def ensure_timescaledb(dsn: str) -> str:
    """CREATE EXTENSION IF NOT EXISTS timescaledb in the database of `dsn`; returns the extension version."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            # The extension greets with a multi-line NOTICE; tests have no use for it.
            conn.execute("SET client_min_messages = warning")
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    except psycopg.Error as exc:
        raise PgSetupError(f"TimescaleDB is not usable at {dsn}: {exc}\n{INSTALL_HINT}") from exc
    assert row is not None, "CREATE EXTENSION succeeded but pg_extension has no timescaledb row"
    return str(row[0])


def unique_dbname(prefix: str = "headend_t") -> str:
    """A database name no other test (or concurrent test session on a shared server) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class ExternalPgServer(PgServer):
    """The server of `HEADEND_TEST_DSN`; its database must allow CREATE EXTENSION timescaledb (or have it)."""

    NOT_OURS = f"{ENV_DSN} names an external server, which the tests do not stop or start"

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._params = conninfo_to_dict(dsn)
        ensure_timescaledb(dsn)

    @property
    def dsn(self) -> str:
        return self._dsn

    @property
    def admin_dsn(self) -> str:
        return self.dsn_for(ADMIN_DBNAME)

    @property
    def port(self) -> int:
        return int(self._params.get("port") or 5432)

    def dsn_for(self, dbname: str) -> str:
        return make_conninfo(self._dsn, dbname=dbname)

    def start(self) -> None:
        pytest.skip(self.NOT_OURS)

    def stop(self, mode: ShutdownMode = "fast") -> None:
        pytest.skip(self.NOT_OURS)

    def ensure_running(self) -> None:
        """Never stopped by the tests (see `stop`)."""

    def close(self) -> None:
        """Nothing to release: the server is not ours."""


def find_bindir(default: Path = DEFAULT_BINDIR, pg_config: str | None = "pg_config") -> Path:
    """PostgreSQL 15's server binaries: Debian's versioned directory, else what `pg_config --bindir` says."""
    candidates = [default]
    pg_config_path = shutil.which(pg_config) if pg_config else None
    if pg_config_path:
        out = subprocess.run([pg_config_path, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PgSetupError(
        f"PostgreSQL {PG_MAJOR} server binaries (initdb, pg_ctl, postgres) not found in "
        f"{', '.join(map(str, candidates))}.\n{INSTALL_HINT}"
    )


def check_extension_files(bindir: Path) -> None:
    """Fail early, with the fix, when timescaledb.control is not installed for this PostgreSQL."""
    pg_config = bindir / "pg_config"
    if not pg_config.is_file():
        return  # no pg_config to ask: the server start-up reports a missing library instead
    sharedir = subprocess.run([pg_config, "--sharedir"], capture_output=True, text=True, check=True).stdout
    control = Path(sharedir.strip()) / "extension" / "timescaledb.control"
    if not control.is_file():
        raise PgSetupError(
            f"TimescaleDB is not installed for {bindir.parent.name}: {control} is missing.\n{INSTALL_HINT}"
        )


def find_runuser() -> str:
    """util-linux's runuser, which lives in sbin: not on every PATH (CI's may lack /usr/sbin)."""
    for candidate in (shutil.which("runuser"), "/usr/sbin/runuser", "/sbin/runuser"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise PgSetupError("running as root, the server must run through runuser (util-linux), which is missing")


def service_user() -> str | None:
    """Who must run initdb and postgres: the `postgres` user when we are root (both refuse root), else us."""
    return SERVICE_USER if os.geteuid() == 0 else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but belongs to another user
    return True


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalPgServer(PgServer):
    """A throwaway cluster in a temporary directory; see the module docstring. Make one with `create()`."""

    def __init__(self, bindir: Path, base: Path, port: int, run_as: str | None) -> None:
        self.bindir = bindir
        self.base = base
        self.datadir = base / "data"
        self.log_path = base / "postgres.log"
        self.run_as = run_as
        self._port = port

    @classmethod
    def create(cls) -> LocalPgServer:
        """initdb, configure, start, and create the session database with the extension."""
        bindir = find_bindir()
        check_extension_files(bindir)
        run_as = service_user()
        # Not pytest's tmp_path: that is mode 0700 under root's tree, where the postgres user cannot reach.
        cls.reap_orphans(bindir, run_as)
        base = Path(tempfile.mkdtemp(prefix=BASE_PREFIX))
        # Who made it: a session killed before its teardown (SIGKILL, a `timeout`) leaves a running server that
        # the next session's reap_orphans() stops and removes.
        (base / OWNER_FILE).write_text(f"{os.getpid()}\n")
        if run_as is not None:
            try:
                account = pwd.getpwnam(run_as)
            except KeyError:
                shutil.rmtree(base)
                raise PgSetupError(
                    f"running as root, the server must run as the '{run_as}' system user, which does not exist. "
                    f"{INSTALL_HINT}"
                ) from None
            os.chown(base, account.pw_uid, account.pw_gid)
        server = cls(bindir, base, free_port(), run_as)
        try:
            server._initdb()
            server._start_on_a_free_port()
            server.create_database(TEST_DBNAME)
        except BaseException:
            server.close()
            raise
        return server

    @classmethod
    def reap_orphans(cls, bindir: Path, run_as: str | None) -> list[Path]:
        """Stop and remove the servers of earlier test sessions whose process has died; returns their dirs."""
        reaped = []
        for base in Path(tempfile.gettempdir()).glob(f"{BASE_PREFIX}*"):
            try:
                owner = int((base / OWNER_FILE).read_text())
            except (OSError, ValueError):
                continue  # not ours, or still being made
            if pid_alive(owner):
                continue
            orphan = cls(bindir, base, 0, run_as)
            if orphan.datadir.is_dir() and orphan.running:
                orphan.stop("immediate")
            shutil.rmtree(base, ignore_errors=True)
            reaped.append(base)
        return reaped

    @property
    def dsn(self) -> str:
        return self.dsn_for(TEST_DBNAME)

    @property
    def admin_dsn(self) -> str:
        return self.dsn_for(ADMIN_DBNAME)

    @property
    def port(self) -> int:
        return self._port

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self._port}/{dbname}"

    @property
    def running(self) -> bool:
        """pg_ctl status: a postmaster runs on our data directory."""
        return self._pg_ctl("status", check=False).returncode == 0

    def start(self) -> None:
        result = self._pg_ctl(
            "start", "-w", "-t", str(PG_CTL_TIMEOUT_S), "-l", str(self.log_path), "-o", f"-p {self._port}",
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise PgSetupError(
                f"postgres did not start on 127.0.0.1:{self._port} (pg_ctl exit {result.returncode}).\n"
                f"{result.stdout}{result.stderr}\n--- {self.log_path} ---\n{self.log_tail()}\n{INSTALL_HINT}"
            )

    def stop(self, mode: ShutdownMode = "fast") -> None:
        self._pg_ctl("stop", "-w", "-t", str(PG_CTL_TIMEOUT_S), "-m", mode)

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def close(self) -> None:
        if self.datadir.is_dir() and self.running:
            self.stop("fast")
        shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = [find_runuser(), "-u", self.run_as, "--"] if self.run_as else []
        # LC_ALL=C: the messages we search for (address in use) are not translated.
        env = {**os.environ, "LC_ALL": "C"}
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, check=check, env=env, cwd=self.base)

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args, check=check)

    def _initdb(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.base}'",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            # Durability is under test (spool → database, outages, crash recovery): keep every guarantee on.
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "shared_buffers": "'32MB'",
            "max_connections": "100",
            # TimescaleDB runs one background scheduler per database that has the extension.
            "max_worker_processes": "16",
            "timescaledb.max_background_workers": "8",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
        }
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/pg_server.py\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _start_on_a_free_port(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self.start()
                return
            except PgSetupError:
                if attempt == START_ATTEMPTS or "Address already in use" not in self.log_tail():
                    raise
                self._port = free_port()
