"""The terminal listener and 376.1 sessions over real loopback TCP, against scripted terminals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest

from headend.channels.tcp_server import TerminalServer
from headend.config import ServerConfig, SessionConfig
from headend.errors import ChannelClosed, ResponseTimeout
from headend.metrics import Metrics
from headend.sessions.gdw376_station import SessionRegistry, TerminalSession
from protocols.errors import Gdw376Denied
from protocols.gdw376 import messages
from protocols.gdw376.auth import FixedAuthenticator
from protocols.gdw376.layout import Record
from protocols.gdw376.link import Address, Afn, Dir, LinkFrame
from protocols.gdw376.units import DataUnit, EnergyIndication, decode_units

from .scripted_terminal import ANSWER_TIMEOUT_S, ScriptedTerminal

A = Address("4403", 12)


@dataclass
class Harness:
    server: TerminalServer
    registry: SessionRegistry
    metrics: Metrics

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    async def online(self, address: Address) -> TerminalSession:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            while (session := self.registry.get(address.a1, address.a2)) is None:
                await asyncio.sleep(0.005)
        return session


def make_server(**server_overrides: float) -> Harness:
    metrics = Metrics()
    registry = SessionRegistry(metrics)
    cfg = ServerConfig(host="127.0.0.1", port=0, **server_overrides)  # type: ignore[arg-type]
    session_cfg = SessionConfig(response_timeout_s=0.3, retries=1)
    return Harness(TerminalServer(cfg, session_cfg, registry, metrics), registry, metrics)


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


async def test_login_is_confirmed_as_the_standard_requires(harness: Harness, terminal: ScriptedTerminal) -> None:
    answer = await terminal.login()
    # AFN00 F1, C=0B (DIR=0 PRM=0 FC=11), FIR=FIN=1, CON=0, RSEQ = the login's PSEQ, A1/A2 echoed
    assert answer.afn == Afn.CONFIRM_DENY
    assert answer.control.to_byte() == 0x0B
    assert (answer.seq.fir, answer.seq.fin, answer.seq.con) == (True, True, False)
    assert (answer.address.a1, answer.address.a2) == ("4403", 12)
    assert answer.raw[-2 - 4 : -2] == bytes.fromhex("00000100")  # p0 F1
    session = await harness.online(A)
    assert session.terminal == "4403:00012"
    assert harness.sample("headend_terminals_online") == 1
    assert harness.sample("headend_logins_total", result="accepted") == 1


async def test_heartbeats_are_confirmed_and_a_clock_marks_2013(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    pseq = terminal.link_check(3)
    answer = await terminal.next_frame()
    assert (answer.afn, answer.seq.seq) == (Afn.CONFIRM_DENY, pseq)
    session = await harness.online(A)
    assert session.version == "2009"
    terminal.link_check(3, clock=datetime(2026, 11, 23, 8, 30, 5))
    await terminal.next_frame()
    assert session.version == "2013"
    assert harness.sample("headend_heartbeats_total") == 2


async def test_heartbeat_before_login_is_not_confirmed(harness: Harness, terminal: ScriptedTerminal) -> None:
    terminal.link_check(3)
    with pytest.raises(TimeoutError):
        await terminal.next_frame(timeout=0.3)
    assert harness.sample("headend_decode_errors_total", protocol="gdw376.1", reason="before_login") == 1


async def test_logout_is_confirmed_and_closes(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    await harness.online(A)
    pseq = terminal.link_check(2)
    answer = await terminal.next_frame()
    assert answer.seq.seq == pseq
    await asyncio.wait_for(terminal.closed.wait(), ANSWER_TIMEOUT_S)
    assert harness.registry.get("4403", 12) is None
    assert harness.sample("headend_terminals_online") == 0


async def test_second_login_replaces_the_old_connection(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    old = await harness.online(A)
    newer = ScriptedTerminal(A)
    await newer.connect(harness.server.port)
    try:
        await newer.login()
        await asyncio.wait_for(terminal.closed.wait(), ANSWER_TIMEOUT_S)
        current = await harness.online(A)
        assert current is not old and old.closed
        assert len(harness.registry) == 1
        assert harness.sample("headend_logins_total", result="replaced") == 1
        assert harness.sample("headend_terminals_online") == 1
    finally:
        await newer.close()


async def test_silent_terminal_is_closed_after_heartbeat_timeout() -> None:
    h = make_server(heartbeat_timeout_s=0.3, login_timeout_s=0.3)
    await h.server.start()
    silent_logged_in = ScriptedTerminal(A)
    never_logged_in = ScriptedTerminal(Address("4403", 13))
    try:
        await silent_logged_in.connect(h.server.port)
        await never_logged_in.connect(h.server.port)
        await silent_logged_in.login()
        await asyncio.wait_for(silent_logged_in.closed.wait(), ANSWER_TIMEOUT_S)
        await asyncio.wait_for(never_logged_in.closed.wait(), ANSWER_TIMEOUT_S)
        assert h.registry.get("4403", 12) is None
        assert h.sample("headend_connections_total", result="logged_in") == 1
        assert h.sample("headend_connections_total", result="never_logged_in") == 1
    finally:
        await silent_logged_in.close()
        await never_logged_in.close()
        await h.server.stop()


def _indication(pn: int) -> EnergyIndication:
    return EnergyIndication(datetime(2026, 11, 23, 8, 30), Decimal("1234.5678") + pn, (Decimal("1000.0000") + pn, None))


async def _answer_requests(terminal: ScriptedTerminal, *, ignore_first: int = 0) -> list[int]:
    """Answer every F129 request; return the PSEQs seen (ignoring the first ``ignore_first``)."""
    seen: list[int] = []
    while True:
        request = await terminal.frames.get()
        seen.append(request.seq.seq)
        if len(seen) <= ignore_first:
            continue
        from protocols.gdw376.units import decode_units

        asked = decode_units(request.afn, request.data, Dir.DOWN)
        units = [DataUnit(u.pn, u.fn, _indication(u.pn)) for u in asked]
        terminal.send(messages.response(request, units))


async def test_request_response_matched_with_multi_point_identifiers(
    harness: Harness, terminal: ScriptedTerminal
) -> None:
    await terminal.login()
    session = await harness.online(A)
    responder = asyncio.create_task(_answer_requests(terminal))
    try:
        units = await session.request(Afn.REQUEST_CLASS1, [(pn, 129) for pn in range(1, 11)])
        assert [u.pn for u in units] == list(range(1, 11))
        assert units[2].value == _indication(3)
        second = await session.request(Afn.REQUEST_CLASS1, [(1, 129)])
        assert second[0].value.total == Decimal("1235.5678")  # type: ignore[attr-defined]
    finally:
        responder.cancel()
    assert harness.sample("headend_requests_total", protocol="gdw376.1", result="ok") == 2


async def test_timeout_retransmits_with_the_same_pseq(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    session = await harness.online(A)
    responder = asyncio.create_task(_answer_requests(terminal, ignore_first=1))
    try:
        units = await session.request(Afn.REQUEST_CLASS1, [(1, 129)])
    finally:
        responder.cancel()
        await asyncio.gather(responder, return_exceptions=True)
    assert units[0].pn == 1
    assert harness.sample("headend_retransmissions_total") == 1


async def test_no_answer_raises_response_timeout(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    session = await harness.online(A)
    with pytest.raises(ResponseTimeout):
        await session.request(Afn.REQUEST_CLASS1, [(1, 129)])
    first = await terminal.next_frame()
    again = await terminal.next_frame()
    assert first.raw == again.raw  # retransmission: the same frame, the same PSEQ
    assert harness.sample("headend_requests_total", protocol="gdw376.1", result="timeout") == 1


async def test_deny_raises_gdw376_denied(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    session = await harness.online(A)

    async def deny_all() -> None:
        request = await terminal.frames.get()
        terminal.send(messages.deny(request))

    denier = asyncio.create_task(deny_all())
    with pytest.raises(Gdw376Denied):
        await session.request(Afn.REQUEST_CLASS1, [(1, 129)])
    await denier


async def test_multi_frame_response_is_reassembled(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    session = await harness.online(A)

    async def answer_in_three_frames() -> None:
        request = await terminal.frames.get()
        rseq = request.seq.seq
        for index, pn in enumerate((1, 2, 3)):
            frame = messages.response(
                request,
                [DataUnit(pn, 129, _indication(pn))],
                fir=index == 0,
                fin=index == 2,
                seq=(rseq + index) & 0x0F,
            )
            terminal.send(frame)

    task = asyncio.create_task(answer_in_three_frames())
    units = await session.request(Afn.REQUEST_CLASS1, [(pn, 129) for pn in (1, 2, 3)])
    await task
    assert [u.pn for u in units] == [1, 2, 3]


async def test_pending_request_fails_when_connection_drops(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    session = await harness.online(A)
    request = asyncio.create_task(session.request(Afn.REQUEST_CLASS1, [(1, 129)]))
    await terminal.next_frame()  # the request reached the terminal; now the line drops
    await terminal.close()
    with pytest.raises(ChannelClosed):
        await asyncio.wait_for(request, ANSWER_TIMEOUT_S)


async def test_garbage_flood_does_not_disturb_other_terminals(harness: Harness, terminal: ScriptedTerminal) -> None:
    await terminal.login()
    session = await harness.online(A)
    flooder = ScriptedTerminal(Address("4403", 99))
    await flooder.connect(harness.server.port)
    try:
        # garbage, a false start byte with a long claimed length, and a frame with a bad checksum
        bad = bytearray(messages.link_check(Address("4403", 99), 1, 1))
        bad[-2] ^= 0xFF
        flooder.send(bytes(range(256)) * 20 + b"\x68\xff\x3f\xff\x3f\x68" + bytes(bad))
        responder = asyncio.create_task(_answer_requests(terminal))
        try:
            units = await session.request(Afn.REQUEST_CLASS1, [(5, 129)])
        finally:
            responder.cancel()
        assert units[0].value == _indication(5)
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            while harness.sample("headend_decode_errors_total", protocol="gdw376.1", reason="garbage") == 0:
                await asyncio.sleep(0.01)
        assert harness.registry.get("4403", 99) is None
    finally:
        await flooder.close()


async def test_false_start_is_given_up_after_silence_and_the_login_behind_it_served() -> None:
    h = make_server(frame_idle_s=0.2)
    await h.server.start()
    term = ScriptedTerminal(A)
    try:
        await term.connect(h.server.port)
        # a false 68H claiming 4095 bytes of user data, then a real login: nothing more arrives
        term.send(b"\x68\xfe\x3f\xfe\x3f\x68" + messages.link_check(A, 1, 5))
        answer = await term.next_frame()
        assert (answer.afn, answer.seq.seq) == (Afn.CONFIRM_DENY, 5)
        assert h.sample("headend_decode_errors_total", protocol="gdw376.1", reason="stalled") >= 1
    finally:
        await term.close()
        await h.server.stop()


async def test_request_units_sends_bodies_with_pw_and_returns_empty_on_confirm(
    harness: Harness, terminal: ScriptedTerminal
) -> None:
    await terminal.login()
    session = await harness.online(A)
    clock = datetime(2024, 5, 2, 10, 11, 12)
    unit = DataUnit(0, 31, Record({"clock": clock}))

    async def confirm_one() -> LinkFrame:
        request: LinkFrame = await terminal.frames.get()
        terminal.send(messages.confirm(request))
        return request

    confirmer = asyncio.create_task(confirm_one())
    assert await session.request_units(Afn.CONTROL, [unit], authenticator=FixedAuthenticator(bytes(range(16)))) == []
    request = await confirmer
    assert (request.afn, request.aux.pw) == (Afn.CONTROL, bytes(range(16)))
    sent = decode_units(request.afn, request.data, Dir.DOWN)
    assert [(u.pn, u.fn) for u in sent] == [(0, 31)]
    assert sent[0].value["clock"] == clock  # type: ignore[index]
