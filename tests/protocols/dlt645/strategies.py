"""Hypothesis strategies shared by the DL/T 645 tests."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from protocols.dlt645.link import build_frame

#: 12 printed digits, optionally with leading wildcard bytes (缩位寻址).
addresses = st.builds(
    lambda digits, wild: "AA" * wild + digits[2 * wild :],
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.integers(min_value=0, max_value=6),
)

frame_fields = st.fixed_dictionaries(
    {
        "address": addresses,
        "control": st.integers(min_value=0, max_value=0xFF),
        "data": st.binary(max_size=255),
        "preamble": st.integers(min_value=0, max_value=4),
    }
)

#: Whole wire frames built by our own builder (which the link tests pin against hand-written bytes).
frames = frame_fields.map(lambda f: build_frame(f["address"], f["control"], f["data"], preamble=f["preamble"]))

#: Bytes with no 68H start byte and no FEH wake-up byte: they can neither hide a frame nor lengthen its preamble.
garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\x68", b"\x00").replace(b"\xfe", b"\x00"))

#: Anything at all, false start bytes included.
noise = st.binary(max_size=80)


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``stream`` at the (sorted, deduplicated) positions in ``cuts``."""
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]
