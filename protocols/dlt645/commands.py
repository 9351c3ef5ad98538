"""DL/T 645 commands other than reads: master-side builders, meter-side parsers, and their value types.

DL/T 645-2007 §7 (DATA after the 33H is removed; every multi-byte field low byte first)::

    C    command (命令), clause      DATA                                              normal reply
    08H  广播校时 §7.6            ss mm hh DD MM YY, to 999999999999                  none
    14H  写数据 §7.3              DI(4) PA P0 P1 P2  C0 C1 C2 C3  N1..Nm              94H, L = 0
    15H  写通信地址 §7.5          A0..A5 (the new address), to AAAAAAAAAAAA           95H, L = 0
    16H  冻结命令 §7.7            mm hh DD MM (99 = every, see FreezeTime)            96H, L = 0; broadcast: none
    17H  更改通信速率 §7.8        Z (通信速率特征字)                                   97H, DATA = Z
    18H  修改密码 §7.9            DI(4) PA0 P00 P10 P20 (old)  PAN P0N P1N P2N (new)   98H, DATA = PAN P0N P1N P2N
    19H  最大需量清零 §7.10       PA P0 P1 P2  C0 C1 C2 C3                            99H, L = 0
    1AH  电表清零 §7.11           PA P0 P1 P2  C0 C1 C2 C3                            9AH, L = 0
    1BH  事件清零 §7.12           PA P0 P1 P2  C0 C1 C2 C3  DI(4) (FFFFFFFF = all)     9BH, L = 0
    1CH  跳合闸、报警、保电        PA P0 P1 P2  C0 C1 C2 C3  N1 N2  N3..N8 (expiry)      9CH, L = 0

A refusal is the abnormal reply C | C0H with an error word (:mod:`protocols.dlt645.errors`). ``PA`` is the
password level (密码权限, 00..09; 02 and 04 are the usual ones), ``P0..P2`` the password, ``C0..C3`` the operator
code (操作者代码) the meter records with the event. 1CH is defined by the State Grid smart-meter supplement; its
command N1 (:class:`ControlAction`) — 1AH trip, 1BH allow close, 1CH close directly, 2AH alarm, 2BH alarm release,
3AH keep power, 3BH keep-power release — was checked against a meter-test tool's decoder (1A/1B/2A/2B/3A/3B) and
a terminal firmware that builds 1CH as "1BH + 1" for 直接合闸; N2 is reserved (00H) and N3..N8 the time the
command stays valid (命令有效截止时间). Fee-control meters usually want the ESAM-encrypted form (PA = 98H/99H,
security command 03H), which is out of scope here.

DL/T 645-1997 (§4.2.3; PROTOCOLS.md Part C): 04H 写数据 ``DI(2) PA P0 P1 P2 data`` → 84H; 08H 广播校时 as
above; 0AH 写设备地址 ``A0..A5`` → 8AH; 0CH 更改通信速率 ``Z`` → 8CH + Z; 0FH 修改密码 ``PA0 P00 P10 P20 PAN P0N
P1N P2N`` → 8FH + the new password; 10H 最大需量清零 → 90H (L = 0, or a password on some meters: both are
accepted). 03H 重读数据 and the reads are in :mod:`protocols.dlt645.apdu`.

The baud-rate feature word Z (通信速率特征字, 2007 附录 / 表A.5 04000701..05): exactly one of D1 600, D2 1200,
D3 2400, D4 4800, D5 9600, D6 19200 bit/s; D0 and D7 reserved. PROTOCOLS.md recorded a conflict (one
implementation giving 4800 = 16H, 9600 = 32H, 19200 = 64H). Checked with public code: a meter firmware's 17H
handler scans the six bits D1..D6, and two independent frame analysers (one C#, one Python) decode D1 = 600 …
D6 = 19200 bit/s; the "16H/32H/64H" values are the decimal numbers 16/32/64 (10H/20H/40H) written as hex. One
Rust crate puts 600 at D0 for 2007 and shifts again for 1997, contradicting its own comments. We use D1..D6 for
both editions (:data:`BAUD_RATES`).

Public names: value types :class:`Password`, :class:`ControlAction`, :class:`FreezeTime`, :data:`BAUD_RATES`,
:func:`baud_word`, :func:`baud_from_word`; requests :class:`BroadcastTimeRequest`, :class:`WriteRequest`,
:class:`WriteAddressRequest`, :class:`FreezeRequest`, :class:`ChangeBaudRequest`, :class:`ChangePasswordRequest`,
:class:`ClearDemandRequest`, :class:`ClearMeterRequest`, :class:`ClearEventsRequest`, :class:`ControlRequest`
(the union :data:`Command`); builders ``build_*``; :func:`parse_command`; meter-side replies
:func:`build_ack`, :func:`build_baud_reply`, :func:`build_password_reply`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from protocols.common.bcd import bcd_byte, to_bcd_byte
from protocols.dlt645.control import Edition, Function, Function1997, compose_control
from protocols.dlt645.data_items import di_to_wire, lookup
from protocols.dlt645.formats import Scalar, field_of
from protocols.dlt645.link import BROADCAST, WILDCARD, Dlt645Frame, address_from_wire, address_to_wire, build_frame
from protocols.errors import DecodeError, LocalProtocolError

#: FE bytes a master sends before a request (PROTOCOLS.md B.1: "up to 4").
DEFAULT_PREAMBLE = 4
#: Event-clear DI meaning "every event" (1BH with DI = FFFFFFFF, DL/T 645-2007 §7.12).
ALL_EVENTS = 0xFFFFFFFF
#: The operator code sent when the caller gives none.
DEFAULT_OPERATOR = "00000000"

#: 通信速率特征字: bit → bit/s (D1..D6; D0, D7 reserved).
BAUD_RATES: dict[int, int] = {1: 600, 2: 1200, 3: 2400, 4: 4800, 5: 9600, 6: 19200}
_BAUD_BITS = {rate: bit for bit, rate in BAUD_RATES.items()}

#: ``ss mm hh DD MM YY`` (broadcast time, control expiry): the wire order of YYMMDDhhmmss.
_CLOCK = field_of("YYMMDDhhmmss")


def baud_word(rate: int) -> int:
    """The feature word Z for a baud rate.

    >>> hex(baud_word(2400)), hex(baud_word(9600))
    ('0x8', '0x20')
    """
    try:
        return 1 << _BAUD_BITS[rate]
    except KeyError:
        raise LocalProtocolError(f"{rate} bit/s has no feature-word bit ({sorted(_BAUD_BITS)})") from None


def baud_from_word(word: int) -> int:
    """The baud rate a feature word Z selects; :class:`DecodeError` unless exactly one of D1..D6 is set.

    >>> baud_from_word(0x08)
    2400
    """
    bits = [bit for bit in range(8) if word & (1 << bit)]
    if len(bits) != 1 or bits[0] not in BAUD_RATES:
        raise DecodeError(f"feature word {word:02X}H does not select one baud rate")
    return BAUD_RATES[bits[0]]


@dataclass(frozen=True, slots=True)
class Password:
    """A password with its level (密码权限 PA + 密码 P0P1P2, DL/T 645-2007 §7.3): ``code`` is six hex digits
    written most significant first, as on a commissioning sheet (wire P0 is its last two digits).

    >>> Password(2, "123456").to_wire().hex()
    '02563412'
    """

    level: int
    code: str = "000000"

    def to_wire(self) -> bytes:
        if not 0 <= self.level <= 0xFF:
            raise LocalProtocolError(f"password level {self.level} is not one byte")
        try:
            code = bytes.fromhex(self.code)
        except ValueError:
            code = b""
        if len(code) != 3:
            raise LocalProtocolError(f"password {self.code!r} is not six hex digits")
        return bytes((self.level,)) + code[::-1]

    @classmethod
    def from_wire(cls, raw: bytes) -> Password:
        return cls(raw[0], bytes(raw[1:4])[::-1].hex().upper())


def _operator_wire(operator: str) -> bytes:
    """操作者代码 C0..C3: eight hex digits, most significant first on paper, C0 (the last two) sent first."""
    try:
        code = bytes.fromhex(operator)
    except ValueError:
        code = b""
    if len(code) != 4:
        raise LocalProtocolError(f"operator code {operator!r} is not eight hex digits")
    return code[::-1]


def _operator_text(raw: bytes) -> str:
    return bytes(raw)[::-1].hex().upper()


class ControlAction(enum.IntEnum):
    """N1 of 1CH (跳合闸、报警、保电, State Grid smart-meter supplement)."""

    TRIP = 0x1A  #: 跳闸
    ALLOW_CLOSE = 0x1B  #: 合闸允许
    CLOSE = 0x1C  #: 直接合闸
    ALARM = 0x2A  #: 报警
    ALARM_RELEASE = 0x2B  #: 报警解除
    KEEP_POWER = 0x3A  #: 保电
    KEEP_POWER_RELEASE = 0x3B  #: 保电解除


#: 99 in a freeze time field: "every" (DL/T 645-2007 §7.7).
FREEZE_WILDCARD = 99


@dataclass(frozen=True, slots=True)
class FreezeTime:
    """The 16H freeze time ``mm hh DD MM``; ``None`` in a field is the 99 wildcard.

    DL/T 645-2007 §7.7: ``MM = 99`` freezes monthly on day DD at hh:mm, ``MM = DD = 99`` daily at hh:mm,
    ``MM = DD = hh = 99`` hourly at minute mm, all four 99 at once (瞬时冻结).

    >>> FreezeTime(month=None, day=None, hour=0, minute=0).to_wire().hex()
    '00009999'
    """

    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None

    def to_wire(self) -> bytes:
        out = bytearray()
        for value, high in ((self.minute, 59), (self.hour, 23), (self.day, 31), (self.month, 12)):
            if value is None:
                out.append(to_bcd_byte(FREEZE_WILDCARD))
            elif not 0 <= value <= high:
                raise LocalProtocolError(f"freeze time field {value} is outside 0..{high}")
            else:
                out.append(to_bcd_byte(value))
        return bytes(out)

    @classmethod
    def from_wire(cls, raw: bytes) -> FreezeTime:
        minute, hour, day, month = (None if (v := bcd_byte(b)) == FREEZE_WILDCARD else v for b in raw)
        return cls(month=month, day=day, hour=hour, minute=minute)

    @property
    def is_immediate(self) -> bool:
        """All four fields 99: freeze now (瞬时冻结)."""
        return self.month is self.day is self.hour is self.minute is None


# ----------------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class BroadcastTimeRequest:
    """08H 广播校时 (DL/T 645-2007 §7.6, 1997 the same): set the clock to ``when``; no meter replies."""

    address: str
    when: datetime


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """14H 写数据 (1997 04H): write ``data`` (the value bytes of the catalogue item ``di``) with a password.
    ``operator`` is ``None`` in 1997, which has no operator code."""

    address: str
    di: int
    password: Password
    operator: str | None
    data: bytes
    edition: Edition = Edition.V2007

    def values(self) -> tuple[Scalar | None, ...]:
        """The written values, decoded with the catalogue (:class:`UnknownDataItem` if the DI is not in it)."""
        return lookup(self.di, edition=self.edition).decode(self.data)


@dataclass(frozen=True, slots=True)
class WriteAddressRequest:
    """15H 写通信地址 (1997 0AH 写设备地址): give the meter ``new_address``."""

    address: str
    new_address: str
    edition: Edition = Edition.V2007


@dataclass(frozen=True, slots=True)
class FreezeRequest:
    """16H 冻结命令 (DL/T 645-2007 §7.7)."""

    address: str
    at: FreezeTime


@dataclass(frozen=True, slots=True)
class ChangeBaudRequest:
    """17H 更改通信速率 (1997 0CH): switch to ``baud`` bit/s after replying."""

    address: str
    baud: int
    edition: Edition = Edition.V2007


@dataclass(frozen=True, slots=True)
class ChangePasswordRequest:
    """18H 修改密码 (1997 0FH): ``di`` names the level being set (04000C01..0A for levels 0..9; ``None`` in
    1997), authorised by ``old``."""

    address: str
    di: int | None
    old: Password
    new: Password
    edition: Edition = Edition.V2007


@dataclass(frozen=True, slots=True)
class ClearDemandRequest:
    """19H 最大需量清零 (1997 10H; 1997 meters may take no password, then ``password`` is ``None``)."""

    address: str
    password: Password | None
    operator: str | None
    edition: Edition = Edition.V2007


@dataclass(frozen=True, slots=True)
class ClearMeterRequest:
    """1AH 电表清零 (DL/T 645-2007 §7.11)."""

    address: str
    password: Password
    operator: str


@dataclass(frozen=True, slots=True)
class ClearEventsRequest:
    """1BH 事件清零 (DL/T 645-2007 §7.12): ``di`` is an event record DI, or :data:`ALL_EVENTS`."""

    address: str
    password: Password
    operator: str
    di: int


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """1CH 跳合闸、报警、保电: ``action`` valid until ``valid_until``."""

    address: str
    password: Password
    operator: str
    action: ControlAction
    valid_until: datetime


#: Every non-read request :func:`parse_command` returns.
Command: TypeAlias = (
    BroadcastTimeRequest
    | WriteRequest
    | WriteAddressRequest
    | FreezeRequest
    | ChangeBaudRequest
    | ChangePasswordRequest
    | ClearDemandRequest
    | ClearMeterRequest
    | ClearEventsRequest
    | ControlRequest
)

# ----------------------------------------------------------------------------------------------------- builders


def _clock(when: datetime) -> bytes:
    return _CLOCK.encode(when.replace(microsecond=0))


def _authority(password: Password, operator: str) -> bytes:
    return password.to_wire() + _operator_wire(operator)


def build_broadcast_time(when: datetime, *, preamble: int = DEFAULT_PREAMBLE) -> bytes:
    """08H 广播校时 to 999999999999 (both editions): DATA = ss mm hh DD MM YY of ``when`` (local meter time;
    microseconds are dropped).

    >>> build_broadcast_time(datetime(2024, 1, 5, 12, 30, 45), preamble=0).hex(" ")
    '68 99 99 99 99 99 99 68 08 06 78 63 45 38 34 57 57 16'
    """
    return build_frame(BROADCAST, Function.BROADCAST_TIME, _clock(when), preamble=preamble)


def build_write(
    address: str,
    di: int,
    values: Sequence[Scalar | None] | bytes,
    *,
    password: Password,
    operator: str = DEFAULT_OPERATOR,
    edition: Edition = Edition.V2007,
    preamble: int = DEFAULT_PREAMBLE,
) -> bytes:
    """14H 写数据 (1997 04H, which has no operator code): ``values`` are encoded with the catalogue item ``di``,
    or given as the raw value bytes."""
    data = values if isinstance(values, bytes) else lookup(di, edition=edition).encode(values)
    if edition is Edition.V2007:
        body = di_to_wire(di, edition) + _authority(password, operator) + data
        return build_frame(address, Function.WRITE, body, preamble=preamble)
    return build_frame(
        address, Function1997.WRITE, di_to_wire(di, edition) + password.to_wire() + data, preamble=preamble
    )


def build_write_address(
    new_address: str, *, address: str = WILDCARD, edition: Edition = Edition.V2007, preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """15H 写通信地址, normally to AAAAAAAAAAAA with one meter on the line (1997 0AH 写设备地址, normally to
    999999999999)."""
    if "AA" in new_address.upper():
        raise LocalProtocolError(f"{new_address!r}: a meter address has no wildcard bytes")
    function = Function.WRITE_ADDRESS if edition is Edition.V2007 else Function1997.WRITE_ADDRESS
    return build_frame(address, function, address_to_wire(new_address), preamble=preamble)


def build_freeze(address: str, at: FreezeTime, *, preamble: int = DEFAULT_PREAMBLE) -> bytes:
    """16H 冻结命令; ``address`` may be :data:`~protocols.dlt645.link.BROADCAST` (no meter replies)."""
    return build_frame(address, Function.FREEZE, at.to_wire(), preamble=preamble)


def build_change_baud(
    address: str, baud: int, *, edition: Edition = Edition.V2007, preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """17H 更改通信速率 (1997 0CH): DATA = the feature word Z."""
    function = Function.CHANGE_BAUD if edition is Edition.V2007 else Function1997.CHANGE_BAUD
    return build_frame(address, function, bytes((baud_word(baud),)), preamble=preamble)


#: 18H: DI of the password of level n (0级..9级密码, 表A.5 04000C01..0A).
def password_di(level: int) -> int:
    """The 18H DI for password level ``level`` (0..9).

    >>> hex(password_di(2))
    '0x4000c03'
    """
    if not 0 <= level <= 9:
        raise LocalProtocolError(f"password level {level} is outside 0..9")
    return 0x04000C01 + level


def build_change_password(
    address: str,
    old: Password,
    new: Password,
    *,
    edition: Edition = Edition.V2007,
    preamble: int = DEFAULT_PREAMBLE,
) -> bytes:
    """18H 修改密码: DI of the new level + old + new password (1997 0FH: old + new only)."""
    if edition is Edition.V2007:
        body = di_to_wire(password_di(new.level), edition) + old.to_wire() + new.to_wire()
        return build_frame(address, Function.CHANGE_PASSWORD, body, preamble=preamble)
    return build_frame(address, Function1997.CHANGE_PASSWORD, old.to_wire() + new.to_wire(), preamble=preamble)


def build_clear_demand(
    address: str,
    *,
    password: Password | None,
    operator: str = DEFAULT_OPERATOR,
    edition: Edition = Edition.V2007,
    preamble: int = DEFAULT_PREAMBLE,
) -> bytes:
    """19H 最大需量清零 (1997 10H: ``password=None`` sends L = 0, otherwise PA P0 P1 P2 without operator)."""
    if edition is Edition.V2007:
        if password is None:
            raise LocalProtocolError("19H needs a password")
        return build_frame(address, Function.CLEAR_DEMAND, _authority(password, operator), preamble=preamble)
    data = b"" if password is None else password.to_wire()
    return build_frame(address, Function1997.CLEAR_DEMAND, data, preamble=preamble)


def build_clear_meter(
    address: str, *, password: Password, operator: str = DEFAULT_OPERATOR, preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """1AH 电表清零."""
    return build_frame(address, Function.CLEAR_METER, _authority(password, operator), preamble=preamble)


def build_clear_events(
    address: str,
    di: int = ALL_EVENTS,
    *,
    password: Password,
    operator: str = DEFAULT_OPERATOR,
    preamble: int = DEFAULT_PREAMBLE,
) -> bytes:
    """1BH 事件清零 of one event (its record DI) or, by default, all (FFFFFFFF)."""
    body = _authority(password, operator) + di_to_wire(di, Edition.V2007)
    return build_frame(address, Function.CLEAR_EVENTS, body, preamble=preamble)


def build_control(
    address: str,
    action: ControlAction,
    valid_until: datetime,
    *,
    password: Password,
    operator: str = DEFAULT_OPERATOR,
    preamble: int = DEFAULT_PREAMBLE,
) -> bytes:
    """1CH 跳合闸、报警、保电: N1 = ``action``, N2 = 00, N3..N8 = ``valid_until``."""
    body = _authority(password, operator) + bytes((ControlAction(action), 0)) + _clock(valid_until)
    return build_frame(address, Function.CONTROL, body, preamble=preamble)


# -------------------------------------------------------------------------------------------------- meter side


def build_ack(address: str, function: int, *, preamble: int = 0) -> bytes:
    """Meter side: the normal reply without data (C = function | 80H, L = 0): 94H, 95H, 96H, 99H, 9AH, 9BH,
    9CH; 1997 84H, 8AH, 90H. A 15H reply carries the new address in the address field."""
    return build_frame(address, compose_control(function, reply=True), preamble=preamble)


def build_baud_reply(address: str, baud: int, *, edition: Edition = Edition.V2007, preamble: int = 0) -> bytes:
    """Meter side: 97H (1997 8CH) confirming the new rate, DATA = Z; the meter switches after sending it."""
    function = Function.CHANGE_BAUD if edition is Edition.V2007 else Function1997.CHANGE_BAUD
    return build_frame(address, compose_control(function, reply=True), bytes((baud_word(baud),)), preamble=preamble)


def build_password_reply(address: str, new: Password, *, edition: Edition = Edition.V2007, preamble: int = 0) -> bytes:
    """Meter side: 98H (1997 8FH) with the new password PAN P0N P1N P2N."""
    function = Function.CHANGE_PASSWORD if edition is Edition.V2007 else Function1997.CHANGE_PASSWORD
    return build_frame(address, compose_control(function, reply=True), new.to_wire(), preamble=preamble)


def _need(frame: Dlt645Frame, size: int, what: str, *, exact: bool = True) -> bytes:
    data = frame.data
    if len(data) < size or (exact and len(data) != size):
        raise DecodeError(f"{what} holds {len(data)} bytes, not {size}", raw=frame.raw)
    return data


def _clock_of(frame: Dlt645Frame, raw: bytes, what: str) -> datetime:
    try:
        when = _CLOCK.decode(raw)
    except DecodeError as exc:
        raise DecodeError(f"{what}: {exc}", raw=frame.raw) from exc
    if not isinstance(when, datetime):
        raise DecodeError(f"{what}: {raw[::-1].hex()} is not a date and time", raw=frame.raw)
    return when


def _parse_2007(frame: Dlt645Frame) -> Command | None:
    address, function = frame.address, frame.function
    if function == Function.BROADCAST_TIME:
        data = _need(frame, 6, "broadcast time")
        return BroadcastTimeRequest(address, _clock_of(frame, data, "broadcast time"))
    if function == Function.WRITE:
        data = _need(frame, 12, "write", exact=False)
        di = int.from_bytes(data[:4], "little")
        return WriteRequest(address, di, Password.from_wire(data[4:8]), _operator_text(data[8:12]), data[12:])
    if function == Function.WRITE_ADDRESS:
        return WriteAddressRequest(address, address_from_wire(_need(frame, 6, "write address")))
    if function == Function.FREEZE:
        data = _need(frame, 4, "freeze")
        try:
            return FreezeRequest(address, FreezeTime.from_wire(data))
        except DecodeError as exc:
            raise DecodeError(f"freeze time: {exc}", raw=frame.raw) from exc
    if function == Function.CHANGE_BAUD:
        return ChangeBaudRequest(address, _baud_of(frame))
    if function == Function.CHANGE_PASSWORD:
        data = _need(frame, 12, "change password")
        di = int.from_bytes(data[:4], "little")
        return ChangePasswordRequest(address, di, Password.from_wire(data[4:8]), Password.from_wire(data[8:12]))
    if function in (Function.CLEAR_DEMAND, Function.CLEAR_METER):
        data = _need(frame, 8, "clear")
        password, operator = Password.from_wire(data[:4]), _operator_text(data[4:8])
        if function == Function.CLEAR_DEMAND:
            return ClearDemandRequest(address, password, operator)
        return ClearMeterRequest(address, password, operator)
    if function == Function.CLEAR_EVENTS:
        data = _need(frame, 12, "clear events")
        di = int.from_bytes(data[8:12], "little")
        return ClearEventsRequest(address, Password.from_wire(data[:4]), _operator_text(data[4:8]), di)
    if function == Function.CONTROL:
        data = _need(frame, 16, "control")
        try:
            action = ControlAction(data[8])
        except ValueError:
            raise DecodeError(f"control command N1 = {data[8]:02X}H is not defined", raw=frame.raw) from None
        until = _clock_of(frame, data[10:16], "control expiry")
        return ControlRequest(address, Password.from_wire(data[:4]), _operator_text(data[4:8]), action, until)
    return None


def _baud_of(frame: Dlt645Frame) -> int:
    data = _need(frame, 1, "change baud rate")
    try:
        return baud_from_word(data[0])
    except DecodeError as exc:
        raise DecodeError(str(exc), raw=frame.raw) from exc


def _parse_1997(frame: Dlt645Frame) -> Command | None:
    address, function, v1997 = frame.address, frame.function, Edition.V1997
    if function == Function1997.WRITE:
        data = _need(frame, 6, "write", exact=False)
        di = int.from_bytes(data[:2], "little")
        return WriteRequest(address, di, Password.from_wire(data[2:6]), None, data[6:], v1997)
    if function == Function1997.WRITE_ADDRESS:
        return WriteAddressRequest(address, address_from_wire(_need(frame, 6, "write address")), v1997)
    if function == Function1997.CHANGE_BAUD:
        return ChangeBaudRequest(address, _baud_of(frame), v1997)
    if function == Function1997.CHANGE_PASSWORD:
        data = _need(frame, 8, "change password")
        return ChangePasswordRequest(address, None, Password.from_wire(data[:4]), Password.from_wire(data[4:]), v1997)
    if function == Function1997.CLEAR_DEMAND:
        if frame.data:
            return ClearDemandRequest(address, Password.from_wire(_need(frame, 4, "clear demand")), None, v1997)
        return ClearDemandRequest(address, None, None, v1997)
    return None


def parse_command(frame: Dlt645Frame) -> Command:
    """Meter side: decode a master's non-read command (either edition); :class:`DecodeError` for a reply, a
    read (see :func:`protocols.dlt645.apdu.parse_any_request`), an unknown function or a malformed DATA."""
    if frame.is_reply:
        raise DecodeError(f"C={frame.control:02X}H is a reply, not a request", raw=frame.raw)
    command = _parse_2007(frame) or _parse_1997(frame)
    if command is None:
        raise DecodeError(f"no decoder for request C={frame.control:02X}H", raw=frame.raw)
    return command
