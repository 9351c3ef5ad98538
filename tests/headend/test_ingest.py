"""Group commit into the spool (headend.ingest): readings and events submitted together are acknowledged by one
durable append; stop() ends only once every submit, including a commit still running in its worker thread, is
in the spool and acknowledged."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

from headend.ingest import Ingest
from headend.metrics import Metrics
from headend.readings import Reading
from headend.storage.records import Event, EventOrigin
from headend.storage.spool import Spool
from tests.headend.storage.helpers import T0, batch

#: bound for "it happens"; a failing test fails here instead of hanging
BOUND_S = 30.0


class GatedSpool(Spool):
    """A spool whose first append waits for ``gate`` (a group commit that takes its time in its thread)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.appends = 0

    def append(self, readings: Sequence[Reading], events: Sequence[Event] = ()) -> None:
        self.appends += 1
        if self.appends == 1:
            self.entered.set()
            assert self.gate.wait(BOUND_S)
        super().append(readings, events)


async def test_stop_waits_for_the_commit_in_flight_and_the_queue_behind_it(tmp_path: Path) -> None:
    spool = GatedSpool(tmp_path / "spool.sqlite3")
    durable: list[int] = []
    ingest = Ingest(spool, Metrics(), on_durable=lambda: durable.append(spool.depth()))
    ingest.start()
    event = Event(EventOrigin.TERMINAL, "ERC14", T0, T0, terminal="4403:00012", raw=b"\x0e\x00")
    try:
        first = asyncio.create_task(ingest.submit(batch(0, 5)))
        assert await asyncio.to_thread(spool.entered.wait, BOUND_S)  # the first commit is in its thread
        second = asyncio.create_task(ingest.submit(batch(1, 3), [event]))
        await asyncio.sleep(0)  # the second submit is queued behind the commit in flight
        stopping = asyncio.create_task(ingest.stop())
        await asyncio.sleep(0)
        spool.gate.set()
        async with asyncio.timeout(BOUND_S):
            await stopping
        assert first.done() and second.done()  # both acknowledged by the time stop() returned
        await first
        await second
        assert spool.peek(100)[1] == batch(0, 5) + batch(1, 3)
        assert [e.code for e in spool.peek_events(10)[1]] == ["ERC14"]
        assert durable == [5, 9]  # two group commits: the one in flight, then the queue behind it
    finally:
        spool.gate.set()
        spool.close()
