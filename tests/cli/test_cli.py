"""The console script as engineers and ops use it: decode, check-config, db migrate/status, demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from headend.cli import main

# Hand-assembled frames (fields checked by hand against PROTOCOLS.md, not produced by our builders):
# 376.1 login of terminal 4403:00012, PSEQ 1: CS = sum(C9 03 44 0C 00 00 02 71 00 00 01 00) mod 256 = 90H
LOGIN = "68 3200 3200 68 C9 0344 0C00 00 02 71 0000 0100 90 16"
# 645-2007 read reply, meter 000000000161, DI 00010000 = 12.34 kWh (BCD 34 12 00 00, each +33H)
READ_REPLY = "68 610100000000 68 91 08 33333433 67453333 AA 16"
READ_REQUEST = "FEFEFEFE 68 610100000000 68 11 04 33333433 14 16"


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def test_decode_json_contract_for_both_protocols() -> None:
    code, out = invoke("decode", "--json", READ_REQUEST, READ_REPLY, LOGIN)
    assert code == 0, out
    frames = json.loads(out)
    assert [f["protocol"] for f in frames] == ["dlt645-2007", "dlt645-2007", "gdw376.1"]
    assert all(f["valid"] and f["errors"] == [] for f in frames)
    request, reply, login = frames
    assert (request["address"], request["control"], request["di"], request["preamble"]) == (
        "000000000161",
        0x11,
        "00010000",
        4,
    )
    assert reply["values"] == [{"name": reply["values"][0]["name"], "value": "12.34", "unit": "kWh"}]
    assert login["address"] == {"a1": "4403", "a2": 12, "msa": 0, "group": False}
    assert login["control"] == {"dir": 1, "prm": 1, "fcb_acd": 0, "fcv": 0, "code": 9}
    assert login["afn"] == 2
    assert login["seq"] == {"tpv": 0, "fir": 1, "fin": 1, "con": 1, "seq": 1}
    assert [(u["pn"], u["fn"]) for u in login["units"]] == [(0, 1)]
    assert login["aux"] == {"pw": None, "ec": None, "tp": None}


def test_decode_reads_stdin_and_reports_bad_frames_with_exit_1() -> None:
    corrupted = LOGIN.replace("90 16", "63 16")
    code, out = invoke("decode", "--json", input=f"0102 03 {corrupted}\n")
    assert code == 1
    frames = json.loads(out)
    assert frames[0]["protocol"] == "unknown"
    assert frames[-1]["protocol"] == "gdw376.1"
    assert not frames[-1]["valid"]
    assert any("checksum" in e.lower() for e in frames[-1]["errors"])


def test_decode_text_output_is_readable() -> None:
    code, out = invoke("decode", READ_REPLY)
    assert code == 0
    assert "dlt645-2007 (valid)" in out
    assert "12.34" in out


def test_decode_rejects_non_hex() -> None:
    code, out = invoke("decode", "68 zz")
    assert code == 2
    assert "not hex" in out


def test_check_config_ok_and_errors(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "config" / "headend.example.toml"
    code, out = invoke("check-config", str(example))
    assert code == 0 and "OK" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = -1\n")
    code, out = invoke("check-config", str(bad))
    assert code == 2
    assert f"{bad}:2: server.port:" in out


def test_db_migrate_and_status_on_the_embedded_store(tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text(
        f'[storage]\nsqlite_path = "{tmp_path / "h.sqlite3"}"\nspool_path = "{tmp_path / "spool.sqlite3"}"\n'
    )
    code, first = invoke("db", "migrate", "-c", str(cfg))
    assert code == 0, first
    code, second = invoke("db", "migrate", "-c", str(cfg))
    assert code == 0 and first == second  # forward-only, safe to run twice
    code, out = invoke("db", "status", "-c", str(cfg))
    assert code == 0, out
    assert "kind: sqlite" in out and "readings: 0" in out and "conflicts: 0" in out
    code, out = invoke("db", "status", "-c", str(cfg), "--json")
    status = json.loads(out)
    assert status["store"]["schema_version"] >= 1
    assert status["spool"]["exists"] is False  # status never creates the spool beside a daemon


def test_db_roles_prints_the_role_script() -> None:
    code, out = invoke("db", "roles")
    assert code == 0
    assert "headend_billing" in out and "headend_writer" in out


def test_db_migrate_on_timescaledb(fresh_db_dsn: str) -> None:
    code, out = invoke("db", "migrate", "--dsn", fresh_db_dsn)
    assert code == 0, out
    assert "TimescaleDB: schema at version" in out


def test_demo_json_summary_is_the_last_line(tmp_path: Path) -> None:
    """`headend demo` as a user runs it: a real process that starts the simulator as another process."""
    proc = subprocess.run(
        [sys.executable, "-m", "headend", "demo", "--duration", "6", "--concentrators", "10", "--meters", "4",
         "--interval", "1", "--data-dir", str(tmp_path / "demo"), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["terminals_online"] == 10
    assert summary["readings_stored"] > 0
    assert summary["success_rate"] == 1.0
    assert Path(summary["store"]).exists()


def test_decode_bad_checksum_still_shows_the_link_fields() -> None:
    code, out = invoke("decode", "--json", LOGIN.replace("90 16", "63 16"))
    assert code == 1
    (frame,) = json.loads(out)
    assert frame["valid"] is False
    assert frame["errors"][0].startswith("ChecksumError")
    assert frame["address"] == {"a1": "4403", "a2": 12, "msa": 0, "group": False}
    assert frame["afn"] == 2
