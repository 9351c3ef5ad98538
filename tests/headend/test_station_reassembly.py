"""The station session collects multi-frame responses with protocols.gdw376.reassembly over real loopback TCP:
duplicates dropped, CON=1 frames confirmed, an out-of-order response recovered by the retransmission."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from headend.sessions.gdw376_station import TerminalSession
from protocols.gdw376 import messages
from protocols.gdw376.link import Afn, LinkFrame
from protocols.gdw376.units import DataUnit

from .scripted_terminal import ScriptedTerminal
from .test_terminal_server import A, Harness, _indication, make_server


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = make_server()
    await h.server.start()
    yield h
    await h.server.stop()


@pytest.fixture
async def terminal(harness: Harness) -> AsyncIterator[ScriptedTerminal]:
    term = ScriptedTerminal(A)
    await term.connect(harness.server.port)
    yield term
    await term.close()


def _frames(request: LinkFrame, *, con: bool = False) -> list[bytes]:
    """The answer to an F129 p1..p3 request in three frames (FIR/FIN 10, 00, 01), CON as asked."""
    frames = []
    for index, pn in enumerate((1, 2, 3)):
        raw = bytearray(
            messages.response(
                request,
                [DataUnit(pn, 129, _indication(pn))],
                fir=index == 0,
                fin=index == 2,
                seq=(request.seq.seq + index) & 0x0F,
            )
        )
        if con:  # a terminal that sets CON in its responses (lenient: accepted with a warning, confirmed)
            raw[13] |= 0x10
            raw[-2] = sum(raw[6:-2]) & 0xFF
        frames.append(bytes(raw))
    return frames


async def _session(harness: Harness, terminal: ScriptedTerminal) -> TerminalSession:
    await terminal.login()
    return await harness.online(A)


async def test_duplicates_dropped_and_con_frames_confirmed(harness: Harness, terminal: ScriptedTerminal) -> None:
    session = await _session(harness, terminal)

    async def answer() -> list[LinkFrame]:
        request = await terminal.frames.get()
        first, middle, last = _frames(request, con=True)
        for raw in (first, middle, middle, last):  # the middle frame twice
            terminal.send(raw)
        return [await terminal.next_frame() for _ in range(4)]

    task = asyncio.create_task(answer())
    units = await session.request(Afn.REQUEST_CLASS1, [(pn, 129) for pn in (1, 2, 3)])
    confirmations = await task
    assert [u.pn for u in units] == [1, 2, 3]
    # one AFN00 F1 per CON=1 frame received, the duplicate included, each echoing that frame's RSEQ
    rseq = confirmations[0].seq.seq
    assert [(c.afn, c.seq.seq) for c in confirmations] == [
        (Afn.CONFIRM_DENY, rseq),
        (Afn.CONFIRM_DENY, (rseq + 1) & 0x0F),
        (Afn.CONFIRM_DENY, (rseq + 1) & 0x0F),
        (Afn.CONFIRM_DENY, (rseq + 2) & 0x0F),
    ]


async def test_out_of_order_response_recovered_by_the_retransmission(
    harness: Harness, terminal: ScriptedTerminal
) -> None:
    session = await _session(harness, terminal)

    async def answer() -> None:
        request = await terminal.frames.get()
        first, _, last = _frames(request)
        terminal.send(first)
        terminal.send(last)  # the middle frame is lost
        again = await terminal.frames.get()  # the head-end times out and sends the same request
        assert again.raw == request.raw
        for raw in _frames(again):
            terminal.send(raw)

    task = asyncio.create_task(answer())
    units = await session.request(Afn.REQUEST_CLASS1, [(pn, 129) for pn in (1, 2, 3)])
    await task
    assert [u.pn for u in units] == [1, 2, 3]
    assert harness.sample("headend_retransmissions_total") == 1
