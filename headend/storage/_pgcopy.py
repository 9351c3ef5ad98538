"""PostgreSQL binary ``COPY`` rows of a :class:`~headend.readings.Reading`, built once when the reading is spooled.

The spool keeps, beside the exact text form of each reading, its row in the binary ``COPY`` format, so that
draining the spool into TimescaleDB is: read the blobs, join them, send them — no decoding into Python objects
and no per-value adaptation on the hot path (docs/schema.md "Pipeline").

Format (PostgreSQL 15 documentation, "COPY — Binary Format"; the ``*send`` functions of the types): a file is
the 11-byte signature ``PGCOPY\\n\\377\\r\\n\\0``, a 32-bit flags field (0) and a 32-bit header-extension length
(0); then per tuple a 16-bit field count and, per field, a 32-bit length (-1 = NULL) and the value; then the
16-bit trailer -1. All integers are big-endian (network order). Values:

* ``text``: the UTF-8 bytes; ``int2``/``int4``/``int8``: two's complement;
* ``timestamptz``: int64 microseconds since 2000-01-01 00:00:00 UTC (``timestamp_send``);
* ``numeric`` (``numeric_send``): int16 ndigits, int16 weight, uint16 sign (0x0000 positive, 0x4000 negative),
  uint16 dscale, then ndigits base-10000 digits (int16), most significant first; the value is
  ``sum(digit[i] * 10000 ** (weight - i))``, ``dscale`` the number of decimal digits after the point.

Checked against psycopg 3.3's binary loaders (which decode what we build here to the same ``Decimal`` and
instant, tests/headend/storage/test_pgcopy.py) and against the server (the store tests COPY these rows).

A row here is the sequence of fields *without* the leading field count: the store prepends the count, and for
its staging table a sequence-number field, at COPY time.
"""

from __future__ import annotations

import functools
import struct
from datetime import UTC, datetime
from decimal import Decimal

from headend.readings import Reading

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)

#: numeric limits of PostgreSQL (src/backend/utils/adt/numeric.c: NUMERIC_MAX_PRECISION-independent storage
#: limits): up to 131072 digits before the point and 16383 after
NUMERIC_MAX_INTEGER_DIGITS = 131072
NUMERIC_MAX_DSCALE = 16383

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NULL = struct.pack(">i", -1)
_INT2 = struct.Struct(">ih")  # length 2 + value
_INT4 = struct.Struct(">ii")  # length 4 + value
_INT8 = struct.Struct(">iq")  # length 8 + value
_NUMERIC_HEAD = struct.Struct(">ihhHH")  # length + ndigits, weight, sign, dscale
_NUMERIC_POS = 0x0000
_NUMERIC_NEG = 0x4000


@functools.lru_cache(maxsize=8192)
def text_field(value: str) -> bytes:
    """A ``text`` field: length + UTF-8 (meter, register, unit… repeat a lot within a batch: cached)."""
    data = value.encode("utf-8")
    return struct.pack(">i", len(data)) + data


def int2_field(value: int) -> bytes:
    return _INT2.pack(2, value)


def int4_field(value: int) -> bytes:
    return _INT4.pack(4, value)


def int8_field(value: int) -> bytes:
    return _INT8.pack(8, value)


def timestamptz_field(moment: datetime) -> bytes:
    """A ``timestamptz`` field. ``moment`` must be aware (a batch holds few distinct times: cached)."""
    # the fold is part of the cache key: within one zone, 01:30 before and after a DST fall-back compare equal
    return _timestamptz_field(moment, moment.fold)


@functools.lru_cache(maxsize=4096)
def _timestamptz_field(moment: datetime, fold: int) -> bytes:
    delta = moment - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return _INT8.pack(8, micros)


def numeric_field(value: Decimal | None) -> bytes:
    """A ``numeric`` field holding ``value`` exactly (digits and scale; ``Decimal("1E+3")`` is 1000, scale 0).

    ``value`` must be finite and within PostgreSQL's limits (see :func:`check_numeric`).
    """
    if value is None:
        return _NULL
    text = format(value, "f")  # fixed point, as many fraction digits as the exponent says
    sign = _NUMERIC_POS
    if text[0] == "-":
        sign = _NUMERIC_NEG
        text = text[1:]
    integer, _, fraction = text.partition(".")
    dscale = len(fraction)
    integer = integer.lstrip("0")
    # pad both sides of the point to whole base-10000 groups
    lead = -len(integer) % 4
    padded = "0" * lead + integer + fraction + "0" * (-dscale % 4)
    groups = [int(padded[i : i + 4]) for i in range(0, len(padded), 4)]
    weight = (lead + len(integer)) // 4 - 1
    # strip zero groups at both ends (leading ones lower the weight), as numeric_send would send them
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:  # zero, whatever its sign: PostgreSQL has no negative zero
        return _NUMERIC_HEAD.pack(8, 0, 0, _NUMERIC_POS, dscale)
    start = 0
    while groups[start] == 0:
        start += 1
    if start:
        del groups[:start]
        weight -= start
    ndigits = len(groups)
    return _NUMERIC_HEAD.pack(8 + 2 * ndigits, ndigits, weight, sign, dscale) + struct.pack(f">{ndigits}h", *groups)


def check_numeric(value: Decimal) -> None:
    """Raise ``ValueError`` for a finite ``Decimal`` that PostgreSQL's ``numeric`` cannot hold exactly."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if value and value.adjusted() >= NUMERIC_MAX_INTEGER_DIGITS:
        raise ValueError(f"more than {NUMERIC_MAX_INTEGER_DIGITS} digits before the decimal point: {value!r}")
    if -exponent > NUMERIC_MAX_DSCALE:
        raise ValueError(f"more than {NUMERIC_MAX_DSCALE} digits after the decimal point: {value!r}")


def reading_row(reading: Reading) -> bytes:
    """The fields of ``reading`` in the column order of :data:`COLUMNS` (no field count), for binary COPY."""
    r = reading
    return b"".join(
        (
            text_field(r.meter),
            text_field(r.register),
            int2_field(r.tariff),
            timestamptz_field(r.ts),
            numeric_field(r.value),
            text_field(r.unit),
            text_field(r.quality),  # a StrEnum: its text
            text_field(r.source),
            text_field(r.terminal),
            int4_field(r.pn),
            timestamptz_field(r.received_at),
        )
    )


#: the columns of :func:`reading_row`, in order
COLUMNS = ("meter", "register", "tariff", "ts", "value", "unit", "quality", "source", "terminal", "pn", "received_at")
