"""The binary COPY rows built at spool time (headend/storage/_pgcopy.py): decoded by psycopg's own binary loaders
(an independent implementation of the same PostgreSQL formats) they give back the exact values, and the server
stores them exactly."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import postgres
from psycopg.adapt import Transformer
from psycopg.pq import Format

from headend.readings import Quality, Reading
from headend.storage._pgcopy import (
    COLUMNS,
    NUMERIC_MAX_DSCALE,
    NUMERIC_MAX_INTEGER_DIGITS,
    SIGNATURE,
    TRAILER,
    check_numeric,
    numeric_field,
    reading_row,
    timestamptz_field,
)
from tests.headend.storage.helpers import T0, reading

_TX = Transformer()


def _load(type_name: str, field: bytes) -> object:
    """Decode one field (length prefix included) with psycopg's binary loader for ``type_name``."""
    (length,) = struct.unpack(">i", field[:4])
    if length == -1:
        return None
    assert length == len(field) - 4, "the length prefix must match the value"
    return _TX.get_loader(postgres.types[type_name].oid, Format.BINARY).load(field[4:])


storable = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e30"), max_value=Decimal("1e30"))
scaled = st.builds(lambda digits, places: Decimal(digits).scaleb(-places), st.integers(-(10**40), 10**40),
                   st.integers(-20, 40))  # fmt: skip


@given(value=storable | scaled)
def test_numeric_fields_decode_to_the_same_value_and_scale(value: Decimal) -> None:
    loaded = _load("numeric", numeric_field(value))
    assert isinstance(loaded, Decimal)
    assert loaded == value
    # numeric keeps the digits after the point; a positive exponent becomes plain digits (scale 0); no -0
    expected = format(value, "f")
    assert format(loaded, "f") == (expected.lstrip("-") if value.is_zero() else expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ndigits, weight, sign, dscale, base-10000 digits: numeric_send's layout, worked by hand
        ("123456.7891", (3, 1, 0x0000, 4, 12, 3456, 7891)),
        ("0.0001", (1, -1, 0x0000, 4, 1)),
        ("-12.34", (2, 0, 0x4000, 2, 12, 3400)),
        ("1E+3", (1, 0, 0x0000, 0, 1000)),
        ("1.20", (2, 0, 0x0000, 2, 1, 2000)),
        ("100000000", (1, 2, 0x0000, 0, 1)),
        ("0.000", (0, 0, 0x0000, 3)),
        ("-0", (0, 0, 0x0000, 0)),
    ],
)
def test_numeric_layout(text: str, expected: tuple[int, ...]) -> None:
    field = numeric_field(Decimal(text))
    ndigits = expected[0]
    assert struct.unpack(f">ihhHH{ndigits}h", field) == (8 + 2 * ndigits, *expected)


zones = st.sampled_from([ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), UTC, timezone(timedelta(hours=-3))])


@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones))
def test_timestamptz_fields_decode_to_the_same_instant(moment: datetime) -> None:
    loaded = _load("timestamptz", timestamptz_field(moment))
    assert loaded == moment.astimezone(UTC)  # (PEP 495: a fold-ambiguous time never equals another zone's)


def test_numeric_limits_are_checked() -> None:
    check_numeric(Decimal(1).scaleb(NUMERIC_MAX_INTEGER_DIGITS - 1))
    check_numeric(Decimal(1).scaleb(-NUMERIC_MAX_DSCALE))
    with pytest.raises(ValueError, match="before the decimal point"):
        check_numeric(Decimal(1).scaleb(NUMERIC_MAX_INTEGER_DIGITS))
    with pytest.raises(ValueError, match="after the decimal point"):
        check_numeric(Decimal(1).scaleb(-NUMERIC_MAX_DSCALE - 1))


def _split(row: bytes) -> list[bytes]:
    fields, offset = [], 0
    while offset < len(row):
        (length,) = struct.unpack_from(">i", row, offset)
        size = 4 + max(length, 0)
        fields.append(row[offset : offset + size])
        offset += size
    return fields


def test_a_reading_row_holds_every_column_in_order() -> None:
    r = reading(7, Decimal("-0.50"), tariff=3, quality=Quality.BACKFILLED, source="dlt645-2007 0001FF00")
    fields = _split(reading_row(r))
    types = ["text", "text", "int2", "timestamptz", "numeric", "text", "text", "text", "text", "int4", "timestamptz"]
    assert len(fields) == len(COLUMNS) == len(types)
    loaded = [_load(t, f) for t, f in zip(types, fields, strict=True)]
    assert loaded == [r.meter, r.register, 3, r.ts, Decimal("-0.50"), "kWh", "backfilled", r.source, r.terminal,
                      7, r.received_at]  # fmt: skip
    assert _load("numeric", _split(reading_row(reading(8, None)))[4]) is None


async def test_the_server_stores_the_rows_exactly(fresh_db_dsn: str) -> None:
    """A raw binary COPY of our rows (the signature, 11-field tuples, the trailer) into a table of the same
    column types."""
    rows: list[Reading] = [
        reading(1, Decimal("123456.7891")),
        reading(2, Decimal("1E+3"), ts=T0.astimezone(UTC)),
        reading(3, None, quality=Quality.INVALID),
        reading(4, Decimal("-0.0001"), register="power.active", unit="kW"),
    ]
    data = SIGNATURE + b"".join(b"\x00\x0b" + reading_row(r) for r in rows) + TRAILER
    with psycopg.connect(fresh_db_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE t (meter text, register text, tariff int2, ts timestamptz, value numeric, unit text,"
            " quality text, source text, terminal text, pn int4, received_at timestamptz)"
        )
        with conn.cursor() as cur, cur.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(data)
        got = conn.execute("SELECT meter, ts, value::text, quality, pn, received_at FROM t ORDER BY meter").fetchall()
    assert got == [(r.meter, r.ts, None if r.value is None else format(r.value, "f"), r.quality.value, r.pn,
                    r.received_at) for r in rows]  # fmt: skip


def test_the_two_half_past_ones_of_a_dst_fall_back_stay_two_instants() -> None:
    """Within one zone the two 01:30 of 4 Nov 2012 in New York compare and hash equal; the cache must not merge
    them (a regression: the field cache was keyed on the datetime alone)."""
    first = datetime(2012, 11, 4, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert first == second and hash(first) == hash(second)  # what makes the trap
    loaded = [_load("timestamptz", timestamptz_field(moment)) for moment in (first, second)]
    assert loaded == [first.astimezone(UTC), second.astimezone(UTC)]
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
