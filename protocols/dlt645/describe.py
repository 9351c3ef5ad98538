"""JSON-ready description of a DL/T 645 frame: the ``headend decode --json`` contract.

::

    {"protocol": "dlt645-2007" | "dlt645-1997", "valid": bool, "errors": [str], "raw": hex,
     "address": "000000000161", "control": int, "function": int, "direction": "request" | "reply",
     "di": "00010000" | "9010" | null, "values": [{"name": str, "value": "12.34" | null, "unit": str}],
     "error_word": int | null, "preamble": int}

The edition comes from the function code (:func:`protocols.dlt645.control.edition_of`): 01/02/03/04/0A/0C/0F/10
(replies 81, A1, C1 …) are DL/T 645-1997 with a 2-byte DI, the rest DL/T 645-2007. ``valid`` means the link
layer is fine *and* the data decoded; an unknown DI keeps address, control and ``di`` and says why in
``errors``. Values are exact decimal strings; dates, times and addresses keep their leading zeros, status
words are hex.
"""

from __future__ import annotations

from protocols.dlt645.apdu import (
    AddressReply,
    ErrorReply,
    ReadReply,
    ReadRequest,
    parse_reply,
    parse_request,
)
from protocols.dlt645.control import DIRECTION_BIT, FUNCTION_MASK, Edition, Function, Function1997, edition_of
from protocols.dlt645.data_items import DI_SIZE, format_di, lookup
from protocols.dlt645.link import PREAMBLE_BYTE, START, Dlt645Frame, address_from_wire
from protocols.errors import ProtocolError

#: Functions whose DATA starts with a DI (read, read follow-up, write; 1997 also re-read).
_DI_FUNCTIONS = frozenset(
    {
        Function.READ,
        Function.READ_FOLLOW,
        Function.WRITE,
        Function1997.READ,
        Function1997.READ_FOLLOW,
        Function1997.REREAD,
        Function1997.WRITE,
    }
)


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
    return format_di(int.from_bytes(frame.data[:size], "little"), edition)


def describe_frame(frame: Dlt645Frame) -> dict[str, object]:
    """Describe a parsed frame, decoding its data (problems are reported in ``errors``, not raised)."""
    edition = _edition(frame.control)
    out = _skeleton(frame.raw, frame.control, frame.address, frame.preamble)
    out["di"] = _wire_di(frame, edition)
    errors: list[str] = []
    try:
        if frame.is_reply:
            reply = parse_reply(frame)
            if isinstance(reply, ReadReply):
                item = lookup(reply.di, edition=reply.edition)
                out["values"] = [
                    {"name": v.name, "value": item.format_value(v.value), "unit": v.unit} for v in reply.values
                ]
            elif isinstance(reply, ErrorReply):
                out["error_word"] = reply.err
            elif isinstance(reply, AddressReply):
                out["address"] = reply.address
        else:
            request = parse_request(frame)
            if isinstance(request, ReadRequest):
                lookup(request.di, edition=request.edition)
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
