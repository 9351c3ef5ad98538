"""``python -m concentrator_sim``: configuration precedence, errors, and a real run stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime
from pathlib import Path

import pytest

from concentrator_sim.__main__ import build_config, build_parser, main
from concentrator_sim.fleet import FleetConfig, FleetConfigError
from tests.concentrator_sim.master_stub import MasterStub, link_fn

EXAMPLE = Path(__file__).parents[2] / "config" / "sim.example.toml"


def _config(*argv: str) -> FleetConfig:
    return build_config(build_parser().parse_args(argv))


def test_example_file_documents_every_key_with_its_default() -> None:
    assert _config("--config", str(EXAMPLE)) == FleetConfig()
    text = EXAMPLE.read_text()
    for key in FleetConfig.__dataclass_fields__:
        assert f"\n{key} = " in text, key


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text('port = 7000\nconcentrators = 40\nmeters_per_concentrator = 12\nversion = "2009"\n')
    config = _config("--config", str(path), "--concentrators", "3", "--heartbeat", "5", "--fail-fraction", "0.1")
    assert (config.port, config.meters_per_concentrator, config.version) == (7000, 12, "2009")  # from the file
    assert (config.concentrators, config.heartbeat_s, config.fail_fraction) == (3, 5.0, 0.1)  # from the flags
    assert config.a1 == "4403"  # default


def test_time_flags_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text('timed_report = true\nkind = "load"\nhistory_days = 5\n')
    config = _config("--config", str(path), "--as-of", "2026-11-20T23:50:00+08:00", "--speed", "600")
    assert (config.timed_report, config.kind, config.history_days, config.speed) == (True, "load", 5, 600.0)
    assert config.start_time == datetime.fromisoformat("2026-11-20T23:50:00+08:00")
    with pytest.raises(FleetConfigError, match="as_of"):
        _config("--as-of", "2026-11-20T23:50:00")  # no UTC offset
    path.write_text("timed_report = 1\n")
    with pytest.raises(FleetConfigError, match="timed_report: must be true or false"):
        _config("--config", str(path))


def test_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("concentrators = 3\nheartbeat = 30\n")
    with pytest.raises(FleetConfigError, match=r"bad\.toml: heartbeat: unknown key"):
        _config("--config", str(path))


def test_main_reports_config_errors_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fail-fraction", "2"]) == 2
    assert "fail_fraction: must be between 0 and 1" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err


async def test_runs_as_a_process_and_logs_out_on_sigterm(master: MasterStub) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "concentrator_sim",
        "--port", str(master.port), "--concentrators", "2", "--meters", "3", "--heartbeat", "0.2",
        "--a1", "4401", "--seed", "3", "--duration", "60",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        conns = [await asyncio.wait_for(master.logins.get(), 30) for _ in range(2)]
        assert sorted((c.address.a1, c.address.a2) for c in conns if c.address) == [("4401", 1), ("4401", 2)]
        frames = await conns[0].request([(3, 129)])
        assert frames[0].afn == 0x0C
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    stats = json.loads(stdout.decode().strip().splitlines()[-1])
    assert stats["terminals"] == 2
    assert stats["logins"] == 2
    assert stats["readings_served"] == 1
    for conn in conns:
        assert link_fn(conn.received_link_checks()[-1]) == 2  # AFN02 F2 退出登录 before exiting
    assert b"logged in" in stderr


async def test_duration_stops_the_process(master: MasterStub) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "concentrator_sim", "--port", str(master.port), "--concentrators", "1",
        "--duration", "0.5", "--log-level", "WARNING",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert json.loads(stdout.decode().splitlines()[-1])["terminals"] == 1
