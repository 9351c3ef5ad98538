"""Every ``firmware_fixtures/gdw376/**/*.toml`` frame decodes to its ``expect`` (format: STYLE.md §3.6).

``expect`` keys: ``control`` (C byte), ``address`` ("A1:A2"), ``msa``, ``afn``, ``seq`` (SEQ byte), ``ec``
([EC1, EC2]), ``warnings`` and ``units`` — compared exactly with :func:`describe_frame`'s units (the Fn name left
out). TOML has no null, so ``""`` inside ``units`` stands for null ("no value"). A negative case has
``expect_error = "ChecksumError"`` (an exception class name) instead of ``expect``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protocols.errors import ProtocolError
from protocols.gdw376.describe import describe_frame
from protocols.gdw376.link import Dir, LinkFrame, parse_frame

ROOT = Path(__file__).resolve().parents[3] / "firmware_fixtures" / "gdw376"
FILES = sorted(ROOT.rglob("*.toml"))
META_KEYS = frozenset(
    {"protocol", "vendor", "model", "firmware", "captured_at", "tool", "redacted", "synthetic", "description"}
)
FRAME_KEYS = frozenset({"dir", "t", "hex", "note", "expect", "expect_error"})


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


FRAMES = [
    pytest.param(frame, id=f"{path.relative_to(ROOT)}#{i}")
    for path in FILES
    for i, frame in enumerate(_load(path)["frame"])
]


def _nulls(value: Any) -> Any:
    """TOML's stand-in for null ("") back to None, recursively."""
    if value == "":
        return None
    if isinstance(value, list):
        return [_nulls(v) for v in value]
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    return value


def _units(frame: LinkFrame) -> list[dict[str, object]]:
    described = describe_frame(frame)
    assert described["valid"], described["errors"]
    units = described["units"]
    assert isinstance(units, list)
    return [{k: v for k, v in unit.items() if k != "name"} for unit in units]


CHECKS: dict[str, Callable[[LinkFrame], object]] = {
    "control": lambda f: f.control.to_byte(),
    "address": lambda f: f.address.terminal,
    "msa": lambda f: f.address.msa,
    "afn": lambda f: f.afn,
    "seq": lambda f: f.seq.to_byte(),
    "ec": lambda f: list(f.aux.ec) if f.aux.ec else None,
    "warnings": lambda f: list(f.warnings),
    "units": _units,
}


def test_there_are_fixtures() -> None:
    assert len(FILES) >= 8
    assert FRAMES


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_keys(path: Path) -> None:
    doc = _load(path)
    assert set(doc) == {"meta", "frame"}
    assert set(doc["meta"]) <= META_KEYS, set(doc["meta"]) - META_KEYS
    assert "protocol" in doc["meta"]
    if "synthetic" in path.parts:
        assert doc["meta"]["synthetic"] is True
    times = [frame["t"] for frame in doc["frame"]]
    assert times == sorted(times)
    for frame in doc["frame"]:
        assert set(frame) <= FRAME_KEYS, set(frame) - FRAME_KEYS
        assert {"dir", "hex"} <= set(frame)
        assert ("expect" in frame) != ("expect_error" in frame)
        assert set(frame.get("expect", {})) <= set(CHECKS), set(frame["expect"]) - set(CHECKS)


@pytest.mark.parametrize("frame", FRAMES)
def test_frame(frame: dict[str, Any]) -> None:
    raw = bytes.fromhex(frame["hex"])
    if "expect_error" in frame:
        with pytest.raises(ProtocolError) as info:
            parse_frame(raw)
        assert type(info.value).__name__ == frame["expect_error"]
        return
    parsed = parse_frame(raw)
    assert parsed.dir is {"up": Dir.UP, "down": Dir.DOWN}[frame["dir"]]
    assert parsed.to_bytes() == raw
    actual = {key: CHECKS[key](parsed) for key in frame["expect"]}
    assert actual == _nulls(frame["expect"])
