"""AFN10 数据转发: hand-written bodies from the layouts (Q/GDW 376.1-2009 §5.16) and their decoding, the nested
DL/T 645 frame, the forward_request builder and the decode --json view. Meter 000000000001 and terminal 4403:00012
are synthetic; every DL/T 645 CS below was summed by hand (68 + address + 68 + C + L + data, mod 256)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocols.dlt645.apdu import ReadReply, ReadRequest
from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.describe import describe_frame
from protocols.gdw376.link import Address, Dir, parse_frame
from protocols.gdw376.messages import forward_request
from protocols.gdw376.units import DataUnit, decode_units, encode_units
from protocols.gdw376.units.afn10 import (
    ALLOW_CLOSE,
    TRIP,
    Forwarded645,
    FrameTimeout,
    SerialSettings,
    decode_forwarded,
)

from .samples import framed

D, U = Dir.DOWN, Dir.UP
METER = "000000000001"
# DL/T 645-2007 读数据 00010000 (正向有功总电能) to meter 000000000001, with 4 FE: CS = 68+01+68+11+04+33+33+34+33
READ_645 = bytes.fromhex("FEFEFEFE 68 010000000000 68 11 04 33333433 B3 16")
# its answer, 1234.56 kWh (56 34 12 00, +33H = 89 67 45 33) after 2 FE: CS = 9F
REPLY_645 = bytes.fromhex("FEFE 68 010000000000 68 91 08 33333433 89674533 9F 16")

F1_DOWN = (
    "0000 0100"  # p0 F1
    " 02"  # 终端通信端口号 2 (RS-485 1)
    " 6B"  # 控制字 011 0 1 0 11: 2400 bit/s, 1 stop bit, parity on, even, 8 data bits
    " BC"  # 报文超时 1 0111100: 60, in seconds
    " 0A"  # 字节超时 10 × 10 ms
    " 1400"  # k = 20
    " FEFEFEFE 68 010000000000 68 11 04 33333433 B3 16"
)
F1_UP = "0000 0100 02 1600 FEFE 68 010000000000 68 91 08 33333433 89674533 9F 16"


def test_f1_downlink() -> None:
    (unit,) = decode_units(0x10, bytes.fromhex(F1_DOWN), D)
    value = unit.value
    assert (unit.pn, unit.fn) == (0, 1)
    assert value == {
        "port": 2,
        "serial": SerialSettings(2400, 8, "even", 1),
        "frame_timeout": FrameTimeout(60, seconds=True),
        "byte_timeout_10ms": 10,
        "length": 20,
        "frame": READ_645,
        "dlt645": value["dlt645"],
    }
    forwarded = value["dlt645"]
    assert isinstance(forwarded.apdu, ReadRequest)
    assert (forwarded.apdu.address, forwarded.apdu.di, forwarded.frame.preamble) == (METER, 0x00010000, 4)
    assert encode_units(0x10, [unit], D) == bytes.fromhex(F1_DOWN)


def test_f1_uplink_decodes_the_meter_reply() -> None:
    (unit,) = decode_units(0x10, bytes.fromhex(F1_UP), U)
    assert (unit.value["port"], unit.value["length"], unit.value["frame"]) == (2, 22, REPLY_645)
    reply = unit.value["dlt645"].apdu
    assert isinstance(reply, ReadReply)
    assert (reply.address, reply.di, [v.value for v in reply.values]) == (METER, 0x00010000, [Decimal("1234.56")])
    assert encode_units(0x10, [unit], U) == bytes.fromhex(F1_UP)


def test_f1_uplink_with_nothing_forwarded() -> None:
    (unit,) = decode_units(0x10, bytes.fromhex("0000 0100 1F 0000"), U)  # carrier port 31, no answer (k = 0)
    assert unit.value == {"port": 31, "length": 0, "frame": b""}


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("68 010000000000 68 91 08 33333433 89674533 00 16", "ChecksumError"),  # CS should be 9F
        ("FE FE 12 34", "FrameError"),
        ("68 010000000000 68 D1 02 35 35 0E 16", "DecodeError"),  # error reply with two bytes: no APDU
    ],
)
def test_a_forwarded_frame_that_does_not_parse_is_kept_with_its_error(frame: str, error: str) -> None:
    raw = bytes.fromhex(frame)
    data = bytes.fromhex("0000 0100 02") + len(raw).to_bytes(2, "little") + raw
    (unit,) = decode_units(0x10, data, U)
    forwarded = unit.value["dlt645"]
    assert forwarded.raw == raw and forwarded.apdu is None
    assert forwarded.error is not None and forwarded.error.startswith(error)


def test_decode_forwarded_error_reply() -> None:
    # 异常应答 D1, error word 02 (+33 = 35): CS = 68+01+68+D1+01+35 = D8
    forwarded = decode_forwarded(bytes.fromhex("68 010000000000 68 D1 01 35 D8 16"))
    assert forwarded.error is None and forwarded.apdu is not None
    assert (forwarded.apdu.address, forwarded.apdu.err) == (METER, 0x02)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("byte", "settings"),
    [
        (0x6B, SerialSettings(2400, 8, "even", 1)),
        (0x03, SerialSettings(300, 8, "none", 1)),
        (0xFF, SerialSettings(19200, 8, "odd", 2)),
        (0x48, SerialSettings(1200, 5, "even", 1)),  # 010 0 1 0 00
        (0xCE, SerialSettings(9600, 7, "odd", 1)),  # 110 0 1 1 10
    ],
)
def test_control_word(byte: int, settings: SerialSettings) -> None:
    assert SerialSettings.from_byte(byte) == settings
    assert settings.to_byte() == byte


@pytest.mark.parametrize(
    "bad", [SerialSettings(115200), SerialSettings(data_bits=9), SerialSettings(stop_bits=3), FrameTimeout(128, False)]
)
def test_control_bytes_that_cannot_be_expressed(bad: SerialSettings | FrameTimeout) -> None:
    with pytest.raises(LocalProtocolError):
        bad.to_byte()


F9_DOWN = (
    "0000 0101"  # p0 F9
    " 1F"  # port 31 (carrier)
    " 01"  # 转发中继级数 1
    " 020000000000"  # 中继地址 000000000002
    " 010000000000"  # 转发目标地址 000000000001
    " 01"  # DL/T 645-2007
    " 00000100"  # DI 00010000, DI0 first
)
F9_UP = (
    "0000 0101 1F 010000000000"
    " 05"  # 转发结果标识 5: 转发接收数据
    " 08"  # k + 4 = 8
    " 00000100"  # DI 00010000
    " 56341200"  # 1234.56 (no 33H any more)
)


def test_f9_read() -> None:
    (down,) = decode_units(0x10, bytes.fromhex(F9_DOWN), D)
    assert down.value == {
        "port": 31,
        "relay_count": 1,
        "relays": ("000000000002",),
        "target": METER,
        "di_type": 1,
        "di": "00010000",
    }
    (up,) = decode_units(0x10, bytes.fromhex(F9_UP), U)
    assert up.value == {
        "port": 31,
        "target": METER,
        "result": 5,
        "length": 8,
        "di": "00010000",
        "data": bytes.fromhex("56341200"),
    }
    assert encode_units(0x10, [down], D) == bytes.fromhex(F9_DOWN)
    assert encode_units(0x10, [up], U) == bytes.fromhex(F9_UP)


def test_f9_timeout_answer_has_no_data() -> None:
    (up,) = decode_units(0x10, bytes.fromhex("0000 0101 1F 010000000000 01 04 00000100"), U)
    assert (up.value["result"], up.value["data"]) == (1, b"")


def test_f9_length_below_the_di_is_an_error() -> None:
    with pytest.raises(DecodeError, match="AFN10/F9/p0"):
        decode_units(0x10, bytes.fromhex("0000 0101 1F 010000000000 05 02 00000100"), U)


@pytest.mark.parametrize(
    ("dt", "flag_name", "flag"),
    [("0201", "trip", TRIP), ("0201", "trip", ALLOW_CLOSE), ("0401", "power_on", 0x55)],
)
def test_f10_f11_remote_control(dt: str, flag_name: str, flag: int) -> None:
    down_hex = f"0000 {dt} 02 00 010000000000 {flag:02X} 04 11223344"  # no relay, password 11223344
    up_hex = f"0000 {dt} 02 010000000000 03 {flag:02X}"  # 转发接收确认, flag echoed
    (down,) = decode_units(0x10, bytes.fromhex(down_hex), D)
    (up,) = decode_units(0x10, bytes.fromhex(up_hex), U)
    assert down.value == {
        "port": 2,
        "relay_count": 0,
        "relays": (),
        "target": METER,
        flag_name: flag,
        "password_length": 4,
        "password": bytes.fromhex("11223344"),
    }
    assert up.value == {"port": 2, "target": METER, "result": 3, flag_name: flag}
    assert encode_units(0x10, [down], D) == bytes.fromhex(down_hex)
    assert encode_units(0x10, [up], U) == bytes.fromhex(up_hex)


def test_forward_request_builds_the_whole_frame() -> None:
    built = forward_request(Address("4403", 12, msa=2), 2, READ_645, 1, frame_timeout=FrameTimeout(60, seconds=True))
    # C=4B, A 0344 0C00 04, AFN 10, SEQ 61, the F1 body above, PW 16 × 00 (security off)
    assert built == framed("4B 0344 0C00 04 10 61" + F1_DOWN + " 00" * 16)
    frame = parse_frame(built)
    assert frame.aux.pw == bytes(16)
    (unit,) = decode_units(frame.afn, frame.data, frame.dir)
    assert unit.value["frame"] == READ_645


def test_forward_request_defaults_to_the_dlt645_line() -> None:
    frame = parse_frame(forward_request(Address("4403", 12), 31, READ_645, 0))
    (unit,) = decode_units(frame.afn, frame.data, frame.dir)
    assert unit.value["serial"] == SerialSettings(2400, 8, "even", 1)
    assert unit.value["frame_timeout"] == FrameTimeout(10, seconds=True)


def test_describe_nests_the_dlt645_frame() -> None:
    raw = framed("88 0344 0C00 04 10 61" + F1_UP)
    (unit,) = describe_frame(parse_frame(raw))["units"]
    assert unit["name"] == "透明转发"
    assert unit["frame"] == REPLY_645.hex().upper()
    nested = unit["dlt645"]
    assert nested["protocol"] == "dlt645-2007" and nested["valid"] is True
    assert (nested["address"], nested["di"], nested["preamble"]) == (METER, "00010000", 2)
    assert [v["value"] for v in nested["values"]] == ["1234.56"]


def test_describe_a_forward_that_did_not_parse() -> None:
    raw = framed("88 0344 0C00 04 10 61 0000 0100 02 0400 FEFE1234")
    (unit,) = describe_frame(parse_frame(raw))["units"]
    assert unit["dlt645"]["valid"] is False
    assert unit["dlt645"]["errors"][0].startswith("FrameError")


def test_forwarded645_built_by_hand_is_described_by_reparsing() -> None:
    from protocols.gdw376.describe import to_json

    described = to_json(Forwarded645(REPLY_645))
    assert isinstance(described, dict) and described["valid"] is True


def test_a_value_without_dlt645_encodes() -> None:
    unit = DataUnit(0, 1, {"port": 1, "length": 2, "frame": b"\x01\x02"})
    assert encode_units(0x10, [unit], U) == bytes.fromhex("0000 0100 01 0200 0102")
