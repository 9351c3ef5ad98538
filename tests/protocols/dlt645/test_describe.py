"""The ``headend decode --json`` description of DL/T 645 frames."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from protocols.dlt645.describe import describe_error, describe_frame
from protocols.dlt645.link import build_frame, parse_frame
from protocols.errors import ChecksumError, FrameError, ProtocolError

from .strategies import frame_fields
from .test_apdu import ERROR_REPLY, REPLY_1997
from .test_link import READ_REPLY, READ_REQUEST

KEYS = {
    "protocol",
    "valid",
    "errors",
    "raw",
    "address",
    "control",
    "function",
    "direction",
    "di",
    "values",
    "error_word",
    "preamble",
}


def test_read_reply() -> None:
    assert describe_frame(parse_frame(READ_REPLY)) == {
        "protocol": "dlt645-2007",
        "valid": True,
        "errors": [],
        "raw": "68610100000000689108333334338967453300" + "16",
        "address": "000000000161",
        "control": 0x91,
        "function": 0x11,
        "direction": "reply",
        "di": "00010000",
        "values": [{"name": "ENERGY_FORWARD_ACTIVE_TOTAL", "value": "1234.56", "unit": "kWh"}],
        "error_word": None,
        "preamble": 0,
    }


def test_read_request_with_preamble() -> None:
    described = describe_frame(parse_frame(b"\xfe\xfe" + READ_REQUEST))
    assert described["valid"] is True
    assert (described["direction"], described["di"], described["preamble"], described["values"]) == (
        "request",
        "00010000",
        2,
        [],
    )
    assert described["raw"] == "FEFE" + READ_REQUEST.hex().upper()


def test_1997_reply() -> None:
    described = describe_frame(parse_frame(REPLY_1997))
    assert described["protocol"] == "dlt645-1997"
    assert described["di"] == "9010"
    assert described["values"] == [{"name": "ENERGY_FORWARD_ACTIVE_TOTAL", "value": "12.00", "unit": "kWh"}]
    assert (described["control"], described["function"], described["valid"]) == (0x81, 0x01, True)


def test_error_reply() -> None:
    described = describe_frame(parse_frame(ERROR_REPLY))
    assert (described["valid"], described["error_word"], described["di"], described["values"]) == (True, 2, None, [])


def test_unknown_di_keeps_the_link_fields() -> None:
    described = describe_frame(parse_frame(build_frame("000000000161", 0x91, bytes.fromhex("04030207 00"))))
    assert described["valid"] is False
    assert described["errors"] == ["UnknownDataItem: unknown data identifier 07020304 (dlt645-2007)"]
    assert (described["address"], described["control"], described["di"]) == ("000000000161", 0x91, "07020304")


def test_unknown_di_in_a_request_is_reported() -> None:
    described = describe_frame(parse_frame(build_frame("000000000161", 0x11, bytes.fromhex("04030207"))))
    assert described["valid"] is False
    assert described["di"] == "07020304"


def test_describe_error_keeps_what_the_header_shows() -> None:
    bad = READ_REPLY[:-2] + b"\x01\x16"
    try:
        parse_frame(bad)
    except ChecksumError as exc:
        described = describe_error(bad, exc)
    assert described["valid"] is False
    assert described["errors"] == ["ChecksumError: checksum mismatch: computed 00H, frame carries 01H"]
    assert (described["address"], described["control"], described["direction"]) == ("000000000161", 0x91, "reply")
    assert described["raw"] == bad.hex().upper()


def test_describe_error_on_a_stub() -> None:
    described = describe_error(b"\xfe\x68\x01", FrameError("truncated"))
    assert (described["address"], described["control"], described["function"], described["preamble"]) == (
        None,
        None,
        None,
        1,
    )
    assert described["protocol"] == "dlt645-2007"


@given(frame_fields)
def test_any_frame_describes_as_json(fields: dict[str, object]) -> None:
    described = describe_frame(parse_frame(build_frame(**fields)))  # type: ignore[arg-type]
    assert set(described) == KEYS
    assert described["valid"] is (not described["errors"])
    json.dumps(described)


@given(st.binary(max_size=40))
def test_random_bytes_describe_as_json(raw: bytes) -> None:
    try:
        described = describe_frame(parse_frame(raw))
    except ProtocolError as exc:
        described = describe_error(raw, exc)
        assert described["valid"] is False
    assert set(described) == KEYS
    assert json.loads(json.dumps(described))["raw"] == raw.hex().upper()
