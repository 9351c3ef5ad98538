"""The ``headend decode --json`` description of DL/T 645 frames."""

from __future__ import annotations

import json

import pytest
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


def _frame(control: int, data: str, address: str = "000000000001") -> bytes:
    return build_frame(address, control, bytes.fromhex(data))


@pytest.mark.parametrize(
    ("raw", "protocol", "di", "values"),
    [
        (_frame(0x08, "45 30 12 05 01 24", "999999999999"), "dlt645-2007", None, [("TIME", "2024-01-05T12:30:45", "")]),
        (
            _frame(0x14, "02010004 02563412 01000000 563412"),
            "dlt645-2007",
            "04000102",
            [("TIME", "12:34:56", ""), ("PASSWORD_LEVEL", "02", ""), ("OPERATOR", "00000001", "")],
        ),
        (_frame(0x15, "020000000000", "AAAAAAAAAAAA"), "dlt645-2007", None, [("NEW_ADDRESS", "000000000002", "")]),
        (_frame(0x16, "00 00 99 99"), "dlt645-2007", None, [("FREEZE_TIME", "99-99 00:00", "")]),
        (_frame(0x17, "08"), "dlt645-2007", None, [("BAUD", "2400", "bit/s")]),
        (_frame(0x97, "08"), "dlt645-2007", None, [("BAUD", "2400", "bit/s")]),
        (_frame(0x18, "030C0004 04000000 02563412"), "dlt645-2007", "04000C03", [("NEW_PASSWORD_LEVEL", "02", "")]),
        (_frame(0x98, "02563412"), "dlt645-2007", None, [("NEW_PASSWORD_LEVEL", "02", "")]),
        (
            _frame(0x1A, "02563412 01000000"),
            "dlt645-2007",
            None,
            [("PASSWORD_LEVEL", "02", ""), ("OPERATOR", "00000001", "")],
        ),
        (
            _frame(0x1B, "02563412 01000000 000D3003"),
            "dlt645-2007",
            "03300D00",
            [("EVENT_DI", "03300D00", ""), ("PASSWORD_LEVEL", "02", ""), ("OPERATOR", "00000001", "")],
        ),
        (
            _frame(0x1C, "02000000 01000000 1A 00 00 00 00 30 12 99"),
            "dlt645-2007",
            None,
            [
                ("ACTION", "TRIP", ""),
                ("VALID_UNTIL", "2099-12-30T00:00:00", ""),
                ("PASSWORD_LEVEL", "02", ""),
                ("OPERATOR", "00000001", ""),
            ],
        ),
        (_frame(0x9C, ""), "dlt645-2007", None, []),
        (_frame(0x12, "00FF0100 01"), "dlt645-2007", "0001FF00", [("SEQ", "1", "")]),
        (
            _frame(0x11, "01000006 04 1512050124"),
            "dlt645-2007",
            "06000001",
            [("BLOCKS", "4", ""), ("START", "2024-01-05T12:15:00", "")],
        ),
        (
            _frame(0x91, "00000101 452301 3012050124"),
            "dlt645-2007",
            "01010000",
            [
                ("MAX_DEMAND_FORWARD_ACTIVE_TOTAL", "1.2345", "kW"),
                ("MAX_DEMAND_FORWARD_ACTIVE_TOTAL_TIME", "2024-01-05T12:30:00", ""),
            ],
        ),
        (
            _frame(0x04, "11C0 00000000 000008"),
            "dlt645-1997",
            "C011",
            [("TIME", "08:00:00", ""), ("PASSWORD_LEVEL", "00", "")],
        ),
        (_frame(0x0C, "04"), "dlt645-1997", None, [("BAUD", "1200", "bit/s")]),
        (_frame(0x10, ""), "dlt645-1997", None, []),
        (_frame(0x03, ""), "dlt645-1997", None, []),
        (_frame(0x02, "1F90"), "dlt645-1997", "901F", []),
    ],
)
def test_every_control_code_is_described(
    raw: bytes, protocol: str, di: str | None, values: list[tuple[str, str, str]]
) -> None:
    described = describe_frame(parse_frame(raw))
    assert described["valid"] is True, described["errors"]
    assert (described["protocol"], described["di"]) == (protocol, di)
    assert described["values"] == [{"name": n, "value": v, "unit": u} for n, v, u in values]
    json.dumps(described)


def test_bad_command_is_reported_not_raised() -> None:
    described = describe_frame(parse_frame(_frame(0x1C, "02000000 01000000 55 00 000000301299")))
    assert described["valid"] is False
    assert described["errors"] == ["DecodeError: control command N1 = 55H is not defined"]
