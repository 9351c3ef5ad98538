"""Hypothesis strategies shared by the Q/GDW 376.1 tests (``chunked`` is the DL/T 645 tests' stream splitter)."""

from __future__ import annotations

from hypothesis import strategies as st

from protocols.gdw376.link import Address, Aux, Control, Dir, Seq, TimeLabel, build_frame, has_pw
from tests.protocols.dlt645.strategies import chunked

controls = st.builds(
    Control,
    st.sampled_from(Dir),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=0, max_value=15),
)
addresses = st.builds(
    Address,
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.integers(min_value=0, max_value=0xFFFF),
    st.integers(min_value=0, max_value=127),
    st.booleans(),
)
seqs = st.builds(Seq, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 15))
bcd_2 = st.integers(min_value=0, max_value=99)
time_labels = st.builds(TimeLabel, st.integers(0, 255), bcd_2, bcd_2, bcd_2, bcd_2, st.integers(0, 255))
afns = st.integers(min_value=0, max_value=0x10)
#: Data-unit regions the link layer accepts unambiguously: empty or at least one DA DT (4 bytes).
unit_regions = st.one_of(st.just(b""), st.binary(min_size=4, max_size=64))


@st.composite
def link_fields(draw: st.DrawFn) -> dict[str, object]:
    """Consistent arguments for build_frame: AUX present exactly where the header says."""
    control = draw(controls)
    afn = draw(afns)
    seq = draw(seqs)
    pw = draw(st.one_of(st.none(), st.binary(min_size=16, max_size=16))) if has_pw(control.dir, afn) else None
    ec = draw(st.tuples(st.integers(0, 255), st.integers(0, 255))) if control.acd else None
    tp = draw(time_labels) if seq.tpv else None
    return {
        "control": control,
        "address": draw(addresses),
        "afn": afn,
        "seq": seq,
        "data": draw(unit_regions),
        "aux": Aux(pw, ec, tp),
    }


frames = link_fields().map(lambda f: build_frame(**f))  # type: ignore[arg-type]

#: Bytes with no 68H: they cannot hide a start byte.
garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\x68", b"\x00"))
#: Anything at all, false start bytes included.
noise = st.binary(max_size=120)


__all__ = ["addresses", "chunked", "controls", "frames", "garbage", "link_fields", "noise", "seqs", "time_labels"]
