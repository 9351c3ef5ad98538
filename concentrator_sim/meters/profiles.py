"""Device profiles: how one vendor's meter firmware behaves on the wire, learnt from its transcripts.

A profile is a directory ``firmware_fixtures/dlt645/<vendor>-<model>-<fw>/`` of transcripts (STYLE.md §3.6: the
same TOML files the protocol tests replay). The simulator reads the firmware's quirks *from the transcripts
themselves*, so a fixture and the behaviour it documents cannot drift apart:

* ``edition`` — ``[meta] protocol`` ("DL/T 645-2007" or "DL/T 645-1997");
* ``preamble`` — the number of ``FE`` wake-up bytes before every reply (前导字节; PROTOCOLS.md B.1: 0, 1, 2 or 4
  are seen), which must be the same in every reply of the profile;
* ``phases`` and ``filler`` — from a reply to a per-phase block read (电压/电流数据块 0201FF00 / 0202FF00, 1997
  B61F / B62F): a value that decodes as "no value" marks a phase the meter does not have (single-phase meters),
  and its first byte is the filler the firmware sends for it (``EE`` as 附录A says, or ``FF`` — PROTOCOLS.md
  B.5 "some meters answer FF FF for unsupported phases");
* ``reply_delay_s`` — the median time from the end of a request to the start of its reply, where the transcript
  has times (``t``);
* ``max_data`` — when the profile shows a multi-frame reply (B1H, 后续帧, DL/T 645-2007 §7.1/§7.2), the longest
  reply DATA in the profile (DI, values and, in follow-ups, SEQ): how much the firmware puts in one frame.

What a transcript does not show keeps the value of :data:`GENERIC_2007` / :data:`GENERIC_1997`.
"""

from __future__ import annotations

import dataclasses
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from protocols.dlt645.apdu import ReadReply, parse_reply
from protocols.dlt645.control import Edition
from protocols.dlt645.data_items import lookup
from protocols.dlt645.link import Dlt645Frame, parse_frame
from protocols.errors import ProtocolError

#: ``firmware_fixtures/dlt645`` of this checkout.
FIXTURES = Path(__file__).resolve().parents[2] / "firmware_fixtures" / "dlt645"

#: 8E1 (DL/T 645-2007 §4.1 / PROTOCOLS.md B.1): start + 8 data + even parity + stop.
BITS_PER_BYTE = 11

#: ``[meta] protocol`` → edition.
_EDITIONS = {"DL/T 645-2007": Edition.V2007, "DL/T 645-1997": Edition.V1997}
#: Per-phase block reads whose replies reveal missing phases (2007 voltage/current blocks, 1997 B61F/B62F).
_PHASE_BLOCKS = {Edition.V2007: (0x0201FF00, 0x0202FF00), Edition.V1997: (0xB61F, 0xB62F)}


class ProfileError(ValueError):
    """A profile directory is missing or its transcripts contradict each other."""


@dataclass(frozen=True, slots=True)
class MeterProfile:
    """How a firmware answers: edition, wiring and framing quirks, latency. See the module docstring."""

    name: str = "generic-2007"
    edition: Edition = Edition.V2007
    phases: Literal[1, 3] = 1  #: 单相 or 三相
    preamble: int = 0  #: FE bytes before each reply
    filler: int = 0xEE  #: byte sent for a value the meter does not have (missing phase)
    reply_delay_s: float = 0.05  #: from the request's last byte to the reply's first (PROTOCOLS.md B.1: 20–500 ms)
    max_data: int = 200  #: DATA bytes in one reply frame before the rest goes into follow-up frames
    vendor: str = ""
    model: str = ""
    firmware: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.preamble <= 4:
            raise ProfileError(f"{self.name}: preamble must be 0..4 FE bytes, got {self.preamble}")
        if self.filler not in (0xEE, 0xFF):
            raise ProfileError(f"{self.name}: filler must be EEH or FFH, got {self.filler:02X}H")
        if self.phases not in (1, 3):
            raise ProfileError(f"{self.name}: phases must be 1 or 3, got {self.phases}")
        if not 16 <= self.max_data <= 255:
            raise ProfileError(f"{self.name}: max_data must be 16..255, got {self.max_data}")
        if self.reply_delay_s < 0:
            raise ProfileError(f"{self.name}: reply_delay_s must not be negative")


#: A plain DL/T 645-2007 single-phase meter: no FE before replies, EE for what it lacks, 50 ms to answer.
GENERIC_2007 = MeterProfile()
#: A plain DL/T 645-1997 meter (1997 meters answered more slowly).
GENERIC_1997 = MeterProfile(name="generic-1997", edition=Edition.V1997, reply_delay_s=0.1)
GENERIC = {Edition.V2007: GENERIC_2007, Edition.V1997: GENERIC_1997}


def profile_names(root: Path = FIXTURES) -> list[str]:
    """Every profile directory under ``root`` (``<vendor>-<model>-<fw>``; ``synthetic`` and ``regressions``
    hold protocol test cases, not devices)."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in ("synthetic", "regressions"))


def load_profile(name: str, root: Path = FIXTURES) -> MeterProfile:
    """Learn the profile of ``root/name`` from its transcripts (see the module docstring)."""
    directory = root / name
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise ProfileError(f"{directory}: no transcripts (a profile is a directory of firmware_fixtures TOML files)")
    metas: list[dict[str, Any]] = []
    exchanges: list[tuple[float | None, Dlt645Frame, float | None, Dlt645Frame]] = []
    for path in paths:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
        metas.append(doc["meta"])
        exchanges += _exchanges(path, doc["frame"])
    editions = {_EDITIONS.get(meta.get("protocol", "")) for meta in metas}
    if len(editions) != 1 or None in editions:
        raise ProfileError(f"{directory}: transcripts must all be DL/T 645-2007 or all DL/T 645-1997")
    edition = editions.pop()
    assert edition is not None
    base = GENERIC[edition]
    learnt: dict[str, Any] = {"name": name, "edition": edition}
    for key in ("vendor", "model", "firmware"):
        learnt[key] = str(metas[0].get(key, ""))
    preambles = {reply.preamble for _, _, _, reply in exchanges}
    if len(preambles) > 1:
        raise ProfileError(f"{directory}: replies differ in their FE preamble: {sorted(preambles)}")
    if preambles:
        learnt["preamble"] = preambles.pop()
    delays = [
        t_reply - (t_request + len(request.raw) * BITS_PER_BYTE / 2400)
        for t_request, request, t_reply, _ in exchanges
        if t_request is not None and t_reply is not None
    ]
    if delays:
        learnt["reply_delay_s"] = round(max(statistics.median(delays), 0.0), 3)
    if any(reply.has_follow_up for _, _, _, reply in exchanges):  # the firmware splits: its frame limit shows
        learnt["max_data"] = max(len(reply.data) for _, _, _, reply in exchanges if not reply.is_abnormal)
    for _, _, _, reply in exchanges:
        wiring = _wiring(reply, edition)
        if wiring is not None:
            learnt["phases"], filler = wiring
            if filler is not None:
                learnt["filler"] = filler
    try:
        return dataclasses.replace(base, **learnt)
    except ProfileError as exc:
        raise ProfileError(f"{directory}: {exc}") from None


def _exchanges(
    path: Path, frames: list[dict[str, Any]]
) -> list[tuple[float | None, Dlt645Frame, float | None, Dlt645Frame]]:
    """(request time, request, reply time, reply) for every request followed by a reply in one transcript;
    negative cases (``expect_error``) are skipped."""
    out: list[tuple[float | None, Dlt645Frame, float | None, Dlt645Frame]] = []
    pending: tuple[float | None, Dlt645Frame] | None = None
    for entry in frames:
        if "expect_error" in entry:
            pending = None
            continue
        try:
            frame = parse_frame(bytes.fromhex(entry["hex"]))
        except ProtocolError as exc:
            raise ProfileError(f"{path}: {exc}") from None
        t = entry.get("t")
        if entry["dir"] == "down":
            pending = (t, frame)
        elif pending is not None:
            out.append((pending[0], pending[1], t, frame))
            pending = None
    return out


def _wiring(reply: Dlt645Frame, edition: Edition) -> tuple[Literal[1, 3], int | None] | None:
    """(phases, filler) from a reply to a per-phase block read, else ``None``."""
    if reply.is_abnormal or not reply.is_reply:
        return None
    try:
        decoded = parse_reply(reply)
    except ProtocolError:
        return None
    if not isinstance(decoded, ReadReply) or decoded.di not in _PHASE_BLOCKS[edition]:
        return None
    size = lookup(decoded.di, edition=edition).size
    missing = [i for i, v in enumerate(decoded.values) if v.value is None]
    if not missing:
        return 3, None
    return 1, decoded.raw_data[missing[0] * size]
