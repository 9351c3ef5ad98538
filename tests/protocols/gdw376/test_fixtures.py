"""Every ``firmware_fixtures/gdw376/**/*.toml`` frame decodes to its ``expect`` (format: STYLE.md §3.6).

``expect`` keys: ``control`` (C byte), ``address`` ("A1:A2"), ``msa``, ``afn``, ``seq`` (SEQ byte), ``ec``
([EC1, EC2]), ``warnings`` and ``units`` — compared exactly with :func:`describe_frame`'s units (the Fn name left
out). TOML has no null, so ``""`` inside ``units`` stands for null ("no value"). A negative case has
``expect_error = "ChecksumError"`` (an exception class name) instead of ``expect``.

More keys (docs/gdw376.md "Fixtures"): ``strict`` — the exception class a strict parse raises, ``""`` when strict
mode accepts the frame; ``tp`` — the time label as ``decode --json`` shows it; ``reassembly`` — the event kinds
(:mod:`protocols.gdw376.reassembly`) a lenient reassembler opened by the file's latest downlink request (PRM=1)
returns for this uplink response frame, and ``reassembly_warnings`` — the warnings of the frame it accepted.

Every file is also replayed as one byte stream through the framer, whole and in chunks: the frames come out in
order and unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protocols.errors import ProtocolError
from protocols.gdw376.describe import describe_frame, to_json
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import Dir, LinkFrame, parse_frame
from protocols.gdw376.reassembly import Accepted, Reassembler
from tests.protocols import fixture_files
from tests.protocols.streams import feed_all, split_events

FILES = fixture_files.files("gdw376")
FRAMES = fixture_files.frame_params(FILES)
PROTOCOLS = ("Q/GDW 376.1-2009", "Q/GDW 1376.1-2013")


def _units(frame: LinkFrame) -> list[dict[str, object]]:
    described = describe_frame(frame)
    assert described["valid"], described["errors"]
    units = described["units"]
    assert isinstance(units, list)
    return [{k: v for k, v in unit.items() if k != "name"} for unit in units]


def _strict_error(frame: LinkFrame) -> str | None:
    try:
        parse_frame(frame.raw, strict=True)
    except ProtocolError as exc:
        return type(exc).__name__
    return None


CHECKS: dict[str, Callable[[LinkFrame], object]] = {
    "control": lambda f: f.control.to_byte(),
    "address": lambda f: f.address.terminal,
    "msa": lambda f: f.address.msa,
    "afn": lambda f: f.afn,
    "seq": lambda f: f.seq.to_byte(),
    "ec": lambda f: list(f.aux.ec) if f.aux.ec else None,
    "warnings": lambda f: list(f.warnings),
    "units": _units,
    "strict": _strict_error,
    "tp": lambda f: to_json(f.aux.tp),
}
#: Keys checked per file, with the frames before them (test_reassembly_scenario).
SCENARIO_KEYS = frozenset({"reassembly", "reassembly_warnings"})


def test_there_are_fixtures() -> None:
    assert len(FILES) >= 8
    assert FRAMES


@pytest.mark.parametrize("path", FILES, ids=fixture_files.file_id)
def test_file_keys(path: Path) -> None:
    fixture_files.check_file(path, protocols=PROTOCOLS, expect_keys={*CHECKS, *SCENARIO_KEYS})


@pytest.mark.parametrize("frame", FRAMES)
def test_frame(frame: dict[str, Any]) -> None:
    parsed = fixture_files.parse_expecting(frame, parse_frame)
    if parsed is None:
        return
    assert parsed.dir is {"up": Dir.UP, "down": Dir.DOWN}[frame["dir"]]
    if not any(w.startswith(("protocol id", "EC (ACD=1)")) for w in parsed.warnings):
        assert parsed.to_bytes() == bytes.fromhex(frame["hex"])  # our builder writes pid 2 and EC as required
    expected = {key: value for key, value in frame["expect"].items() if key in CHECKS}
    actual = {key: CHECKS[key](parsed) for key in expected}
    assert actual == fixture_files.nulls(expected)


@pytest.mark.parametrize("path", FILES, ids=fixture_files.file_id)
def test_reassembly_scenario(path: Path) -> None:
    """Requests open a reassembler (a retransmission keeps it); responses are fed to it in file order."""
    reassembler: Reassembler | None = None
    request = b""
    for frame in fixture_files.load(path)["frame"]:
        if "expect_error" in frame:
            continue
        parsed = parse_frame(bytes.fromhex(frame["hex"]))
        if parsed.dir is Dir.DOWN and parsed.control.prm:
            if parsed.raw != request:
                reassembler, request = Reassembler(parsed.seq.seq), parsed.raw
            continue
        expect = frame["expect"]
        if parsed.dir is Dir.DOWN or parsed.control.prm or reassembler is None:
            assert not SCENARIO_KEYS & set(expect), "reassembly expected of a frame that is not a response"
            continue
        events = reassembler.feed(parsed)
        if "reassembly" in expect:
            assert [type(e).__name__ for e in events] == expect["reassembly"]
        if "reassembly_warnings" in expect:
            (accepted,) = [e for e in events if isinstance(e, Accepted)]
            assert list(accepted.frame.warnings) == expect["reassembly_warnings"]


@pytest.mark.parametrize("chunk", [1, 7, 64, 0], ids=["bytewise", "7", "64", "whole"])
@pytest.mark.parametrize("path", FILES, ids=fixture_files.file_id)
def test_file_through_the_framer(path: Path, chunk: int) -> None:
    """The file's frames back to back, fed in chunks of ``chunk`` bytes (0: at once): the good frames come out as
    they are, in order; the negative ones are discarded."""
    frames = fixture_files.load(path)["frame"]
    stream = b"".join(bytes.fromhex(f["hex"]) for f in frames)
    size = chunk or len(stream)
    events = feed_all(Gdw376Framer(), [stream[i : i + size] for i in range(0, len(stream), size)])
    found, discards = split_events(events)
    assert [f.raw for f in found] == [bytes.fromhex(f["hex"]) for f in frames if "expect_error" not in f]
    assert bool(discards) == any("expect_error" in f for f in frames)
