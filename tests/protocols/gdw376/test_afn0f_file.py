"""AFN0F F1 文件传输方式1: hand-written bodies (Q/GDW 376.1-2009 §5.15) and the FileTransfer upload helper."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.link import Address, Afn, Dir, parse_frame
from protocols.gdw376.messages import command
from protocols.gdw376.units import DataUnit, decode_units, encode_units
from protocols.gdw376.units.afn0f import LAST, MIDDLE, FileTransfer, clear_request

from .samples import framed

D, U = Dir.DOWN, Dir.UP

SEGMENT_2_OF_3 = (
    "0000 0100"  # p0 F1
    " 01"  # 文件标识 01H 终端升级文件
    " 00"  # 文件属性 00H 中间帧
    " 00"  # 文件指令 00H 报文方式
    " 0300"  # 总段数 3
    " 01000000"  # 第 i 段标识 1 (0-based)
    " 0400"  # Lf = 4
    " DEADBEEF"  # 文件数据
)
ACK_1 = "0000 0100 01000000"  # 当前接收的段标识 1


def test_f1_segment_and_answer() -> None:
    (down,) = decode_units(0x0F, bytes.fromhex(SEGMENT_2_OF_3), D)
    assert down.value == {
        "file_id": 1,
        "attribute": 0,
        "command": 0,
        "segments": 3,
        "index": 1,
        "length": 4,
        "data": bytes.fromhex("DEADBEEF"),
    }
    (up,) = decode_units(0x0F, bytes.fromhex(ACK_1), U)
    assert up.value == {"index": 1}
    assert encode_units(0x0F, [down], D) == bytes.fromhex(SEGMENT_2_OF_3)
    assert encode_units(0x0F, [up], U) == bytes.fromhex(ACK_1)


def test_clear_request_body() -> None:
    data = encode_units(0x0F, [DataUnit(0, 1, clear_request())], D)
    assert data == bytes.fromhex("0000 0100 00 00 00 0000 00000000 0000")


def test_upload_of_three_segments() -> None:
    image = bytes(range(10))
    upload = FileTransfer(image, segment_size=4)
    assert upload.count == 3
    assert [upload.segment(i) for i in range(3)] == [bytes([0, 1, 2, 3]), bytes([4, 5, 6, 7]), bytes([8, 9])]
    assert [(b["index"], b["attribute"], b["segments"], b["length"]) for b in upload.bodies()] == [
        (0, MIDDLE, 3, 4),
        (1, MIDDLE, 3, 4),
        (2, LAST, 3, 2),
    ]
    assert upload.next_index == 0 and not upload.done
    (answer,) = decode_units(0x0F, bytes.fromhex("0000 0100 00000000"), U)
    assert upload.acknowledge(answer.value) == 0
    assert upload.acknowledge(2) == 2
    assert upload.pending == (1,) and upload.next_index == 1
    assert [b["index"] for b in upload.bodies()] == [1]
    upload.acknowledge({"index": 1})
    assert upload.done and upload.next_index is None and upload.pending == ()


def test_the_middle_body_is_the_hand_written_one() -> None:
    upload = FileTransfer(bytes.fromhex("00000000 DEADBEEF 0102"), segment_size=4)
    assert encode_units(0x0F, [DataUnit(0, 1, upload.body(1))], D) == bytes.fromhex(SEGMENT_2_OF_3)


def test_a_segment_request_frame() -> None:
    upload = FileTransfer(bytes.fromhex("00000000 DEADBEEF 0102"), segment_size=4)
    built = command(Address("4403", 12, msa=2), Afn.FILE_TRANSFER, [DataUnit(0, 1, upload.body(1))], 5)
    # C=4A (设置-type), AFN 0F, SEQ 65, body, PW 16 × 00
    assert built == framed("4A 0344 0C00 04 0F 65" + SEGMENT_2_OF_3 + " 00" * 16)
    assert parse_frame(built).aux.pw == bytes(16)


def test_foreign_acknowledgements_are_remote_errors() -> None:
    upload = FileTransfer(bytes(8), segment_size=4)
    with pytest.raises(DecodeError, match="segment 2"):
        upload.acknowledge(2)
    with pytest.raises(DecodeError):
        upload.acknowledge({"index": -1})
    assert upload.pending == (0, 1)


@pytest.mark.parametrize(
    ("image", "kwargs"),
    [
        (b"", {}),
        (b"x", {"segment_size": 0}),
        (b"x", {"segment_size": 0x10000}),
        (b"x", {"file_id": 256}),
        (bytes(0x10000), {"segment_size": 1}),  # 65536 segments: 总段数 is BIN2
    ],
)
def test_upload_limits(image: bytes, kwargs: dict[str, int]) -> None:
    with pytest.raises(LocalProtocolError):
        FileTransfer(image, **kwargs)


def test_segment_outside_the_upload() -> None:
    with pytest.raises(LocalProtocolError):
        FileTransfer(b"abc", segment_size=2).segment(2)


@given(image=st.binary(min_size=1, max_size=300), size=st.integers(1, 64))
def test_segments_rebuild_the_image_and_encode(image: bytes, size: int) -> None:
    upload = FileTransfer(image, segment_size=size)
    bodies = list(upload.bodies())
    assert b"".join(b["data"] for b in bodies) == image
    assert [b["attribute"] for b in bodies] == [MIDDLE] * (len(bodies) - 1) + [LAST]
    for body in bodies:
        data = encode_units(0x0F, [DataUnit(0, 1, body)], D)
        (unit,) = decode_units(0x0F, data, D)
        assert unit.value == body
