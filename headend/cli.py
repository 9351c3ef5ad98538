"""``headend`` — the one console script: the daemon, its checks, and the field engineer's tools.

Subcommands stay thin: they parse options, build the objects and call into the library. ``decode`` imports
only :mod:`protocols`, so it works offline on a laptop.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from headend.cli_encode import encode
from headend.decode_cmd import edition_option
from headend.errors import ConfigError

CONFIG_OPTION = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="HEADEND_CONFIG",
    help="TOML configuration file (default: built-in defaults).  [env: HEADEND_CONFIG]",
)


def _load(config_path: Path | None, overrides: dict[str, Any] | None = None) -> Any:
    from headend.config import load_config

    try:
        return load_config(config_path, overrides=overrides)
    except ConfigError as exc:
        click.echo(f"configuration error:\n{exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="headend")
def main() -> None:
    """headend — meter data acquisition head-end (Q/GDW 376.1, DL/T 645 → TimescaleDB)."""


@main.command()
@CONFIG_OPTION
@click.option("--port", type=int, help="Terminal listener port (overrides [server] port).")
@click.option("--dsn", help="TimescaleDB DSN (overrides [storage] dsn); empty = embedded SQLite store.")
def run(config_path: Path | None, port: int | None, dsn: str | None) -> None:
    """Run the daemon until SIGTERM/SIGINT (then drain and exit 0)."""
    from headend.app import run as run_app
    from headend.logs import setup_logging

    overrides: dict[str, Any] = {}
    if port is not None:
        overrides.setdefault("server", {})["port"] = port
    if dsn is not None:
        overrides.setdefault("storage", {})["dsn"] = dsn
    config = _load(config_path, overrides)
    setup_logging(config.logging.level)
    run_app(config)


@main.command("check-config")
@click.argument("config_path", type=click.Path(path_type=Path, dir_okay=False))
def check_config(config_path: Path) -> None:
    """Validate a configuration file without starting anything; exit 2 and name file:line: key on error."""
    config = _load(config_path)
    click.echo(f"{config_path}: OK")
    click.echo(
        f"  listen {config.server.host}:{config.server.port}, poll every {config.collection.interval_s:g} s, "
        f"{len(config.collection.point_list)} points, zone {config.collection.timezone}, "
        f"store {'TimescaleDB' if config.storage.dsn else f'SQLite {config.storage.sqlite_path}'}"
    )


@main.command()
@click.argument("hex_parts", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per frame.")
@edition_option("Q/GDW 376.1 data-unit layouts: 2009, 2013, or auto (2009 unless the frame proves 2013).")
def decode(hex_parts: tuple[str, ...], as_json: bool, edition: str) -> None:
    """Decode Q/GDW 376.1 and DL/T 645 frames from hex (arguments, or stdin when none).

    Spaces, colons, dashes and 0x prefixes are ignored; several frames and garbage between them are fine.
    """
    from headend.decode_cmd import decode_reports, parse_hex, render_text

    text = " ".join(hex_parts) if hex_parts else sys.stdin.read()
    try:
        data = parse_hex(text)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    reports = decode_reports(data, edition)
    if as_json:
        click.echo(json.dumps(reports, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(reports))
    if not reports or not all(r.get("valid") for r in reports):
        sys.exit(1)


@main.group()
def db() -> None:
    """Database schema and status."""


@db.command("migrate")
@CONFIG_OPTION
@click.option("--dsn", help="TimescaleDB DSN (overrides the config); empty = embedded SQLite store.")
def db_migrate(config_path: Path | None, dsn: str | None) -> None:
    """Create or upgrade the schema (forward-only, safe to run twice)."""
    from headend.storage.base import open_store

    overrides = {"storage": {"dsn": dsn}} if dsn is not None else None
    config = _load(config_path, overrides)

    async def go() -> int:
        config.storage.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        store = open_store(config.storage.dsn or None, config.storage.sqlite_path, tz=config.collection.zone)
        await store.open()
        try:
            return await store.migrate()
        finally:
            await store.close()

    version = asyncio.run(go())
    where = "TimescaleDB" if config.storage.dsn else f"SQLite {config.storage.sqlite_path}"
    click.echo(f"{where}: schema at version {version}")


@db.command("status")
@CONFIG_OPTION
@click.option("--dsn", help="TimescaleDB DSN (overrides the config).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def db_status(config_path: Path | None, dsn: str | None, as_json: bool) -> None:
    """Store edition, schema version, rows, conflicts, the ingest watermark, and what waits in the spool (opened
    read-only, so it is safe beside a running daemon)."""
    from headend.storage.status import collect_status

    overrides = {"storage": {"dsn": dsn}} if dsn is not None else None
    config = _load(config_path, overrides)
    status = asyncio.run(collect_status(config))
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False, indent=2, default=str))
        return
    for section, values in status.items():
        click.echo(f"{section}:")
        if isinstance(values, dict):
            for key, value in values.items():
                click.echo(f"  {key}: {value}")
        else:
            click.echo(f"  {values}")
    store = status.get("store")
    if isinstance(store, dict) and "error" in store:
        sys.exit(1)


@db.command("roles")
def db_roles() -> None:
    """Print the SQL that creates the headend_writer and read-only headend_billing roles (run it as a DBA)."""
    from headend.storage.roles import roles_script

    click.echo(roles_script())


@main.command()
@click.option("--duration", type=float, default=60.0, show_default=True, help="Seconds to run.")
@click.option("--concentrators", type=int, default=300, show_default=True, help="Simulated concentrators.")
@click.option("--meters", type=int, default=16, show_default=True, help="Meters per concentrator.")
@click.option("--interval", type=float, default=10.0, show_default=True, help="Poll interval in seconds.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/demo"),
    show_default=True,
    help="Where the embedded store and spool go (emptied first).",
)
@click.option("--json", "as_json", is_flag=True, help="Make the last line of stdout a JSON summary.")
def demo(duration: float, concentrators: int, meters: int, interval: float, data_dir: Path, as_json: bool) -> None:
    """Run the daemon on the embedded store against a simulated fleet on loopback, then summarise."""
    from headend.demo import run_demo

    summary = run_demo(
        duration_s=duration,
        concentrators=concentrators,
        meters=meters,
        interval_s=interval,
        data_dir=data_dir,
        quiet=as_json,
    )
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    if summary["readings_stored"] == 0:
        sys.exit(1)


from headend.cli_meters import METER_COMMANDS  # noqa: E402  (read, scan, sniff, timesync; imports lazily)

for _command in METER_COMMANDS:
    main.add_command(_command)


main.add_command(encode)

from headend.cli_report import report_group  # noqa: E402  (headend report success)

main.add_command(report_group(CONFIG_OPTION))

if __name__ == "__main__":  # pragma: no cover
    main()
