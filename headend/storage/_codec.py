"""Exact text forms of the values a :class:`~headend.readings.Reading` carries, for the SQLite files.

Decimals are kept as their ``str()`` (scale and digits exactly as given: ``Decimal("12.30")`` stays
``"12.30"``); timestamps as ISO 8601 with their UTC offset. Shared by the spool and the embedded store.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo


def decimal_to_text(value: Decimal | None) -> str | None:
    """``Decimal`` → its exact text (``None`` stays ``None``: the device had no value)."""
    return None if value is None else str(value)


def decimal_to_numeric_text(value: Decimal | None) -> str | None:
    """``Decimal`` → fixed-point text as PostgreSQL ``numeric`` prints it: digits and scale kept, no exponent
    (``Decimal("1.20")`` → ``"1.20"``, ``Decimal("1E+3")`` → ``"1000"``), so both stores show the same text."""
    return None if value is None else format(value, "f")


def decimal_from_text(text: str | None) -> Decimal | None:
    """Inverse of :func:`decimal_to_text` (and of :func:`decimal_to_numeric_text`, up to the exponent form)."""
    return None if text is None else Decimal(text)


def datetime_to_text(moment: datetime) -> str:
    """Aware datetime → ISO 8601 with offset, plus ``[zone]`` when its tzinfo is a named zone.

    The suffix (RFC 9557 style) lets :func:`datetime_from_text` give back the same ``ZoneInfo``, not only the
    same instant: ``2024-05-01T08:00:00+08:00[Asia/Shanghai]``.
    """
    # a batch holds few distinct times (one poll round): each is formatted once. The fold and the tzinfo are part
    # of the cache key: aware datetimes compare (and hash) by instant, so 01:30 before and after a DST fall-back
    # in one zone are equal, and so are 08:00+08:00 as a fixed offset and as Asia/Shanghai.
    return _datetime_to_text(moment, moment.fold, moment.tzinfo)


@functools.lru_cache(maxsize=4096)
def _datetime_to_text(moment: datetime, fold: int, _zone: object) -> str:
    text = moment.isoformat()
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo):
        return f"{text}[{zone.key}]"
    return text


def datetime_from_text(text: str) -> datetime:
    """Inverse of :func:`datetime_to_text`."""
    if text.endswith("]"):
        stamp, _, zone = text[:-1].partition("[")
        return datetime.fromisoformat(stamp).astimezone(ZoneInfo(zone))
    return datetime.fromisoformat(text)
