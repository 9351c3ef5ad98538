"""Frame builders the head-end (主站) and the simulated terminal (终端) both use (Q/GDW 376.1 §4.3, §5.1;
PROTOCOLS.md A.3, A.5, A.11).

Control bytes produced:

==========================  =====  =====================================================================
frame                       C      fields
==========================  =====  =====================================================================
login/logout/heartbeat      C9     DIR=1 PRM=1 FC=9 链路测试
master confirm/deny link    0B     DIR=0 PRM=0 FC=11 链路状态
read request                4B     DIR=0 PRM=1 FC=11 请求2级数据 (masters use 4A/4B interchangeably)
response with data          88/A8  DIR=1 PRM=0 FC=8 用户数据 (A8: ACD=1, EC follows)
confirm/deny otherwise      80/00  PRM=0 FC=0 认可 (a deny of a read request: FC=9 否认：无所召唤的数据, 89)
==========================  =====  =====================================================================

The function code of an AFN00 confirmation that does not answer a link check follows the PRM=0 table (0 认可);
a public master test fixture (``taskService.insertRecvMsg(… "68 32 00 32 00 68 80 …")``, a terminal's AFN00 F1
answer to an AFN04 set) shows C=80 too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from protocols.errors import LocalProtocolError
from protocols.gdw376.auth import Authenticator
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Afn, Aux, Control, Dir, LinkFrame, Seq, TimeLabel, _assemble, build_frame
from protocols.gdw376.units import DataUnit, Heartbeat, encode_units
from protocols.gdw376.units.afn0d import TimeTag, tag_record
from protocols.gdw376.units.afn00 import F1_ALL_CONFIRMED, F2_ALL_DENIED
from protocols.gdw376.units.afn02 import F1_LOGIN, F2_LOGOUT, F3_HEARTBEAT
from protocols.gdw376.units.afn05 import F31_TIME_SYNC
from protocols.gdw376.units.afn10 import F1_TRANSPARENT, FrameTimeout, SerialSettings
from protocols.gdw376.units.registry import encode_identifiers

FC_CONFIRM = 0  # PRM=0: 认可
FC_RESPONSE = 8  # PRM=0: 用户数据
FC_NO_DATA = 9  # PRM=0: 否认：无所召唤的数据
FC_LINK_STATUS = 11  # PRM=0: 链路状态
FC_LINK_TEST = 9  # PRM=1: 链路测试
FC_REQUEST_CLASS2 = 11  # PRM=1: 请求2级数据 (used by masters for every read)
FC_RESET = 1  # PRM=1: 复位命令
FC_REQUEST_CLASS1 = 10  # PRM=1: 请求1级数据 (masters use it for set/control commands)
#: Function code of a master's command by AFN (PROTOCOLS.md A.3: 41 reset, 4A set/control, 4B read/forward).
_COMMAND_CODES: dict[int, int] = {Afn.RESET: FC_RESET, Afn.FORWARD: FC_REQUEST_CLASS2}
#: AFNs whose requests ask for data; a deny of them is "no requested data" (FC=9).
_READ_AFNS = frozenset({0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E})


def _control(dir: Dir, prm: bool, acd: bool, fcv: bool, code: int) -> Control:
    """The shared :class:`Control` of these bits (a table lookup: builders run per request and per response)."""
    return Control.from_byte(dir << 7 | prm << 6 | acd << 5 | fcv << 4 | code)


def _seq(tpv: bool, fir: bool, fin: bool, con: bool, seq: int) -> Seq:
    """The shared :class:`Seq` of these bits (a table lookup)."""
    return Seq.from_byte(tpv << 7 | fir << 6 | fin << 5 | con << 4 | seq)


def _pseq(pseq: int) -> int:
    """Accept a PFC (0..255) or a PSEQ (0..15); the SEQ field carries its low 4 bits (§4.3.4.5)."""
    if not 0 <= pseq <= 0xFF:
        raise LocalProtocolError(f"PSEQ/PFC {pseq} outside 0..255")
    return pseq & 0x0F


def link_check(address: Address, fn: int, pseq: int, *, clock: datetime | None = None) -> bytes:
    """Terminal → master AFN02 F1 登录 / F2 退出登录 / F3 心跳: C=C9, SEQ FIR=FIN=CON=1, MSA 0.
    ``clock`` (2013-era heartbeat, A.1) only with F3."""
    if fn == F3_HEARTBEAT:
        units: Sequence[DataUnit] = (DataUnit(0, fn, Heartbeat(clock)),)
    elif clock is not None:
        raise LocalProtocolError(f"AFN02 F{fn} carries no clock")
    else:
        units = _LINK_CHECK_UNITS.get(fn) or (DataUnit(0, fn),)
    data = encode_units(_AFN02, units, _UP)
    # What build_frame(C, address.with_msa(0), AFN02, SEQ, data) gives, without its checks: the fields are
    # constants or checked above, and an uplink AFN02 frame without ACD and TpV carries no AUX.
    seq = _LINK_CHECK_SEQ | _pseq(pseq)
    return _assemble(_LINK_CHECK_C, int(address.a1, 16), address.a2, address.group, _AFN02, seq, data)


#: What :func:`link_check` sends: C = C9H (DIR=1, PRM=1, 链路测试), SEQ FIR=FIN=CON=1 over PSEQ, and for login and
#: logout the units (immutable, so shared).
_LINK_CHECK_C = _control(Dir.UP, True, False, False, FC_LINK_TEST).to_byte()
_LINK_CHECK_SEQ = _seq(False, True, True, True, 0).to_byte()
_LINK_CHECK_UNITS = {fn: (DataUnit(0, fn),) for fn in (F1_LOGIN, F2_LOGOUT)}
_AFN02, _UP = int(Afn.LINK_CHECK), Dir.UP
#: No AUX (no EC, no Tp): shared.
_NO_AUX = Aux()


def _answer(request: LinkFrame, fn: int, code: int) -> bytes:
    """AFN00 ``fn`` (p0) answering ``request``: opposite DIR, PRM=0, address (incl. MSA) echoed,
    SEQ FIR=FIN=1 CON=0 with RSEQ = the request's PSEQ."""
    direction = Dir.DOWN if request.dir == Dir.UP else Dir.UP
    return build_frame(
        _control(direction, False, False, False, code),
        request.address,
        Afn.CONFIRM_DENY,
        _seq(False, True, True, False, request.seq.seq),
        encode_units(Afn.CONFIRM_DENY, [DataUnit(0, fn)], direction),
    )


def confirm(request: LinkFrame) -> bytes:
    """AFN00 F1 全部确认 answering ``request``: C=0B for link checks (AFN02), else FC=0 认可 (C=80/00)."""
    code = FC_LINK_STATUS if request.afn == Afn.LINK_CHECK else FC_CONFIRM
    return _answer(request, F1_ALL_CONFIRMED, code)


def deny(request: LinkFrame) -> bytes:
    """AFN00 F2 全部否认 answering ``request``: C=0B for link checks, FC=9 (否认：无所召唤的数据, C=89) for
    read-type requests (AFN09/0A/0B/0C/0D/0E), else FC=0."""
    if request.afn == Afn.LINK_CHECK:
        code = FC_LINK_STATUS
    elif request.afn in _READ_AFNS:
        code = FC_NO_DATA
    else:
        code = FC_CONFIRM
    return _answer(request, F2_ALL_DENIED, code)


def read_request(
    address: Address, afn: int, items: Sequence[tuple[int, int]], pseq: int, *, tp: TimeLabel | None = None
) -> bytes:
    """Master → terminal request of ``items`` (pn, Fn): C=4B, SEQ FIR=FIN=1 CON=0, TpV iff ``tp``.

    For requests that are identifiers only (AFN09, AFN0C, AFN0A without a body), so any Fn can be asked for,
    registered or not; the identifiers are merged (:func:`~protocols.gdw376.da_dt.merge_identifiers`).
    """
    return build_frame(
        _control(Dir.DOWN, True, False, False, FC_REQUEST_CLASS2),
        address,
        afn,
        _seq(tp is not None, True, True, False, _pseq(pseq)),
        encode_identifiers(items),
        Aux(tp=tp),
    )


def response(
    request: LinkFrame,
    units: Sequence[DataUnit],
    *,
    acd_ec: tuple[int, int] | None = None,
    fir: bool = True,
    fin: bool = True,
    seq: int | None = None,
) -> bytes:
    """Terminal → master response: C=88 (A8 with EC when ``acd_ec``), address echoed incl. MSA,
    RSEQ = the request's PSEQ unless ``seq`` is given (later frames of a multi-frame answer), CON=0,
    Tp copied from the request when it has one (sans-IO: the send time is the request's)."""
    tp = request.aux.tp
    return build_frame(
        _control(Dir.UP, False, acd_ec is not None, False, FC_RESPONSE),
        request.address,
        request.afn,
        _seq(tp is not None, fir, fin, False, request.seq.seq if seq is None else _pseq(seq)),
        encode_units(request.afn, units, Dir.UP),
        _NO_AUX if acd_ec is None and tp is None else Aux(ec=acd_ec, tp=tp),
    )


def command(
    address: Address,
    afn: int,
    units: Sequence[DataUnit],
    pseq: int,
    *,
    tp: TimeLabel | None = None,
    authenticator: Authenticator | None = None,
    edition: str | None = None,
) -> bytes:
    """Master → terminal request with data units (AFN01 复位, 04 设置参数, 05 控制命令, 0F 文件传输, 10 数据转发,
    or any request whose Fn has a downlink body, e.g. AFN0D with its time tags): C=41 for AFN01, 4B for AFN10 and
    read-type AFNs, else 4A; SEQ FIR=FIN=1, CON=0 (the terminal answers AFN00 or with data), TpV iff ``tp``.
    PW, where the AFN carries one, comes from ``authenticator`` (:mod:`protocols.gdw376.auth`; default all-zero).
    Units without values are sent as merged identifiers, registered or not (like :func:`read_request`).
    """
    code = _COMMAND_CODES.get(afn, FC_REQUEST_CLASS2 if afn in _READ_AFNS else FC_REQUEST_CLASS1)
    if all(u.value is None for u in units):
        data = encode_identifiers((u.pn, u.fn) for u in units)
    else:
        data = encode_units(afn, units, Dir.DOWN, edition=edition)
    return build_frame(
        _control(Dir.DOWN, True, False, False, code),
        address,
        afn,
        _seq(tp is not None, True, True, False, _pseq(pseq)),
        data,
        Aux(tp=tp),
        authenticator=authenticator,
    )


#: DL/T 645 on RS-485: 2400 bit/s, 8 data bits, even parity, 1 stop bit (PROTOCOLS.md B.1).
DLT645_LINE = SerialSettings(2400, 8, "even", 1)
#: Default wait for the meter's answer to a forwarded frame: 10 s.
FORWARD_WAIT = FrameTimeout(10, seconds=True)


def forward_request(
    address: Address,
    port: int,
    dlt645_frame: bytes,
    pseq: int,
    *,
    serial: SerialSettings = DLT645_LINE,
    frame_timeout: FrameTimeout = FORWARD_WAIT,
    byte_timeout_10ms: int = 10,
    tp: TimeLabel | None = None,
    authenticator: Authenticator | None = None,
) -> bytes:
    """Master → terminal AFN10 F1 透明转发 (Q/GDW 376.1-2009 §5.16.2.1): send ``dlt645_frame`` (a whole DL/T 645
    frame, FE preamble included if wanted) on terminal port ``port`` with the given line settings (default 2400
    8E1, the DL/T 645 default), wait up to ``frame_timeout`` for the answer and ``byte_timeout_10ms`` × 10 ms between
    its bytes. Built with :func:`command` (C=4B, PW from ``authenticator``); the terminal answers AFN10 F1 uplink."""
    body = Record(
        [
            ("port", port),
            ("serial", serial),
            ("frame_timeout", frame_timeout),
            ("byte_timeout_10ms", byte_timeout_10ms),
            ("frame", bytes(dlt645_frame)),
        ]
    )
    return command(address, Afn.FORWARD, [DataUnit(0, F1_TRANSPARENT, body)], pseq, tp=tp, authenticator=authenticator)


def event_request(address: Address, fn: int, pm: int, pn: int, pseq: int, *, tp: TimeLabel | None = None) -> bytes:
    """Master → terminal AFN0E F1 请求重要事件 / F2 请求一般事件 (Q/GDW 376.1-2009 §5.14.1) for the records
    between the pointers ``pm`` and ``pn`` (Y = Pn − Pm mod 256; read them from EC1/EC2 of an ACD=1 frame or
    AFN0C F7). C=4B, no PW."""
    body = Record([("pointer_pm", pm), ("pointer_pn", pn)])
    return command(address, Afn.REQUEST_CLASS3, [DataUnit(0, fn, body)], pseq, tp=tp)


def time_sync(
    address: Address,
    clock: datetime,
    pseq: int,
    *,
    tp: TimeLabel | None = None,
    authenticator: Authenticator | None = None,
) -> bytes:
    """Master → terminal AFN05 F31 对时命令 (Q/GDW 376.1-2009 §5.6, p0): the terminal clock as 附录A.1 (whole
    seconds, week written), sent as a :func:`command` (C=4A, PW). The terminal answers AFN00."""
    unit = DataUnit(0, F31_TIME_SYNC, Record({"clock": clock.replace(microsecond=0)}))
    return command(address, Afn.CONTROL, [unit], pseq, tp=tp, authenticator=authenticator)


def history_request(
    address: Address,
    items: Sequence[tuple[int, int, TimeTag]],
    pseq: int,
    *,
    tp: TimeLabel | None = None,
    edition: str | None = None,
) -> bytes:
    """Master → terminal AFN0D 请求2类数据 (Q/GDW 376.1-2009 §5.1.3.14): one data unit per (pn, Fn, tag), the tag
    a :class:`~protocols.gdw376.units.afn0d.DailyTag` (Td_d), :class:`~protocols.gdw376.units.afn0d.MonthlyTag`
    (Td_m) or :class:`~protocols.gdw376.units.afn0d.CurveTag` (Td_c) as the Fn requires; each unit has its own DA DT
    followed by its tag. Built with :func:`command` (C=4B, no PW); the terminal answers AFN0D with the tag repeated
    before the data."""
    units = [DataUnit(pn, fn, tag_record(tag)) for pn, fn, tag in items]
    return command(address, Afn.REQUEST_CLASS2, units, pseq, tp=tp, edition=edition)
