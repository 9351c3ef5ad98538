"""Declarative data-unit layouts: one description per Fn body, from which come a construct schema (interpreted,
and compiled for speed), the decoder, the encoder and the size rule (STYLE.md §3.2 construct rules).

A layout is a tuple of elements, in wire order (Q/GDW 376.1 §5 数据单元格式 tables read top to bottom):

- :class:`Field` — one value in an appendix-A format (``A.14``…) or any :class:`Format`;
- :class:`Count` — a binary count byte (or two) that a later :class:`Repeat` uses, e.g. F129's M (费率数); with
  ``bitmap=True`` the byte is a bit string and the count is its number of 1 bits (AFN0C F5/F6 总加组有效标志位:
  one group of fields per valid 总加组); with ``mask`` the count is only those bits of its byte and the others are
  flags kept in the value (AFN04 F2: 允许 D7, 被转发的终端地址数 D6..D0);
- :class:`Repeat` — a group repeated ``count + offset`` times (``count`` names a :class:`Count`, or is an int);
- :class:`Octets` — ``count + offset`` raw bytes (transparent-forward contents 透明转发内容, file segments 文件数据).

How it runs (STYLE.md §3.2): the compiled schema parses only raw byte fields and counts — no Adapters, no
Checksums, ``this.`` expressions only — and the result is converted to Python values in one explicit pass. A
compiled ``Bytes(n)`` does *not* notice truncated input, so after parsing the size implied by the counts is
checked against the bytes available; on any error the interpreted schema re-parses for a precise path.

The value of a decoded unit is a :class:`Record`: an immutable, ordered mapping of field name → value (a
:class:`Repeat` gives a tuple of Records, or of plain values when its group has a single :class:`Field`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import construct as cs
from construct import this

from protocols.errors import DecodeError, LocalProtocolError


class Format(Protocol):
    """An appendix-A data format: fixed ``size`` bytes ⇄ a Python value (None = the EE "no value" filler)."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...

    def decode(self, raw: bytes) -> Any: ...

    def encode(self, value: Any) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    fmt: Format
    title: str = ""  #: the standard's term, e.g. "终端抄表时间"


@dataclass(frozen=True, slots=True)
class Count:
    """A binary (little-endian) count that a later :class:`Repeat` refers to by ``name``.

    ``bitmap=True``: the field is a bit string (BS8/BS16) whose value is kept as it is (an int) and whose number of
    1 bits is the count — the standard's "有效标志位" followed by one block per set bit.

    ``mask``: only these (low) bits are the count; the field's value is kept whole, so flags sharing the byte stay
    visible (AFN04 F2 无线中继转发: D7 允许/禁止, D6..D0 被转发的终端地址数 → ``mask=0x7F``)."""

    name: str
    size: int = 1
    title: str = ""
    bitmap: bool = False
    mask: int = 0

    def items(self, value: int) -> int:
        """How many items this count announces when its field holds ``value``."""
        if self.bitmap:
            return value.bit_count()
        return value & self.mask if self.mask else value


@dataclass(frozen=True, slots=True)
class Repeat:
    name: str
    count: str | int  #: the name of an earlier :class:`Count`, or a fixed number
    fields: tuple[Element, ...]
    offset: int = 0  #: items = count + offset (F129: M + 1 values, total then tariffs)
    title: str = ""


@dataclass(frozen=True, slots=True)
class Octets:
    """``count + offset`` bytes kept as :class:`bytes` (``count`` names an earlier :class:`Count`, or is an int).

    AFN10 F1 透明转发内容 is ``Count("length", 2)`` then ``Octets("frame", "length")``; AFN10 F9 counts the DI with
    its data (``k+4``), so its data is ``Octets("data", "length", offset=-4)`` after a 4-byte DI field."""

    name: str
    count: str | int
    offset: int = 0
    title: str = ""


Element = Field | Count | Repeat | Octets
Layout = tuple[Element, ...]


class Record(Mapping[str, Any]):
    """An immutable, ordered, hashable mapping: the decoded body of one data unit."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> None:
        pairs = tuple(items.items()) if isinstance(items, Mapping) else tuple(items)
        self._items: dict[str, Any] = dict(pairs)

    @classmethod
    def _of(cls, items: dict[str, Any]) -> Record:
        """A Record owning ``items`` (a fresh dict nobody else holds): the decoders' way, without copying."""
        record = _new(cls)
        _SET_ITEMS(record, items)
        return record

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Record({self._items!r})"


_new = object.__new__
_SET_ITEMS = Record.__dict__["_items"].__set__

_COUNT_TYPES = {1: cs.Int8ul, 2: cs.Int16ul}


def _counts(layout: Layout) -> dict[str, Count]:
    return {e.name: e for e in layout if isinstance(e, Count)}


def _count_expr(rep: Repeat | Octets, counts: Mapping[str, Count]) -> Any:
    if isinstance(rep.count, int):
        return rep.count + rep.offset
    field = getattr(this, rep.count)
    count = counts[rep.count]
    if count.bitmap:  # a `this` expression (compiles): the number of 1 bits
        return sum(((field >> bit) & 1 for bit in range(8 * count.size)), rep.offset)
    if count.mask:
        return (field & count.mask) + rep.offset
    return field + rep.offset


def schema(layout: Layout) -> cs.Struct:
    """The interpreted construct schema (raw fields, counts) of ``layout``; ``.compile()`` it for speed."""
    members: list[Any] = []
    counts = _counts(layout)
    for element in layout:
        if isinstance(element, Field):
            members.append(element.name / cs.Bytes(element.fmt.size))
        elif isinstance(element, Count):
            members.append(element.name / _COUNT_TYPES[element.size])
        elif isinstance(element, Octets):
            members.append(element.name / cs.Bytes(_count_expr(element, counts)))
        else:
            members.append(element.name / cs.Array(_count_expr(element, counts), schema(element.fields)))
    return cs.Struct(*members)


def _items(rep: Repeat | Octets, items: Mapping[str, int]) -> int:
    """Items of ``rep`` given the item counts announced so far (:meth:`Count.items`)."""
    return (rep.count if isinstance(rep.count, int) else items[rep.count]) + rep.offset


def _is_scalar(rep: Repeat) -> bool:
    return len(rep.fields) == 1 and isinstance(rep.fields[0], Field)


def raw_size(layout: Layout, container: Mapping[str, Any]) -> int:
    """Bytes a parsed body occupies, from its counts (the check a compiled ``Bytes`` does not make)."""
    total = 0
    counts = _counts(layout)
    for element in layout:
        if isinstance(element, Field):
            total += element.fmt.size
        elif isinstance(element, Count):
            total += element.size
        elif isinstance(element, Octets):
            announced = {name: count.items(container[name]) for name, count in counts.items()}
            size = _items(element, announced)
            if size < 0:  # e.g. AFN10 F9 "k+4" below 4: the interpreted re-parse names the field
                raise ValueError(f"{element.name}: negative length {size}")
            total += size
        else:
            _check_items(element, counts, container)
            total += sum(raw_size(element.fields, item) for item in container[element.name])
    return total


def _check_items(rep: Repeat, counts: Mapping[str, Count], container: Mapping[str, Any]) -> None:
    """A compiled ``Array`` takes a negative count (``N`` = 0 with offset −1) as zero: refuse it here, so that the
    interpreted schema re-parses and says where."""
    if isinstance(rep.count, str) and counts[rep.count].items(container[rep.count]) + rep.offset < 0:
        raise ValueError(f"{rep.name}: negative item count")


def _convert(layout: Layout, container: Mapping[str, Any], path: str) -> Record:
    out: list[tuple[str, Any]] = []
    for element in layout:
        name = element.name
        if isinstance(element, Field):
            try:
                out.append((name, element.fmt.decode(bytes(container[name]))))
            except DecodeError as exc:
                raise DecodeError(str(exc), raw=bytes(container[name]), path=f"{path}/{name}") from exc
        elif isinstance(element, Count):
            out.append((name, int(container[name])))
        elif isinstance(element, Octets):
            out.append((name, bytes(container[name])))
        else:
            items = [_convert(element.fields, item, f"{path}/{name}[{i}]") for i, item in enumerate(container[name])]
            if _is_scalar(element):
                only = element.fields[0].name
                out.append((name, tuple(item[only] for item in items)))
            else:
                out.append((name, tuple(items)))
    return Record(out)


def _only(rep: Repeat) -> Field:
    field = rep.fields[0]
    assert isinstance(field, Field)
    return field


class LayoutCodec:
    """Decode/encode one Fn body described by ``layout``; compiles its schema once, at import (rule 5)."""

    def __init__(self, name: str, layout: Layout) -> None:
        self.name = name  #: the Fn's name in the standard, e.g. "当前正向有功电能示值（总、费率1～M）"
        self.layout = layout
        self.interpreted: cs.Struct = schema(layout)
        self.compiled: Any = self.interpreted.compile()
        self._counts = _counts(layout)
        #: For a layout of fields only (no counts: a fixed size), each field's (name, format, start, end): decoded
        #: by slicing, which is what the compiled schema would do, without its container and the size check.
        self.slices: tuple[tuple[str, Format, int, int], ...] | None = None
        self.fixed_size = 0
        if all(isinstance(element, Field) for element in layout):
            slices = []
            for element in layout:
                assert isinstance(element, Field)
                slices.append((element.name, element.fmt, self.fixed_size, self.fixed_size + element.fmt.size))
                self.fixed_size += element.fmt.size
            self.slices = tuple(slices)
        #: Fields, counts and repeats of one field (the F129 shape: 抄表时间 + M + value × (M+1)) are walked
        #: directly too; anything nested goes through the compiled schema.
        self.flat = self.slices is None and all(
            isinstance(e, Field | Count) or (isinstance(e, Repeat) and isinstance(e.count, str) and _is_scalar(e))
            for e in layout
        )
        #: The decode plan of a fixed layout: (name, bound decode, start, end) per field.
        self._fixed_plan = tuple((name, fmt.decode, start, end) for name, fmt, start, end in self.slices or ())
        #: The plan of a flat layout (and of the encoder, for flat and fixed layouts), one step per element:
        #: (kind, name, size, format or Count, count name, offset, field name); kind _FIELD, _COUNT or _REPEAT.
        self._plan: tuple[_Step, ...] | None = None
        if self.slices is not None or self.flat:
            self._plan = tuple(_step(element) for element in layout)

    def decode(self, data: bytes, path: str = "") -> tuple[Record, int]:
        """Decode a body at the start of ``data``; return the Record and the bytes consumed."""
        if self.slices is not None:
            return self._decode_fixed(data, path, self.slices)
        if self.flat:
            return self._decode_flat(data, path)
        return self.decode_compiled(data, path)

    def decode_compiled(self, data: bytes, path: str = "") -> tuple[Record, int]:
        """:meth:`decode` through the compiled schema (every layout; the fast paths must agree with it)."""
        try:
            container = self.compiled.parse(data)
            size = raw_size(self.layout, container)
        except Exception as exc:
            raise self._precise_error(data, path) from exc
        if size > len(data):
            raise self._precise_error(data, path)
        return _convert(self.layout, container, path), size

    def _decode_fixed(
        self, data: bytes, path: str, slices: tuple[tuple[str, Format, int, int], ...]
    ) -> tuple[Record, int]:
        if len(data) < self.fixed_size:
            raise self._precise_error(data, path)
        out: dict[str, Any] = {}
        for name, decode, start, end in self._fixed_plan:
            raw = data[start:end]
            try:
                out[name] = decode(raw)
            except DecodeError as exc:
                raise DecodeError(str(exc), raw=raw, path=f"{path}/{name}") from exc
        return Record._of(out), self.fixed_size

    def _decode_flat(self, data: bytes, path: str) -> tuple[Record, int]:
        """Fields, counts and scalar repeats in order: the values :func:`_convert` gives for the compiled parse.

        One pass; if it meets truncation or a field that does not decode, :meth:`_decode_flat_checked` decodes
        again and raises the error the compiled path gives (truncation first, then the first bad field)."""
        assert self._plan is not None
        out: dict[str, Any] = {}
        items: dict[str, int] = {}
        pos, available = 0, len(data)
        try:
            for kind, name, size, what, count, offset, _ in self._plan:
                if kind is _REPEAT:
                    number = items[count] + offset
                    end = pos + number * size
                    if number < 0 or end > available:
                        break
                    out[name] = tuple([what.decode(data[at : at + size]) for at in range(pos, end, size)])
                else:
                    end = pos + size
                    if end > available:
                        break
                    if kind is _FIELD:
                        out[name] = what.decode(data[pos:end])
                    else:
                        value = out[name] = int.from_bytes(data[pos:end], "little")
                        items[name] = what.items(value)
                pos = end
            else:
                return Record._of(out), pos
        except DecodeError:
            pass
        return self._decode_flat_checked(data, path)

    def _decode_flat_checked(self, data: bytes, path: str) -> tuple[Record, int]:
        """:meth:`_decode_flat` in two passes: sizes first, so that truncation is reported before a field's
        content (as the compiled path does), then the values, each error with its path."""
        assert self._plan is not None
        counts: dict[str, int] = {}
        items: dict[str, int] = {}
        pos, available = 0, len(data)
        for kind, name, size, what, count, offset, _ in self._plan:
            if kind is _FIELD:
                pos += size
            elif kind is _COUNT:
                value = int.from_bytes(data[pos : pos + size], "little")
                counts[name] = value
                items[name] = what.items(value)
                pos += size
            else:
                number = items[count] + offset
                if number < 0:
                    raise self._precise_error(data, path)
                pos += number * size
            if pos > available:
                raise self._precise_error(data, path)
        out: dict[str, Any] = {}
        pos = 0
        for kind, name, size, what, count, offset, only in self._plan:
            if kind is _FIELD:
                raw = data[pos : pos + size]
                try:
                    out[name] = what.decode(raw)
                except DecodeError as exc:
                    raise DecodeError(str(exc), raw=raw, path=f"{path}/{name}") from exc
                pos += size
            elif kind is _COUNT:
                out[name] = counts[name]
                pos += size
            else:
                end = pos + (items[count] + offset) * size
                try:
                    out[name] = tuple([what.decode(data[at : at + size]) for at in range(pos, end, size)])
                except DecodeError:
                    _repeat_error(data, pos, end, size, what, f"{path}/{name}", only)
                    raise
                pos = end
        return Record._of(out), pos

    def _precise_error(self, data: bytes, path: str) -> DecodeError:
        try:
            self.interpreted.parse(data)
        except cs.ConstructError as exc:
            where = getattr(exc, "path", None) or ""
            return DecodeError(f"{self.name}: {exc}".splitlines()[-1], raw=data, path=f"{path} {where}".strip())
        return DecodeError(f"{self.name}: truncated", raw=data, path=path)

    def encode(self, value: Mapping[str, Any]) -> bytes:
        if self._plan is None:
            return _encode(self.layout, value, self.name)
        return _encode_plan(self._plan, value, self.name)


#: Kinds of plan steps (compared by identity).
_FIELD, _COUNT, _REPEAT = "field", "count", "repeat"
#: (kind, name, size, format or Count, count name, offset, field name of a repeat).
_Step = tuple[str, str, int, Any, str, int, str]


def _step(element: Element) -> _Step:
    if isinstance(element, Field):
        return (_FIELD, element.name, element.fmt.size, element.fmt, "", 0, "")
    if isinstance(element, Count):
        return (_COUNT, element.name, element.size, element, "", 0, "")
    assert isinstance(element, Repeat) and isinstance(element.count, str) and _is_scalar(element)
    only = _only(element)
    return (_REPEAT, element.name, only.fmt.size, only.fmt, element.count, element.offset, only.name)


def _repeat_error(data: bytes, start: int, end: int, size: int, fmt: Format, where: str, field: str) -> None:
    """Raise the error of the first item of a scalar repeat that does not decode, with its path
    (``…/values[2]/value``); returns if every item decodes."""
    for i, at in enumerate(range(start, end, size)):
        raw = data[at : at + size]
        try:
            fmt.decode(raw)
        except DecodeError as exc:
            raise DecodeError(str(exc), raw=raw, path=f"{where}[{i}]/{field}") from exc


def _encode_plan(plan: tuple[_Step, ...], value: Mapping[str, Any], name: str) -> bytes:
    """:func:`_encode` for a flat or fixed layout, from its plan: the same bytes and the same errors."""
    parts: list[bytes] = []
    counts: dict[str, int] = {}
    for kind, element, size, what, count, offset, _ in plan:
        if kind is _FIELD:
            if element not in value:
                raise LocalProtocolError(f"{name}: missing field {element!r}")
            parts.append(what.encode(value[element]))
        elif kind is _COUNT:
            number = _count_value(plan, what, value, name)
            counts[element] = what.items(number)
            parts.append(number.to_bytes(size, "little"))
        else:
            values = value[element]
            expected = counts[count] + offset
            if len(values) != expected:
                raise LocalProtocolError(f"{name}: {element} has {len(values)} items, the count says {expected}")
            parts.append(b"".join([what.encode(v) for v in values]))
    return b"".join(parts)


def _count_value(plan: tuple[_Step, ...], count: Count, value: Mapping[str, Any], name: str) -> int:
    """The value of ``count`` in an encoded body: given, or the length of the repeat that uses it."""
    if count.name in value:
        number = int(value[count.name])
    else:
        # the last repeat that uses this count, as _encode's mapping of counts to repeats has it
        rep = next((step for step in reversed(plan) if step[0] is _REPEAT and step[4] == count.name), None)
        if rep is None or count.bitmap:
            raise LocalProtocolError(f"{name}: missing count {count.name!r}")
        number = len(value[rep[1]]) - rep[5]
    if not 0 <= number < 1 << (8 * count.size):
        raise LocalProtocolError(f"{name}: count {count.name}={number} does not fit {count.size} byte(s)")
    return number


def _encode(layout: Layout, value: Mapping[str, Any], name: str) -> bytes:
    out = bytearray()
    counts: dict[str, int] = {}
    repeats = {e.count: e for e in layout if isinstance(e, Repeat | Octets) and isinstance(e.count, str)}
    for element in layout:
        if isinstance(element, Field):
            if element.name not in value:
                raise LocalProtocolError(f"{name}: missing field {element.name!r}")
            out += element.fmt.encode(value[element.name])
        elif isinstance(element, Count):
            rep = repeats.get(element.name)
            if element.name in value:
                number = int(value[element.name])
            elif rep is not None and not element.bitmap:
                number = len(value[rep.name]) - rep.offset
            else:
                raise LocalProtocolError(f"{name}: missing count {element.name!r}")
            if not 0 <= number < 1 << (8 * element.size):
                raise LocalProtocolError(f"{name}: count {element.name}={number} does not fit {element.size} byte(s)")
            counts[element.name] = element.items(number)
            out += number.to_bytes(element.size, "little")
        elif isinstance(element, Octets):
            data = bytes(value[element.name])
            expected = _items(element, counts)
            if len(data) != expected:
                raise LocalProtocolError(f"{name}: {element.name} has {len(data)} bytes, the count says {expected}")
            out += data
        else:
            items = value[element.name]
            expected = _items(element, counts)
            if len(items) != expected:
                raise LocalProtocolError(f"{name}: {element.name} has {len(items)} items, the count says {expected}")
            for item in items:
                if _is_scalar(element):
                    item = {element.fields[0].name: item}
                out += _encode(element.fields, item, name)
    return bytes(out)
