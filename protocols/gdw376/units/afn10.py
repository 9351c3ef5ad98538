"""AFN10 数据转发 (Q/GDW 376.1-2009 §5.16; PROTOCOLS.md A.9 AFN10), p0. Downlink frames carry PW.

- F1 透明转发 (§5.16.2.1 / §5.16.2.2.1): the master hands the terminal a frame to send on one of its ports.
  Downlink: 终端通信端口号 BIN1, 透明转发通信控制字 (:class:`SerialSettings`), 透明转发接收等待报文超时时间
  (:class:`FrameTimeout`), 透明转发接收等待字节超时时间 BIN1 (×10 ms), 透明转发内容字节数 k BIN2, 透明转发内容 k
  bytes. Uplink: 终端通信端口号 BIN1, k BIN2, k bytes (the device's answer, k = 0 when nothing came back).
  The forwarded bytes are a DL/T 645 frame (own FE preamble, +33H, CS): the decoded value carries them raw
  (``frame``) and decoded (``dlt645``: a :class:`Forwarded645`, built with :mod:`protocols.dlt645`); a forwarded
  frame that does not parse keeps its error there and never fails the 376.1 frame.
- F9 转发主站直接对电表的抄读数据命令: downlink 终端通信端口号 BIN1, 转发中继级数 n BIN1, n × 中继地址 (A.12),
  转发目标地址 (A.12), 转发直接抄读的数据标识类型 BIN1 (0 = DL/T 645-1997, 1 = DL/T 645-2007), 数据标识 (4 bytes,
  DI0 first). Uplink: 终端通信端口号, 转发目标地址 (A.12), 转发结果标识 BIN1 (:data:`FORWARD_RESULTS`), 数据内容字节数
  k+4 BIN1, 数据标识 (4), k bytes of data (33H already removed).
- F10 转发主站直接对电表的遥控跳闸/允许合闸命令 and F11 转发主站直接对电表的遥控送电命令: downlink 终端通信端口号,
  转发中继级数 n, n × 中继地址, 转发目标地址, 遥控跳闸/允许合闸标志 (F11: 遥控送电标志) BIN1, 遥控命令密码字节数
  BIN1 and the password bytes. Uplink: 终端通信端口号, 转发目标地址, 转发结果标识 BIN1, the flag echoed BIN1.

What each layout was checked against (PROTOCOLS.md A.9 AFN10 is **[verify]**; every layout now has two
independent sources):

- F1 both directions: PROTOCOLS.md A.9 (``6B BC 0A`` = 2400 8E1, 60 s, 100 ms), ``baiej214/TmnlHUB``
  ``protocol/698.js`` (AFN16 Fn1: control word ``bits | parity<<2 | check<<3 | stop<<4 | baud<<5``, timeout
  ``value | unit<<7``; uplink port + 2-byte length + content) and ``liangminhua/qgdw376.1.ksy`` (``afn16_f1``).
- F9 downlink: a terminal firmware (``gdgly/NUC97X_JS`` ``Terminal_Uart_AFN10.c``: relay count at byte 1, the DI
  after target address and DI type) and a Clou concentrator (``SgMtrFwdDirIDCmd``: same order). F9 uplink: the
  Clou code and a comment in ``NUC97X_JS`` give ``k+4`` + a 4-byte DI; ``qgdw376.1.ksy`` ``afn16_f9`` has a 2-byte
  DI and ``k+2`` instead — we follow the two implementations (4 bytes; a 2007 DI needs 4).
- F10/F11 uplink: ``qgdw376.1.ksy`` ``afn16_f10`` / ``afn16_f11`` (port, target, result, flag), and a Java
  master's F10 answer parser (found by code search: port, 6-byte meter address, 转发结果标志, relay status — same
  order). F10/F11 downlink: the field list of a terminal's ``ZF_F10``/``ZF_F11`` structures (port, relay count,
  relays, flag, target, password length + password) gave the fields; the wire order is confirmed by a second,
  independent concentrator firmware's AFN10 handler (``process_readRelay_F10F11``, found by code search, read not
  copied): port, relay depth n, n × 6-byte relay addresses, target address at ``1 + 6n``, the flag at ``7 + 6n``,
  the password length at ``8 + 6n`` and the password after it — target before flag, password last, as registered.
  That handler also answers with the flag echoed after the result. No public capture was found. 1376.1-2013-era
  firmware (``NUC97X_JS``) reuses F10 as 批量抄读 (several DIs); that variant is not decoded here.
- F9 uplink's 4-byte DI with ``k+4`` is also what a third implementation writes (a C++ concentrator proxy:
  port, address, result, ``len + 4``, 4-byte DI, data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from protocols.dlt645.apdu import (
    Ack,
    AddressReply,
    ErrorReply,
    ReadAddressRequest,
    ReadReply,
    ReadRequest,
    parse_reply,
    parse_request,
)
from protocols.dlt645.link import Dlt645Frame
from protocols.dlt645.link import parse_frame as parse_645
from protocols.errors import DecodeError, LocalProtocolError, ProtocolError
from protocols.gdw376.formats import A12, BIN1, CodedFormat, Raw
from protocols.gdw376.layout import Count, Field, Layout, Octets, Record, Repeat
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import UnitCodec, UnitReader, from_layout, register

F1_TRANSPARENT = 1
F9_READ = 9
F10_TRIP_CLOSE = 10
F11_POWER_ON = 11

#: 转发结果标识 (F9/F10/F11 uplink).
FORWARD_RESULTS = {
    0: "不能执行转发",
    1: "转发接收超时",
    2: "转发接收错误",
    3: "转发接收确认",
    4: "转发接收否认",
    5: "转发接收数据",
}
#: 遥控跳闸/允许合闸标志 (F10 downlink).
TRIP = 0x55
ALLOW_CLOSE = 0xAA

# --- 透明转发通信控制字 and 接收等待报文超时时间 (F1 downlink) ----------------------------------------------------

#: D7..D5 of the control word: 0..7 = 300 … 19200 bit/s.
BAUD_RATES = (300, 600, 1200, 2400, 4800, 7200, 9600, 19200)
Parity = Literal["none", "even", "odd"]


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """透明转发通信控制字: D7..D5 波特率, D4 停止位 (0 = 1, 1 = 2), D3 有无校验, D2 偶/奇校验 (0 even, 1 odd),
    D1..D0 数据位 (5..8). ``parity="none"`` encodes D2 = 0 (a device's D2 under D3 = 0 is not kept)."""

    baud: int = 2400
    data_bits: int = 8
    parity: Parity = "even"
    stop_bits: int = 1

    def to_byte(self) -> int:
        if self.baud not in BAUD_RATES or not 5 <= self.data_bits <= 8 or self.stop_bits not in (1, 2):
            raise LocalProtocolError(f"control word cannot express {self}")
        parity = {"none": 0b00, "even": 0b10, "odd": 0b11}[self.parity]
        return BAUD_RATES.index(self.baud) << 5 | (self.stop_bits - 1) << 4 | parity << 2 | (self.data_bits - 5)

    @classmethod
    def from_byte(cls, b: int) -> SerialSettings:
        parity: Parity = ("odd" if b & 0x04 else "even") if b & 0x08 else "none"
        return cls(BAUD_RATES[b >> 5], (b & 0x03) + 5, parity, 2 if b & 0x10 else 1)


@dataclass(frozen=True, slots=True)
class FrameTimeout:
    """透明转发接收等待报文超时时间: D6..D0 ``value``, in seconds when D7 = 1 (``seconds``), else ×10 ms."""

    value: int
    seconds: bool

    def to_byte(self) -> int:
        if not 0 <= self.value <= 0x7F:
            raise LocalProtocolError(f"frame timeout {self.value} outside 0..127")
        return self.value | (0x80 if self.seconds else 0)


def _one_byte(raw: Raw, name: str) -> int:
    data = bytes(raw)
    if len(data) != 1:
        raise DecodeError(f"needs 1 byte, got {len(data)}", raw=data, path=name)
    return data[0]


def _decode_timeout(raw: Raw) -> FrameTimeout:
    b = _one_byte(raw, "接收等待报文超时时间")
    return FrameTimeout(b & 0x7F, bool(b & 0x80))


def _to_byte(value: SerialSettings | FrameTimeout) -> bytes:
    return bytes((value.to_byte(),))


SERIAL_SETTINGS = CodedFormat(
    "透明转发通信控制字", 1, lambda raw: SerialSettings.from_byte(_one_byte(raw, "透明转发通信控制字")), _to_byte
)
FRAME_TIMEOUT = CodedFormat("接收等待报文超时时间", 1, _decode_timeout, _to_byte)


def _decode_di(raw: Raw) -> str:
    data = bytes(raw)
    if len(data) != 4:
        raise DecodeError(f"needs 4 bytes, got {len(data)}", raw=data, path="DI")
    return f"{int.from_bytes(data, 'little'):08X}"


def _encode_di(value: str) -> bytes:
    try:
        di = int(value, 16)
    except ValueError as exc:
        raise LocalProtocolError(f"DI {value!r} is not hex") from exc
    if len(value) != 8 or not 0 <= di <= 0xFFFFFFFF:
        raise LocalProtocolError(f"DI {value!r} is not 8 hex digits")
    return di.to_bytes(4, "little")


#: 数据标识 DI3 DI2 DI1 DI0 as written in DL/T 645 ("00010000"), sent DI0 first (4 bytes; a 1997 DI in DI1 DI0).
DI4 = CodedFormat("DI", 4, _decode_di, _encode_di)

# --- the forwarded DL/T 645 frame ----------------------------------------------------------------------------------

Dlt645Apdu = ReadReply | ErrorReply | AddressReply | Ack | ReadRequest | ReadAddressRequest


@dataclass(frozen=True, slots=True)
class Forwarded645:
    """A forwarded DL/T 645 frame, decoded as far as it goes: ``frame`` (link layer) and ``apdu`` (a reply when
    the meter sent it, a request when the master did), or ``None`` with ``error`` saying why."""

    raw: bytes
    frame: Dlt645Frame | None = None
    apdu: Dlt645Apdu | None = None
    error: str | None = None


def decode_forwarded(raw: bytes) -> Forwarded645:
    """Decode forwarded bytes as a DL/T 645 frame (:func:`protocols.dlt645.link.parse_frame`, then
    :func:`~protocols.dlt645.apdu.parse_reply` / :func:`~protocols.dlt645.apdu.parse_request`); never raises."""
    try:
        frame = parse_645(raw)
    except ProtocolError as exc:
        return Forwarded645(raw, error=f"{type(exc).__name__}: {exc}")
    try:
        apdu: Dlt645Apdu = parse_reply(frame) if frame.is_reply else parse_request(frame)
    except ProtocolError as exc:
        return Forwarded645(raw, frame, error=f"{type(exc).__name__}: {exc}")
    return Forwarded645(raw, frame, apdu)


def _with_forwarded(codec: UnitCodec, key: str) -> UnitCodec:
    """``codec`` whose decoded Record also carries ``dlt645``: the bytes under ``key`` decoded as DL/T 645
    (left out when there are none, e.g. a forward that timed out). Encoding ignores the extra key."""
    inner = codec.decode
    assert inner is not None

    def decode(reader: UnitReader) -> Record:
        record = inner(reader)
        assert isinstance(record, Record)
        if not record[key]:
            return record
        return Record([*record.items(), ("dlt645", decode_forwarded(record[key]))])

    return UnitCodec(codec.name, decode, codec.encode, codec.layout)


# --- layouts -----------------------------------------------------------------------------------------------------

PORT = Field("port", BIN1, "终端通信端口号")

F1_DOWN: Layout = (
    PORT,
    Field("serial", SERIAL_SETTINGS, "透明转发通信控制字"),
    Field("frame_timeout", FRAME_TIMEOUT, "透明转发接收等待报文超时时间"),
    Field("byte_timeout_10ms", BIN1, "透明转发接收等待字节超时时间"),
    Count("length", 2, "透明转发内容字节数"),
    Octets("frame", "length", title="透明转发内容"),
)
F1_UP: Layout = (
    PORT,
    Count("length", 2, "透明转发内容字节数"),
    Octets("frame", "length", title="透明转发内容"),
)
_ROUTE: Layout = (
    PORT,
    Count("relay_count", 1, "转发中继级数"),
    Repeat("relays", "relay_count", (Field("address", A12, "转发中继地址"),), title="第1～n级转发中继地址"),
    Field("target", A12, "转发目标地址"),
)
F9_DOWN: Layout = (
    *_ROUTE,
    Field("di_type", BIN1, "转发直接抄读的数据标识类型"),
    Field("di", DI4, "转发直接抄读的数据标识"),
)
_ANSWER: Layout = (PORT, Field("target", A12, "转发目标地址"), Field("result", BIN1, "转发结果标识"))
F9_UP: Layout = (
    *_ANSWER,
    Count("length", 1, "转发直接抄读的数据内容字节数k+4"),
    Field("di", DI4, "转发直接抄读的数据标识"),
    Octets("data", "length", offset=-4, title="转发直接抄读的数据内容"),
)


def _control_layouts(flag: str, title: str) -> tuple[Layout, Layout]:
    """F10/F11: the same route and answer around one flag byte."""
    down: Layout = (
        *_ROUTE,
        Field(flag, BIN1, title),
        Count("password_length", 1, "转发直接遥控命令密码字节数"),
        Octets("password", "password_length", title="转发直接遥控命令密码"),
    )
    return down, (*_ANSWER, Field(flag, BIN1, title))


F10_DOWN, F10_UP = _control_layouts("trip", "遥控跳闸/允许合闸标志")
F11_DOWN, F11_UP = _control_layouts("power_on", "遥控送电标志")

for _fn, _name, _down, _up in (
    (F1_TRANSPARENT, "透明转发", F1_DOWN, F1_UP),
    (F9_READ, "转发主站直接对电表的抄读数据命令", F9_DOWN, F9_UP),
    (F10_TRIP_CLOSE, "转发主站直接对电表的遥控跳闸/允许合闸命令", F10_DOWN, F10_UP),
    (F11_POWER_ON, "转发主站直接对电表的遥控送电命令", F11_DOWN, F11_UP),
):
    _down_codec, _up_codec = from_layout(_name, _down), from_layout(_name, _up)
    if _fn == F1_TRANSPARENT:
        _down_codec, _up_codec = _with_forwarded(_down_codec, "frame"), _with_forwarded(_up_codec, "frame")
    register(Afn.FORWARD, _fn, (Dir.DOWN,), _down_codec)
    register(Afn.FORWARD, _fn, (Dir.UP,), _up_codec)
