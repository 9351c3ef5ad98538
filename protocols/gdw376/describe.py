"""JSON-ready description of a Q/GDW 376.1 frame: the ``headend decode --json`` contract.

::

    {"protocol": "gdw376.1", "valid": bool, "errors": [str], "raw": hex,
     "address": {"a1": "4403", "a2": int, "msa": int, "group": bool},
     "control": {"dir": int, "prm": int, "fcb_acd": int, "fcv": int, "code": int},
     "afn": int, "seq": {"tpv": int, "fir": int, "fin": int, "con": int, "seq": int},
     "units": [{"pn": int, "fn": int, "name": str, ...decoded values...}],
     "aux": {"pw": hex|null, "ec": [ec1, ec2]|null, "tp": {...}|null}, "warnings": [str]}

Values are JSON types only: Decimals as strings (exact), datetimes and dates in ISO 8601, bytes as upper-case hex,
nested dataclasses as objects, tuples as lists; a forwarded DL/T 645 frame (AFN10 F1 ``dlt645``) is the nested
:mod:`protocols.dlt645.describe` object of that frame. A frame whose data units cannot be decoded still describes its
link fields, with ``valid=false`` and the reason in ``errors``; a frame that does not parse at all is described by
:func:`describe_error` with the link fields ``null``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum

from protocols.dlt645 import describe as dlt645_describe
from protocols.dlt645.link import parse_frame as parse_645
from protocols.errors import ChecksumError, ProtocolError
from protocols.gdw376.link import LinkFrame, decode_verified
from protocols.gdw376.units import DataUnit, decode_frame_units, lookup
from protocols.gdw376.units.afn10 import Forwarded645

PROTOCOL = "gdw376.1"


def to_json(value: object) -> object:
    """Turn a decoded value into JSON types (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex().upper()
    if isinstance(value, Forwarded645):
        return describe_forwarded(value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return repr(value)


def describe_forwarded(value: Forwarded645) -> dict[str, object]:
    """A forwarded DL/T 645 frame (AFN10 F1) as :mod:`protocols.dlt645.describe` shows it on its own: the same
    ``headend decode --json`` object, nested; a frame that did not parse is described with its error."""
    if value.frame is not None:
        return dlt645_describe.describe_frame(value.frame)
    try:
        frame = parse_645(value.raw)
    except ProtocolError as exc:
        return dlt645_describe.describe_error(value.raw, exc)
    return dlt645_describe.describe_frame(frame)


def _unit(frame: LinkFrame, unit: DataUnit) -> dict[str, object]:
    codec = lookup(frame.afn, unit.fn, frame.dir)
    out: dict[str, object] = {"pn": unit.pn, "fn": unit.fn, "name": codec.name if codec else None}
    value = to_json(unit.value)
    if isinstance(value, dict) and not out.keys() & value.keys():
        out.update(value)
    elif value is not None:  # not an object, or one with a field named like pn/fn/name: kept whole
        out["value"] = value
    return out


def _error(exc: ProtocolError) -> str:
    return f"{type(exc).__name__}: {exc}"


def describe_frame(frame: LinkFrame) -> dict[str, object]:
    """Describe a parsed frame, decoding its data units (errors reported, not raised)."""
    errors: list[str] = []
    units: list[dict[str, object]] = []
    try:
        decoded, frame = decode_frame_units(frame)
        units = [_unit(frame, unit) for unit in decoded]
    except ProtocolError as exc:
        errors.append(_error(exc))
    c, a, s, aux = frame.control, frame.address, frame.seq, frame.aux
    return {
        "protocol": PROTOCOL,
        "valid": not errors,
        "errors": errors,
        "raw": (frame.raw or frame.to_bytes()).hex().upper(),
        "address": {"a1": a.a1, "a2": a.a2, "msa": a.msa, "group": a.group},
        "control": {"dir": int(c.dir), "prm": int(c.prm), "fcb_acd": int(c.fcb_acd), "fcv": int(c.fcv), "code": c.code},
        "afn": frame.afn,
        "seq": {"tpv": int(s.tpv), "fir": int(s.fir), "fin": int(s.fin), "con": int(s.con), "seq": s.seq},
        "units": units,
        "aux": {
            "pw": to_json(aux.pw),
            "ec": to_json(aux.ec),
            "tp": to_json(aux.tp),
        },
        "warnings": list(frame.warnings),
    }


def describe_error(raw: bytes, exc: ProtocolError) -> dict[str, object]:
    """Describe bytes that did not parse as a frame. With only the checksum wrong, the link fields and units are
    still decoded (marked invalid, the checksum error first); otherwise the same keys with link fields ``null``."""
    if isinstance(exc, ChecksumError):
        try:
            frame = decode_verified(bytes(raw))
        except (ProtocolError, IndexError, KeyError):
            pass
        else:
            described = describe_frame(frame)
            unit_errors = described["errors"]
            assert isinstance(unit_errors, list)
            described["valid"] = False
            described["errors"] = [_error(exc), *unit_errors]
            return described
    return {
        "protocol": PROTOCOL,
        "valid": False,
        "errors": [_error(exc)],
        "raw": bytes(raw).hex().upper(),
        "address": None,
        "control": None,
        "afn": None,
        "seq": None,
        "units": [],
        "aux": None,
        "warnings": [],
    }
