"""JSON-ready description of a DL/T 645 frame: the ``headend decode --json`` contract.

::

    {"protocol": "dlt645-2007" | "dlt645-1997", "valid": bool, "errors": [str], "raw": hex,
     "address": "000000000161", "control": int, "function": int, "direction": "request" | "reply",
     "di": "00010000" | "9010" | null, "values": [{"name": str, "value": "12.34" | null, "unit": str}],
     "error_word": int | null, "preamble": int}

The edition comes from the function code (:func:`protocols.dlt645.control.edition_of`): 01/02/03/04/0A/0C/0F/10
(replies 81, A1, C1 …) are DL/T 645-1997 with a 2-byte DI, the rest DL/T 645-2007. ``valid`` means the link
layer is fine *and* the data decoded; an unknown DI keeps address, control and ``di`` and says why in
``errors``. Values are exact decimal strings; addresses and digit strings keep their leading zeros, status
words are hex, dates and times ISO 8601 (:meth:`protocols.dlt645.formats.Field.format`).

Every control code of both editions is described: read replies list their values; commands list what they
carry as values too — ``TIME`` (08H), the written values with ``PASSWORD_LEVEL`` and ``OPERATOR`` (14H),
``NEW_ADDRESS`` (15H), ``FREEZE_TIME`` (16H, ``MM-DD hh:mm`` with 99 for "every"), ``BAUD`` (17H, 97H),
``NEW_PASSWORD_LEVEL`` (18H, 98H), ``EVENT_DI`` (1BH), ``ACTION`` and ``VALID_UNTIL`` (1CH), ``SEQ`` (12H),
``BLOCKS`` and ``START`` (load-profile reads). Passwords themselves are never shown, only their level.
"""

from __future__ import annotations

from datetime import datetime

from protocols.dlt645.apdu import (
    AddressReply,
    BaudRateAck,
    ErrorReply,
    PasswordAck,
    ReadFollowRequest,
    ReadReply,
    ReadRequest,
    Reply,
    Request,
    parse_any_request,
    parse_load_profile_params,
    parse_reply,
)
from protocols.dlt645.commands import (
    BroadcastTimeRequest,
    ChangeBaudRequest,
    ChangePasswordRequest,
    ClearDemandRequest,
    ClearEventsRequest,
    ClearMeterRequest,
    ControlRequest,
    FreezeRequest,
    FreezeTime,
    Password,
    WriteAddressRequest,
    WriteRequest,
)
from protocols.dlt645.control import DIRECTION_BIT, FUNCTION_MASK, Edition, Function, Function1997, edition_of
from protocols.dlt645.data_items import DI_SIZE, DataItem, format_di, lookup
from protocols.dlt645.formats import Scalar
from protocols.dlt645.link import PREAMBLE_BYTE, START, Dlt645Frame, address_from_wire
from protocols.errors import ProtocolError

#: Functions whose DATA starts with a DI (read, read follow-up, write, change password (2007)).
_DI_FUNCTIONS = frozenset(
    {
        Function.READ,
        Function.READ_FOLLOW,
        Function.WRITE,
        Function.CHANGE_PASSWORD,
        Function1997.READ,
        Function1997.READ_FOLLOW,
        Function1997.WRITE,
    }
)
#: One described value: {"name", "value", "unit"}.
_Described = dict[str, str | None]


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _edition(control: int | None) -> Edition:
    return (edition_of(control) if control is not None else None) or Edition.V2007


def _skeleton(raw: bytes, control: int | None, address: str | None, preamble: int) -> dict[str, object]:
    return {
        "protocol": _edition(control).value,
        "valid": False,
        "errors": [],
        "raw": raw.hex().upper(),
        "address": address,
        "control": control,
        "function": None if control is None else control & FUNCTION_MASK,
        "direction": None if control is None else ("reply" if control & DIRECTION_BIT else "request"),
        "di": None,
        "values": [],
        "error_word": None,
        "preamble": preamble,
    }


def _wire_di(frame: Dlt645Frame, edition: Edition) -> str | None:
    """The DI at the start of DATA as written in the standard, when the function carries one."""
    size = DI_SIZE[edition]
    if frame.is_abnormal or frame.function not in _DI_FUNCTIONS or len(frame.data) < size:
        return None
    if frame.function == Function.CHANGE_PASSWORD and frame.is_reply:
        return None  # 98H carries the new password, not a DI
    return format_di(int.from_bytes(frame.data[:size], "little"), edition)


def _value(name: str, value: Scalar | None, unit: str = "") -> _Described:
    if isinstance(value, datetime):
        text: str | None = value.isoformat()
    else:
        text = None if value is None else str(value)
    return {"name": name, "value": text, "unit": unit}


def _item_values(item: DataItem, values: tuple[Scalar | None, ...]) -> list[_Described]:
    fields = item.value_fields(len(values))
    return [
        {"name": name, "value": field.format(value), "unit": field.unit}
        for (name, field), value in zip(fields, values, strict=True)
    ]


def _authority(password: Password | None, operator: str | None) -> list[_Described]:
    out = [] if password is None else [_value("PASSWORD_LEVEL", f"{password.level:02X}")]
    return out + ([] if operator is None else [_value("OPERATOR", operator)])


def _freeze_text(at: FreezeTime) -> str:
    def two(value: int | None) -> str:
        return "99" if value is None else f"{value:02d}"

    return f"{two(at.month)}-{two(at.day)} {two(at.hour)}:{two(at.minute)}"


def _request_values(request: Request) -> tuple[list[_Described], int | None]:
    """The values a request carries, and the DI it names when that is not at the start of DATA."""
    match request:
        case ReadRequest(params=params) if params:
            blocks, start = parse_load_profile_params(params)
            lookup(request.di, edition=request.edition)
            return [_value("BLOCKS", str(blocks)), _value("START", start)], None
        case ReadRequest():
            lookup(request.di, edition=request.edition)
            return [], None
        case ReadFollowRequest(seq=seq):
            return ([] if seq is None else [_value("SEQ", str(seq))]), None
        case BroadcastTimeRequest(when=when):
            return [_value("TIME", when)], None
        case WriteRequest():
            item = lookup(request.di, edition=request.edition)
            written = _item_values(item, request.values())
            return written + _authority(request.password, request.operator), None
        case WriteAddressRequest(new_address=new):
            return [_value("NEW_ADDRESS", new)], None
        case FreezeRequest(at=at):
            return [_value("FREEZE_TIME", _freeze_text(at))], None
        case ChangeBaudRequest(baud=baud):
            return [_value("BAUD", str(baud), "bit/s")], None
        case ChangePasswordRequest(new=new):
            return [_value("NEW_PASSWORD_LEVEL", f"{new.level:02X}")], None
        case ClearDemandRequest() | ClearMeterRequest():
            return _authority(request.password, request.operator), None
        case ClearEventsRequest(di=di):
            values = [_value("EVENT_DI", format_di(di)), *_authority(request.password, request.operator)]
            return values, di
        case ControlRequest(action=action, valid_until=until):
            values = [_value("ACTION", action.name), _value("VALID_UNTIL", until)]
            return values + _authority(request.password, request.operator), None
    return [], None


def _reply_values(reply: Reply, out: dict[str, object]) -> list[_Described]:
    match reply:
        case ReadReply(values=values):
            return _item_values(lookup(reply.di, edition=reply.edition), tuple(v.value for v in values))
        case ErrorReply(err=err):
            out["error_word"] = err
        case AddressReply(address=address):
            out["address"] = address
        case BaudRateAck(baud=baud):
            return [_value("BAUD", str(baud), "bit/s")]
        case PasswordAck(password=password):
            return [_value("NEW_PASSWORD_LEVEL", f"{password.level:02X}")]
    return []


def describe_frame(frame: Dlt645Frame) -> dict[str, object]:
    """Describe a parsed frame, decoding its data (problems are reported in ``errors``, not raised)."""
    edition = _edition(frame.control)
    out = _skeleton(frame.raw, frame.control, frame.address, frame.preamble)
    out["di"] = _wire_di(frame, edition)
    errors: list[str] = []
    try:
        if frame.is_reply:
            out["values"] = _reply_values(parse_reply(frame), out)
        else:
            values, di = _request_values(parse_any_request(frame))
            out["values"] = values
            if di is not None:
                out["di"] = format_di(di, edition)
    except ProtocolError as exc:
        errors.append(_error(exc))
    out["errors"] = errors
    out["valid"] = not errors
    return out


def describe_error(raw: bytes, exc: BaseException) -> dict[str, object]:
    """Describe bytes that did not parse as a frame: what the header still shows (address, control) when
    enough of it is there, ``valid=false`` and the reason."""
    data = bytes(raw)
    start = 0
    while start < len(data) and data[start] == PREAMBLE_BYTE:
        start += 1
    header = data[start:]
    has_header = len(header) >= 10 and header[0] == START and header[7] == START
    out = _skeleton(
        data,
        header[8] if has_header else None,
        address_from_wire(header[1:7]) if has_header else None,
        start,
    )
    out["errors"] = [_error(exc)]
    return out
