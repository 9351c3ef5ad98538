"""``python -m concentrator_sim.meters``: the configuration file, and a real run — ready line, reads through the
printed pty and TCP port, run-time control on stdin, a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from concentrator_sim.__main__ import main as sim_main
from concentrator_sim.meters import config as meters_config
from concentrator_sim.meters.__main__ import main
from concentrator_sim.meters.config import MetersConfig, MetersConfigError, from_mapping, load
from concentrator_sim.meters.sim import MeterSim
from protocols.dlt645.apdu import ReadReply, build_read, parse_reply
from protocols.dlt645.control import Edition
from tests.concentrator_sim.meters.line import WAIT_S, PtyLine, TcpLine

EXAMPLE = Path(__file__).parents[3] / "config" / "meters.example.toml"


def test_the_example_loads_and_documents_every_key() -> None:
    config = load(EXAMPLE)
    assert [bus.name for bus in config.bus] == ["bus1", "remote"]
    assert [m.fault for m in config.bus[0].meter] == ["none", "none", "silent"]
    text = EXAMPLE.read_text()
    for cls in (MetersConfig, meters_config.BusSettings, meters_config.MeterSettings, meters_config.ModemSettings):
        for key in (f.name for f in dataclasses.fields(cls)):
            if key not in ("bus", "meter", "modem", "number", "tcp"):
                assert f"\n{key} = " in text or f"\n# {key} = " in text, (cls.__name__, key)
    MeterSim(config)  # every profile and number resolves


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"bus": [{"name": "b", "meter": [{"address": "1", "fault": "x"}]}]}, r"bus\[0\]\.meter\[0\]\.address"),
        ({"bus": [{"name": "b", "meter": [{"address": "000000000001", "fault": "x"}]}]}, r"meter\[0\]\.fault"),
        ({"bus": [{"name": "b", "meter": [{"address": "000000000001", "colour": 1}]}]}, r"colour: unknown key"),
        ({"bus": [{"name": "b", "baud": 1234}]}, r"bus\[0\]\.baud: must be a serial rate"),
        ({"bus": [{"name": "b", "baud": "2400"}]}, r"bus\[0\]\.baud: must be int"),
        ({"bus": [{"name": "b"}, {"name": "b"}]}, r"bus names must be unique"),
        ({"bus": [{"name": "b", "pty": False}]}, r"bus\[0\]: is reachable by no pty, tcp or modem"),
        ({"modem": [{"name": "m", "number": [{"number": "1", "bus": "nowhere"}]}]}, r"number\[0\]\.bus: must name"),
        ({"modem": [{"name": "m", "number": [{"number": "1", "answer": "OK"}]}]}, r"number\[0\]\.answer"),
        ({"bus": [{"baud": 2400}]}, r"bus\[0\]: .*name"),
        ({"tz": "Mars/Olympus"}, r"tz: 'Mars/Olympus' is not a known time zone"),
        (
            {"bus": [{"name": "b", "meter": [{"address": "000000000001", "passwords": {"12": "123456"}}]}]},
            r"meter\[0\]\.passwords\.12: levels are 0\.\.9",
        ),
        ({"bus": [{"name": "b", "meter": [{"address": "000000000001", "passwords": {"2": 1}}]}]}, r"table of strings"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(MetersConfigError, match=rf"^meters\.toml: .*{message}"):
        from_mapping(table, source="meters.toml")


def test_meter_settings_reach_the_meter() -> None:
    table = {
        "seed": 4,
        "bus": [
            {
                "name": "b",
                "baud": 1200,
                "meter": [
                    {"address": "000000000005", "passwords": {"1": "abcdef"}, "settlement_day": 15, "phases": 3},
                    {"address": "000000000006", "edition": "1997", "baud": 2400, "seed": 9, "preamble": 3},
                ],
            }
        ],
    }
    first, second = (m.meter for m in MeterSim(from_mapping(table)).buses["b"].meters)
    assert (first.passwords, first.config.settlement_day, first.profile.phases, first.baud) == (
        {1: "ABCDEF"},
        15,
        3,
        1200,
    )
    assert (second.edition, second.baud, second.config.seed, second.profile.preamble) == (Edition.V1997, 2400, 9, 3)


def test_a_config_error_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[bus]]\nname = "b"\nbaud = 1234\n')
    assert main(["--config", str(path)]) == 2
    assert "bad.toml: bus[0].baud: must be a serial rate" in capsys.readouterr().err
    assert sim_main(["meters", "--config", str(tmp_path / "missing.toml")]) == 2  # python -m concentrator_sim meters
    assert "missing.toml" in capsys.readouterr().err


CONFIG = """
[[bus]]
name = "bus1"
tcp = {{ port = 0 }}
link = "{link}"
[[bus.meter]]
address = "000000000001"
reply_delay_s = 0.02
[[bus.meter]]
address = "000000000002"
profile = "synthetica-ddzy71c-v1.02"
[[modem]]
name = "modem1"
link = "{modem}"
[[modem.number]]
number = "5550101"
bus = "bus1"
connect_delay_s = 0.05
"""


async def _line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), WAIT_S)
    assert line, "the simulator exited"
    result: dict[str, Any] = json.loads(line)
    return result


async def _control(process: asyncio.subprocess.Process, command: dict[str, Any]) -> dict[str, Any]:
    assert process.stdin is not None
    process.stdin.write(json.dumps(command).encode() + b"\n")
    await process.stdin.drain()
    return await _line(process)


async def test_runs_as_a_process_prints_where_to_connect_and_stops_on_sigterm(tmp_path: Path) -> None:
    link, modem_link = tmp_path / "bus1", tmp_path / "modem1"
    path = tmp_path / "meters.toml"
    path.write_text(CONFIG.format(link=link, modem=modem_link))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "concentrator_sim.meters", "--config", str(path), "--control",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        ready = await _line(process)
        bus = ready["buses"]["bus1"]
        assert bus["link"] == str(link)
        assert link.readlink() == Path(bus["pty"])
        assert [m["profile"] for m in bus["meters"]] == ["generic-2007", "synthetica-ddzy71c-v1.02"]
        assert ready["modems"]["modem1"]["numbers"] == {"5550101": {"answer": "CONNECT", "bus": "bus1"}}
        line = PtyLine(str(link))
        try:
            frame, _ = await line.request(build_read("000000000002", 0x00010000))
            assert frame.preamble == 2  # the profile's quirk
            assert isinstance(parse_reply(frame), ReadReply)
        finally:
            line.close()
        tcp = await TcpLine.connect(bus["tcp"]["host"], bus["tcp"]["port"])
        try:
            frame, _ = await tcp.request(build_read("000000000001", 0x02010100))
            assert parse_reply(frame).di == 0x02010100  # type: ignore[union-attr]
        finally:
            tcp.close()
        assert await _control(process, {"cmd": "fault", "bus": "bus1", "meter": "000000000001", "fault": "silent"}) == {
            "ok": True
        }
        reply = await _control(process, {"cmd": "fault", "bus": "bus1", "meter": "000000000009", "fault": "silent"})
        assert reply["ok"] is False
        assert "000000000009" in reply["error"]
        stats = await _control(process, {"cmd": "stats"})
        assert stats["buses"]["bus1"]["meters"]["000000000002"]["replies"] == 1
        assert stats["servers"]["bus1"]["connections"] == 1
        assert (await _control(process, {"cmd": "vanish", "bus": "bus1"}))["ok"] is True
        assert not link.exists()
        assert (await _control(process, {"cmd": "reappear", "bus": "bus1"}))["ok"] is True
        assert link.exists()
        process.send_signal(signal.SIGTERM)
        stopped = await _line(process)
        assert stopped["stopped"]["buses"]["bus1"]["frames"] == 2
        assert await asyncio.wait_for(process.wait(), WAIT_S) == 0
        assert not link.is_symlink()
        assert not modem_link.is_symlink()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
