"""The bus behind a TCP serial server (DTU, transparent mode) on loopback."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from concentrator_sim.meters.bus import BusMeter, Rs485Bus
from concentrator_sim.meters.model import Dlt645Meter, MeterConfig
from concentrator_sim.meters.tcp_server import SerialServer
from protocols.dlt645.apdu import ReadReply, build_read, parse_reply
from tests.concentrator_sim.meters.line import TcpLine, until, wire_time

NOW = datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
DELAY = 0.05
EPSILON = 1e-3


@contextlib.asynccontextmanager
async def server(*, paced: bool = True) -> AsyncIterator[SerialServer]:
    meter = BusMeter(Dlt645Meter(MeterConfig("000000000001")), reply_delay_s=DELAY, rng=random.Random(1))
    bus = Rs485Bus([meter], clock=lambda: NOW)
    serial_server = await SerialServer(bus, paced=paced).start()
    try:
        yield serial_server
    finally:
        await serial_server.close()
        bus.close()


@contextlib.asynccontextmanager
async def connected(serial_server: SerialServer) -> AsyncIterator[TcpLine]:
    line = await TcpLine.connect(serial_server.host, serial_server.port)
    try:
        yield line
    finally:
        line.close()


async def test_a_read_over_tcp_keeps_the_serial_timing() -> None:
    async with server() as serial_server, connected(serial_server) as line:
        request = build_read("000000000001", 0x0001FF00)
        frame, elapsed = await line.request(request)
        assert isinstance(parse_reply(frame), ReadReply)
        assert elapsed >= wire_time(len(request) + len(frame.raw), 2400) + DELAY - EPSILON


async def test_unpaced_replies_come_in_one_piece_after_the_reply_delay() -> None:
    async with server(paced=False) as serial_server, connected(serial_server) as line:
        chunks: list[bytes] = []
        received = line._received

        def record(data: bytes) -> None:
            chunks.append(data)
            received(data)

        line._received = record  # type: ignore[method-assign]
        request = build_read("000000000001", 0x0001FF00)
        frame, elapsed = await line.request(request)
        assert chunks == [frame.raw]
        assert elapsed >= wire_time(len(request), 2400) + DELAY - EPSILON


async def test_one_client_at_a_time() -> None:
    async with server() as serial_server, connected(serial_server) as first:
        await first.request(build_read("000000000001", 0x00010000))
        async with connected(serial_server) as second:
            await second.wait(lambda: second.eof)  # closed at once
        assert serial_server.refused == 1
        frame, _ = await first.request(build_read("000000000001", 0x02010100))
        assert parse_reply(frame).di == 0x02010100  # type: ignore[union-attr]
    async with server() as serial_server:
        async with connected(serial_server) as line:
            await line.request(build_read("000000000001", 0x00010000))
        await until(lambda: not serial_server.busy)
        async with connected(serial_server) as line:  # the next client, once the first has gone
            await line.request(build_read("000000000001", 0x00010000))
        assert (serial_server.connections, serial_server.refused) == (2, 0)
