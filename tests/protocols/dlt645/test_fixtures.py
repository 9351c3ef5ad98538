"""Every ``firmware_fixtures/dlt645/**/*.toml`` frame decodes to its ``expect`` (format: STYLE.md §3.6).

``expect`` keys compare with :func:`describe_frame`: ``control``, ``function``, ``address``, ``direction``,
``di``, ``preamble``, ``protocol``, ``error_word``; ``value`` (the only value, as text), ``values`` and
``names`` (all of them); ``error`` is the class ``ErrorReply.check()`` raises. TOML has no null, so ``""``
stands for null. A negative case has ``expect_error = "ChecksumError"`` (an exception class name) instead.
Each file is also replayed through :class:`Dlt645Framer` as one byte stream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from protocols.dlt645.apdu import ErrorReply, ReadReply, parse_reply
from protocols.dlt645.control import Edition
from protocols.dlt645.describe import describe_frame
from protocols.dlt645.exchange import EditionDetector, ReadExchange
from protocols.dlt645.framer import Dlt645Framer
from protocols.dlt645.link import Dlt645Frame, parse_frame
from protocols.errors import Dlt645ErrorResponse
from tests.protocols import fixture_files

FILES = fixture_files.files("dlt645")
FRAMES = fixture_files.frame_params(FILES)
DESCRIBED = frozenset({"control", "function", "address", "direction", "di", "preamble", "protocol", "error_word"})
EXPECT_KEYS = DESCRIBED | {"value", "values", "names", "error"}


def _error_raised(frame: Dlt645Frame) -> str:
    reply = parse_reply(frame)
    assert isinstance(reply, ErrorReply)
    with pytest.raises(Dlt645ErrorResponse) as info:
        reply.check()
    return type(info.value).__name__


def _actual(frame: Dlt645Frame, key: str) -> Any:
    described = describe_frame(frame)
    values: list[dict[str, Any]] = described["values"]  # type: ignore[assignment]
    if key in DESCRIBED:
        return described[key]
    if key == "value":
        (only,) = values
        return only["value"]
    if key == "values":
        return [v["value"] for v in values]
    if key == "names":
        return [v["name"] for v in values]
    return _error_raised(frame)


def test_there_are_fixtures() -> None:
    names = {path.stem for path in FILES}
    assert {
        "read_energy_total",
        "block_read_four_tariffs",
        "read_address",
        "error_no_requested_data",
        "reply_two_fe_preamble",
        "checksum_is_end_byte",
        # one per command and data family added with the complete catalogue
        "broadcast_time",
        "write_time",
        "write_address",
        "freeze",
        "change_baud",
        "change_password",
        "clear_demand",
        "clear_meter_refused",
        "clear_events",
        "control_trip_close",
        "read_follow_up",
        "read_max_demand",
        "read_events",
        "read_load_profile",
        "missing_phases_ff",
        "read_date_time_prepaid",
        "commands_1997",
        "edition_probe_1997",
        "read_voltage_1997",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=fixture_files.file_id)
def test_file_keys(path: Path) -> None:
    fixture_files.check_file(path, protocols={"DL/T 645-2007", "DL/T 645-1997"}, expect_keys=EXPECT_KEYS)


@pytest.mark.parametrize("frame", FRAMES)
def test_frame(frame: dict[str, Any]) -> None:
    parsed = fixture_files.parse_expecting(frame, parse_frame)
    if parsed is None:
        return
    assert parsed.is_reply is (frame["dir"] == "up")
    assert describe_frame(parsed)["valid"] is True, describe_frame(parsed)["errors"]
    expected = fixture_files.nulls(frame["expect"])
    assert {key: _actual(parsed, key) for key in expected} == expected


@pytest.mark.parametrize("path", FILES, ids=fixture_files.file_id)
def test_transcript_through_the_framer(path: Path) -> None:
    frames = fixture_files.load(path)["frame"]
    stream = b"".join(bytes.fromhex(frame["hex"]) for frame in frames)
    good = [parse_frame(bytes.fromhex(f["hex"])) for f in frames if "expect_error" not in f]
    framer = Dlt645Framer()
    events = [e for i in range(len(stream)) for e in framer.feed(stream[i : i + 1])]
    assert [e for e in events if isinstance(e, Dlt645Frame)] == good


def _frames(name: str) -> list[dict[str, Any]]:
    (path,) = [p for p in FILES if p.stem == name]
    frames: list[dict[str, Any]] = fixture_files.load(path)["frame"]
    return frames


def test_follow_up_transcript_drives_a_read_exchange() -> None:
    """The sans-IO exchange sends exactly the recorded requests and merges the recorded replies."""
    frames = _frames("read_follow_up")
    exchange = ReadExchange("000000000011", 0x0001FF00)
    for frame in frames:
        raw = bytes.fromhex(frame["hex"])
        if frame["dir"] == "down":
            assert exchange.request == raw
        else:
            exchange.receive(parse_frame(raw))
    reply = exchange.result
    assert isinstance(reply, ReadReply)
    assert [str(v.value) for v in reply.values] == ["1000.00", "100.00", "200.00", "300.00", "400.00"]


def test_probe_transcript_detects_1997() -> None:
    frames = _frames("edition_probe_1997")
    detector = EditionDetector("000000000011")
    assert detector.request == bytes.fromhex(frames[0]["hex"])
    assert detector.on_timeout() == bytes.fromhex(frames[1]["hex"])  # the 2007 probe went unanswered
    assert detector.on_reply(parse_frame(bytes.fromhex(frames[2]["hex"]))) is Edition.V1997
