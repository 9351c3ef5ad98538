"""Q/GDW 376.1 link layer (§4.3 帧格式): control, address, SEQ, AUX and whole-frame parse/build.

Frame (§4.3.2; PROTOCOLS.md A.1)::

    68 | L L | L L | 68 | C | A1 A1 A2 A2 A3 | AFN | SEQ | {DA DT data}… | [PW 16 | EC 2] [Tp 6] | CS | 16
                          \\________________ user data 用户数据区, length L >> 2 ____________________/

Hand-written ``bytes`` code, no construct: every field is one or two bytes and the framer calls
:func:`parse_frame` for every frame on the wire (STYLE.md §3.2: framing and link fields are hand-written).

Checked against ``liangminhua/qgdw376.1.ksy`` (L/C/A/SEQ bit layout, AUX presence rules and the AUX order
PW/EC before Tp). One deliberate difference: that description derives PW from AFN alone; we also require DIR=0
(下行), because PW (消息认证码) only exists in downlink frames (§4.3.4.6.1) and uplink AFN10 replies carry none.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from protocols.common.bcd import bcd_byte, to_bcd_byte
from protocols.common.checksum import sum8
from protocols.errors import ChecksumError, DecodeError, FrameError, LocalProtocolError
from protocols.gdw376.auth import Authenticator, PwInput, make_pw

START = 0x68
END = 0x16
#: 68 L L 68 before the user data, CS 16 after it (帧头 + 帧尾).
HEADER_LEN = 6
OVERHEAD = 8
#: C(1) + A(5) + AFN(1) + SEQ(1): the smallest user data area (用户数据区).
FIXED_USER_LEN = 8
#: D15..D2 of L: 14 bits of user-data length (16383 on networks, §4.3.3.2 长度L).
MAX_USER_LEN = 0x3FFF
#: L D1..D0 (协议标识): 2 = Q/GDW 376.1 (and 1376.1-2013), 1 = Q/GDW 130-2005.
PID_376_1 = 2
PID_130_2005 = 1
PW_LEN = 16
EC_LEN = 2
TP_LEN = 6
#: AFNs whose downlink frames carry PW (复位, 设置参数, 控制命令, 身份认证, 文件传输, 数据转发).
PW_AFNS = frozenset({0x01, 0x04, 0x05, 0x06, 0x0F, 0x10})
#: The smallest data unit: DA(2) + DT(2).
UNIT_ID_LEN = 4
#: Function codes the standard defines (§4.3.4.3.4 表3/表4), by PRM: 启动站 (1) 1 复位, 4 用户数据, 9 链路测试,
#: 10 请求1级数据, 11 请求2级数据; 从动站 (0) 0 认可, 8 用户数据, 9 否认：无所召唤的数据, 11 链路状态.
DEFINED_CODES = {True: frozenset({1, 4, 9, 10, 11}), False: frozenset({0, 8, 9, 11})}


class Dir(IntEnum):
    """C.D7 传输方向位 DIR: 0 = 主站发出的下行报文, 1 = 终端发出的上行报文 (§4.3.4.3.1)."""

    DOWN = 0
    UP = 1


class Afn(IntEnum):
    """应用层功能码 AFN (§5.1, 表 23; names after ``qgdw_3761_api.h`` ``eMtAFN``)."""

    CONFIRM_DENY = 0x00  # 确认／否认
    RESET = 0x01  # 复位
    LINK_CHECK = 0x02  # 链路接口检测
    RELAY = 0x03  # 中继站命令
    SET_PARAM = 0x04  # 设置参数
    CONTROL = 0x05  # 控制命令
    AUTH = 0x06  # 身份认证及密钥协商
    CASCADE = 0x08  # 请求被级联终端主动上报
    REQUEST_CONFIG = 0x09  # 请求终端配置
    QUERY_PARAM = 0x0A  # 查询参数
    REQUEST_TASK = 0x0B  # 请求任务数据
    REQUEST_CLASS1 = 0x0C  # 请求1类数据（实时数据）
    REQUEST_CLASS2 = 0x0D  # 请求2类数据（历史数据）
    REQUEST_CLASS3 = 0x0E  # 请求3类数据（事件数据）
    FILE_TRANSFER = 0x0F  # 文件传输
    FORWARD = 0x10  # 数据转发


def _pack(d7: bool, d6: bool, d5: bool, d4: bool, low: int) -> int:
    """C and SEQ share one shape: four flag bits D7..D4 over a 4-bit number D3..D0."""
    return d7 << 7 | d6 << 6 | d5 << 5 | d4 << 4 | low


def _unpack(b: int) -> tuple[bool, bool, bool, bool, int]:
    return bool(b & 0x80), bool(b & 0x40), bool(b & 0x20), bool(b & 0x10), b & 0x0F


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise LocalProtocolError(f"{name}={value} outside {low}..{high}")


@dataclass(frozen=True, slots=True)
class Control:
    """控制域 C (§4.3.4.3): DIR D7, PRM D6 (启动标志位), FCB (down) / ACD (up) D5, FCV D4 (down only;
    reserved in uplink), 功能码 D3..D0.

    Function codes: PRM=1 — 1 复位, 4 用户数据, 9 链路测试, 10 请求1级数据, 11 请求2级数据;
    PRM=0 — 0 认可, 8 用户数据, 9 否认：无所召唤的数据, 11 链路状态.
    """

    dir: Dir
    prm: bool
    fcb_acd: bool
    fcv: bool
    code: int

    def __post_init__(self) -> None:
        _check_range("function code", self.code, 0, 15)
        object.__setattr__(self, "dir", Dir(self.dir))

    def to_byte(self) -> int:
        return _pack(self.dir == Dir.UP, self.prm, self.fcb_acd, self.fcv, self.code)

    @classmethod
    def from_byte(cls, b: int) -> Control:
        """The control field of C byte ``b`` (0..255): one shared immutable instance per value."""
        return _CONTROLS[b]

    @property
    def acd(self) -> bool:
        """要求访问位 ACD (uplink only): the terminal has important events waiting; AUX carries EC."""
        return self.dir == Dir.UP and self.fcb_acd

    def deviation(self) -> str | None:
        """Why this C byte is not one the standard defines (a vendor C byte), or None: a function code outside
        :data:`DEFINED_CODES` for its PRM, or D4 set in an uplink frame (reserved, §4.3.4.3.3)."""
        if self.code not in DEFINED_CODES[self.prm]:
            prm = int(self.prm)
            return f"vendor C byte {self.to_byte():02X}H: function code {self.code} is not defined for PRM={prm}"
        if self.dir == Dir.UP and self.fcv:
            return f"vendor C byte {self.to_byte():02X}H: reserved D4 set in an uplink frame"
        return None


_HEX_DIGITS = frozenset("0123456789ABCDEF")
#: A1 (2 bytes), A2 (2 bytes, little-endian), A3.
_ADDRESS = struct.Struct("<HHB")


@dataclass(frozen=True, slots=True)
class Address:
    """地址域 A (§4.3.4.4): A1 行政区划码 (BCD, 2 bytes LE), A2 终端地址 (BIN 1..65535, LE),
    A3 = MSA 主站地址 D7..D1 | 组地址标志 D0.

    ``a1`` is written as printed ("4403" for wire bytes ``03 44``). Non-BCD A1 seen from odd firmware is
    kept as upper-case hex digits so that it still round-trips; :func:`parse_frame` warns about it (strict
    mode rejects it). A2=FFFFH with the group flag is the system broadcast (系统广播地址).
    """

    a1: str
    a2: int
    msa: int = 0
    group: bool = False

    def __post_init__(self) -> None:
        if len(self.a1) != 4 or not set(self.a1) <= _HEX_DIGITS:
            raise LocalProtocolError(f"A1 {self.a1!r} is not 4 digits")
        _check_range("A2", self.a2, 0, 0xFFFF)
        _check_range("MSA", self.msa, 0, 127)

    def to_bytes(self) -> bytes:
        # A1 as printed is the hex of its 2 bytes, high byte first: as an int, packed little-endian.
        return _ADDRESS.pack(int(self.a1, 16), self.a2, self.msa << 1 | self.group)

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray | memoryview) -> Address:
        b = bytes(raw)
        cached = _ADDRESSES.get(b)
        if cached is not None:
            return cached
        if len(b) != 5:
            raise DecodeError(f"address needs 5 bytes, got {len(b)}", raw=b, path="A")
        address = cls(f"{b[1]:02X}{b[0]:02X}", b[2] | b[3] << 8, b[4] >> 1, bool(b[4] & 1))
        if len(_ADDRESSES) >= _ADDRESSES_MAX:
            _ADDRESSES.clear()
            _BCD_ADDRESSES.clear()
        _ADDRESSES[b] = address
        if address.is_bcd:
            _BCD_ADDRESSES[b] = address
        return address

    @classmethod
    def broadcast(cls, a1: str = "0000", msa: int = 0) -> Address:
        """System broadcast (系统广播地址): A2 = FFFFH with the group flag set."""
        return cls(a1, 0xFFFF, msa, True)

    @property
    def terminal(self) -> str:
        """Identity used in logs and the database: ``"4403:00012"`` (A1, then A2 as 5-digit decimal)."""
        return f"{self.a1}:{self.a2:05d}"

    @property
    def is_bcd(self) -> bool:
        """A1 is valid BCD (行政区划码), as the standard requires."""
        return self.a1.isdecimal()

    def with_msa(self, msa: int) -> Address:
        if msa == self.msa:
            return self
        _check_range("MSA", msa, 0, 127)  # the other fields are this (valid) address's
        address: Address = object.__new__(Address)
        set_a1, set_a2, set_msa, set_group = _ADDRESS_SLOTS
        set_a1(address, self.a1)
        set_a2(address, self.a2)
        set_msa(address, msa)
        set_group(address, self.group)
        return address


_ADDRESS_SLOTS = tuple(getattr(Address, name).__set__ for name in ("a1", "a2", "msa", "group"))


@dataclass(frozen=True, slots=True)
class Seq:
    """帧序列域 SEQ (§4.3.4.5): TpV D7, FIR D6, FIN D5, CON D4 (请求确认标志位), PSEQ/RSEQ D3..D0."""

    tpv: bool
    fir: bool
    fin: bool
    con: bool
    seq: int

    def __post_init__(self) -> None:
        _check_range("PSEQ/RSEQ", self.seq, 0, 15)

    def to_byte(self) -> int:
        return _pack(self.tpv, self.fir, self.fin, self.con, self.seq)

    @classmethod
    def from_byte(cls, b: int) -> Seq:
        """The SEQ field of byte ``b`` (0..255): one shared immutable instance per value."""
        return _SEQS[b]


@dataclass(frozen=True, slots=True)
class TimeLabel:
    """时间标签 Tp (§4.3.4.6.3): PFC 启动帧帧序号计数器 (BIN 1), 启动帧发送时标 ss mm hh DD (附录A.16, BCD 4),
    允许发送传输延时时间 (BIN 1, minutes, 0 = do not check).

    The four time fields are only required to be BCD (0..99) so that any label a device sends round-trips;
    judging its age is the session's business.
    """

    pfc: int
    second: int
    minute: int
    hour: int
    day: int
    delay_min: int

    def __post_init__(self) -> None:
        _check_range("PFC", self.pfc, 0, 255)
        _check_range("delay", self.delay_min, 0, 255)
        for name in ("second", "minute", "hour", "day"):
            _check_range(name, getattr(self, name), 0, 99)

    def to_bytes(self) -> bytes:
        bcd = (to_bcd_byte(v) for v in (self.second, self.minute, self.hour, self.day))
        return bytes((self.pfc, *bcd, self.delay_min))

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray | memoryview) -> TimeLabel:
        b = bytes(raw)
        if len(b) != TP_LEN:
            raise DecodeError(f"Tp needs {TP_LEN} bytes, got {len(b)}", raw=b, path="Tp")
        try:
            second, minute, hour, day = (bcd_byte(v) for v in b[1:5])
        except DecodeError as exc:
            raise DecodeError(str(exc), raw=b, path="Tp") from exc
        return cls(b[0], second, minute, hour, day, b[5])


@dataclass(frozen=True, slots=True)
class Aux:
    """附加信息域 AUX (§4.3.4.6): PW 消息认证码 (16, downlink), EC 事件计数器 (EC1 重要, EC2 一般; uplink
    with ACD=1), Tp 时间标签 (6, when SEQ.TpV=1). Wire order: PW or EC, then Tp."""

    pw: bytes | None = None
    ec: tuple[int, int] | None = None
    tp: TimeLabel | None = None


_NO_AUX = Aux()


@dataclass(frozen=True, slots=True)
class LinkFrame:
    """One verified Q/GDW 376.1 frame. ``data`` is the data-unit region (DA DT data…) with AUX stripped;
    ``warnings`` lists the deviations a lenient parse accepted; ``raw`` is the whole frame as received."""

    control: Control
    address: Address
    afn: int
    seq: Seq
    data: bytes
    aux: Aux = Aux()
    protocol_id: int = PID_376_1
    warnings: tuple[str, ...] = ()
    raw: bytes = b""

    @property
    def dir(self) -> Dir:
        return self.control.dir

    def to_bytes(self) -> bytes:
        """Build this frame again (``raw`` and ``warnings`` are ignored; PID is always 2)."""
        return build_frame(self.control, self.address, self.afn, self.seq, self.data, self.aux)


def has_pw(dir: Dir, afn: int) -> bool:
    """PW is present in downlink frames of AFN 01, 04, 05, 06, 0F, 10 (§4.3.4.6.1)."""
    return dir == Dir.DOWN and afn in PW_AFNS


def _aux_lengths(control: Control, afn: int, seq: Seq) -> tuple[int, int, int]:
    """(PW, EC, Tp) lengths the standard prescribes for a frame with these fields."""
    return (
        PW_LEN if has_pw(control.dir, afn) else 0,
        EC_LEN if control.acd else 0,
        TP_LEN if seq.tpv else 0,
    )


def _fits(residual: int) -> bool:
    """A data-unit region is empty or holds at least one DA DT identifier."""
    return residual == 0 or residual >= UNIT_ID_LEN


def _split_aux(body: bytes, control: Control, afn: int, seq: Seq, strict: bool) -> tuple[bytes, Aux, tuple[str, ...]]:
    """Split the bytes after SEQ into (data units, AUX), falling back when a vendor omits EC or PW
    (PROTOCOLS.md Part D.3: compute AUX from DIR/AFN/ACD/TpV first; retry without EC/PW if it does not fit)."""
    if not (seq.tpv or control.acd or (afn in PW_AFNS and control.dir == Dir.DOWN)) and _fits(len(body)):
        return body, _NO_AUX, ()  # the common case: no AUX at all
    pw_len, ec_len, tp_len = _aux_lengths(control, afn, seq)
    warnings: tuple[str, ...] = ()
    if not _fits(len(body) - pw_len - ec_len - tp_len):
        if strict or not (pw_len or ec_len):
            raise FrameError(
                f"AUX (PW {pw_len}, EC {ec_len}, Tp {tp_len}) does not fit {len(body)} bytes after SEQ", raw=body
            )
        missing = "EC (ACD=1)" if ec_len else "PW"
        pw_len = ec_len = 0
        if not _fits(len(body) - tp_len):
            raise FrameError(f"Tp ({tp_len}) does not fit {len(body)} bytes after SEQ", raw=body)
        warnings = (f"{missing} expected but absent: user data length does not fit",)
    end = len(body) - pw_len - ec_len - tp_len
    pw = body[end : end + pw_len] if pw_len else None
    ec = (body[end], body[end + 1]) if ec_len else None
    tp = TimeLabel.from_bytes(body[len(body) - tp_len :]) if tp_len else None
    return body[:end], Aux(pw, ec, tp), warnings


def read_length(l_field: int, *, strict: bool = False) -> tuple[int, str | None]:
    """Validate one L field (§4.3.3.2): returns (user-data length, warning or None).

    Raises :class:`FrameError` for protocol ids 0 and 3, and for 1 (Q/GDW 130-2005) in strict mode.
    """
    pid = l_field & 0b11
    if pid == PID_376_1:
        return l_field >> 2, None
    if pid == PID_130_2005 and not strict:
        return l_field >> 2, "protocol id 1 (Q/GDW 130-2005) on a 376.1 frame"
    raise FrameError(f"protocol id {pid} in L field {l_field:04X}H")


def parse_frame(raw: bytes | bytearray | memoryview, *, strict: bool = False) -> LinkFrame:
    """Decode one whole frame ``68 L L 68 … CS 16`` and validate every link field.

    Raises :class:`FrameError` (start/end bytes, L1 != L2, protocol id, length, AUX that cannot fit),
    :class:`ChecksumError`, or :class:`DecodeError` (link fields: non-BCD A1 or Tp in strict mode / Tp).
    Lenient mode (default) accepts protocol id 1, a non-BCD A1 and a missing EC/PW, and says so in
    ``warnings``.
    """
    frame = bytes(raw)
    if len(frame) < OVERHEAD + FIXED_USER_LEN:
        raise FrameError(f"frame of {len(frame)} bytes is shorter than the minimum", raw=frame)
    if frame[0] != START or frame[5] != START:
        raise FrameError("start bytes are not 68H … 68H", raw=frame, offset=0)
    l1 = frame[1] | frame[2] << 8
    l2 = frame[3] | frame[4] << 8
    if l1 != l2:
        raise FrameError(f"L fields differ: {l1:04X}H / {l2:04X}H", raw=frame, offset=1)
    user_len, _ = read_length(l1, strict=strict)
    if user_len + OVERHEAD != len(frame):
        raise FrameError(f"L says {user_len} user bytes, frame holds {len(frame) - OVERHEAD}", raw=frame)
    end = HEADER_LEN + user_len
    expected = sum8(memoryview(frame)[HEADER_LEN:end])
    if expected != frame[end]:
        raise ChecksumError(expected, frame[end], raw=frame, offset=end)
    if frame[end + 1] != END:
        raise FrameError(f"end byte {frame[end + 1]:02X}H is not 16H", raw=frame, offset=end + 1)
    return decode_verified(frame, strict=strict)


#: Every C and SEQ byte decoded once: frames are parsed at line rate and these objects are immutable.
_CONTROLS = tuple(Control(Dir(up), prm, d5, d4, code) for up, prm, d5, d4, code in map(_unpack, range(256)))
_C_DEVIATIONS = tuple(c.deviation() for c in _CONTROLS)
_SEQS = tuple(Seq(*_unpack(b)) for b in range(256))
#: Addresses decoded so far, by their 5 wire bytes: a head-end meets a bounded set of terminals, and Address is
#: immutable, so the string formatting and checks run once per terminal (cleared when it reaches the bound).
_ADDRESSES: dict[bytes, Address] = {}
#: The subset of :data:`_ADDRESSES` whose A1 is BCD (no warning to give): what :func:`decode_verified` looks up.
_BCD_ADDRESSES: dict[bytes, Address] = {}
_ADDRESSES_MAX = 4096
#: SEQ.CON (请求确认标志位) asks the receiver to confirm; the standard's confirmed services are started by a
#: 启动站 (PRM=1: login, heartbeat, active reports). Terminals that set it in responses are met in the field
#: (PROTOCOLS.md A.5, D.5): lenient mode accepts it (and the session confirms the frame), strict mode rejects it.
CON_IN_RESPONSE = "CON=1 in a responding-station frame (PRM=0)"


def _deviations(frame: bytes, control: Control, seq: Seq, warnings: list[str], *, strict: bool) -> None:
    """A vendor C byte and CON=1 in a response: a warning each (lenient), or a :class:`DecodeError` (strict)."""
    for path, offset, deviation in (
        ("C", 6, _C_DEVIATIONS[frame[6]]),
        ("SEQ", 13, CON_IN_RESPONSE if seq.con and not control.prm else None),
    ):
        if deviation is not None:
            if strict:
                raise DecodeError(deviation, raw=frame, offset=offset, path=path)
            warnings.append(deviation)


def decode_verified(frame: bytes, *, strict: bool = False) -> LinkFrame:
    """Decode the link fields of a frame whose start bytes, L fields, length, CS and end byte are already
    verified (by :func:`parse_frame`, or by the framer, which checks them itself and need not do it twice)."""
    l1 = frame[1] | frame[2] << 8
    c = frame[6]
    # The common frame, decoded without detours: protocol id 2, a known BCD address, a C byte the standard
    # defines without ACD, SEQ without TpV (and without CON in a response), no PW (see _split_aux) and a
    # data-unit region that is empty or holds an identifier. Anything else takes the general path, which gives
    # the same frame for these.
    if l1 & 0b11 == PID_376_1 and _FAST_C_SEQ[c << 8 | frame[13]] and (c & _DIR_UP or frame[12] not in PW_AFNS):
        address = _BCD_ADDRESSES.get(frame[7:12])
        end = HEADER_LEN + (l1 >> 2)
        if address is not None and (end == 14 or end >= 14 + UNIT_ID_LEN):
            new_frame = _new(LinkFrame)
            s_control, s_address, s_afn, s_seq, s_data, s_aux, s_pid, s_warnings, s_raw = _FRAME_SLOTS
            s_control(new_frame, _CONTROLS[c])
            s_address(new_frame, address)
            s_afn(new_frame, frame[12])
            s_seq(new_frame, _SEQS[frame[13]])
            s_data(new_frame, frame[14:end])
            s_aux(new_frame, _NO_AUX)
            s_pid(new_frame, PID_376_1)
            s_warnings(new_frame, ())
            s_raw(new_frame, frame)
            return new_frame
    return _decode_general(frame, strict)


def _decode_general(frame: bytes, strict: bool) -> LinkFrame:
    """:func:`decode_verified` for every frame: protocol id 1, non-BCD A1, deviations, AUX."""
    l1 = frame[1] | frame[2] << 8
    user_len, pid_warning = read_length(l1, strict=strict)
    end = HEADER_LEN + user_len
    warnings: list[str] = [pid_warning] if pid_warning else []
    control = _CONTROLS[frame[6]]
    address = Address.from_bytes(frame[7:12])
    if not address.is_bcd:
        if strict:
            raise DecodeError(f"A1 {address.a1} is not BCD", raw=frame, offset=7, path="A1")
        warnings.append(f"A1 {address.a1} is not BCD")
    afn = frame[12]
    seq = _SEQS[frame[13]]
    if _C_DEVIATIONS[frame[6]] is not None or (seq.con and not control.prm):
        _deviations(frame, control, seq, warnings, strict=strict)
    try:
        data, aux, aux_warnings = _split_aux(frame[14:end], control, afn, seq, strict)
    except FrameError as exc:
        raise FrameError(str(exc), raw=frame) from exc
    return _new_frame(control, address, afn, seq, data, aux, l1 & 0b11, (*warnings, *aux_warnings), frame)


#: SEQ.TpV (Tp present) and SEQ.CON (a deviation in a response); C.PRM, C.DIR and DIR + ACD (EC present).
_TPV, _CON, _PRM = 0x80, 0x10, 0x40
#: C bits DIR=1 and ACD=1: an uplink frame with EC.
_ACD_UP = 0xA0
_DIR_UP = 0x80
_new = object.__new__
#: By ``C << 8 | SEQ``: whether the pair allows the fast path of decode_verified (a C byte without deviation
#: and without DIR=1 + ACD=1; SEQ without TpV, and without CON unless PRM=1).
_FAST_C_SEQ = bytes(
    _C_DEVIATIONS[c] is None and c & _ACD_UP != _ACD_UP and not s & _TPV and bool(c & _PRM or not s & _CON)
    for c in range(256)
    for s in range(256)
)
#: The slot setters of LinkFrame, in field order: the frame is built once per frame on the wire, and setting
#: its nine slots directly costs half of what the frozen dataclass ``__init__`` (``object.__setattr__`` per
#: field) does. Only for values already validated (every field is a plain value; LinkFrame has no
#: ``__post_init__``).
_FRAME_SLOTS = tuple(
    getattr(LinkFrame, name).__set__
    for name in ("control", "address", "afn", "seq", "data", "aux", "protocol_id", "warnings", "raw")
)


def _new_frame(
    control: Control,
    address: Address,
    afn: int,
    seq: Seq,
    data: bytes,
    aux: Aux,
    protocol_id: int,
    warnings: tuple[str, ...],
    raw: bytes,
) -> LinkFrame:
    """``LinkFrame(control, address, afn, seq, data, aux, protocol_id, warnings, raw)``, faster."""
    frame: LinkFrame = _new(LinkFrame)
    s_control, s_address, s_afn, s_seq, s_data, s_aux, s_pid, s_warnings, s_raw = _FRAME_SLOTS
    s_control(frame, control)
    s_address(frame, address)
    s_afn(frame, afn)
    s_seq(frame, seq)
    s_data(frame, data)
    s_aux(frame, aux)
    s_pid(frame, protocol_id)
    s_warnings(frame, warnings)
    s_raw(frame, raw)
    return frame


#: 68 L L 68 (帧头) C A1 A2 A3 AFN SEQ: the fixed start of every frame, packed at once.
_HEAD_C_A_AFN_SEQ = struct.Struct("<BHHBBHHBBB")
#: The C / SEQ byte of each shared table instance, by ``id`` (the table lives as long as the module, so an id
#: found here is that instance's): builders pass these instances, and a lookup beats recomputing the bits.
_CONTROL_BYTES = {id(control): b for b, control in enumerate(_CONTROLS)}
_SEQ_BYTES = {id(seq): b for b, seq in enumerate(_SEQS)}


def _control_byte(control: Control) -> int:
    b = _CONTROL_BYTES.get(id(control))
    return b if b is not None and _CONTROLS[b] is control else control.to_byte()


def _seq_byte(seq: Seq) -> int:
    b = _SEQ_BYTES.get(id(seq))
    return b if b is not None and _SEQS[b] is seq else seq.to_byte()


def build_frame(
    control: Control,
    address: Address,
    afn: int,
    seq: Seq,
    data: bytes = b"",
    aux: Aux = _NO_AUX,
    *,
    authenticator: Authenticator | None = None,
) -> bytes:
    """Build one frame. AUX must agree with the header: PW (16 bytes) iff :func:`has_pw` — ``aux.pw=None``
    then means the PW ``authenticator`` produces (:mod:`protocols.gdw376.auth`; none given: 16 zero bytes,
    security off); EC iff uplink with ACD=1; Tp iff SEQ.TpV.
    Raises :class:`LocalProtocolError` for anything the standard does not allow."""
    if not 0 <= afn <= 255:
        _check_range("AFN", afn, 0, 255)
    c, s = _control_byte(control), _seq_byte(seq)
    if (
        (aux is _NO_AUX or (aux.pw is None and aux.ec is None and aux.tp is None))
        and not s & _TPV
        and c & _ACD_UP != _ACD_UP
        and (c & _DIR_UP or afn not in PW_AFNS)
        and len(data) <= MAX_USER_LEN - FIXED_USER_LEN
    ):
        # The common frame: no AUX given and none required (no PW, EC or Tp), so nothing to check or produce.
        return _assemble(c, int(address.a1, 16), address.a2, address.msa << 1 | address.group, afn, s, data)
    pw_len, ec_len, tp_len = _aux_lengths(control, afn, seq)
    if pw_len:
        if aux.pw is not None:
            pw = aux.pw
        elif authenticator is None:
            pw = bytes(PW_LEN)
        else:
            tp_raw = aux.tp.to_bytes() if aux.tp is not None else b""
            message = PwInput(control.to_byte(), address.to_bytes(), afn, seq.to_byte(), data, tp_raw)
            pw = make_pw(authenticator, message)
        if len(pw) != PW_LEN:
            raise LocalProtocolError(f"PW must be {PW_LEN} bytes, got {len(pw)}")
    elif aux.pw is not None:
        raise LocalProtocolError(f"PW given for AFN{afn:02X} DIR={control.dir}, which carries none")
    else:
        pw = b""
    if (aux.ec is not None) != bool(ec_len):
        raise LocalProtocolError("EC is required exactly when an uplink frame has ACD=1")
    ec = b""
    if aux.ec is not None:
        _check_range("EC1", aux.ec[0], 0, 255)
        _check_range("EC2", aux.ec[1], 0, 255)
        ec = bytes(aux.ec)
    if (aux.tp is not None) != bool(tp_len):
        raise LocalProtocolError("Tp is required exactly when SEQ.TpV=1")
    tp = aux.tp.to_bytes() if aux.tp is not None else b""
    a3 = address.msa << 1 | address.group
    return _assemble(c, int(address.a1, 16), address.a2, a3, afn, s, b"".join((data, pw, ec, tp)))


def _assemble(c: int, a1: int, a2: int, a3: int, afn: int, seq: int, data: bytes) -> bytes:
    """``68 L L 68 C A AFN SEQ data CS 16`` from checked fields (``a1`` as the int of its printed hex digits,
    ``data`` with AUX appended): the bytes of a frame, refusing only user data longer than L can say."""
    size = FIXED_USER_LEN + len(data)
    if size > MAX_USER_LEN:
        raise LocalProtocolError(f"user data of {size} bytes exceeds {MAX_USER_LEN}")
    l_field = size << 2 | PID_376_1
    frame = _HEAD_C_A_AFN_SEQ.pack(START, l_field, l_field, START, c, a1, a2, a3, afn, seq) + data
    # CS is the sum of the user data: of the whole frame so far less 68 L L 68 (each byte of L twice).
    return frame + bytes(((sum(frame) - 2 * (START + (l_field & 0xFF) + (l_field >> 8))) & 0xFF, END))
