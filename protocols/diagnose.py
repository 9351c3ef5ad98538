"""Find and describe every frame in a captured byte string, whatever the protocol — the engine behind
``headend decode``.

The scan follows PROTOCOLS.md Part D: at each 68H, a Q/GDW 376.1 header is recognised by a second 68H at +5 and
two equal L fields; a DL/T 645 header by a second 68H at +7 (FE preambles before it are counted, not
reported as garbage). The length comes from L, never from searching for 16H. A candidate that fails is still
described (with what could be decoded and why it failed) when its header was plausible; otherwise the scan
moves on by one byte. Bytes that belong to no frame are reported as one ``garbage`` entry per run.
"""

from __future__ import annotations

from typing import Any

from protocols.dlt645 import describe as dlt645_describe
from protocols.dlt645.link import parse_frame as parse_dlt645
from protocols.errors import ProtocolError
from protocols.gdw376 import describe as gdw376_describe
from protocols.gdw376.link import parse_frame as parse_gdw376

_START = 0x68
_PREAMBLE = 0xFE


def _gdw376_length(data: bytes, i: int) -> int | None:
    if i + 6 > len(data) or data[i + 5] != _START or data[i + 1 : i + 3] != data[i + 3 : i + 5]:
        return None
    length = int.from_bytes(data[i + 1 : i + 3], "little") >> 2
    return length + 8


def _dlt645_length(data: bytes, i: int) -> int | None:
    if i + 10 > len(data) or data[i + 7] != _START:
        return None
    return data[i + 9] + 12


def _describe_gdw376(raw: bytes) -> dict[str, Any]:
    try:
        frame = parse_gdw376(raw)
    except ProtocolError as exc:
        return gdw376_describe.describe_error(raw, exc)
    return gdw376_describe.describe_frame(frame)


def _describe_dlt645(raw: bytes) -> dict[str, Any]:
    try:
        frame = parse_dlt645(raw)
    except ProtocolError as exc:
        return dlt645_describe.describe_error(raw, exc)
    return dlt645_describe.describe_frame(frame)


def _garbage(data: bytes) -> dict[str, Any]:
    return {
        "protocol": "unknown",
        "valid": False,
        "errors": [f"{len(data)} bytes that are not part of any frame"],
        "raw": data.hex(),
    }


def decode_stream(data: bytes | bytearray | memoryview) -> list[dict[str, Any]]:
    """Describe every frame (and every run of garbage) in ``data``, in order. Never raises ProtocolError."""
    buf = bytes(data)
    reports: list[dict[str, Any]] = []
    garbage_start: int | None = None
    i = 0
    while i < len(buf):
        byte = buf[i]
        if byte == _PREAMBLE:
            j = i
            while j < len(buf) and buf[j] == _PREAMBLE:
                j += 1
            if j < len(buf) and buf[j] == _START and _dlt645_length(buf, j) is not None:
                if garbage_start is not None:
                    reports.append(_garbage(buf[garbage_start:i]))
                    garbage_start = None
                total = _dlt645_length(buf, j)
                assert total is not None
                raw = buf[i : j + total]
                reports.append(_describe_dlt645(raw))
                i = j + total
                continue
        elif byte == _START:
            for length_of, describe in ((_gdw376_length, _describe_gdw376), (_dlt645_length, _describe_dlt645)):
                total = length_of(buf, i)
                if total is None:
                    continue
                if garbage_start is not None:
                    reports.append(_garbage(buf[garbage_start:i]))
                    garbage_start = None
                reports.append(describe(buf[i : i + total]))
                i += total
                break
            else:
                total = None
            if total is not None:
                continue
        if garbage_start is None:
            garbage_start = i
        i += 1
    if garbage_start is not None:
        reports.append(_garbage(buf[garbage_start:]))
    return reports
