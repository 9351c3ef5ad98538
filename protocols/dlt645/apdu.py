"""DL/T 645 read exchange: requests and replies on top of :mod:`protocols.dlt645.link`.

* 读数据 (DL/T 645-2007 §7.1, C = 11H): DATA = DI0..DI3 [+ N (负荷记录块数, NN) [+ mmhhDDMMYY] for load-profile
  reads, :func:`build_load_profile_read`]; the normal reply (91H, or B1H with follow-up frames) carries DI +
  values.
* 读后续数据 (§7.2, C = 12H): DATA = DI + SEQ (帧序号, 1 for the first follow-up frame, counting up); the
  replies (92H last, B2H more to come) carry DI + values + SEQ. :class:`~protocols.dlt645.exchange.ReadExchange`
  drives a whole multi-frame read.
* 读通信地址 (§7.4, C = 13H): address AAAAAAAAAAAA, L = 0; the reply (93H) carries the 6 address bytes.
* 异常应答 (C | C0H): DATA = one error word (错误信息字); decoded into :class:`ErrorReply`, never raised here —
  the session calls :meth:`ErrorReply.check` (see :mod:`protocols.dlt645.errors`).
* DL/T 645-1997 (§4.2.3, PROTOCOLS.md Part C): 读数据 01H with a 2-byte DI, replies 81H / A1H / C1H;
  读后续数据 02H (DI, no SEQ) → 82H / A2H; 重读数据 03H (L = 0) asks for the last reply again.

Every DATA byte here is already free of the 33H (the link layer handles it). Replies that only acknowledge
(94H write, 96H freeze, 9CH control … with L = 0) decode to :class:`Ack`; the two acknowledgements that carry data
are its subclasses :class:`BaudRateAck` (97H / 8CH, the feature word) and :class:`PasswordAck` (98H / 8FH, the new
password). Non-read commands are in :mod:`protocols.dlt645.commands`; :func:`parse_any_request` decodes any
master frame (the meter simulator's entry point).

Values are ``Decimal`` for numbers, ``date``/``time``/``datetime`` for dates and times and ``str`` for text
(:data:`~protocols.dlt645.formats.Scalar`); ``None`` is the EE "no value" filler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NoReturn, TypeAlias

from protocols.common.bcd import bcd_byte, to_bcd_byte
from protocols.dlt645.commands import DEFAULT_PREAMBLE as DEFAULT_PREAMBLE  # re-exported: readers build with it
from protocols.dlt645.commands import Command, Password, baud_from_word, parse_command
from protocols.dlt645.control import Edition, Function, Function1997, compose_control
from protocols.dlt645.data_items import DI_SIZE, DataItem, di_to_wire, lookup
from protocols.dlt645.errors import raise_error_word
from protocols.dlt645.formats import Scalar, field_of
from protocols.dlt645.link import WILDCARD, Dlt645Frame, address_from_wire, address_to_wire, build_frame
from protocols.errors import DecodeError, LocalProtocolError

#: 读数据 and 读后续数据 function codes per edition.
READ_FUNCTIONS = {Edition.V2007: Function.READ, Edition.V1997: Function1997.READ}
FOLLOW_FUNCTIONS = {Edition.V2007: Function.READ_FOLLOW, Edition.V1997: Function1997.READ_FOLLOW}
_READ, _READ_FOLLOW = READ_FUNCTIONS, FOLLOW_FUNCTIONS


@dataclass(frozen=True, slots=True)
class Value:
    """One decoded value: the item (or block part, or record field) name, exact value (``None`` = "no value"
    filler), unit."""

    name: str
    value: Scalar | None
    unit: str

    @property
    def number(self) -> Decimal | None:
        """The value as a number for readings: a ``Decimal``, or ``None`` for the "no value" filler. Raises
        :class:`LocalProtocolError` for a date, time or text value (asking one for a number is a bug)."""
        value = self.value
        if value is None or isinstance(value, Decimal):
            return value
        raise LocalProtocolError(f"{self.name} is {value!r}, not a number")


@dataclass(frozen=True, slots=True)
class ReadReply:
    """Normal reply to 读数据 (91H / B1H / 92H / B2H; 1997 81H / A1H / 82H / A2H).

    ``raw_data`` is the value bytes after the DI (and before a follow-up frame's SEQ), 33H removed.
    """

    address: str
    di: int
    values: tuple[Value, ...]
    has_follow_up: bool = False
    raw_data: bytes = b""
    edition: Edition = Edition.V2007
    seq: int | None = None  #: frame number of a 读后续数据 reply (DL/T 645-2007 §7.2)


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """Abnormal reply (从站异常应答, C.D6 = 1) with its error word (错误信息字, DL/T 645-2007 §7.1)."""

    address: str
    function: int
    err: int

    def check(self) -> NoReturn:
        """Raise the :class:`~protocols.errors.Dlt645ErrorResponse` subclass of the lowest set error bit."""
        raise_error_word(self.err)


@dataclass(frozen=True, slots=True)
class AddressReply:
    """Reply to 读通信地址 (93H): the meter's real address (DL/T 645-2007 §7.4)."""

    address: str


@dataclass(frozen=True, slots=True)
class Ack:
    """A normal reply with no data (L = 0): write, write address, freeze, clear, control accepted."""

    address: str
    function: int


@dataclass(frozen=True, slots=True)
class BaudRateAck(Ack):
    """97H (1997 8CH): the meter accepted 更改通信速率 and switches to ``baud`` bit/s after this frame."""

    baud: int


@dataclass(frozen=True, slots=True)
class PasswordAck(Ack):
    """98H (1997 8FH): the meter accepted 修改密码; ``password`` is the new one (PAN P0N P1N P2N)."""

    password: Password


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """读数据 request as the meter sees it. ``params`` holds what follows the DI (load-profile N + time)."""

    address: str
    di: int
    params: bytes = b""
    edition: Edition = Edition.V2007


@dataclass(frozen=True, slots=True)
class ReadAddressRequest:
    """读通信地址 request (DL/T 645-2007 §7.4), normally sent to the wildcard address."""

    address: str = WILDCARD


@dataclass(frozen=True, slots=True)
class ReadFollowRequest:
    """读后续数据 (2007 12H with ``seq``; 1997 02H, ``seq`` is ``None``)."""

    address: str
    di: int
    seq: int | None
    edition: Edition = Edition.V2007


@dataclass(frozen=True, slots=True)
class RereadRequest:
    """重读数据 (DL/T 645-1997 03H, L = 0): send the last reply again."""

    address: str


#: Everything :func:`parse_any_request` returns.
Request: TypeAlias = ReadRequest | ReadAddressRequest | ReadFollowRequest | RereadRequest | Command
#: Everything :func:`parse_reply` returns (:class:`BaudRateAck` and :class:`PasswordAck` are :class:`Ack` s).
Reply: TypeAlias = ReadReply | ErrorReply | AddressReply | Ack


def build_read(
    address: str,
    di: int,
    *,
    preamble: int = DEFAULT_PREAMBLE,
    edition: Edition = Edition.V2007,
    params: bytes = b"",
) -> bytes:
    """读数据 request: C = 11H (1997: 01H), DATA = DI low byte first (DL/T 645-2007 §7.1), then ``params``
    (load-profile reads: :func:`load_profile_params`)."""
    return build_frame(address, _READ[edition], di_to_wire(di, edition) + params, preamble=preamble)


_PROFILE_TIME = field_of("YYMMDDhhmm")


def load_profile_params(count: int, start: datetime | None = None) -> bytes:
    """The bytes after the DI of a load-profile read (表A.7): N (负荷记录块数, ``NN``, 1..99) and, for a read
    from a given time (06000001, 0610xxxx), ``mmhhDDMMYY``.

    >>> load_profile_params(4, datetime(2024, 1, 5, 12, 15)).hex()
    '041512050124'
    """
    if not 1 <= count <= 99:
        raise LocalProtocolError(f"block count {count} is outside 1..99")
    return bytes((to_bcd_byte(count),)) + (b"" if start is None else _PROFILE_TIME.encode(start))


def parse_load_profile_params(params: bytes) -> tuple[int, datetime | None]:
    """Inverse of :func:`load_profile_params`: (N, start time or ``None``)."""
    if len(params) not in (1, 6):
        raise DecodeError(f"load-profile parameters are {len(params)} bytes, not 1 or 6", raw=params)
    if len(params) == 1:
        return bcd_byte(params[0]), None
    start = _PROFILE_TIME.decode(params[1:])
    if not isinstance(start, datetime):
        raise DecodeError("load-profile start time is empty", raw=params)
    return bcd_byte(params[0]), start


def build_load_profile_read(
    address: str, di: int, count: int, start: datetime | None = None, *, preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """读数据 of load records or a curve (表A.7): 06000000 (earliest N blocks) and 06000002 (latest N) take no
    time; 06000001 and the 0610xxxx curves take the start time."""
    return build_read(address, di, preamble=preamble, params=load_profile_params(count, start))


def build_read_follow(
    address: str,
    di: int,
    seq: int | None,
    *,
    preamble: int = DEFAULT_PREAMBLE,
    edition: Edition = Edition.V2007,
) -> bytes:
    """读后续数据: 12H with DI + SEQ (DL/T 645-2007 §7.2; SEQ 1..255), or 1997 02H with the DI only."""
    data = di_to_wire(di, edition)
    if edition is Edition.V2007:
        if seq is None or not 0 <= seq <= 0xFF:
            raise LocalProtocolError(f"follow-up SEQ {seq!r} is not one byte")
        data += bytes((seq,))
    return build_frame(address, _READ_FOLLOW[edition], data, preamble=preamble)


def build_reread(address: str, *, preamble: int = DEFAULT_PREAMBLE) -> bytes:
    """重读数据 (DL/T 645-1997 03H, L = 0)."""
    return build_frame(address, Function1997.REREAD, preamble=preamble)


def build_read_address(*, preamble: int = DEFAULT_PREAMBLE) -> bytes:
    """读通信地址 request: C = 13H to AAAAAAAAAAAA, L = 0 (DL/T 645-2007 §7.4)."""
    return build_frame(WILDCARD, Function.READ_ADDRESS, preamble=preamble)


def build_read_reply(
    address: str,
    di: int,
    values: Sequence[Scalar | None],
    *,
    follow_up: bool = False,
    preamble: int = 0,
    edition: Edition = Edition.V2007,
) -> bytes:
    """Meter side: the normal reply to 读数据, C = 91H (B1H with ``follow_up``; 1997 81H / A1H), DATA = DI +
    values encoded per the catalogue (one value, or a block's values in order)."""
    item = lookup(di, edition=edition)
    return build_data_reply(address, di, item.encode(values), follow_up=follow_up, preamble=preamble, edition=edition)


def build_data_reply(
    address: str,
    di: int,
    data: bytes,
    *,
    follow_up: bool = False,
    seq: int | None = None,
    preamble: int = 0,
    edition: Edition = Edition.V2007,
) -> bytes:
    """Meter side: a read reply carrying ``data`` (value bytes, already encoded — e.g. one slice of a long
    block). With ``seq`` it answers 读后续数据: 92H / B2H + SEQ (1997: 82H / A2H, ``seq`` must be ``None``);
    ``follow_up`` sets D5 (more frames to come)."""
    body = di_to_wire(di, edition) + data
    function = _READ[edition]
    if seq is not None:
        if edition is Edition.V1997 or not 0 <= seq <= 0xFF:
            raise LocalProtocolError(f"SEQ {seq!r} does not fit a {edition.value} follow-up reply")
        function, body = _READ_FOLLOW[edition], body + bytes((seq,))
    control = compose_control(function, reply=True, follow_up=follow_up)
    return build_frame(address, control, body, preamble=preamble)


def build_error_reply(address: str, function: int, err: int, *, preamble: int = 0) -> bytes:
    """Meter side: abnormal reply C = function | C0H (D1H for a read), DATA = error word (§7.1)."""
    if not 0 <= err <= 0xFF:
        raise LocalProtocolError(f"error word {err:#x} is not one byte")
    control = compose_control(function, reply=True, abnormal=True)
    return build_frame(address, control, bytes((err,)), preamble=preamble)


def build_address_reply(address: str, *, preamble: int = 0) -> bytes:
    """Meter side: reply to 读通信地址, C = 93H, DATA = the address (§7.4)."""
    control = compose_control(Function.READ_ADDRESS, reply=True)
    return build_frame(address, control, address_to_wire(address), preamble=preamble)


def _decode_read(frame: Dlt645Frame, edition: Edition, *, follow: bool) -> ReadReply:
    size = DI_SIZE[edition]
    data = frame.data
    if len(data) < size + follow:
        raise DecodeError(f"read reply holds {len(data)} bytes, less than its DI", raw=frame.raw)
    di = int.from_bytes(data[:size], "little")
    body = data[size : len(data) - 1] if follow else data[size:]
    values = decode_values(di, body, edition=edition, raw=frame.raw)
    return ReadReply(
        address=frame.address,
        di=di,
        values=values,
        has_follow_up=frame.has_follow_up,
        raw_data=body,
        edition=edition,
        seq=data[-1] if follow else None,
    )


def decode_values(di: int, body: bytes, *, edition: Edition = Edition.V2007, raw: bytes = b"") -> tuple[Value, ...]:
    """Decode the value bytes of ``di`` (one frame's, or a multi-frame read's merged), naming the item in any
    :class:`DecodeError` (path ``"00010000 ENERGY_…"``) and keeping ``raw`` (the frame) as evidence."""
    item = lookup(di, edition=edition, raw=raw)
    try:
        return values_of(item, body)
    except DecodeError as exc:
        raise DecodeError(str(exc), raw=raw, path=f"{item.di_text} {item.name}") from exc


def values_of(item: DataItem, body: bytes) -> tuple[Value, ...]:
    """Decode value bytes of ``item`` into named :class:`Value` s (one pass: names, fields and values come
    together from :meth:`~protocols.dlt645.data_items.DataItem.decode_named`)."""
    return tuple([Value(name, value, field.unit) for name, field, value in item.decode_named(body)])


def _ack_with_data(frame: Dlt645Frame, function: int) -> Ack:
    """97H / 8CH and 98H / 8FH: the acknowledgements that carry data."""
    data = frame.data
    try:
        if function in (Function.CHANGE_BAUD, Function1997.CHANGE_BAUD) and len(data) == 1:
            return BaudRateAck(frame.address, function, baud_from_word(data[0]))
    except DecodeError as exc:
        raise DecodeError(str(exc), raw=frame.raw) from exc
    if function in (Function.CHANGE_PASSWORD, Function1997.CHANGE_PASSWORD) and len(data) == 4:
        return PasswordAck(frame.address, function, Password.from_wire(data))
    raise DecodeError(f"no decoder for reply C={frame.control:02X}H", raw=frame.raw)


#: Read reply functions → (edition, ends with SEQ): only 2007 follow-up replies carry the SEQ (§7.2).
_READ_REPLIES: dict[int, tuple[Edition, bool]] = {
    Function.READ: (Edition.V2007, False),
    Function.READ_FOLLOW: (Edition.V2007, True),
    Function1997.READ: (Edition.V1997, False),
    Function1997.READ_FOLLOW: (Edition.V1997, False),
}


def parse_reply(frame: Dlt645Frame) -> Reply:
    """Decode a frame sent by a meter (C.D7 = 1). Raises :class:`DecodeError` (or its subclass
    :class:`~protocols.errors.UnknownDataItem`) when it cannot."""
    if not frame.is_reply:
        raise DecodeError(f"C={frame.control:02X}H is a request, not a reply", raw=frame.raw)
    function = frame.function
    if frame.is_abnormal:
        if len(frame.data) != 1:
            raise DecodeError(f"abnormal reply carries {len(frame.data)} bytes, not one error word", raw=frame.raw)
        return ErrorReply(frame.address, function, frame.data[0])
    read = _READ_REPLIES.get(function)
    if read is not None:
        return _decode_read(frame, read[0], follow=read[1])
    if function == Function.READ_ADDRESS:
        if len(frame.data) != 6:
            raise DecodeError(f"address reply carries {len(frame.data)} bytes, not 6", raw=frame.raw)
        return AddressReply(address_from_wire(frame.data))
    if not frame.data:
        return Ack(frame.address, function)
    return _ack_with_data(frame, function)


def parse_request(frame: Dlt645Frame) -> ReadRequest | ReadAddressRequest:
    """Meter side: decode a master's 读数据 or 读通信地址 request; :class:`DecodeError` for anything else."""
    if frame.is_reply:
        raise DecodeError(f"C={frame.control:02X}H is a reply, not a request", raw=frame.raw)
    function = frame.function
    for edition in Edition:
        if function == _READ[edition]:
            size = DI_SIZE[edition]
            if len(frame.data) < size:
                raise DecodeError(f"read request holds {len(frame.data)} bytes, less than its DI", raw=frame.raw)
            di = int.from_bytes(frame.data[:size], "little")
            return ReadRequest(frame.address, di, frame.data[size:], edition)
    if function == Function.READ_ADDRESS and not frame.data:
        return ReadAddressRequest(frame.address)
    raise DecodeError(f"no decoder for request C={frame.control:02X}H", raw=frame.raw)


def _parse_follow(frame: Dlt645Frame) -> ReadFollowRequest | RereadRequest | None:
    data, function = frame.data, frame.function
    if function == Function.READ_FOLLOW:
        if len(data) != 5:
            raise DecodeError(f"follow-up request holds {len(data)} bytes, not DI + SEQ", raw=frame.raw)
        return ReadFollowRequest(frame.address, int.from_bytes(data[:4], "little"), data[4])
    if function == Function1997.READ_FOLLOW:
        if len(data) != 2:
            raise DecodeError(f"1997 follow-up request holds {len(data)} bytes, not a DI", raw=frame.raw)
        return ReadFollowRequest(frame.address, int.from_bytes(data, "little"), None, Edition.V1997)
    if function == Function1997.REREAD and not data:
        return RereadRequest(frame.address)
    return None


def parse_any_request(frame: Dlt645Frame) -> Request:
    """Meter side: decode any master frame of either edition — reads (:func:`parse_request`), follow-up and
    re-read requests, and every command of :mod:`protocols.dlt645.commands`. :class:`DecodeError` when it is
    a reply, unknown, or malformed."""
    if frame.is_reply:
        raise DecodeError(f"C={frame.control:02X}H is a reply, not a request", raw=frame.raw)
    if frame.function in (Function.READ, Function1997.READ, Function.READ_ADDRESS):
        return parse_request(frame)
    return _parse_follow(frame) or parse_command(frame)
