"""Stream helpers for framer tests of any protocol: feed chunks, split the events into frames and discards.

Written for the Q/GDW 376.1 framer tests; generic over the frame type so the DL/T 645 tests can use them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from protocols.common.framing import Discarded, Framer

F = TypeVar("F")


def feed_all(framer: Framer[F], chunks: Iterable[bytes | bytearray | memoryview]) -> list[F | Discarded]:
    """Every event the framer returns for ``chunks``, in order."""
    return [event for chunk in chunks for event in framer.feed(chunk)]


def split_events(events: Iterable[F | Discarded]) -> tuple[list[F], list[tuple[str, bytes]]]:
    """(frames, [(reason, data) of each Discarded])."""
    frames: list[F] = []
    discards: list[tuple[str, bytes]] = []
    for event in events:
        if isinstance(event, Discarded):
            discards.append((event.reason, event.data))
        else:
            frames.append(event)
    return frames, discards
