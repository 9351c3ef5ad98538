"""``--edition {auto,2009,2013}`` of ``headend decode`` and ``headend encode gdw376``: the layouts used and the
JSON saying which (click CliRunner)."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from headend.cli import main
from tests.protocols.gdw376.samples import HEARTBEAT_2009, HEARTBEAT_2013, framed
from tests.protocols.gdw376.test_describe_edition import F165_2013

ENCODE = ["encode", "gdw376", "--a1", "4403", "--a2", "18"]


def decode_json(raw: bytes, *options: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["decode", "--json", *options, raw.hex()])
    (report,) = json.loads(result.output)
    assert isinstance(report, dict)
    return result.exit_code, report


def test_decode_auto_is_the_default_and_says_what_proved_2013() -> None:
    code, report = decode_json(HEARTBEAT_2013)
    assert code == 0
    assert report["edition"] == {
        "requested": "auto",
        "used": "2013",
        "evidence": "heartbeat carries a clock (AFN02 F3 with A.1)",
    }
    assert decode_json(HEARTBEAT_2009, "--edition", "auto")[1]["edition"]["used"] == "2009"


def test_decode_with_a_fixed_edition_uses_its_layouts() -> None:
    code, report = decode_json(F165_2013, "--edition", "2009")
    assert code == 1 and report["valid"] is False
    assert report["edition"] == {"requested": "2009", "used": "2009", "evidence": None}
    code, report = decode_json(F165_2013, "--edition", "2013")
    assert code == 0 and report["valid"] is True
    assert [u["fn"] for u in report["units"]] == [165]
    assert report["edition"] == {"requested": "2013", "used": "2013", "evidence": None}


def test_decode_text_shows_the_edition_and_rejects_an_unknown_one() -> None:
    result = CliRunner().invoke(main, ["decode", "--edition", "2013", HEARTBEAT_2009.hex()])
    assert result.exit_code == 0
    assert "edition:" in result.output and "used: 2013" in result.output
    result = CliRunner().invoke(main, ["decode", "--edition", "2011", HEARTBEAT_2009.hex()])
    assert result.exit_code == 2 and "2011" in result.output


def test_encode_auto_picks_2013_for_an_fn_only_2013_defines() -> None:
    result = CliRunner().invoke(main, [*ENCODE, "afn05", "f30", "--data", '{"enabled": 1}'])
    assert result.exit_code == 0, result.output
    # C=4A | A2 0012H, MSA 1 (A3 02) | AFN05 | SEQ 61 | p0 F30 (DT 20 03) | 01 = 开启 | PW 16 × 00
    assert result.output.strip() == framed("4A 0344 1200 02 05 61 0000 2003 01" + " 00" * 16).hex().upper()
    result = CliRunner().invoke(main, [*ENCODE, "afn05", "f30", "--data", '{"enabled": 1}', "--json"])
    report = json.loads(result.output)
    assert report["edition"]["used"] == "2013"
    assert report["edition"]["evidence"] == "AFN05 F30 exists only in Q/GDW 1376.1-2013"


def test_encode_refuses_an_fn_the_edition_reserves() -> None:
    result = CliRunner().invoke(main, [*ENCODE, "afn05", "f30", "--data", '{"enabled": 1}', "--edition", "2009"])
    assert result.exit_code == 2
    assert "AFN05 F30 is reserved (备用) in Q/GDW 376.1-2009" in result.output
    result = CliRunner().invoke(main, [*ENCODE, "afn0c", "f163", "p1"])
    assert result.exit_code == 2
    assert "AFN0C F163 is reserved (备用) in Q/GDW 376.1-2009" in result.output


def test_encode_json_states_the_requested_edition() -> None:
    result = CliRunner().invoke(main, [*ENCODE, "afn0c", "f129", "p1", "--edition", "2013", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["edition"] == {"requested": "2013", "used": "2013", "evidence": None}
