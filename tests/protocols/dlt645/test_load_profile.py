"""Load records (负荷记录, DL/T 645-2007 附录A 表A.7) and 0610 curves, hand-written from the record layout."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.common.checksum import sum8
from protocols.dlt645.apdu import ReadReply, build_read_reply, parse_reply
from protocols.dlt645.data_items import DataItem, lookup
from protocols.dlt645.formats import Scalar
from protocols.dlt645.link import parse_frame
from protocols.dlt645.load_profile import RECORD_TIME, RECORD_VALUES
from protocols.errors import DecodeError, LocalProtocolError

from .strategies import LAYOUT_ITEMS, layout_values

D = Decimal

# One record at 2024-01-05 00:15 with block 1 (voltages 220.1/220.2/220.3 V, currents 1.000/-2.000/0.500 A,
# 50.00 Hz) and block 4 (forward 1234.56 kWh, reverse 0, combined reactive 1 = 1.00, 2 = -1.00 kvarh); blocks
# 2, 3, 5, 6 not recorded (AAH only). L counts time..last AAH = 5 + 17 + 1 + 1 + 1 + 16 + 1 + 1 + 1 = 44 = 2CH.
BODY = bytes.fromhex(
    "1500050124"  # YYMMDDhhmm, low byte first
    "0122 0222 0322"  # XXX.X V
    "001000 002080 000500"  # XXX.XXX A, the second negative
    "0050"  # XX.XX Hz
    "AA"
    "AA"
    "AA"  # end of block 1, blocks 2 and 3 empty
    "56341200 00000000 00010000 00010080"  # energies, combined reactive 2 negative
    "AA"
    "AA"
    "AA"  # end of block 4, blocks 5 and 6 empty
)
RECORD = bytes.fromhex("A0A0 2C") + BODY
RECORD += bytes((sum8(RECORD),)) + bytes.fromhex("E5E5")


def test_record_body_length() -> None:
    assert len(BODY) == 0x2C


def test_decode_hand_written_record() -> None:
    named = lookup(0x06000001).decode_named(RECORD)
    values = {name: value for name, _, value in named}
    assert len(named) == RECORD_VALUES == 30
    assert values[RECORD_TIME] == datetime(2024, 1, 5, 0, 15)
    assert [values[f"VOLTAGE_{p}"] for p in "ABC"] == [D("220.1"), D("220.2"), D("220.3")]
    assert [values[f"CURRENT_{p}"] for p in "ABC"] == [D("1.000"), D("-2.000"), D("0.500")]
    assert values["FREQUENCY"] == D("50.00")
    assert values["ACTIVE_POWER_TOTAL"] is None  # block 2 not recorded
    assert values["ENERGY_FORWARD_ACTIVE_TOTAL"] == D("1234.56")
    assert values["ENERGY_COMBINED_REACTIVE_2_TOTAL"] == D("-1.00")
    assert values["DEMAND_REACTIVE_PRESENT"] is None
    assert lookup(0x06000001).encode([v for _, _, v in named]) == RECORD


def test_reply_with_two_records() -> None:
    item = lookup(0x06000002)
    values = list(item.decode(RECORD + RECORD))
    reply = parse_reply(parse_frame(build_read_reply("000000000001", 0x06000002, values)))
    assert isinstance(reply, ReadReply)
    assert [v.name for v in reply.values][:2] == [RECORD_TIME, "VOLTAGE_A"]
    assert [v.unit for v in reply.values][1:3] == ["V", "V"]
    assert len(reply.values) == 60


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (RECORD[:-1], "more than remain"),
        (b"\xa1" + RECORD[1:], "does not start with A0A0H"),
        (RECORD[:-3] + bytes((RECORD[-3] ^ 1,)) + RECORD[-2:], "checksum"),
        (RECORD[:-2] + b"\xe5\x16", "does not end with E5E5H"),
        (b"", "no load record"),
    ],
)
def test_record_refusals(raw: bytes, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        lookup(0x06000000).decode(raw)


def _record(body: bytes) -> bytes:
    head = bytes.fromhex("A0A0") + bytes((len(body),)) + body
    return head + bytes((sum8(head),)) + bytes.fromhex("E5E5")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (bytes.fromhex("150005"), "too short for its time"),
        (bytes.fromhex("1500050124 0122"), "without its AAH separator"),
        (bytes.fromhex("1500050124") + b"\xaa" * 6 + b"\x00", "after the last block"),
    ],
)
def test_record_body_refusals(body: bytes, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        lookup(0x06000000).decode(_record(body))


def test_curve_hand_written() -> None:
    # 0610 01 01 (A-phase voltage curve): start 2024-01-05 00:15, points 220.1, no value, 219.9 V.
    raw = bytes.fromhex("1500050124 0122 EEEE 9921")
    values = lookup(0x06100101).decode_named(raw)
    assert [(n, v) for n, _, v in values] == [
        ("CURVE_VOLTAGE_A_START", datetime(2024, 1, 5, 0, 15)),
        ("CURVE_VOLTAGE_A_POINT1", D("220.1")),
        ("CURVE_VOLTAGE_A_POINT2", None),
        ("CURVE_VOLTAGE_A_POINT3", D("219.9")),
    ]
    assert lookup(0x06100101).value_names(2) == ("CURVE_VOLTAGE_A_START", "CURVE_VOLTAGE_A_POINT1")
    with pytest.raises(DecodeError):
        lookup(0x06100101).decode(raw[:-1])


def test_layout_encode_refusals() -> None:
    with pytest.raises(LocalProtocolError):
        lookup(0x06000001).encode([None] * 29)
    with pytest.raises(LocalProtocolError):
        lookup(0x06100101).encode([])


@st.composite
def layout_item_values(draw: st.DrawFn) -> tuple[DataItem, list[Scalar | None]]:
    item = draw(st.sampled_from(LAYOUT_ITEMS))
    return item, draw(layout_values(item))


@given(layout_item_values())
def test_layout_round_trip(item_and_values: tuple[DataItem, list[Scalar | None]]) -> None:
    item, values = item_and_values
    reply = parse_reply(parse_frame(build_read_reply("000000000001", item.di, values)))
    assert isinstance(reply, ReadReply)
    assert [v.value for v in reply.values] == values
    assert [v.name for v in reply.values] == list(item.value_names(len(values)))
