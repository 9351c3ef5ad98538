"""Loading and checking ``firmware_fixtures/<protocol>/**/*.toml`` transcripts (format: STYLE.md §3.6), for the
fixture tests of any protocol.

Written for the DL/T 645 fixture tests; protocol-neutral so the Q/GDW 376.1 ones can use it too. A protocol's
test passes its own ``expect`` keys and ``[meta] protocol`` names; the file structure is checked here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import pytest

from protocols.errors import ProtocolError

F = TypeVar("F")

ROOT = Path(__file__).resolve().parents[2] / "firmware_fixtures"
#: Keys ``[meta]`` may have; anything else fails (STYLE.md §3.6 "unknown keys fail").
META_KEYS = frozenset(
    {"protocol", "vendor", "model", "firmware", "captured_at", "tool", "redacted", "synthetic", "description"}
)
#: Keys a ``[[frame]]`` may have.
FRAME_KEYS = frozenset({"dir", "t", "hex", "note", "expect", "expect_error"})


def files(protocol: str) -> list[Path]:
    """Every transcript of ``firmware_fixtures/<protocol>/``, sorted."""
    return sorted((ROOT / protocol).rglob("*.toml"))


def load(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def file_id(path: Path) -> str:
    """A test id: the path below ``firmware_fixtures/<protocol>/``."""
    return str(Path(*path.relative_to(ROOT).parts[1:]))


def frame_params(paths: list[Path]) -> list[Any]:
    """One ``pytest.param`` per frame of every file, with id ``<file>#<index>``."""
    return [
        pytest.param(frame, id=f"{file_id(path)}#{i}") for path in paths for i, frame in enumerate(load(path)["frame"])
    ]


def check_file(path: Path, *, protocols: Collection[str], expect_keys: Collection[str]) -> None:
    """Assert the structure every transcript shares: ``[meta]`` keys, the ``synthetic`` flag under
    ``synthetic/``, frames in time order, known frame keys, exactly one of ``expect`` / ``expect_error``."""
    doc = load(path)
    assert set(doc) == {"meta", "frame"}
    assert set(doc["meta"]) <= META_KEYS, set(doc["meta"]) - META_KEYS
    assert doc["meta"]["protocol"] in protocols
    if "synthetic" in path.parts:
        assert doc["meta"]["synthetic"] is True
    times = [frame["t"] for frame in doc["frame"]]
    assert times == sorted(times)
    for frame in doc["frame"]:
        assert set(frame) <= FRAME_KEYS, set(frame) - FRAME_KEYS
        assert {"dir", "hex"} <= set(frame) and frame["dir"] in {"up", "down"}
        assert ("expect" in frame) != ("expect_error" in frame)
        assert set(frame.get("expect", {})) <= set(expect_keys), set(frame["expect"]) - set(expect_keys)


def nulls(value: Any) -> Any:
    """TOML has no null: ``""`` stands for it, at any depth."""
    if value == "":
        return None
    if isinstance(value, list):
        return [nulls(v) for v in value]
    if isinstance(value, dict):
        return {k: nulls(v) for k, v in value.items()}
    return value


def parse_expecting(frame: dict[str, Any], parse: Callable[[bytes], F]) -> F | None:
    """Parse a frame's ``hex``. For a negative case (``expect_error``) assert that parsing raises the named
    :class:`ProtocolError` subclass and return ``None``."""
    raw = bytes.fromhex(frame["hex"])
    if "expect_error" not in frame:
        return parse(raw)
    with pytest.raises(ProtocolError) as info:
        parse(raw)
    assert type(info.value).__name__ == frame["expect_error"]
    return None
