"""Input parsing, the edition choice and the human-readable rendering for ``headend decode``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

#: ``headend decode --edition``: Q/GDW 376.1 data-unit layouts (see :mod:`protocols.gdw376.describe`).
EDITION_CHOICES = ("auto", "2009", "2013")

F = TypeVar("F", bound=Callable[..., Any])


def edition_option(help: str) -> Callable[[F], F]:
    """The ``--edition {auto,2009,2013}`` option (default auto) of ``headend decode`` and ``headend encode``."""
    return click.option("--edition", type=click.Choice(EDITION_CHOICES), default="auto", show_default=True, help=help)


_SEPARATORS = re.compile(r"0x|[\s:,\-]", re.IGNORECASE)


def parse_hex(text: str) -> bytes:
    """Accept hex the way engineers paste it: spaces, colons, dashes, commas, ``0x`` prefixes.

    >>> parse_hex("68 32:00-0x32 00").hex()
    '6832003200'
    """
    cleaned = _SEPARATORS.sub("", text)
    if not cleaned:
        raise ValueError("no hex given (pass it as arguments or on stdin)")
    if len(cleaned) % 2:
        raise ValueError(f"odd number of hex digits ({len(cleaned)})")
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        bad = re.search(r"[^0-9a-fA-F]", cleaned)
        raise ValueError(f"not hex: {bad.group(0)!r}" if bad else str(exc)) from exc


def decode_reports(data: bytes, edition: str = "auto") -> list[dict[str, Any]]:
    """Every frame in ``data`` described (:func:`protocols.diagnose.decode_stream`), Q/GDW 376.1 frames with the
    data-unit layouts of ``edition`` (``auto``: 2009 unless a frame proves 2013; each report says which)."""
    from protocols.diagnose import decode_stream
    from protocols.gdw376.describe import PROTOCOL, describe_bytes

    reports = decode_stream(data)
    if edition == "auto":  # decode_stream describes with the auto choice already
        return reports
    return [describe_bytes(bytes.fromhex(r["raw"]), edition) if r.get("protocol") == PROTOCOL else r for r in reports]


def _render_value(value: Any, indent: str) -> list[str]:
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{indent}{key}:")
                lines.extend(_render_value(item, indent + "  "))
            else:
                lines.append(f"{indent}{key}: {item}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                lines.append(f"{indent}[{index}]")
                lines.extend(_render_value(item, indent + "  "))
            else:
                lines.append(f"{indent}- {item}")
    else:
        lines.append(f"{indent}{value}")
    return lines


def render_text(reports: list[dict[str, Any]]) -> str:
    if not reports:
        return "no frame found"
    out: list[str] = []
    for number, report in enumerate(reports, start=1):
        state = "valid" if report.get("valid") else "INVALID"
        out.append(f"frame {number}: {report.get('protocol', '?')} ({state})")
        for error in report.get("errors", []):
            out.append(f"  error: {error}")
        body = {k: v for k, v in report.items() if k not in ("protocol", "valid", "errors")}
        out.extend(_render_value(body, "  "))
    return "\n".join(out)
