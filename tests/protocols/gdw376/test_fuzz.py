"""The fuzz script (scripts/fuzz_gdw376.py): a short clean run, and it does catch a planted bug."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "fuzz_gdw376.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_gdw376", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_gdw376", module)
    spec.loader.exec_module(module)
    return module


fuzz_gdw376 = _load()


def test_short_run_finds_nothing() -> None:
    assert fuzz_gdw376.fuzz(2.0, seed=3, log=False) is None


def test_a_planted_bug_is_reported_with_its_input() -> None:
    def buggy(data: bytes) -> None:
        fuzz_gdw376.check(data)
        if len(data) > 20 and data[0] == 0x68:
            raise KeyError("planted")

    found = fuzz_gdw376.fuzz(30.0, seed=5, checker=buggy, log=False)
    assert found is not None and len(found) > 20 and found[0] == 0x68


def test_fix_up_makes_a_mutated_frame_pass_the_checksum() -> None:
    login = bytearray.fromhex("68 3200 3200 68 C9 0344 0C00 00 02 75 0000 0100 94 16")
    login[8] = 0x55  # A1 byte changed: the CS no longer matches
    fixed = fuzz_gdw376.fix_up(login)
    assert fixed[-2] == sum(fixed[6:-2]) & 0xFF and fixed[1:3] == b"\x32\x00"
