"""The meter commands against the simulator as a separate process (``python -m concentrator_sim.meters``): its
2400-baud bus on a pty, its serial server on loopback TCP, its AT modem — as a field engineer would use them."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.cli.meters_harness import DEADLINE_S, far_from_midnight_zone, headend

SIM_TOML = """
seed = 3
tz = "{tz}"

[[bus]]
name = "bus1"
baud = 2400
tcp = {{port = 0}}

[[bus.meter]]
address = "000000000101"

[[bus.meter]]
address = "000000000102"
clock_offset_s = 95

[[bus.meter]]
address = "000000000197"
edition = "1997"

[[modem]]
name = "modem1"

[[modem.number]]
number = "5550199"
bus = "bus1"
connect_delay_s = 0.2
"""
LINE = ["--baud", "2400", "--reply-delay", "0.4", "--connect-timeout", "10"]


@asynccontextmanager
async def simulator(tmp_path: Path, tz: str = "Asia/Shanghai") -> AsyncIterator[dict[str, Any]]:
    config = tmp_path / "meters.toml"
    config.write_text(SIM_TOML.format(tz=tz), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "concentrator_sim.meters", "--config", str(config), "--log-level", "WARNING",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), DEADLINE_S)
        yield json.loads(line)
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), DEADLINE_S)


async def test_read_scan_over_the_simulators_pty_tcp_and_modem(tmp_path: Path) -> None:
    async with simulator(tmp_path) as where:
        bus = where["buses"]["bus1"]
        pty, tcp = bus["pty"], f"{bus['tcp']['host']}:{bus['tcp']['port']}"
        read = await headend(
            "read", "--port", pty, *LINE, "--meter", "000000000101", "--meter", "000000000197", "--json"
        )
        assert read.code == 0, read.stderr
        reports = read.json_lines()
        assert [(r["meter"], r["protocol"], r["di"]) for r in reports] == [
            ("000000000101", "dlt645-2007", "0001FF00"),
            ("000000000197", "dlt645-1997", "901F"),
        ]
        assert all(v["value"] is not None for r in reports for v in r["values"][:1])
        over_tcp = await headend("read", "--tcp", tcp, *LINE, "--meter", "000000000102", "--di", "time", "--json")
        assert over_tcp.code == 0, over_tcp.stderr
        assert over_tcp.json_lines()[0]["name"] == "TIME"
        modem = where["modems"]["modem1"]
        dialled = await headend(
            "read", "--dial", "5550199", "--port", modem["pty"], *LINE, "--meter", "000000000101", "--json"
        )
        assert dialled.code == 0, dialled.stderr
        scan = await headend("scan", "--port", pty, *LINE, "--edition", "2007", "--low-bytes", "01-02", "--json")
        assert scan.code == 0, scan.stderr
        assert json.loads(scan.stdout) == ["000000000101", "000000000102"]


async def test_timesync_corrects_a_simulated_meter_clock(tmp_path: Path) -> None:
    zone = far_from_midnight_zone()
    async with simulator(tmp_path, tz=zone) as where:
        pty = where["buses"]["bus1"]["pty"]
        result = await headend(
            "timesync", "--port", pty, *LINE, "--tz", zone,
            "--meter", "000000000101", "--meter", "000000000102", "--yes", "--json",
        )  # fmt: skip
    assert result.code == 0, result.stderr
    report = result.json_lines()[-1]
    drift = {m["meter"]: (m["drift_before_s"], m["drift_after_s"]) for m in report["meters"]}
    assert abs(drift["000000000101"][0]) <= 2 and abs(drift["000000000102"][0] - 95) <= 2
    assert all(abs(after) <= 2 for _, after in drift.values())
