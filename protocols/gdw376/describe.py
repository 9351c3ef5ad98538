"""JSON-ready description of a Q/GDW 376.1 frame: the ``headend decode --json`` contract.

::

    {"protocol": "gdw376.1", "valid": bool, "errors": [str], "raw": hex,
     "address": {"a1": "4403", "a2": int, "msa": int, "group": bool},
     "control": {"dir": int, "prm": int, "fcb_acd": int, "fcv": int, "code": int},
     "afn": int, "seq": {"tpv": int, "fir": int, "fin": int, "con": int, "seq": int},
     "units": [{"pn": int, "fn": int, "name": str, ...decoded values...}],
     "aux": {"pw": hex|null, "ec": [ec1, ec2]|null, "tp": {...}|null}, "warnings": [str],
     "edition": {"requested": "auto"|"2009"|"2013", "used": "2009"|"2013", "evidence": str|null}}

Editions (``headend decode --edition``): the data units are decoded with the layouts of one edition, Q/GDW
376.1-2009 or Q/GDW 1376.1-2013 (:mod:`protocols.gdw376.profile`). ``"auto"`` (the default) uses 2009 unless the
frame itself proves 2013 (:func:`detect_edition`: a heartbeat carrying a clock, an Fn or ERC only 2013 defines, or
data units that decode only with the 2013 layouts) and says what proved it in ``evidence``. An explicit edition is
used as given; an Fn that edition marks 备用 but the other defines is still decoded, with a warning.

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
from protocols.gdw376.link import Afn, LinkFrame, decode_verified, parse_frame
from protocols.gdw376.profile import ADDED_2013, ERC_ADDED_2013
from protocols.gdw376.units import DataUnit, Heartbeat, decode_frame_units, lookup
from protocols.gdw376.units.afn0e import EventReport
from protocols.gdw376.units.afn10 import Forwarded645
from protocols.gdw376.units.registry import EDITIONS, ReservedFn, only_in_edition, reservation

PROTOCOL = "gdw376.1"
#: What ``--edition`` accepts: a fixed edition, or "auto" (see the module docstring).
EDITION_CHOICES = ("auto", *EDITIONS)


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


def fn_evidence(afn: int, fn: int) -> str | None:
    """Why (AFN, Fn) proves a 1376.1-2013 terminal (an Fn only that edition defines), or None."""
    if only_in_edition(afn, fn) == "2013" or (afn, fn) in ADDED_2013:
        return f"AFN{afn:02X} F{fn} exists only in Q/GDW 1376.1-2013"
    return None


def _evidence(frame: LinkFrame, units: list[DataUnit]) -> str | None:
    """Why these units can only come from (or go to) a 1376.1-2013 terminal, or None."""
    for unit in units:
        found = fn_evidence(frame.afn, unit.fn)
        if found:
            return found
        value = unit.value
        if frame.afn == Afn.LINK_CHECK and isinstance(value, Heartbeat) and value.clock is not None:
            return "heartbeat carries a clock (AFN02 F3 with A.1)"
        if isinstance(value, EventReport):
            for record in value.records:
                if record.erc in ERC_ADDED_2013:
                    return f"event ERC{record.erc} exists only in Q/GDW 1376.1-2013"
    return None


def detect_edition(frame: LinkFrame) -> tuple[str, str | None]:
    """The edition ``"auto"`` picks for ``frame``: ``("2013", evidence)`` when the frame proves a 1376.1-2013
    terminal (the evidence :class:`~protocols.gdw376.profile.Profile` accepts, plus an Fn that only 2013 defines
    and data units that decode only with the 2013 layouts), else ``("2009", None)``."""
    try:
        units, _ = decode_frame_units(frame, edition="2009")
    except ProtocolError:
        try:
            decode_frame_units(frame, edition="2013")
        except ProtocolError:
            return "2009", None
        return "2013", "the data units decode only with the Q/GDW 1376.1-2013 layouts"
    evidence = _evidence(frame, units)
    return ("2013", evidence) if evidence else ("2009", None)


def _resolve(frame: LinkFrame, edition: str) -> tuple[str, str | None]:
    if edition == "auto":
        return detect_edition(frame)
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITION_CHOICES}, got {edition!r}")
    return edition, None


def _reserved_warnings(frame: LinkFrame, units: list[DataUnit], edition: str) -> list[str]:
    """Fn the chosen edition marks 备用 that were decoded with the other edition's layout."""
    warnings: list[str] = []
    for fn in dict.fromkeys(unit.fn for unit in units):
        clauses = reservation(frame.afn, fn, edition)
        if clauses:
            other = only_in_edition(frame.afn, fn)
            warnings.append(f"{ReservedFn(frame.afn, fn, clauses)}; decoded with its {other} layout")
    return warnings


def _unit(frame: LinkFrame, unit: DataUnit, edition: str) -> dict[str, object]:
    codec = lookup(frame.afn, unit.fn, frame.dir, edition)
    out: dict[str, object] = {"pn": unit.pn, "fn": unit.fn, "name": codec.name if codec else None}
    value = to_json(unit.value)
    if isinstance(value, dict) and not out.keys() & value.keys():
        out.update(value)
    elif value is not None:  # not an object, or one with a field named like pn/fn/name: kept whole
        out["value"] = value
    return out


def _error(exc: ProtocolError) -> str:
    return f"{type(exc).__name__}: {exc}"


def describe_frame(frame: LinkFrame, edition: str = "auto") -> dict[str, object]:
    """Describe a parsed frame, decoding its data units with ``edition``'s layouts (one of
    :data:`EDITION_CHOICES`; errors reported, not raised)."""
    errors: list[str] = []
    units: list[dict[str, object]] = []
    warnings: list[str] = []
    used, evidence = _resolve(frame, edition)
    try:
        decoded, frame = decode_frame_units(frame, edition=used)
        units = [_unit(frame, unit, used) for unit in decoded]
        warnings = _reserved_warnings(frame, decoded, used)
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
        "warnings": [*frame.warnings, *warnings],
        "edition": {"requested": edition, "used": used, "evidence": evidence},
    }


def describe_bytes(raw: bytes, edition: str = "auto") -> dict[str, object]:
    """Parse ``raw`` as one frame and describe it (:func:`describe_frame`, or :func:`describe_error`)."""
    try:
        frame = parse_frame(raw)
    except ProtocolError as exc:
        return describe_error(raw, exc, edition)
    return describe_frame(frame, edition)


def describe_error(raw: bytes, exc: ProtocolError, edition: str = "auto") -> dict[str, object]:
    """Describe bytes that did not parse as a frame. With only the checksum wrong, the link fields and units are
    still decoded (marked invalid, the checksum error first); otherwise the same keys with link fields ``null``."""
    if isinstance(exc, ChecksumError):
        try:
            frame = decode_verified(bytes(raw))
        except (ProtocolError, IndexError, KeyError):
            pass
        else:
            described = describe_frame(frame, edition)
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
        "edition": {"requested": edition, "used": None, "evidence": None},
    }
