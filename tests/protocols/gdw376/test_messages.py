"""Message builders against hand-written frames (samples.py) and the rules of PROTOCOLS.md A.3, A.5, A.11."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from protocols.errors import LocalProtocolError
from protocols.gdw376 import messages
from protocols.gdw376.link import Address, Aux, Seq, TimeLabel, parse_frame
from protocols.gdw376.units import DataUnit, EnergyIndication, TerminalClock

from .samples import (
    CLOCK_REQUEST,
    CLOCK_RESPONSE,
    CLOCK_RESPONSE_ACD,
    F129_DENY,
    F129_REQUEST,
    F129_REQUEST_P2,
    F129_RESPONSE,
    F129_RESPONSE_EE,
    HEARTBEAT_2009,
    HEARTBEAT_2009_CONFIRM,
    HEARTBEAT_2013,
    LOGIN,
    LOGIN_CONFIRM,
    frame,
)

TERMINAL = Address("4403", 12)
FROM_MASTER = Address("4403", 12, msa=2)
CLOCK = datetime(2024, 5, 1, 8, 0, 30)
READ_AT = datetime(2024, 5, 1, 8, 0)
# AFN04 F1 set with PW and Tp (from test_link) and the terminal's answers: C=80 (DIR=1 PRM=0 FC=0 认可), RSEQ 7.
SET_REQUEST = frame(
    "68 A200 A200 68 4A 0344 0C00 04 04 F7 0000 0100 000000000000"
    " 0102030405060708090A0B0C0D0E0F10 09 56 34 12 20 05 EF 16"
)
SET_CONFIRM = frame("68 3200 3200 68 80 0344 0C00 04 00 67 0000 0100 3F 16")
SET_DENY = frame("68 3200 3200 68 80 0344 0C00 04 00 67 0000 0200 40 16")


def test_login() -> None:
    assert messages.link_check(TERMINAL, 1, 5) == LOGIN
    assert messages.link_check(TERMINAL.with_msa(9), 1, 0x25) == LOGIN  # MSA forced to 0, PFC → low 4 bits


def test_heartbeats() -> None:
    assert messages.link_check(TERMINAL, 3, 6) == HEARTBEAT_2009
    assert messages.link_check(TERMINAL, 3, 7, clock=CLOCK) == HEARTBEAT_2013


@pytest.mark.parametrize(("fn", "pseq"), [(1, 256), (1, -1), (2, 0)])
def test_link_check_errors(fn: int, pseq: int) -> None:
    with pytest.raises(LocalProtocolError):
        messages.link_check(TERMINAL, fn, pseq, clock=CLOCK if fn == 2 else None)


def test_master_confirms_link_checks_with_0b() -> None:
    assert messages.confirm(parse_frame(LOGIN)) == LOGIN_CONFIRM
    assert messages.confirm(parse_frame(HEARTBEAT_2009)) == HEARTBEAT_2009_CONFIRM
    denied = parse_frame(messages.deny(parse_frame(LOGIN)))
    assert (denied.control.to_byte(), denied.data) == (0x0B, bytes.fromhex("0000 0200"))


def test_terminal_confirms_and_denies_a_set_with_80() -> None:
    request = parse_frame(SET_REQUEST)
    assert messages.confirm(request) == SET_CONFIRM
    assert messages.deny(request) == SET_DENY


def test_terminal_denies_a_read_with_89() -> None:
    assert messages.deny(parse_frame(F129_REQUEST_P2)) == F129_DENY


def test_master_confirms_an_active_report_with_00() -> None:
    report = parse_frame(messages.response(parse_frame(CLOCK_REQUEST), [DataUnit(0, 2, TerminalClock(CLOCK))]))
    answer = parse_frame(messages.confirm(report))
    assert (answer.control.to_byte(), answer.address, answer.seq) == (0x00, FROM_MASTER, Seq.from_byte(0x61))


def test_read_requests() -> None:
    assert messages.read_request(FROM_MASTER, 0x0C, [(0, 2)], 1) == CLOCK_REQUEST
    assert messages.read_request(FROM_MASTER, 0x0C, [(1, 129)], 3) == F129_REQUEST
    assert messages.read_request(FROM_MASTER, 0x0C, [(1, 129)], 0xF3) == F129_REQUEST  # PFC 243 → PSEQ 3


def test_read_request_merges_and_may_ask_unregistered_fn() -> None:
    built = parse_frame(messages.read_request(FROM_MASTER, 0x0C, [(1, 25), (2, 25), (1, 26), (2, 26)], 0))
    assert built.data == bytes.fromhex("0301 0303")


def test_read_request_with_tp() -> None:
    tp = TimeLabel(0x13, 30, 0, 8, 1, 5)
    built = parse_frame(messages.read_request(FROM_MASTER, 0x0C, [(0, 2)], 0x13, tp=tp))
    assert built.seq == Seq.from_byte(0xE3)
    assert built.aux == Aux(tp=tp)


def test_responses() -> None:
    clock = [DataUnit(0, 2, TerminalClock(CLOCK))]
    assert messages.response(parse_frame(CLOCK_REQUEST), clock) == CLOCK_RESPONSE
    request_2 = parse_frame(messages.read_request(FROM_MASTER, 0x0C, [(0, 2)], 2))
    assert messages.response(request_2, clock, acd_ec=(3, 1)) == CLOCK_RESPONSE_ACD
    tariffs = (Decimal("100.0000"), Decimal("200.5000"), Decimal("300.0000"), Decimal("634.0678"))
    energy = [DataUnit(1, 129, EnergyIndication(READ_AT, Decimal("1234.5678"), tariffs))]
    assert messages.response(parse_frame(F129_REQUEST), energy) == F129_RESPONSE
    with_ee = [DataUnit(2, 129, EnergyIndication(READ_AT, Decimal("5.0000"), (None, Decimal("5.0000"))))]
    assert messages.response(parse_frame(F129_REQUEST_P2), with_ee) == F129_RESPONSE_EE


def test_response_copies_tp_and_numbers_later_frames() -> None:
    tp = TimeLabel(0x13, 30, 0, 8, 1, 5)
    request = parse_frame(messages.read_request(FROM_MASTER, 0x0C, [(0, 2)], 0x13, tp=tp))
    first = parse_frame(messages.response(request, [DataUnit(0, 2, TerminalClock(CLOCK))], fin=False))
    second = parse_frame(messages.response(request, [DataUnit(0, 2, TerminalClock(CLOCK))], fir=False, seq=4))
    assert (first.seq, first.aux.tp) == (Seq(True, True, False, False, 3), tp)
    assert (second.seq, second.aux.tp) == (Seq(True, False, True, False, 4), tp)
    assert first.address == second.address == FROM_MASTER
