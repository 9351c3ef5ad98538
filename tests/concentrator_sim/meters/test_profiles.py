"""Vendor profiles learnt from firmware_fixtures/dlt645/<vendor>-<model>-<fw>/ transcripts, and a simulated meter
with each profile answering the transcripts' requests in the same shape as the recorded replies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from concentrator_sim.meters.model import Dlt645Meter, MeterConfig
from concentrator_sim.meters.profiles import FIXTURES, ProfileError, load_profile, profile_names
from protocols.dlt645.apdu import ReadReply, build_read, parse_reply
from protocols.dlt645.control import Edition
from protocols.dlt645.link import parse_frame
from tests.protocols import fixture_files

NOW = datetime(2024, 5, 1, 0, 30, tzinfo=UTC)


def test_the_profiles_show_what_their_transcripts_show() -> None:
    # Read off the transcripts by hand: the FE count before each reply, the filler of missing phases, the time
    # from the end of a 2400-baud request to its reply, the longest DATA of a multi-frame answer.
    a = load_profile("synthetica-ddzy71c-v1.02")
    assert (a.edition, a.phases, a.preamble, a.filler, a.reply_delay_s, a.max_data) == (
        Edition.V2007,
        1,
        2,
        0xFF,
        0.12,
        24,
    )
    assert (a.vendor, a.model, a.firmware) == ("synthetica", "DDZY71C", "1.02")
    b = load_profile("syntheticb-dtzy88-v3.00")
    assert (b.edition, b.phases, b.preamble, b.filler, b.reply_delay_s) == (Edition.V2007, 3, 0, 0xEE, 0.04)
    c = load_profile("syntheticc-dd862-v1997")
    assert (c.edition, c.phases, c.preamble, c.reply_delay_s) == (Edition.V1997, 1, 1, 0.3)


def _exchanges(name: str) -> list[Any]:
    out = []
    for path in sorted((FIXTURES / name).glob("*.toml")):
        frames = fixture_files.load(path)["frame"]
        for down, up in itertools.pairwise(frames):
            if down["dir"] == "down" and up["dir"] == "up":
                out.append(pytest.param(name, down["hex"], up["hex"], id=f"{name}/{path.stem}@{down['t']}"))
    return out


@pytest.mark.parametrize(
    ("profile", "request_hex", "reply_hex"), [p for name in profile_names() for p in _exchanges(name)]
)
def test_a_meter_with_the_profile_answers_like_the_transcript(profile: str, request_hex: str, reply_hex: str) -> None:
    request, recorded = parse_frame(bytes.fromhex(request_hex)), parse_frame(bytes.fromhex(reply_hex))
    meter = Dlt645Meter(MeterConfig(recorded.address, profile=load_profile(profile)))
    if request.function == 0x12:  # a follow-up: ask for the first frame first, as the master did
        first = parse_frame(meter.handle(parse_frame(_first_read(request)), NOW)[0])
        assert first.has_follow_up
    (raw,) = meter.handle(request, NOW)
    answer = parse_frame(raw)
    assert (answer.control, answer.preamble, len(answer.data)) == (
        recorded.control,
        recorded.preamble,
        len(recorded.data),
    )
    simulated, expected = parse_reply(answer), parse_reply(recorded)
    assert isinstance(simulated, ReadReply)
    assert isinstance(expected, ReadReply)
    assert simulated.di == expected.di
    assert [v.name for v in simulated.values] == [v.name for v in expected.values]
    if any(v.value is None for v in expected.values):  # missing phases: in the same places, with the same filler
        assert [v.value is None for v in simulated.values] == [v.value is None for v in expected.values]
        assert set(simulated.raw_data) & {0xEE, 0xFF} == set(expected.raw_data) & {0xEE, 0xFF}


def _first_read(follow: Any) -> bytes:
    return build_read(follow.address, int.from_bytes(follow.data[:4], "little"))


def _write(directory: Path, name: str, protocol: str, frames: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(f'[meta]\nprotocol = "{protocol}"\nsynthetic = true\n\n{frames}')


REPLY_NO_FE = '[[frame]]\ndir = "up"\nt = 0.2\nhex = "68 210000000000 68 93 06 54333333 3333 DD 16"\n'
REPLY_TWO_FE = '[[frame]]\ndir = "up"\nt = 0.2\nhex = "FEFE 68 210000000000 68 93 06 54333333 3333 DD 16"\n'
REQUEST = '[[frame]]\ndir = "down"\nt = 0.0\nhex = "68 AAAAAAAAAAAA 68 13 00 DF 16"\n'


def test_profiles_that_contradict_themselves_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no transcripts"):
        load_profile("empty", tmp_path)
    mixed = tmp_path / "mixed"
    _write(mixed, "a.toml", "DL/T 645-2007", REQUEST + REPLY_NO_FE)
    _write(mixed, "b.toml", "DL/T 645-1997", REQUEST + REPLY_NO_FE)
    with pytest.raises(ProfileError, match="all be DL/T 645-2007 or all"):
        load_profile("mixed", tmp_path)
    fe = tmp_path / "fe"
    _write(fe, "a.toml", "DL/T 645-2007", REQUEST + REPLY_NO_FE)
    _write(fe, "b.toml", "DL/T 645-2007", REQUEST + REPLY_TWO_FE)
    with pytest.raises(ProfileError, match=r"FE preamble: \[0, 2\]"):
        load_profile("fe", tmp_path)
    assert profile_names(tmp_path) == ["fe", "mixed"]
