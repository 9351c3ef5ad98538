"""``headend encode``: build a Q/GDW 376.1 request frame from a short description, for engineers testing a terminal
by hand. Uses :mod:`protocols` only (works offline, like ``decode``)::

    headend encode gdw376 --a1 4403 --a2 18 afn0c f129 p1-p8              # AFN0C F129 for p1..p8
    headend encode gdw376 --a1 4403 --a2 18 afn0c f2 f25 p1-p3 f129      # several (Fn, points) groups
    headend encode gdw376 --a1 4403 --a2 18 afn05 f31 --data '{"clock": "2024-05-01T08:00:00"}'
    headend encode gdw376 --a1 4403 --a2 18 afn04 f3 --data '{"main_ip": "10.0.0.1", ...}' --json
    headend encode gdw376 ... afn0d f161 p1 --date 2024-05-01             # Td_d (A.20); --month 2024-05 (A.21)
    headend encode gdw376 ... afn0d f81 p1 --curve 2024-05-01T00:00,1,96  # Td_c: start (A.15), density, points
    headend encode gdw376 ... afn0e f1 --pm 0 --pn 10                     # event pointers Pm, Pn

Items: ``fN`` / ``fN-fM`` / ``fN,fM`` name Fn, ``pN`` / ``pN-pM`` / ``p0`` / ``pall`` (all valid points, DA FF 00)
name points; Fn then their points, repeatable (no points: p0). Values (``--data``) are JSON in the form ``decode
--json`` prints them (Decimals as strings, times in ISO 8601, bytes as hex), for every Fn whose downlink body has a
layout; ``{"f3": {...}, "f1": {...}}`` gives each Fn its own. ``--date``, ``--month``, ``--curve``, ``--pm``/``--pn``
fill the time tags and pointers of the request layouts by their format (A.20, A.21, A.15 + density + count, BIN1
pointers). Output: the frame as hex, or with ``--json`` the ``decode --json`` description of it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

import click

from headend.decode_cmd import edition_option

if TYPE_CHECKING:
    from protocols.gdw376.layout import Format, Layout, Repeat
    from protocols.gdw376.units import DataUnit

# protocols/ is imported inside the functions: compiling every layout takes about half a second, which the other
# subcommands (``headend run`` …) should not pay at start-up.

_AFN = re.compile(r"afn([0-9a-f]{1,2})h?", re.IGNORECASE)
_RANGE = re.compile(r"([fp])(\d+)(?:-\1?(\d+))?", re.IGNORECASE)
#: AFNs whose requests are sent as reads (identifiers, maybe time tags); the rest are commands with PW.
_READS = frozenset({0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E})
_TAG_OPTIONS = ("date", "month", "curve", "pm", "pn")


def parse_items(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """``["f129", "p1-p8", "f2"]`` → (pn, Fn) pairs: each run of Fn tokens takes the points that follow it.

    >>> parse_items(["f2", "f129", "p1-p2"])
    [(1, 2), (1, 129), (2, 2), (2, 129)]
    """
    groups: list[tuple[list[int], list[int]]] = []
    for token in tokens:
        for part in token.split(","):
            kind, numbers = _numbers(part)
            if kind == "f":
                if not groups or groups[-1][1]:
                    groups.append(([], []))
                groups[-1][0].extend(numbers)
            elif not groups:
                raise click.UsageError(f"points {part!r} before any Fn")
            else:
                groups[-1][1].extend(numbers)
    if not groups:
        raise click.UsageError("name at least one Fn, e.g. f129")
    return [(pn, fn) for fns, pns in groups for pn in (pns or [0]) for fn in fns]


def _numbers(part: str) -> tuple[str, list[int]]:
    from protocols.gdw376.da_dt import ALL_POINTS, MAX_FN, MAX_PN

    if part.lower() == "pall":
        return "p", [ALL_POINTS]
    match = _RANGE.fullmatch(part)
    if match is None:
        raise click.UsageError(f"not an item: {part!r} (expected fN, fN-fM, pN, pN-pM or pall)")
    kind = match.group(1).lower()
    low = int(match.group(2))
    high = int(match.group(3)) if match.group(3) else low
    top = MAX_FN if kind == "f" else MAX_PN
    if not (kind == "p" or low >= 1) or not low <= high <= top:
        raise click.UsageError(f"{part!r}: {kind.upper()} out of range")
    return kind, list(range(low, high + 1))


# --- JSON → values of a layout (the inverse of describe.to_json, guided by the formats' type hints) ------------------


def _value_type(fmt: Format) -> Any:
    from protocols.gdw376.formats import CodedFormat

    decode = fmt.decode_fn if isinstance(fmt, CodedFormat) else fmt.decode
    return get_type_hints(decode).get("return", Any)


def _candidates(kind: Any) -> list[Any]:
    if get_origin(kind) in (Union, types.UnionType):
        return [arg for arg in get_args(kind) if arg is not type(None)]
    return [kind]


def from_json(kind: Any, value: Any) -> Any:
    """Convert a JSON value to ``kind`` (Decimal from a string, datetime/date from ISO 8601, bytes from hex,
    dataclasses from objects — a union of dataclasses picks the one whose fields are the object's keys)."""
    if value is None:
        return None
    options = _candidates(kind)
    if len(options) > 1:
        if isinstance(value, Mapping):
            for option in options:
                if dataclasses.is_dataclass(option) and {f.name for f in dataclasses.fields(option)} == set(value):
                    return from_json(option, value)
        raise ValueError(f"cannot tell which of {options} {value!r} is")
    kind = options[0]
    if kind is Decimal:
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal: {value!r}") from exc
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is int:
        return int(value)
    if kind is bytes:
        return bytes.fromhex(value)
    if get_origin(kind) is tuple:
        (item, *_) = get_args(kind) or (Any,)
        return tuple(from_json(item, v) for v in value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = get_type_hints(kind)
        return kind(**{f.name: from_json(hints[f.name], value[f.name]) for f in dataclasses.fields(kind)})
    return value


def layout_values(layout: Layout, data: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a layout from JSON ``data``; counts may be left out (the encoder derives them)."""
    from protocols.gdw376.layout import Count, Field, Octets

    out: dict[str, Any] = {}
    for element in layout:
        if element.name not in data:
            continue
        value = data[element.name]
        if isinstance(element, Field):
            out[element.name] = from_json(_value_type(element.fmt), value)
        elif isinstance(element, Count):
            out[element.name] = int(value)
        elif isinstance(element, Octets):
            out[element.name] = bytes.fromhex(value)
        elif _scalar(element):
            out[element.name] = _wrap(element, value)
        else:
            out[element.name] = [layout_values(element.fields, item) for item in value]
    return out


def _scalar(rep: Repeat) -> bool:
    from protocols.gdw376.layout import Field

    return len(rep.fields) == 1 and isinstance(rep.fields[0], Field)


def _wrap(rep: Repeat, values: Sequence[Any]) -> list[Any]:
    from protocols.gdw376.layout import Field

    field = rep.fields[0]
    assert isinstance(field, Field)
    return [from_json(_value_type(field.fmt), v) for v in values]


# --- time tags and pointers filled by format -------------------------------------------------------------------


def _fill(layout: Layout, values: dict[str, Any], fmt: Format, value: Any, what: str, fn: int) -> None:
    from protocols.gdw376.layout import Field

    fields = [e for e in layout if isinstance(e, Field) and e.fmt == fmt]
    if not fields:
        raise click.UsageError(f"F{fn} has no {what} in its request")
    for field in fields:
        values.setdefault(field.name, value)


def _tags(layout: Layout, fn: int, options: Mapping[str, Any]) -> dict[str, Any]:
    from protocols.gdw376.formats import A15, A20, A21, BIN1
    from protocols.gdw376.layout import Field

    values: dict[str, Any] = {}
    if options["date"] is not None:
        _fill(layout, values, A20, date.fromisoformat(options["date"]), "Td_d (A.20)", fn)
    if options["month"] is not None:
        month = datetime.strptime(options["month"], "%Y-%m")
        _fill(layout, values, A21, from_json(_value_type(A21), {"year": month.year, "month": month.month}), "Td_m", fn)
    if options["curve"] is not None:
        start, density, points = options["curve"].split(",")
        _fill(layout, values, A15, datetime.fromisoformat(start), "Td_c (A.15 start)", fn)
        binaries = [e for e in layout if isinstance(e, Field) and e.fmt == BIN1 and e.name not in values]
        if len(binaries) < 2:
            raise click.UsageError(f"F{fn} has no Td_c density and count")
        values[binaries[0].name], values[binaries[1].name] = int(density), int(points)
    pointers = [(name, options[name]) for name in ("pm", "pn") if options[name] is not None]
    if pointers:
        binaries = [e for e in layout if isinstance(e, Field) and e.fmt == BIN1]
        if len(binaries) < 2:
            raise click.UsageError(f"F{fn} has no Pm/Pn pointers")
        for name, value in pointers:
            values[binaries[0 if name == "pm" else 1].name] = value
    return values


def build_units(afn: int, items: Sequence[tuple[int, int]], data: Any, options: Mapping[str, Any]) -> list[DataUnit]:
    """One :class:`DataUnit` per item; Fn whose request has a layout get their values from ``data`` and the
    time-tag / pointer options."""
    from protocols.gdw376.link import Dir
    from protocols.gdw376.units import DataUnit, lookup

    per_fn = isinstance(data, Mapping) and data and all(re.fullmatch(r"[fF]\d+", k) for k in data)
    units: list[DataUnit] = []
    for pn, fn in items:
        codec = lookup(afn, fn, Dir.DOWN, options["edition"])
        given = data.get(f"f{fn}", data.get(f"F{fn}")) if per_fn else data
        if codec is None or codec.layout is None:
            taking = [f"--{k}" for k in _TAG_OPTIONS if options[k] is not None] + ["--data"] * (given is not None)
            if taking:
                raise click.UsageError(f"AFN{afn:02X} F{fn} has no request layout to take {', '.join(taking)}")
            units.append(DataUnit(pn, fn))
            continue
        layout = codec.layout.layout
        values = {**_tags(layout, fn, options), **layout_values(layout, given or {})}
        units.append(DataUnit(pn, fn, values))
    return units


def resolve_edition(afn: int, fns: Sequence[int], edition: str) -> str:
    """The edition whose layouts build the request: ``edition`` itself, or for ``auto`` 2013 when an Fn asked for
    exists only in Q/GDW 1376.1-2013 (:func:`protocols.gdw376.describe.fn_evidence`), else 2009. An Fn that the
    edition marks 备用 is refused (:class:`~protocols.gdw376.units.registry.ReservedFn` says where)."""
    from protocols.gdw376.describe import fn_evidence
    from protocols.gdw376.units.registry import ReservedFn, reservation

    if edition == "auto":
        edition = "2013" if any(fn_evidence(afn, fn) for fn in fns) else "2009"
    for fn in dict.fromkeys(fns):
        clauses = reservation(afn, fn, edition)
        if clauses:
            raise click.UsageError(str(ReservedFn(afn, fn, clauses)))
    return edition


def _tp(tp: int | None, pfc: int, at: datetime | None) -> Any:
    from protocols.gdw376.timelabel import make_tp

    if tp is None:
        return None
    return make_tp(pfc, at or datetime.now(), tp)


@click.command("encode")
@click.argument("protocol", type=click.Choice(["gdw376"]))
@click.argument("afn_text", metavar="AFN")
@click.argument("items", nargs=-1, required=True)
@click.option("--a1", required=True, help="A1 行政区划码, 4 digits as printed (e.g. 4403).")
@click.option("--a2", required=True, type=int, help="A2 终端地址, decimal 1..65535.")
@click.option("--msa", type=click.IntRange(0, 127), default=1, show_default=True, help="主站地址 MSA.")
@click.option("--pseq", type=click.IntRange(0, 255), default=1, show_default=True, help="PFC; PSEQ = its low 4 bits.")
@click.option("--tp", type=click.IntRange(0, 255), help="Add a Tp with this allowed delay (min); send time = now.")
@click.option("--time", "at", type=click.DateTime(), help="The send time for --tp instead of now.")
@click.option("--data", help="JSON values of the Fn body (as decode --json shows them).")
@click.option("--date", help="Td_d 日冻结类数据时标 (AFN0D), YYYY-MM-DD.")
@click.option("--month", help="Td_m 月冻结类数据时标 (AFN0D), YYYY-MM.")
@click.option("--curve", help="Td_c 曲线类数据时标 (AFN0D): START,DENSITY,POINTS (START in ISO 8601).")
@click.option("--pm", type=click.IntRange(0, 255), help="AFN0E 请求事件记录起始指针 Pm.")
@click.option("--pn", type=click.IntRange(0, 255), help="AFN0E 请求事件记录结束指针 Pn.")
@click.option("--pw", help="PW as 32 hex digits (default: all zero, or ask your security module).")
@edition_option("The terminal's edition (its Fn layouts): 2009, 2013, or auto (2013 only for an Fn only 2013 defines).")
@click.option("--json", "as_json", is_flag=True, help="Print the decode --json description of the frame.")
def encode(protocol: str, afn_text: str, items: tuple[str, ...], **options: Any) -> None:
    """Build a request frame, e.g. ``headend encode gdw376 --a1 4403 --a2 18 afn0c f129 p1-p8``."""
    from protocols.errors import ProtocolError
    from protocols.gdw376 import messages
    from protocols.gdw376.auth import FixedAuthenticator
    from protocols.gdw376.describe import describe_frame
    from protocols.gdw376.link import Address, parse_frame

    match = _AFN.fullmatch(afn_text)
    if match is None:
        raise click.UsageError(f"not an AFN: {afn_text!r} (e.g. afn0c)")
    afn = int(match.group(1), 16)
    try:
        data = json.loads(options["data"]) if options["data"] else None
        address = Address(options["a1"], options["a2"], options["msa"])
        pairs = parse_items(items)
        requested = options["edition"]
        options = {**options, "edition": resolve_edition(afn, [fn for _, fn in pairs], requested)}
        units = build_units(afn, pairs, data, options)
        tp = _tp(options["tp"], options["pseq"], options["at"])
        auth = FixedAuthenticator(bytes.fromhex(options["pw"])) if options["pw"] else None
        if all(u.value is None for u in units) and afn in _READS:
            raw = messages.read_request(address, afn, [(u.pn, u.fn) for u in units], options["pseq"], tp=tp)
        else:
            raw = messages.command(
                address, afn, units, options["pseq"], tp=tp, authenticator=auth, edition=options["edition"]
            )
    except (ProtocolError, ValueError, KeyError, TypeError) as exc:
        raise click.UsageError(f"{type(exc).__name__}: {exc}") from exc
    if options["as_json"]:
        described = describe_frame(parse_frame(raw), requested)
        click.echo(json.dumps(described, ensure_ascii=False, indent=2))
    else:
        click.echo(raw.hex().upper())


__all__ = ["build_units", "encode", "from_json", "layout_values", "parse_items", "resolve_edition"]
