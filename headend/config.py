"""Daemon configuration: a TOML file parsed into typed, frozen models.

Precedence (highest first): command-line flags > environment (``HEADEND_<SECTION>__<KEY>``, e.g.
``HEADEND_STORAGE__DSN``) > the file > the defaults below. Every problem is reported with the file, the line
and the dotted key, e.g. ``config/headend.toml:12: server.port: Input should be less than or equal to 65535``.

Every timeout, retry and interval is a field here, so tests shorten timings through configuration.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from headend.errors import ConfigError, ConfigProblem

ENV_PREFIX = "HEADEND_"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Model):
    """The TCP listener that GPRS/4G terminals connect to (Q/GDW 376.1 §A.11: the terminal is the client)."""

    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 9001
    #: a connection that has not logged in (AFN02 F1) within this time is closed
    login_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    #: a logged-in terminal silent for this long (no heartbeat, no frame) is closed; field practice is
    #: 2–3 missed heartbeat periods
    heartbeat_timeout_s: Annotated[float, Field(gt=0)] = 900.0
    #: silence after which a partial frame is given up (framer.idle())
    frame_idle_s: Annotated[float, Field(gt=0)] = 5.0
    max_frame_bytes: Annotated[int, Field(ge=64, le=16383 + 8)] = 16383 + 8
    #: strict mode rejects frames with deviations that lenient mode accepts with a warning
    strict: bool = False
    #: connections from one peer address beyond this are refused (0 = unlimited)
    max_connections: Annotated[int, Field(ge=0)] = 0


class SessionConfig(_Model):
    """Per-terminal request/response behaviour (§A.11)."""

    #: our master station address (MSA, A3 D7..D1) put in every request
    msa: Annotated[int, Field(ge=1, le=127)] = 1
    response_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    #: retransmissions with unchanged PSEQ after the first attempt (the standard allows up to 3)
    retries: Annotated[int, Field(ge=0, le=3)] = 2


class CollectionConfig(_Model):
    """The poll plan: what is read, how often, spread how."""

    #: read AFN0C F129 from every online terminal every this many seconds
    interval_s: Annotated[float, Field(gt=0)] = 900.0
    #: measurement points read on every terminal, as ranges: "1-32" or "1-8,17,20-24"
    points: str = "1-32"
    #: the first poll of a terminal happens at a random offset within this fraction of the interval after login,
    #: and each later poll is shifted by up to ± this fraction / 2, so thousands of terminals do not fire at once
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: global cap on requests in flight across all terminals
    max_concurrent_requests: Annotated[int, Field(ge=1)] = 256
    #: time zone of device clocks and stored timestamps
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("points")
    @classmethod
    def _points_parse(cls, value: str) -> str:
        parse_points(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def point_list(self) -> tuple[int, ...]:
        return parse_points(self.points)


class StorageConfig(_Model):
    """Where readings go: the durable spool, then TimescaleDB (``dsn``) or the embedded SQLite store."""

    #: PostgreSQL/TimescaleDB connection string; empty = embedded SQLite store at ``sqlite_path``
    dsn: str = ""
    sqlite_path: Path = Path("var/headend.sqlite3")
    spool_path: Path = Path("var/spool.sqlite3")
    #: the spool refuses new readings beyond this size (an alarm is raised; what it holds is kept)
    spool_max_bytes: Annotated[int, Field(ge=1 << 20)] = 2 << 30
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000


class MetricsConfig(_Model):
    """Prometheus endpoint; bound to localhost by default — put a reverse proxy in front to expose it."""

    enabled: bool = True
    host: str = "127.0.0.1"
    #: 0 picks a free port (tests)
    port: Annotated[int, Field(ge=0, le=65535)] = 9108


class LoggingConfig(_Model):
    level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Model):
    """The whole daemon configuration (see config/headend.example.toml)."""

    server: ServerConfig = ServerConfig()
    session: SessionConfig = SessionConfig()
    collection: CollectionConfig = CollectionConfig()
    storage: StorageConfig = StorageConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()


_POINTS_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_points(spec: str) -> tuple[int, ...]:
    """Parse "1-8,17,20-24" into sorted, unique measurement point numbers 1..2040 (Q/GDW 376.1 DA range).

    >>> parse_points("1-3, 7")
    (1, 2, 3, 7)
    """
    points: set[int] = set()
    for part in spec.split(","):
        match = _POINTS_RE.match(part)
        if not match:
            raise ValueError(f'bad point range {part.strip()!r}; use e.g. "1-32" or "1-8,17"')
        lo = int(match.group(1))
        hi = int(match.group(2) or lo)
        if not 1 <= lo <= hi <= 2040:
            raise ValueError(f"point range {part.strip()!r} must be within 1..2040, low to high")
        points.update(range(lo, hi + 1))
    return tuple(sorted(points))


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        out.setdefault(section, {})[key] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _line_of(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Find the line defining the dotted key ``loc`` in TOML ``text`` (tables and plain keys; good enough to
    point a human at the right place). Falls back to the table header, then None."""
    if not loc:
        return None
    *tables, key = [str(p) for p in loc]
    table = ".".join(tables)
    current = ""
    header_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([A-Za-z0-9_.\- ]+?)\s*\]", stripped)
        if header:
            current = header.group(1).replace(" ", "")
            if current == table:
                header_line = number
            elif current == ".".join([*tables, key]):
                return number
            continue
        keymatch = re.match(r'^"?([A-Za-z0-9_\-]+)"?\s*=', stripped)
        if keymatch and current == table and keymatch.group(1) == key:
            return number
    return header_line


def load_config(
    path: Path | None, *, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Read, merge and validate. Raises :class:`ConfigError` listing every problem with file, line and key."""
    source = str(path) if path is not None else "<defaults>"
    text = ""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([ConfigProblem(source, None, "", f"cannot read: {exc.strerror}")]) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            match = re.search(r"\(at line (\d+)", str(exc))
            if line is None and match:
                line = int(match.group(1))
            raise ConfigError([ConfigProblem(source, line, "", f"not valid TOML: {exc}")]) from exc
    env = _env_overrides(os.environ if environ is None else environ)
    merged = _merge(_merge(data, env), overrides or {})
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc)
            in_env = bool(loc) and str(loc[0]) in env and len(loc) > 1 and str(loc[1]) in env[str(loc[0])]
            if in_env:
                env_name = f"{ENV_PREFIX}{str(loc[0]).upper()}__{str(loc[1]).upper()}"
                problems.append(ConfigProblem(f"environment {env_name}", None, key, err["msg"]))
            else:
                message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                problems.append(ConfigProblem(source, _line_of(text, loc), key, message))
        raise ConfigError(problems) from exc
