"""SimTerminal over real loopback TCP against a tiny head-end stub (tests/concentrator_sim/master_stub.py)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from concentrator_sim.model import TerminalModel, expected_indication
from concentrator_sim.terminal import LinkTiming, SimTerminal
from protocols.gdw376 import messages
from protocols.gdw376.link import Address, Afn, Dir
from protocols.gdw376.units import DataUnit, EnergyIndication, Heartbeat, decode_units
from tests.concentrator_sim.master_stub import WAIT_S, MasterStub, link_fn

ADDRESS = Address("4403", 21)
SEED = 9
#: short link timings so that the tests run in well under a second each
FAST = LinkTiming(
    heartbeat_s=0.05,
    response_timeout_s=0.1,
    retries=3,
    idle_s=0.1,
    connect_timeout_s=1.0,
    backoff_base_s=0.01,
    backoff_cap_s=0.05,
    logout_timeout_s=1.0,
)


def _terminal(port: int, *, version: str = "2013") -> SimTerminal:
    model = TerminalModel(ADDRESS, range(1, 9), seed=SEED, version=version)  # type: ignore[arg-type]
    return SimTerminal(model, "127.0.0.1", port, timing=FAST, rng=random.Random(1))


@contextlib.asynccontextmanager
async def _running(port: int, **kwargs: str) -> AsyncIterator[SimTerminal]:
    """A started terminal, stopped (and asserted to stop in time) afterwards."""
    terminal = _terminal(port, **kwargs)
    terminal.start()
    try:
        yield terminal
    finally:
        await asyncio.wait_for(terminal.stop(), WAIT_S)


@contextlib.asynccontextmanager
async def _against(master: MasterStub) -> AsyncIterator[SimTerminal]:
    """A terminal running against a stub configured by the test, both closed afterwards."""
    await master.start()
    try:
        async with _running(master.port) as terminal:
            yield terminal
    finally:
        await master.close()


@pytest.fixture
async def running(master: MasterStub) -> AsyncIterator[SimTerminal]:
    async with _running(master.port) as terminal:
        yield terminal


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for a state (not for a time): poll ``condition`` under the test deadline."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.005)


async def test_logs_in_heartbeats_and_answers_f129(master: MasterStub, running: SimTerminal) -> None:
    conn = await master.next_login()
    await asyncio.wait_for(running.logged_in.wait(), WAIT_S)
    assert conn.address == ADDRESS

    login = await conn.link_checks.get()
    assert (link_fn(login), login.seq.con) == (1, True)
    heartbeat = await asyncio.wait_for(conn.link_checks.get(), WAIT_S)
    assert link_fn(heartbeat) == 3
    assert heartbeat.seq.seq != login.seq.seq  # a new initiating frame: PFC + 1
    (unit,) = decode_units(Afn.LINK_CHECK, heartbeat.data, Dir.UP)
    assert isinstance(unit.value, Heartbeat)
    assert unit.value.clock is not None  # 2013 profile: A.1 clock in the heartbeat

    frames = await conn.request([(pn, 129) for pn in range(1, 9)])
    units = [u for f in frames for u in decode_units(f.afn, f.data, f.dir)]
    assert [u.pn for u in units] == list(range(1, 9))
    for unit in units:
        assert isinstance(unit.value, EnergyIndication)
        assert unit.value == expected_indication(SEED, "4403", 21, unit.pn, unit.value.read_time)
    await _until(lambda: running.counters.heartbeats >= 2)


async def test_2009_heartbeat_is_empty(master: MasterStub) -> None:
    async with _running(master.port, version="2009"):
        conn = await master.next_login()
        await conn.link_checks.get()  # the login
        heartbeat = await asyncio.wait_for(conn.link_checks.get(), WAIT_S)
        assert decode_units(Afn.LINK_CHECK, heartbeat.data, Dir.UP) == [DataUnit(0, 3, Heartbeat(None))]


async def test_reconnects_when_the_master_closes_the_socket(master: MasterStub, running: SimTerminal) -> None:
    first = await master.next_login()
    await asyncio.wait_for(running.logged_in.wait(), WAIT_S)
    first.close()
    await asyncio.wait_for(first.closed.wait(), WAIT_S)
    second = await master.next_login()
    assert second is not first
    await asyncio.wait_for(running.logged_in.wait(), WAIT_S)
    assert running.counters.connects == 2
    assert running.counters.logins == 2
    frames = await second.request([(1, 129)])  # the new link answers; the model forgot the old PSEQ
    assert decode_units(frames[0].afn, frames[0].data, frames[0].dir)[0].pn == 1


async def test_login_is_retransmitted_with_the_same_pseq() -> None:
    master = MasterStub(ignore_link_checks=2)
    async with _against(master) as terminal:
        conn = await master.next_login()
        await asyncio.wait_for(terminal.logged_in.wait(), WAIT_S)
        sent = conn.received_link_checks()
        assert len(sent) == 3
        assert len({frame.raw for frame in sent}) == 1  # the same frame, PSEQ unchanged
        assert terminal.counters.retransmits == 2
        assert terminal.counters.connects == 1


async def test_unconfirmed_login_gives_up_after_three_retransmissions_and_reconnects() -> None:
    master = MasterStub(confirm=False)
    async with _against(master) as terminal:
        first = await master.next_connection()
        await asyncio.wait_for(first.closed.wait(), WAIT_S)  # the terminal hung up
        assert first.link_checks.qsize() == 4  # login + 3 retransmissions
        second = await master.next_connection()
        assert second is not first
        assert terminal.counters.login_failures >= 1
        assert not terminal.logged_in.is_set()


async def test_a_denied_login_reconnects() -> None:
    master = MasterStub(confirm=False)
    async with _against(master) as terminal:
        conn = await master.next_connection()
        login = await asyncio.wait_for(conn.link_checks.get(), WAIT_S)
        conn.send(messages.deny(login))
        await asyncio.wait_for(conn.closed.wait(), WAIT_S)
        assert conn.link_checks.qsize() == 0  # no retransmission after a deny
        assert terminal.counters.login_failures == 1


async def test_clean_stop_logs_out(master: MasterStub, running: SimTerminal) -> None:
    conn = await master.next_login()
    await asyncio.wait_for(running.logged_in.wait(), WAIT_S)
    await asyncio.wait_for(running.stop(), WAIT_S)
    assert link_fn(conn.received_link_checks()[-1]) == 2  # AFN02 F2 退出登录
    await asyncio.wait_for(conn.closed.wait(), WAIT_S)
    assert not running.connected.is_set()


async def test_connects_once_the_head_end_comes_up() -> None:
    with socket.socket() as s:  # a port with nothing listening (yet)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    master = MasterStub()
    try:
        async with _running(port) as terminal:
            await _until(lambda: terminal.counters.connect_failures >= 2)
            await master.start(port)
            await master.next_login()
            await asyncio.wait_for(terminal.logged_in.wait(), WAIT_S)
    finally:
        await master.close()


async def test_false_start_is_given_up_after_silence(master: MasterStub, running: SimTerminal) -> None:
    conn = await master.next_login()
    await asyncio.wait_for(running.logged_in.wait(), WAIT_S)
    conn.pfc += 1
    request = messages.read_request(ADDRESS, Afn.REQUEST_CLASS1, [(3, 129)], conn.pfc)
    # a false 68H claiming 4000 bytes, then a real request: only idle() after the silence recovers it
    conn.send(b"\x68\x82\x3e\x82\x3e\x68" + request)
    frames = await conn.answer()
    assert decode_units(frames[0].afn, frames[0].data, frames[0].dir)[0].pn == 3
    assert running.counters.discarded >= 1


def test_backoff_is_capped_and_jittered() -> None:
    timing = LinkTiming(backoff_base_s=1.0, backoff_cap_s=60.0)
    rng = random.Random(4)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (6, 60.0), (50, 60.0)]:
        delays = {timing.backoff(attempt, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter
