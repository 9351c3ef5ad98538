"""DL/T 645 read exchange: requests and replies on top of :mod:`protocols.dlt645.link`.

* 读数据 (DL/T 645-2007 §7.1, C = 11H): DATA = DI0..DI3 [+ N + time for load-profile reads]; the normal reply
  (91H, or B1H with follow-up frames) carries DI + values; 读后续数据 (12H) replies add a frame SEQ byte.
* 读通信地址 (§7.4, C = 13H): address AAAAAAAAAAAA, L = 0; the reply (93H) carries the 6 address bytes.
* 异常应答 (C | C0H): DATA = one error word (错误信息字); decoded into :class:`ErrorReply`, never raised here —
  the session calls :meth:`ErrorReply.check` (see :mod:`protocols.dlt645.errors`).
* DL/T 645-1997 (§4.2.3, PROTOCOLS.md Part C): 读数据 01H with a 2-byte DI, replies 81H / A1H / C1H.

Every DATA byte here is already free of the 33H (the link layer handles it). Replies that only acknowledge
(94H write, 96H freeze, 9CH control … with L = 0) decode to :class:`Ack`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

from protocols.dlt645.control import Edition, Function, Function1997, compose_control
from protocols.dlt645.data_items import DI_SIZE, DataItem, lookup
from protocols.dlt645.errors import raise_error_word
from protocols.dlt645.link import WILDCARD, Dlt645Frame, address_from_wire, address_to_wire, build_frame
from protocols.errors import DecodeError, LocalProtocolError

#: FE bytes a master sends before a request (PROTOCOLS.md B.1: "up to 4").
DEFAULT_PREAMBLE = 4
_READ = {Edition.V2007: Function.READ, Edition.V1997: Function1997.READ}
_READ_FOLLOW = {Edition.V2007: Function.READ_FOLLOW, Edition.V1997: Function1997.READ_FOLLOW}


@dataclass(frozen=True, slots=True)
class Value:
    """One decoded value: the item (or block part) name, exact value (``None`` = "no value" filler), unit."""

    name: str
    value: Decimal | None
    unit: str


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


def _di_bytes(di: int, edition: Edition) -> bytes:
    size = DI_SIZE[edition]
    if not 0 <= di < 1 << (8 * size):
        raise LocalProtocolError(f"DI {di:#x} does not fit {size} bytes")
    return di.to_bytes(size, "little")


def build_read(address: str, di: int, *, preamble: int = DEFAULT_PREAMBLE, edition: Edition = Edition.V2007) -> bytes:
    """读数据 request: C = 11H (1997: 01H), DATA = DI low byte first (DL/T 645-2007 §7.1)."""
    return build_frame(address, _READ[edition], _di_bytes(di, edition), preamble=preamble)


def build_read_address(*, preamble: int = DEFAULT_PREAMBLE) -> bytes:
    """读通信地址 request: C = 13H to AAAAAAAAAAAA, L = 0 (DL/T 645-2007 §7.4)."""
    return build_frame(WILDCARD, Function.READ_ADDRESS, preamble=preamble)


def build_read_reply(
    address: str,
    di: int,
    values: Sequence[Decimal | None],
    *,
    follow_up: bool = False,
    preamble: int = 0,
    edition: Edition = Edition.V2007,
) -> bytes:
    """Meter side: the normal reply to 读数据, C = 91H (B1H with ``follow_up``; 1997 81H / A1H), DATA = DI +
    values encoded per the catalogue (one value, or a block's values in order)."""
    item = lookup(di, edition=edition)
    control = compose_control(_READ[edition], reply=True, follow_up=follow_up)
    return build_frame(address, control, _di_bytes(di, edition) + item.encode(values), preamble=preamble)


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
    item = lookup(di, edition=edition, raw=frame.raw)
    body = data[size : len(data) - 1] if follow else data[size:]
    try:
        values = values_of(item, body)
    except DecodeError as exc:
        raise DecodeError(str(exc), raw=frame.raw, path=f"{item.di_text} {item.name}") from exc
    return ReadReply(
        address=frame.address,
        di=di,
        values=values,
        has_follow_up=frame.has_follow_up,
        raw_data=body,
        edition=edition,
        seq=data[-1] if follow else None,
    )


def values_of(item: DataItem, body: bytes) -> tuple[Value, ...]:
    """Decode value bytes of ``item`` into named :class:`Value` s."""
    decoded = item.decode(body)
    return tuple(
        Value(name, value, item.unit) for name, value in zip(item.value_names(len(decoded)), decoded, strict=True)
    )


def parse_reply(frame: Dlt645Frame) -> ReadReply | ErrorReply | AddressReply | Ack:
    """Decode a frame sent by a meter (C.D7 = 1). Raises :class:`DecodeError` (or its subclass
    :class:`~protocols.errors.UnknownDataItem`) when it cannot."""
    if not frame.is_reply:
        raise DecodeError(f"C={frame.control:02X}H is a request, not a reply", raw=frame.raw)
    function = frame.function
    if frame.is_abnormal:
        if len(frame.data) != 1:
            raise DecodeError(f"abnormal reply carries {len(frame.data)} bytes, not one error word", raw=frame.raw)
        return ErrorReply(frame.address, function, frame.data[0])
    for edition in Edition:
        if function in (_READ[edition], _READ_FOLLOW[edition]):
            follow = function == Function.READ_FOLLOW  # only 2007 follow-up replies end with SEQ (§7.2)
            return _decode_read(frame, edition, follow=follow)
    if function == Function.READ_ADDRESS:
        if len(frame.data) != 6:
            raise DecodeError(f"address reply carries {len(frame.data)} bytes, not 6", raw=frame.raw)
        return AddressReply(address_from_wire(frame.data))
    if not frame.data:
        return Ack(frame.address, function)
    raise DecodeError(f"no decoder for reply C={frame.control:02X}H", raw=frame.raw)


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
