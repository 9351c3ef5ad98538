"""The ``headend decode --json`` contract: describe_frame / describe_error."""

from __future__ import annotations

import json
from datetime import date

import pytest

from protocols.errors import ProtocolError
from protocols.gdw376.describe import describe_error, describe_frame, to_json
from protocols.gdw376.link import Dir, parse_frame

from .samples import CLOCK_RESPONSE_ACD, F129_RESPONSE_EE, LOGIN, framed


def test_describe_f129_with_no_value_tariff() -> None:
    assert describe_frame(parse_frame(F129_RESPONSE_EE)) == {
        "protocol": "gdw376.1",
        "valid": True,
        "errors": [],
        "raw": F129_RESPONSE_EE.hex().upper(),
        "address": {"a1": "4403", "a2": 12, "msa": 2, "group": False},
        "control": {"dir": 1, "prm": 0, "fcb_acd": 0, "fcv": 0, "code": 8},
        "afn": 12,
        "seq": {"tpv": 0, "fir": 1, "fin": 1, "con": 0, "seq": 4},
        "units": [
            {
                "pn": 2,
                "fn": 129,
                "name": "当前正向有功电能示值（总、费率1～M）",
                "read_time": "2024-05-01T08:00:00",
                "total": "5.0000",
                "tariffs": [None, "5.0000"],
            }
        ],
        "aux": {"pw": None, "ec": None, "tp": None},
        "warnings": [],
        "edition": {"requested": "auto", "used": "2009", "evidence": None},
    }


def test_describe_is_json_and_shows_ec_and_bodiless_units() -> None:
    described = describe_frame(parse_frame(CLOCK_RESPONSE_ACD))
    assert json.loads(json.dumps(described)) == described
    assert described["aux"] == {"pw": None, "ec": [3, 1], "tp": None}
    login = describe_frame(parse_frame(LOGIN))
    assert login["units"] == [{"pn": 0, "fn": 1, "name": "登录"}]


def test_units_that_do_not_decode_still_describe_the_link() -> None:
    raw = framed("88 0344 0C00 04 0C 61 0101 801E 00")  # AFN0C F248: no codec
    described = describe_frame(parse_frame(raw))
    assert described["valid"] is False
    assert described["errors"] == ["UnsupportedFn: no codec for AFN0C F248"]
    assert described["address"] == {"a1": "4403", "a2": 12, "msa": 2, "group": False}
    assert described["units"] == []


def test_describe_error() -> None:
    raw = LOGIN[:-2] + b"\x00\x16"
    with pytest.raises(ProtocolError) as info:
        parse_frame(raw)
    described = describe_error(raw, info.value)
    assert described["valid"] is False
    assert described["errors"] == ["ChecksumError: checksum mismatch: computed 94H, frame carries 00H"]
    assert described["raw"] == "683200320068C903440C000002750000010000" + "16"
    # only the checksum is wrong: what can be decoded still is
    assert described["address"] == {"a1": "4403", "a2": 12, "msa": 0, "group": False}
    assert described["afn"] == 2


def test_describe_error_without_a_decodable_frame() -> None:
    raw = LOGIN[:-1] + b"\x00"  # end byte wrong: no link fields are trusted
    with pytest.raises(ProtocolError) as info:
        parse_frame(raw)
    described = describe_error(raw, info.value)
    assert described["valid"] is False
    assert described["address"] is None


def test_to_json_value_types() -> None:
    assert to_json(Dir.UP) == 1
    assert to_json(b"\x01\xab") == "01AB"
    assert to_json(date(2024, 2, 29)) == "2024-02-29"
    assert to_json(object).startswith("<class")
