"""``headend encode gdw376``: frames from a short description, checked against hand-written frames and round-tripped
through ``headend decode --json`` (click CliRunner)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from headend.cli import main
from headend.cli_encode import from_json, parse_items
from tests.protocols.gdw376.samples import framed

BASE = ["encode", "gdw376", "--a1", "4403", "--a2", "18"]


def run(*args: str) -> str:
    result = CliRunner().invoke(main, [*BASE, *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def decoded(hex_: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["decode", "--json", hex_])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    assert isinstance(report, dict)
    return report


def test_brief_example_f129_p1_to_p8() -> None:
    # C=4B | A1 4403 A2 0012H MSA 1 (A3 02) | AFN0C | SEQ 61 | DA FF 01 = p1..p8 | DT 01 10 = F129
    assert run("afn0c", "f129", "p1-p8") == framed("4B 0344 1200 02 0C 61 FF01 0110").hex().upper()


def test_groups_of_fn_and_points() -> None:
    out = run("afn0c", "f2", "f25", "p1-p3", "f129", "--msa", "2", "--pseq", "19")
    # F2 and F25 for p1..p3 (different DT groups: two identifiers), F129 for p0 — merged in the standard's order,
    # p0 first; MSA 2 → A3 04; PSEQ = 19 & 0x0F = 3
    assert out == framed("4B 0344 1200 04 0C 63 0000 0110 0701 0200 0701 0103").hex().upper()


def test_round_trip_through_decode_json() -> None:
    report = decoded(run("afn0c", "f129", "p1,p3", "--pseq", "5"))
    assert report["valid"] and report["afn"] == 0x0C and report["seq"]["seq"] == 5
    assert [(u["pn"], u["fn"]) for u in report["units"]] == [(1, 129), (3, 129)]
    assert report["address"] == {"a1": "4403", "a2": 18, "msa": 1, "group": False}


def test_json_output_is_the_decode_description() -> None:
    out = json.loads(run("afn0c", "f2", "--json"))
    assert out == decoded(out["raw"])


def test_afn05_f31_with_data_and_zero_pw() -> None:
    out = run("afn05", "f31", "--data", '{"clock": "2024-05-01T08:00:30"}')
    # C=4A (FC=10) | AFN05 | p0 F31 (DT 40 03) | A.1 30 00 08 01 65(Wed, May) 24 | PW 16 × 00
    assert out == framed("4A 0344 1200 02 05 61 0000 4003 300008016524" + " 00" * 16).hex().upper()
    unit = decoded(out)["units"][0]
    assert unit["fn"] == 31 and unit["clock"] == "2024-05-01T08:00:30"


def test_afn04_f1_with_tp_and_pw() -> None:
    data = (
        '{"rts_delay": 0, "master_delay_min": 5, "response": {"timeout_s": 30, "retries": 3},'
        ' "con_required": {"class1": 0, "class2": 0, "class3": 1}, "heartbeat_min": 15}'
    )
    out = run("afn04", "f1", "--data", data, "--tp", "5", "--time", "2024-05-01 08:00:00", "--pw", "11" * 16)
    report = decoded(out)
    assert report["valid"] and report["seq"]["tpv"] == 1
    assert report["aux"]["pw"] == "11" * 16
    assert report["aux"]["tp"] == {"pfc": 1, "second": 0, "minute": 0, "hour": 8, "day": 1, "delay_min": 5}
    unit = report["units"][0]
    assert unit["response"] == {"timeout_s": 30, "retries": 3} and unit["heartbeat_min"] == 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["afnzz", "f1"], "not an AFN"),
        (["afn0c", "p1"], "before any Fn"),
        (["afn0c", "f249"], "out of range"),
        (["afn0c", "q7"], "not an item"),
        (["afn0c", "f2", "--data", '{"x": 1}'], "no request layout"),
        (["afn05", "f31", "--data", '{"clock": "yesterday"}'], "ValueError"),
        (["afn0c", "f2", "--date", "2024-05-01"], "no request layout"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [*BASE, *args])
    assert result.exit_code == 2
    assert message in result.output


def test_parse_items_and_from_json() -> None:
    assert parse_items(["f1-f2", "p9", "f3"]) == [(9, 1), (9, 2), (0, 3)]
    assert parse_items(["f1", "pall"]) == [(0xFFFF, 1)]
    from decimal import Decimal

    assert from_json(Decimal | None, "1.50") == Decimal("1.50")
    assert from_json(bytes, "0A0B") == b"\n\x0b"
    assert from_json(tuple[int, ...], [1, 2]) == (1, 2)


def _options(**given: object) -> dict[str, object]:
    return {"date": None, "month": None, "curve": None, "pm": None, "pn": None, **given}


def test_time_tags_and_pointers_fill_request_layouts_by_format() -> None:
    from datetime import date, datetime

    from headend.cli_encode import _tags
    from protocols.gdw376.formats import A15, A20, A21, BIN1, YearMonth
    from protocols.gdw376.layout import Field

    td_c = (Field("start", A15), Field("density", BIN1), Field("points", BIN1))
    assert _tags(td_c, 81, _options(curve="2024-05-01T00:00,1,96")) == {
        "start": datetime(2024, 5, 1),
        "density": 1,
        "points": 96,
    }
    assert _tags((Field("td", A20),), 161, _options(date="2024-05-01")) == {"td": date(2024, 5, 1)}
    assert _tags((Field("td", A21),), 177, _options(month="2024-05")) == {"td": YearMonth(2024, 5)}
    pointers = (Field("pm", BIN1), Field("pn", BIN1))
    assert _tags(pointers, 1, _options(pm=3, pn=9)) == {"pm": 3, "pn": 9}
    with pytest.raises(Exception, match="no Td_d"):
        _tags(pointers, 1, _options(date="2024-05-01"))


@pytest.mark.parametrize(
    ("args", "user_data"),
    [
        # AFN0D F161 p1 with Td_d 01 05 24 (A.20 DD MM YY); C=4B, DT 01 14 = F161
        (["afn0d", "f161", "p1", "--date", "2024-05-01"], "4B 0344 1200 02 0D 61 0101 0114 010524"),
        # AFN0D F89 p1 with Td_c: start A.15 00 00 01 05 24, density 1 (15 min), 96 points (60H)
        (
            ["afn0d", "f89", "p1", "--curve", "2024-05-01T00:00,1,96"],
            "4B 0344 1200 02 0D 61 0101 010B 0000010524 01 60",
        ),
        # AFN0D F177 p1 with Td_m 05 24 (A.21 MM YY)
        (["afn0d", "f177", "p1", "--month", "2024-05"], "4B 0344 1200 02 0D 61 0101 0116 0524"),
        # AFN0E F1 p0 with Pm 0, Pn 10
        (["afn0e", "f1", "--pm", "0", "--pn", "10"], "4B 0344 1200 02 0E 61 0000 0100 00 0A"),
    ],
)
def test_time_tags_and_pointers(args: list[str], user_data: str) -> None:
    out = run(*args)
    assert out == framed(user_data).hex().upper()
    assert decoded(out)["valid"]
