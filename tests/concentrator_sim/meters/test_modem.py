"""The AT modem on a real pty: commands, dialling, data mode to a remote bus, escape, hang-up, carrier loss."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from concentrator_sim.meters.bus import BusMeter, Rs485Bus
from concentrator_sim.meters.model import Dlt645Meter, MeterConfig
from concentrator_sim.meters.modem import AtModem, DialTarget, Result, State
from protocols.dlt645.apdu import ReadReply, build_read, parse_reply
from tests.concentrator_sim.meters.line import PtyLine, until

NOW = datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
CONNECT = "5550101"
BUSY = "5550199"


@contextlib.asynccontextmanager
async def modem_line(**target: Any) -> AsyncIterator[tuple[AtModem, PtyLine, Rs485Bus]]:
    meter = BusMeter(Dlt645Meter(MeterConfig("000000000101")), reply_delay_s=0.02, rng=random.Random(1))
    bus = Rs485Bus([meter], baud=2400, clock=lambda: NOW)
    numbers = {
        CONNECT: DialTarget(Result.CONNECT, bus, connect_delay_s=0.05, **target),
        BUSY: DialTarget(Result.BUSY, connect_delay_s=0.05),
    }
    modem = await AtModem(numbers, name="m").open()
    line = PtyLine(modem.path, 9600)
    try:
        yield modem, line, bus
    finally:
        line.close()
        modem.close()
        bus.close()


async def test_commands_echo_and_answer_ok_or_error() -> None:
    async with modem_line() as (_, line, _bus):
        assert await line.command("AT") == b"AT\r\r\nOK\r\n"  # echoed, then the verbose result
        assert await line.command("AT&FE0V1X4&C1&D2S0=0") == b"AT&FE0V1X4&C1&D2S0=0\r\r\nOK\r\n"
        assert await line.command("AT") == b"\r\nOK\r\n"  # E0: no echo any more
        assert await line.command("ATS12?") == b"\r\n050\r\n\r\nOK\r\n"
        assert await line.command("AT+CBST=7,0,1") == b"\r\nOK\r\n"
        assert await line.command("ATJ", b"ERROR\r\n") == b"\r\nERROR\r\n"
        assert await line.command("ATV0", b"0\r") == b"0\r"  # numeric result codes
        assert await line.command("ATZ", b"OK\r\n") == b"\r\nOK\r\n"  # defaults again: verbose, echo …
        assert await line.command("ATI") == b"ATI\r\r\nheadend concentrator_sim AT modem m\r\n\r\nOK\r\n"


async def test_dialling_a_busy_or_unknown_number() -> None:
    async with modem_line() as (modem, line, _bus):
        await line.command("ATE0")
        line.write(f"ATD{BUSY}\r".encode())
        assert await line.read_until(b"BUSY\r\n") == b"\r\nBUSY\r\n"
        line.write(b"ATDT 555-0000\r")
        modem.numbers["5550000"] = DialTarget(Result.NO_ANSWER, connect_delay_s=0.01)
        assert await line.read_until(b"NO ANSWER\r\n") == b"\r\nNO ANSWER\r\n"
        assert modem.dialled == [BUSY, "5550000"]
        assert modem.state is State.COMMAND


async def test_a_call_reaches_the_remote_bus_and_escapes_and_hangs_up() -> None:
    async with modem_line() as (modem, line, bus):
        await line.command("ATE0S12=0")  # a zero guard time: the escape needs no waiting
        line.write(f"ATD{CONNECT}\r".encode())
        assert await line.read_until(b"CONNECT 2400\r\n") == b"\r\nCONNECT 2400\r\n"
        assert modem.state is State.DATA
        frame, _ = await line.request(build_read("000000000101", 0x00010000))
        assert isinstance(parse_reply(frame), ReadReply)
        line.flush()
        line.write(b"+++")
        assert await line.read_until(b"OK\r\n") == b"\r\nOK\r\n"
        assert modem.state is State.ONLINE_COMMAND
        assert await line.command("ATO", b"CONNECT 2400\r\n") == b"\r\nCONNECT 2400\r\n"
        frame, _ = await line.request(build_read("000000000101", 0x02010100))
        assert parse_reply(frame).di == 0x02010100  # type: ignore[union-attr]
        line.flush()
        line.write(b"+++")
        await line.read_until(b"OK\r\n")
        assert await line.command("ATH") == b"\r\nOK\r\n"
        assert modem.state is State.COMMAND
        assert bus.ports == []
        assert await line.command("ATO", b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"


async def test_plus_signs_inside_data_are_data() -> None:
    async with modem_line() as (modem, line, bus):
        await line.command("ATE0")
        line.write(f"ATD{CONNECT}\r".encode())
        await line.read_until(b"CONNECT 2400\r\n")
        line.write(b"+++")  # right after CONNECT: no guard time of silence before it
        frame, _ = await line.request(build_read("000000000101", 0x00010000))
        assert frame.address == "000000000101"
        assert modem.state is State.DATA
        assert bus.stats.discarded >= 1  # the meters heard the three '+' as noise


async def test_carrier_lost_in_the_middle_of_a_reply() -> None:
    async with modem_line(drop_after_bytes=12) as (modem, line, bus):
        await line.command("ATE0")
        line.write(f"ATD{CONNECT}\r".encode())
        await line.read_until(b"CONNECT 2400\r\n")
        line.write(build_read("000000000101", 0x0001FF00))
        received = await line.read_until(b"\r\nNO CARRIER\r\n")
        assert len(received) == 12 + len(b"\r\nNO CARRIER\r\n")  # twelve bytes of the reply, then the drop
        assert line.frames == []
        assert modem.state is State.COMMAND
        assert bus.ports == []


async def test_drop_carrier_and_dtr_drop_end_the_call() -> None:
    async with modem_line() as (modem, line, bus):
        await line.command("ATE0")
        line.write(f"ATD{CONNECT}\r".encode())
        await line.read_until(b"CONNECT 2400\r\n")
        modem.drop_carrier()
        assert await line.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
        line.write(f"ATD{CONNECT}\r".encode())
        await line.read_until(b"CONNECT 2400\r\n")
        line.close()  # the head-end closes the port: DTR drops, the modem hangs up
        await until(lambda: modem.state is State.COMMAND)
        assert bus.ports == []


async def test_a_key_pressed_while_dialling_aborts_the_call() -> None:
    async with modem_line() as (modem, line, _bus):
        modem.numbers[CONNECT] = DialTarget(Result.CONNECT, modem.numbers[CONNECT].bus, connect_delay_s=30)
        await line.command("ATE0")
        line.write(f"ATD{CONNECT}\r".encode())
        await until(lambda: modem.state is State.DIALING)
        line.write(b"\r")
        assert await line.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
        assert modem.state is State.COMMAND
