"""What every hand-written framer in :mod:`protocols` returns (STYLE.md §3.2, zigpy-znp / h11 style).

A framer is fed bytes as they arrive (any chunking) and returns a list of events: complete, verified frames of
its own protocol, and :class:`Discarded` records for bytes it had to throw away. "Need more bytes" is an empty
list, never an exception. The IO layer calls ``idle()`` after an inter-frame silence so that a false start byte
that claimed a long length does not hold the stream hostage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

FrameT = TypeVar("FrameT")


@dataclass(frozen=True, slots=True)
class Discarded:
    """Bytes a framer dropped, with a short machine-readable ``reason`` (used as a metric label) and a
    human ``detail``. Reasons: ``garbage`` (no start byte), ``checksum``, ``bad_end``, ``bad_length``,
    ``bad_header``, ``stalled`` (given up by ``idle()``), ``too_long``."""

    data: bytes
    reason: str
    detail: str = ""


class Framer(Protocol[FrameT]):
    """The interface both framers implement."""

    def feed(self, data: bytes | bytearray | memoryview) -> list[FrameT | Discarded]:
        """Take newly received bytes; return every event they complete, in stream order."""
        ...

    def idle(self) -> list[Discarded]:
        """The line has been silent: give up a partial frame (it will never complete) and resync."""
        ...

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        ...
