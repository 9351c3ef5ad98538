"""Every ``firmware_fixtures/gdw376/**/*.toml`` frame decodes to its ``expect`` (format: STYLE.md §3.6).

``expect`` keys: ``control`` (C byte), ``address`` ("A1:A2"), ``msa``, ``afn``, ``seq`` (SEQ byte), ``ec``
([EC1, EC2]), ``warnings`` and ``units`` — compared exactly with :func:`describe_frame`'s units (the Fn name left
out). TOML has no null, so ``""`` inside ``units`` stands for null ("no value"). A negative case has
``expect_error = "ChecksumError"`` (an exception class name) instead of ``expect``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protocols.gdw376.describe import describe_frame
from protocols.gdw376.link import Dir, LinkFrame, parse_frame
from tests.protocols import fixture_files

FILES = fixture_files.files("gdw376")
FRAMES = fixture_files.frame_params(FILES)
PROTOCOLS = ("Q/GDW 376.1-2009", "Q/GDW 1376.1-2013")


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


@pytest.mark.parametrize("path", FILES, ids=fixture_files.file_id)
def test_file_keys(path: Path) -> None:
    fixture_files.check_file(path, protocols=PROTOCOLS, expect_keys=CHECKS)


@pytest.mark.parametrize("frame", FRAMES)
def test_frame(frame: dict[str, Any]) -> None:
    parsed = fixture_files.parse_expecting(frame, parse_frame)
    if parsed is None:
        return
    assert parsed.dir is {"up": Dir.UP, "down": Dir.DOWN}[frame["dir"]]
    assert parsed.to_bytes() == bytes.fromhex(frame["hex"])
    actual = {key: CHECKS[key](parsed) for key in frame["expect"]}
    assert actual == fixture_files.nulls(frame["expect"])
