"""``headend report success`` against a real SQLite store the daemon's success rows were saved to."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from pathlib import Path

from click.testing import CliRunner

from headend.cli import main
from headend.storage.collection import MissingMeter, SuccessRow
from headend.storage.sqlite_store import SqliteStore
from tests.headend.storage.helpers import TZ

DAY = date(2024, 5, 3)
AT = datetime(2024, 5, 4, 3, 0, tzinfo=TZ)


def _config(tmp_path: Path) -> Path:
    store_path = tmp_path / "store.sqlite3"

    async def seed() -> None:
        store = SqliteStore(store_path, tz=TZ)
        await store.open()
        try:
            await store.migrate()
            await store.save_success(
                [SuccessRow(DAY, "", 4, 2, 3, AT), SuccessRow(DAY, "4403:00012", 3, 2, 3, AT),
                 SuccessRow(DAY, "4403:00013", 1, 0, 0, AT)],
                [MissingMeter(DAY, "4403:00013", 1, "000000000101", "terminal_offline", "not logged in")],
            )  # fmt: skip
        finally:
            await store.close()

    asyncio.run(seed())
    config = tmp_path / "headend.toml"
    config.write_text(f'[storage]\nsqlite_path = "{store_path}"\n')
    return config


def test_report_lists_rates_and_missing_meters_with_reasons(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(main, ["report", "success", "-c", str(config), "--date", "2024-05-03"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2].split() == ["overall", "4", "2", "(50.0%)", "3", "(75.0%)"]
    assert lines[4].split() == ["4403:00013", "1", "0", "(0.0%)", "0", "(0.0%)"]
    assert lines[-2:] == ["missing meters: 1", "  4403:00013 p1 000000000101  terminal_offline  not logged in"]


def test_report_json_for_one_terminal(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(
        main, ["report", "success", "-c", str(config), "--date", "2024-05-03", "--terminal", "4403:00012", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(r["terminal"], r["complete"], r["ratio"]) for r in data["rows"]] == [("", 3, 0.75), ("4403:00012", 3, 1.0)]
    assert data["missing"] == []


def test_report_of_a_day_not_computed_fails(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(main, ["report", "success", "-c", str(config), "--date", "2024-05-09"])
    assert result.exit_code == 1
    assert "no success rate computed for 2024-05-09" in result.output
