"""AFN0F 文件传输 (Q/GDW 376.1-2009 §5.15; PROTOCOLS.md A.8), F1 文件传输方式1, p0: firmware upgrade segments.

Downlink (with PW): 文件标识 BIN1 (:data:`FILE_IDS`; 00H clears what was received), 文件属性 BIN1 (00H 起始/中间帧,
01H 结束帧), 文件指令 BIN1 (00H 报文方式传输), 总段数 n BIN2, 第 i 段标识 BIN4 (0 … n−1), 第 i 段数据长度 Lf BIN2,
文件数据 Lf bytes. Uplink: 当前接收的段标识 BIN4 — the segment the terminal has just stored.

Checked against ``baiej214/TmnlHUB`` ``protocol/698.js`` (AFN15 Fn1 both directions: ``fileid, attr, order``,
``steps`` UInt16LE, ``step`` UInt32LE, ``perLen`` UInt16LE, data; the reply is one UInt32LE ``recvStep``) and its
``admin/server/deviceUpdate/updater.js`` (segments numbered from 0, 文件属性 1 on the last one, a clearing request
with everything 0 before a new upload, an answer whose segment number differs from the one sent is an error).
The file-id table follows the standard's text as quoted by terminal firmware comments; ids other than these are
passed through as numbers.

:class:`FileTransfer` is the sans-IO side of an upload: it splits an image into segments, gives the F1 body for
each and tracks the segments the terminal acknowledged (the session sends, waits, and feeds the answers back).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from protocols.errors import DecodeError, LocalProtocolError
from protocols.gdw376.formats import BIN1, BIN2, BIN4
from protocols.gdw376.layout import Count, Field, Layout, Octets, Record
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import from_layout, register

F1_FILE = 1

#: 文件标识.
FILE_IDS = {
    0x00: "清除下装文件",
    0x01: "终端升级文件",
    0x02: "远程通信模块升级文件",
    0x03: "本地通信模块升级文件",
    0x04: "采集器升级文件",
}
FILE_CLEAR = 0x00
FILE_TERMINAL = 0x01
#: 文件属性.
MIDDLE = 0x00
LAST = 0x01
#: 文件指令 00H: 报文方式传输 (the segments travel in these frames).
BY_MESSAGE = 0x00
#: 总段数 is BIN2.
MAX_SEGMENTS = 0xFFFF

F1_DOWN: Layout = (
    Field("file_id", BIN1, "文件标识"),
    Field("attribute", BIN1, "文件属性"),
    Field("command", BIN1, "文件指令"),
    Field("segments", BIN2, "总段数n"),
    Field("index", BIN4, "第i段标识"),
    Count("length", 2, "第i段数据长度Lf"),
    Octets("data", "length", title="文件数据"),
)
F1_UP: Layout = (Field("index", BIN4, "当前接收的段标识"),)

register(Afn.FILE_TRANSFER, F1_FILE, (Dir.DOWN,), from_layout("文件传输方式1", F1_DOWN))
register(Afn.FILE_TRANSFER, F1_FILE, (Dir.UP,), from_layout("文件传输方式1", F1_UP))


def clear_request() -> Record:
    """The F1 body that makes the terminal drop a partly received file (文件标识 00H, every field 0)."""
    return _body(FILE_CLEAR, MIDDLE, 0, 0, b"")


def _body(file_id: int, attribute: int, segments: int, index: int, data: bytes) -> Record:
    return Record(
        [
            ("file_id", file_id),
            ("attribute", attribute),
            ("command", BY_MESSAGE),
            ("segments", segments),
            ("index", index),
            ("length", len(data)),
            ("data", data),
        ]
    )


class FileTransfer:
    """One upload of ``image`` as ``segment_size``-byte segments (the last one shorter), sans-IO.

    >>> upload = FileTransfer(bytes(1000), segment_size=512)
    >>> upload.count, upload.body(1)["attribute"], len(upload.body(1)["data"])
    (2, 1, 488)
    >>> upload.acknowledge({"index": 0})
    0
    >>> upload.pending
    (1,)
    """

    def __init__(self, image: bytes, *, segment_size: int = 512, file_id: int = FILE_TERMINAL) -> None:
        if not 0 < segment_size <= 0xFFFF:
            raise LocalProtocolError(f"segment size {segment_size} outside 1..65535 (Lf is BIN2)")
        if not image:
            raise LocalProtocolError("an empty image has no segments")
        if not 0 <= file_id <= 0xFF:
            raise LocalProtocolError(f"文件标识 {file_id} is not one byte")
        self.image = bytes(image)
        self.segment_size = segment_size
        self.file_id = file_id
        self.count = -(-len(self.image) // segment_size)
        if self.count > MAX_SEGMENTS:
            raise LocalProtocolError(f"{self.count} segments do not fit 总段数 (BIN2); use larger segments")
        self._acknowledged: set[int] = set()

    def segment(self, index: int) -> bytes:
        """The image bytes of segment ``index`` (0-based)."""
        if not 0 <= index < self.count:
            raise LocalProtocolError(f"segment {index} outside 0..{self.count - 1}")
        return self.image[index * self.segment_size : (index + 1) * self.segment_size]

    def body(self, index: int) -> Record:
        """The AFN0F F1 downlink body carrying segment ``index`` (文件属性 01H on the last)."""
        attribute = LAST if index == self.count - 1 else MIDDLE
        return _body(self.file_id, attribute, self.count, index, self.segment(index))

    def bodies(self) -> Iterator[Record]:
        """Bodies of the segments not acknowledged yet, in order."""
        return (self.body(index) for index in self.pending)

    def acknowledge(self, answer: Mapping[str, Any] | int) -> int:
        """Record the terminal's F1 answer (its Record, or the segment number); returns the segment number.
        Raises :class:`DecodeError` for a number outside this upload (the terminal is answering another file)."""
        index = int(answer if isinstance(answer, int) else answer["index"])
        if not 0 <= index < self.count:
            raise DecodeError(f"terminal acknowledged segment {index}, upload has 0..{self.count - 1}", path="AFN0F/F1")
        self._acknowledged.add(index)
        return index

    @property
    def pending(self) -> tuple[int, ...]:
        """Segments not acknowledged yet, ascending."""
        return tuple(i for i in range(self.count) if i not in self._acknowledged)

    @property
    def next_index(self) -> int | None:
        """The first segment still to send, or ``None`` when every segment is acknowledged."""
        return next((i for i in range(self.count) if i not in self._acknowledged), None)

    @property
    def done(self) -> bool:
        return len(self._acknowledged) == self.count
