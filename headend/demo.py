"""``headend demo``: the whole daemon on the embedded SQLite store against a simulated fleet on loopback.

The fleet runs as a separate process (``python -m concentrator_sim``) — the head-end and the simulator meet
only on the wire, as in production. Progress goes to stderr; the summary to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from headend.app import HeadendApp
from headend.config import CollectionConfig, Config, MetricsConfig, ServerConfig, StorageConfig
from headend.metrics import Metrics

#: how long the simulator gets to log out and exit after SIGTERM
SIM_STOP_TIMEOUT_S = 15.0


def _sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


def _progress_table(app: HeadendApp, elapsed: float, duration: float, expected_meters: int) -> Table:
    m = app.metrics
    table = Table(title=f"headend demo — {elapsed:5.1f} / {duration:.0f} s", show_header=False)
    table.add_row("terminals online", f"{len(app.registry)}")
    table.add_row(
        "requests ok / timeout",
        f"{_sample(m, 'headend_requests_total', {'protocol': 'gdw376.1', 'result': 'ok'}):.0f}"
        f" / {_sample(m, 'headend_requests_total', {'protocol': 'gdw376.1', 'result': 'timeout'}):.0f}",
    )
    table.add_row("readings spooled", f"{_sample(m, 'headend_readings_spooled_total'):.0f}")
    table.add_row("readings stored", f"{_sample(m, 'headend_readings_stored_total', {'result': 'inserted'}):.0f}")
    table.add_row("spool depth", f"{_sample(m, 'headend_spool_depth'):.0f}")
    table.add_row("meters expected", f"{expected_meters}")
    return table


def _summarise(sqlite_path: Path, expected_meters: int) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)) as db:
        stored = int(db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
        meters = int(db.execute("SELECT COUNT(DISTINCT meter) FROM readings WHERE quality = 'ok'").fetchone()[0])
    return stored, meters


async def _run(config: Config, *, duration_s: float, concentrators: int, meters: int, quiet: bool) -> dict[str, Any]:
    console = Console(stderr=True)
    app = HeadendApp(config)
    await app.start()
    assert app.server is not None
    log_path = config.storage.spool_path.parent / "simulator.log"
    expected = concentrators * meters
    with log_path.open("wb") as sim_log:
        sim = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "concentrator_sim",
            "--host", "127.0.0.1", "--port", str(app.server.port),
            "--concentrators", str(concentrators), "--meters", str(meters),
            "--heartbeat", "30", "--seed", "1",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=sim_log,
        )  # fmt: skip
        started = time.monotonic()
        online = 0
        try:
            with Live(console=console, refresh_per_second=4, transient=quiet) as live:
                while (elapsed := time.monotonic() - started) < duration_s and sim.returncode is None:
                    live.update(_progress_table(app, elapsed, duration_s, expected))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(sim.wait(), 0.5)
                live.update(_progress_table(app, time.monotonic() - started, duration_s, expected))
                online = len(app.registry)
        finally:
            if sim.returncode is None:
                sim.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(sim.wait(), SIM_STOP_TIMEOUT_S)
                except TimeoutError:
                    sim.kill()
                    await sim.wait()
            await app.stop()
    stored, meters_read = _summarise(config.storage.sqlite_path, expected)
    return {
        "terminals_online": online,
        "terminals_expected": concentrators,
        "meters_expected": expected,
        "meters_read": meters_read,
        "readings_stored": stored,
        "success_rate": round(meters_read / expected, 4) if expected else 0.0,
        "duration_s": duration_s,
        "store": str(config.storage.sqlite_path),
        "simulator_log": str(log_path),
    }


def run_demo(
    *, duration_s: float, concentrators: int, meters: int, interval_s: float, data_dir: Path, quiet: bool
) -> dict[str, Any]:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    config = Config(
        server=ServerConfig(host="127.0.0.1", port=0, heartbeat_timeout_s=120),
        collection=CollectionConfig(interval_s=interval_s, points=f"1-{meters}", jitter=0.5),
        storage=StorageConfig(sqlite_path=data_dir / "headend.sqlite3", spool_path=data_dir / "spool.sqlite3"),
        metrics=MetricsConfig(port=0),
    )
    summary = asyncio.run(_run(config, duration_s=duration_s, concentrators=concentrators, meters=meters, quiet=quiet))
    if not quiet:
        console = Console()
        console.print(
            f"\n[bold]{summary['terminals_online']}[/] of {concentrators} concentrators online, "
            f"[bold]{summary['readings_stored']}[/] readings stored, "
            f"{summary['meters_read']} of {summary['meters_expected']} meters read "
            f"(success rate {summary['success_rate']:.1%})."
        )
        console.print(
            f"Data: {summary['store']}  (try: sqlite3 {summary['store']} "
            '"SELECT * FROM readings ORDER BY ts DESC LIMIT 5")'
        )
        console.print(f"Simulator log: {summary['simulator_log']}")
    return summary
