"""Data-unit codec registry keyed by (AFN, Fn, DIR) and the DA DT walker (Q/GDW 376.1 §5.1.1 数据单元).

The application data area (数据单元区) is a sequence of ``DA DT [data]``; one identifier with k points and m Fn
is followed by the k × m data bodies, points outer, Fn inner (PROTOCOLS.md A.6).

Two kinds of codec: hand-written ones over :class:`UnitReader` (the foundation's AFN00/02/0C F2/F129, with typed
value classes), and declarative ones built with :func:`from_layout` from a :mod:`~protocols.gdw376.layout`
description (compiled construct schema, size checked against the counts, values as Records) — the way every
further Fn is added.

Editions: :data:`REGISTRY` holds the Q/GDW 376.1-2009 layout of every Fn (and the Fn only 1376.1-2013 defines).
Where Q/GDW 1376.1-2013 changed a layout (e.g. AFN0C F26 counts A.8 → A.10, F161/F165/F166 times A.15 → A.1,
AFN0D F27 with the voltage qualification rates), the 2013 codec is registered with ``edition="2013"`` in
:data:`VARIANTS`; :func:`lookup`, :func:`decode_units` and :func:`encode_units` take the terminal's ``edition``
and fall back to :data:`REGISTRY`.

Reserved Fn: where an edition's Fn list marks an Fn 备用 (reserved), the module that owns the AFN says so with
:func:`reserve` (edition → the clause and what it was checked against) in :data:`RESERVED`. "Reserved" and "we
have no codec" are different answers: decoding an Fn without a codec raises :class:`ReservedFn` (an
:class:`~protocols.errors.UnsupportedFn` whose message reads "reserved in <edition> (<clause>)") when every
edition asked about reserves it, plain :class:`~protocols.errors.UnsupportedFn` otherwise. An Fn reserved in
2009 that 2013 defines is registered with its 2013 layout (the decoder accepts both editions everywhere) and
:func:`only_in_edition` names it as evidence of a 2013 terminal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from protocols.errors import DecodeError, LocalProtocolError, UnsupportedFn
from protocols.gdw376.da_dt import decode_da, decode_dt, encode_da, encode_dt, merge_identifiers
from protocols.gdw376.layout import Layout, LayoutCodec, Record
from protocols.gdw376.link import UNIT_ID_LEN, Aux, Dir, LinkFrame

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DataUnit:
    """One (pn, Fn) data unit 数据单元 with its decoded value (``None`` for units without a data body)."""

    pn: int
    fn: int
    value: object = None


class UnitReader:
    """Cursor over a data-unit region that turns truncation and malformed fields into :class:`DecodeError`
    carrying the raw region, the offset and a path such as ``AFN0C/F129/p3``."""

    __slots__ = ("data", "path", "pos")

    def __init__(self, data: bytes, path: str = "") -> None:
        self.data = data
        self.pos = 0
        self.path = path

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def error(self, message: str) -> DecodeError:
        return DecodeError(message, raw=self.data, offset=self.pos, path=self.path)

    def take(self, size: int) -> bytes:
        start = self.pos
        end = start + size
        if end > len(self.data):
            raise self.error(f"truncated: needs {size} bytes, {self.remaining} left")
        self.pos = end
        return self.data[start:end]

    def byte(self) -> int:
        return self.take(1)[0]

    def field(self, decode: Callable[[bytes], T], size: int) -> T:
        """Take ``size`` bytes and decode them, re-raising a format's error with this unit's path."""
        start = self.pos
        chunk = self.take(size)
        try:
            return decode(chunk)
        except DecodeError as exc:
            raise DecodeError(str(exc), raw=self.data, offset=start, path=self.path) from exc

    def fields(self, decode: Callable[[bytes], T], size: int, count: int) -> list[T]:
        """``count`` consecutive fields of ``size`` bytes: ``[self.field(decode, size) for _ in range(count)]``,
        with its errors (truncation at the first field that does not fit, a format's error with its offset)."""
        start = self.pos
        end = start + size * count
        if count > 0 and end <= len(self.data):
            data = self.data
            try:
                values = [decode(data[at : at + size]) for at in range(start, end, size)]
            except DecodeError:
                pass  # decoded again one by one below, for the error with its offset
            else:
                self.pos = end
                return values
        return [self.field(decode, size) for _ in range(count)]

    def identifier(self) -> tuple[list[int], list[int]]:
        """Read one DA DT (数据单元标识)."""
        return self.field(_decode_identifier, UNIT_ID_LEN)


def _decode_identifier(head: bytes) -> tuple[list[int], list[int]]:
    return decode_da(head[:2]), decode_dt(head[2:])


@dataclass(frozen=True, slots=True)
class UnitCodec:
    """How one (AFN, Fn, DIR) body is read and written. ``decode=None`` means the unit has no data body."""

    name: str
    decode: Callable[[UnitReader], object] | None = None
    encode: Callable[[object], bytes] | None = None
    layout: LayoutCodec | None = None  #: set for declarative codecs (tests compare compiled and interpreted)

    @property
    def has_body(self) -> bool:
        return self.decode is not None


#: The registry: (AFN, Fn, DIR) → codec. Filled by the ``afnXX`` modules at import.
REGISTRY: dict[tuple[int, int, Dir], UnitCodec] = {}
#: Editions whose layouts can differ (Q/GDW 376.1-2009, Q/GDW 1376.1-2013).
EDITIONS = ("2009", "2013")
#: Edition-specific layouts, (AFN, Fn, DIR, edition) → codec, consulted before :data:`REGISTRY`.
VARIANTS: dict[tuple[int, int, Dir, str], UnitCodec] = {}


def register(afn: int, fn: int, dirs: Iterable[Dir], codec: UnitCodec, *, edition: str | None = None) -> None:
    """Register ``codec`` for (AFN, Fn) in each direction; with ``edition``, only for terminals of that edition
    (the codec registered without one serves every other terminal)."""
    if edition is not None and edition not in EDITIONS:
        raise LocalProtocolError(f"unknown edition {edition!r}, expected one of {EDITIONS}")
    for d in dirs:
        where = f"AFN{afn:02X} F{fn} {d.name}" + (f" ({edition})" if edition else "")
        if edition is None:
            if (afn, fn, d) in REGISTRY:
                raise LocalProtocolError(f"{where} registered twice")
            REGISTRY[(afn, fn, d)] = codec
        else:
            if (afn, fn, d, edition) in VARIANTS:
                raise LocalProtocolError(f"{where} registered twice")
            VARIANTS[(afn, fn, d, edition)] = codec


#: Fn marked 备用 (reserved) by an edition's Fn list: (AFN, Fn) → {edition: clause and source}. See :func:`reserve`.
RESERVED: dict[tuple[int, int], dict[str, str]] = {}

_STANDARDS = {"2009": "Q/GDW 376.1-2009", "2013": "Q/GDW 1376.1-2013"}


class ReservedFn(UnsupportedFn):
    """An (AFN, Fn) that the edition(s) asked about mark 备用 (reserved): the terminal sent, or we were asked to
    decode, an Fn the standard does not define — not one whose layout we lack. ``editions`` maps each reserving
    edition to its clause."""

    def __init__(self, afn: int, fn: int, editions: Mapping[str, str], *, raw: bytes = b"") -> None:
        super().__init__(afn, fn, raw=raw)
        self.editions = dict(editions)
        where = " and ".join(f"{_STANDARDS[e]} ({clause})" for e, clause in sorted(self.editions.items()))
        self.args = (f"AFN{afn:02X} F{fn} is reserved (备用) in {where}",)


def reserve(afn: int, fn: int, clauses: Mapping[str, str]) -> None:
    """Record that (AFN, Fn) is 备用 in each edition of ``clauses`` (edition → clause and what it was checked
    against). An Fn reserved in every edition must have no codec; one reserved in only one edition may have the
    other edition's codec."""
    for edition in clauses:
        if edition not in EDITIONS:
            raise LocalProtocolError(f"unknown edition {edition!r}, expected one of {EDITIONS}")
    if (afn, fn) in RESERVED:
        raise LocalProtocolError(f"AFN{afn:02X} F{fn} reserved twice")
    if set(clauses) == set(EDITIONS) and any((afn, fn, d) in REGISTRY for d in Dir):
        raise LocalProtocolError(f"AFN{afn:02X} F{fn} is registered, it cannot be reserved in every edition")
    RESERVED[(afn, fn)] = dict(clauses)


def reservation(afn: int, fn: int, edition: str | None = None) -> dict[str, str] | None:
    """The editions (→ clause) reserving (AFN, Fn), if ``edition`` does (None: if every edition does)."""
    clauses = RESERVED.get((afn, fn))
    if clauses is None:
        return None
    if edition is None:
        return clauses if set(clauses) == set(EDITIONS) else None
    return {edition: clauses[edition]} if edition in clauses else None


def only_in_edition(afn: int, fn: int) -> str | None:
    """The edition that alone defines (AFN, Fn): it is reserved in the other one and has a codec."""
    clauses = RESERVED.get((afn, fn))
    if clauses is None or len(clauses) != 1 or not any((afn, fn, d) in REGISTRY for d in Dir):
        return None
    (reserving,) = clauses
    return next(e for e in EDITIONS if e != reserving)


def unsupported(afn: int, fn: int, edition: str | None = None, *, raw: bytes = b"") -> UnsupportedFn:
    """The error for an Fn without a codec: :class:`ReservedFn` when ``edition`` reserves it, else
    :class:`~protocols.errors.UnsupportedFn`."""
    clauses = reservation(afn, fn, edition)
    return ReservedFn(afn, fn, clauses, raw=raw) if clauses else UnsupportedFn(afn, fn, raw=raw)


def no_body(name: str) -> UnitCodec:
    """A unit with no data body (requests, AFN00 F1/F2, login/logout)."""
    return UnitCodec(name)


def from_layout(name: str, layout: Layout) -> UnitCodec:
    """A codec from a declarative :mod:`~protocols.gdw376.layout` description; values are
    :class:`~protocols.gdw376.layout.Record` mappings."""
    codec = LayoutCodec(name, layout)

    def decode(reader: UnitReader) -> Record:
        record, size = codec.decode(reader.data[reader.pos :], reader.path)
        reader.take(size)
        return record

    def encode(value: object) -> bytes:
        if not isinstance(value, Mapping):
            raise LocalProtocolError(f"{name} needs a mapping of its fields, got {value!r}")
        return codec.encode(value)

    return UnitCodec(name, decode, encode, codec)


def lookup(afn: int, fn: int, dir: Dir, edition: str | None = None) -> UnitCodec | None:
    """The codec of (AFN, Fn, DIR) for a terminal of ``edition`` (None: the default, 2009 layouts)."""
    if edition is not None:
        variant = VARIANTS.get((afn, fn, dir, edition))
        if variant is not None:
            return variant
    return REGISTRY.get((afn, fn, dir))


def decode_units(afn: int, data: bytes, dir: Dir, *, edition: str | None = None) -> list[DataUnit]:
    """Walk ``DA DT [data]…``, expanding multi-pn / multi-Fn identifiers (points outer, Fn inner).

    Raises :class:`UnsupportedFn` (with the raw region) for an Fn without a codec — :class:`ReservedFn` when
    ``edition`` (None: every edition) marks it 备用 — and :class:`DecodeError` for
    truncation or malformed bodies (path ``AFNxx/Fn/pn``). ``edition`` picks the terminal's layouts (see module).
    """
    raw = bytes(data)
    units: list[DataUnit] = []
    reader: UnitReader | None = None
    prefix: str | None = None
    pos, size = 0, len(raw)
    while pos < size:
        pairs = _IDENTIFIERS.get(raw[pos : pos + UNIT_ID_LEN])
        if pairs is None:
            reader = UnitReader(raw, f"AFN{afn:02X}/DADT")
            reader.pos = pos
            pns, fns = reader.identifier()  # the precise DecodeError for a truncated or empty DA / DT
            pairs = tuple((pn, fn, _new_unit(pn, fn, None), f"/F{fn}/p{pn}") for pn in pns for fn in fns)
            if len(_IDENTIFIERS) < _IDENTIFIERS_MAX:
                _IDENTIFIERS[raw[pos : pos + UNIT_ID_LEN]] = pairs
        pos += UNIT_ID_LEN
        for pn, fn, empty, where in pairs:
            # lookup(), inlined: this runs per data unit
            codec = VARIANTS.get((afn, fn, dir, edition)) if edition is not None else None
            if codec is None:
                codec = REGISTRY.get((afn, fn, dir))
                if codec is None:
                    raise unsupported(afn, fn, edition, raw=raw)
            decode = codec.decode
            if decode is None:
                units.append(empty)  # DataUnit(pn, fn): immutable, so one instance serves every frame
                continue
            if reader is None:
                reader = UnitReader(raw)
            if prefix is None:
                prefix = _AFN_PATHS[afn] if 0 <= afn < len(_AFN_PATHS) else f"AFN{afn:02X}"
            reader.pos = pos
            reader.path = prefix + where  # AFNxx/Fn/pn
            value = decode(reader)
            pos = reader.pos
            unit = _new(DataUnit)  # DataUnit(pn, fn, value), as _new_unit does
            _SET_PN(unit, pn)
            _SET_FN(unit, fn)
            _SET_VALUE(unit, value)
            units.append(unit)
    return units


_SET_PN, _SET_FN, _SET_VALUE = (getattr(DataUnit, name).__set__ for name in ("pn", "fn", "value"))


_new = object.__new__


def _new_unit(pn: int, fn: int, value: object) -> DataUnit:
    """``DataUnit(pn, fn, value)`` by setting its slots: half the cost of the frozen dataclass ``__init__``, for
    the decoder's own values (a DataUnit has no ``__post_init__``)."""
    unit: DataUnit = _new(DataUnit)
    _SET_PN(unit, pn)
    _SET_FN(unit, fn)
    _SET_VALUE(unit, value)
    return unit


#: DA DT bytes → the (pn, Fn) pairs it stands for (points outer, Fn inner), each with its DataUnit without a
#: value and the end of its error path ("/F129/p3"); filled as identifiers are met (a head-end sees few distinct
#: ones); bounded.
_IDENTIFIERS: dict[bytes, tuple[tuple[int, int, DataUnit, str], ...]] = {}
#: "AFN00" … "AFNFF": the start of a unit's error path.
_AFN_PATHS = tuple(f"AFN{afn:02X}" for afn in range(256))
_IDENTIFIERS_MAX = 1 << 16


def encode_identifiers(items: Iterable[tuple[int, int]]) -> bytes:
    """DA DT identifiers only (a request without data bodies), merged as few as possible."""
    pairs = list(items)
    if len(pairs) == 1:  # the common case (login, heartbeat, confirmations): nothing to merge
        ((pn, fn),) = pairs
        return _identifier(pn, fn)
    return b"".join(encode_da(pns) + encode_dt(fns) for pns, fns in merge_identifiers(pairs))


def _identifier(pn: int, fn: int) -> bytes:
    """``encode_da([pn]) + encode_dt([fn])``, memoised for int pairs (a pure function of them; bounded)."""
    if type(pn) is not int or type(fn) is not int:
        return encode_da([pn]) + encode_dt([fn])
    raw = _IDENTIFIER_BYTES.get((pn, fn))
    if raw is None:
        raw = encode_da([pn]) + encode_dt([fn])
        if len(_IDENTIFIER_BYTES) < _IDENTIFIERS_MAX:
            _IDENTIFIER_BYTES[(pn, fn)] = raw
    return raw


#: (pn, Fn) → its DA DT bytes, the inverse of :data:`_IDENTIFIERS` for single identifiers.
_IDENTIFIER_BYTES: dict[tuple[int, int], bytes] = {}


def encode_units(afn: int, units: Sequence[DataUnit], dir: Dir, *, edition: str | None = None) -> bytes:
    """Inverse of :func:`decode_units`. When no unit has a data body (requests, confirmations) the identifiers
    are merged (:func:`~protocols.gdw376.da_dt.merge_identifiers`); otherwise each unit gets its own DA DT (AFN0D
    requests: one time tag per unit)."""
    codecs = []
    has_body = False
    for unit in units:
        # lookup(), inlined: this runs per data unit
        codec = VARIANTS.get((afn, unit.fn, dir, edition)) if edition is not None else None
        if codec is None:
            codec = REGISTRY.get((afn, unit.fn, dir))
        if codec is None:
            reserved = reservation(afn, unit.fn, edition)
            why = f": {ReservedFn(afn, unit.fn, reserved)}" if reserved else ""
            raise LocalProtocolError(f"no codec for AFN{afn:02X} F{unit.fn} {dir.name}{why}")
        if codec.encode is None and unit.value is not None:
            raise LocalProtocolError(f"AFN{afn:02X} F{unit.fn} {dir.name} has no data body, got {unit.value!r}")
        has_body = has_body or codec.decode is not None  # UnitCodec.has_body
        codecs.append(codec)
    if not has_body:
        if len(codecs) == 1:  # encode_identifiers of one pair
            return _identifier(units[0].pn, units[0].fn)
        return encode_identifiers((u.pn, u.fn) for u in units)
    return b"".join(
        [
            _identifier(u.pn, u.fn) + (c.encode(u.value) if c.encode is not None else b"")
            for u, c in zip(units, codecs, strict=True)
        ]
    )


def decode_frame_units(frame: LinkFrame, *, edition: str | None = None) -> tuple[list[DataUnit], LinkFrame]:
    """Decode a frame's data units; returns them with the frame as finally understood.

    PROTOCOLS.md Part D.3: one vendor sets ACD=1 without sending EC. When the data units do not decode with the
    two EC bytes taken off, they are put back (EC sits between the data and Tp, so they are contiguous) and
    decoding is retried; on success the returned frame has ``aux.ec=None`` and a warning saying so.
    """
    try:
        return decode_units(frame.afn, frame.data, frame.dir, edition=edition), frame
    except DecodeError as first:
        if frame.aux.ec is None or isinstance(first, UnsupportedFn):
            raise
        data = frame.data + bytes(frame.aux.ec)
        try:
            units = decode_units(frame.afn, data, frame.dir, edition=edition)
        except DecodeError:
            raise first from None
    fixed = dataclasses.replace(
        frame,
        data=data,
        aux=Aux(frame.aux.pw, None, frame.aux.tp),
        warnings=(*frame.warnings, "ACD=1 but no EC: the 2 bytes before Tp/CS are data"),
    )
    return units, fixed
