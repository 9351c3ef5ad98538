"""``headend report success [--date D] [--terminal T] [--json]``: the collection success rate (采集成功率) of a
freeze date as the daemon stored it (:mod:`headend.collection.success`), overall and per terminal, first pass and
after backfill, with every missing meter and why."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import click

from headend.storage.collection import CollectionQueries, MissingMeter, SuccessRow


def _percent(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.1f}%)" if whole else f"{part} (-)"


def render_success(day: date, rows: list[SuccessRow], missing: list[MissingMeter]) -> str:
    """The text report."""
    computed = max((r.computed_at for r in rows), default=None)
    lines = [
        f"collection success rate, freeze date {day.isoformat()} (computed {computed.isoformat() if computed else '-'})"
    ]
    lines.append(f"{'scope':<12} {'expected':>8} {'first pass':>16} {'final':>16}")
    for r in rows:
        scope = r.terminal or "overall"
        lines.append(
            f"{scope:<12} {r.expected:>8} {_percent(r.complete_first_pass, r.expected):>16}"
            f" {_percent(r.complete, r.expected):>16}"
        )
    lines.append(f"missing meters: {len(missing)}")
    lines.extend(f"  {m.terminal} p{m.pn} {m.meter}  {m.reason}  {m.detail}".rstrip() for m in missing)
    return "\n".join(lines)


def success_json(day: date, rows: list[SuccessRow], missing: list[MissingMeter]) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "rows": [
            {
                "terminal": r.terminal,
                "expected": r.expected,
                "complete_first_pass": r.complete_first_pass,
                "complete": r.complete,
                "first_pass_ratio": r.first_pass_ratio,
                "ratio": r.ratio,
                "computed_at": r.computed_at.isoformat(),
            }
            for r in rows
        ],
        "missing": [
            {"terminal": m.terminal, "pn": m.pn, "meter": m.meter, "reason": m.reason, "detail": m.detail}
            for m in missing
        ],
    }


def report_group(config_option: Callable[[Any], Any]) -> click.Group:
    """``headend report …``, with the ``-c/--config`` option of headend/cli.py (passed in: no import cycle)."""

    @click.group()
    def report() -> None:
        """Reports from the database."""

    @report.command("success")
    @config_option
    @click.option("--dsn", help="TimescaleDB DSN (overrides the config).")
    @click.option(
        "--date",
        "day",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="Freeze date (local) [default: today in the configured zone].",
    )
    @click.option("--terminal", help='Only this terminal ("A1:A2", e.g. 4403:00012) and the overall row.')
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def success(
        config_path: Path | None, dsn: str | None, day: datetime | None, terminal: str | None, as_json: bool
    ) -> None:
        """Collection success rate of a freeze date: meters expected, complete at the first pass and after backfill,
        per terminal and overall, and the missing meters with the reason (terminal offline, terminal not answering,
        meter not answering, denied, decode error). Exit 1 when nothing was computed for that date."""
        from headend.cli import _load
        from headend.storage.base import open_store

        config = _load(config_path, {"storage": {"dsn": dsn}} if dsn is not None else None)
        zone = config.collection.zone
        wanted = day.date() if day is not None else datetime.now(zone).date()

        async def go() -> tuple[list[SuccessRow], list[MissingMeter]]:
            store = open_store(config.storage.dsn or None, config.storage.sqlite_path, tz=zone)
            await store.open()
            try:
                queries = cast("CollectionQueries", store)  # both stores implement it (headend/storage/collection.py)
                return await queries.load_success(wanted, terminal=terminal.upper() if terminal else None)
            finally:
                await store.close()

        rows, missing = asyncio.run(go())
        if as_json:
            click.echo(json.dumps(success_json(wanted, rows, missing), ensure_ascii=False))
        elif rows:
            click.echo(render_success(wanted, rows, missing))
        else:
            click.echo(f"no success rate computed for {wanted.isoformat()}", err=True)
        if not rows:
            sys.exit(1)

    return report
