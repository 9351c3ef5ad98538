"""PW 消息认证码 from a pluggable authenticator (Q/GDW 376.1 §4.3.4.6.1; protocols/gdw376/auth.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from protocols.errors import LocalProtocolError
from protocols.gdw376 import messages
from protocols.gdw376.auth import ZERO, FixedAuthenticator, PwInput, make_pw, verify_pw
from protocols.gdw376.link import Address, Afn, Aux, Control, Seq, TimeLabel, build_frame, parse_frame
from protocols.gdw376.units import DataUnit

from .samples import framed

TERMINAL = Address("4403", 12, 2)
MAC = bytes.fromhex("A0A1A2A3 A4A5A6A7 A8A9AAAB ACADAEAF")


@dataclass
class RecordingHsm:
    """Stands in for a hardware security module: remembers what it was asked, answers a fixed MAC."""

    seen: list[PwInput] = field(default_factory=list)
    answer: bytes = MAC

    def pw(self, message: PwInput) -> bytes:
        self.seen.append(message)
        return self.answer


def test_zero_is_the_default() -> None:
    built = build_frame(Control.from_byte(0x4A), TERMINAL, Afn.SET_PARAM, Seq.from_byte(0x61), b"\0\0\1\0")
    assert parse_frame(built).aux.pw == bytes(16)
    assert ZERO.pw(PwInput(0x4A, TERMINAL.to_bytes(), 4, 0x61, b"")) == bytes(16)


def test_authenticator_sees_every_field_but_pw_and_gives_the_pw() -> None:
    hsm = RecordingHsm()
    tp = TimeLabel(9, 56, 34, 12, 20, 5)
    built = build_frame(
        Control.from_byte(0x4A),
        TERMINAL,
        Afn.CONTROL,
        Seq.from_byte(0xE1),
        bytes.fromhex("0000 0040 305912010524"),  # AFN05 F31 对时命令 with an A.1 clock
        Aux(tp=tp),
        authenticator=hsm,
    )
    # C | A1 A2 A3 | AFN | SEQ | DA DT A.1 | PW | Tp, written out by hand
    assert built == framed(
        "4A 0344 0C00 04 05 E1 0000 0040 305912010524 A0A1A2A3A4A5A6A7A8A9AAABACADAEAF 09 56 34 12 20 05"
    )
    (asked,) = hsm.seen
    assert asked.user_data == bytes.fromhex("4A 0344 0C00 04 05 E1 0000 0040 305912010524")
    assert asked.tp == bytes.fromhex("09 56 34 12 20 05")
    assert (asked.control, asked.afn, asked.seq) == (0x4A, 0x05, 0xE1)


def test_explicit_pw_wins_and_read_requests_ask_nobody() -> None:
    hsm = RecordingHsm()
    given = bytes(range(16))
    built = build_frame(
        Control.from_byte(0x4A), TERMINAL, 4, Seq.from_byte(0x61), b"\0\0\1\0", Aux(pw=given), authenticator=hsm
    )
    assert parse_frame(built).aux.pw == given
    build_frame(Control.from_byte(0x4B), TERMINAL, 0x0C, Seq.from_byte(0x61), b"\0\0\2\0", authenticator=hsm)
    assert hsm.seen == []


def test_wrong_length_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError, match="15 bytes"):
        build_frame(
            Control.from_byte(0x4A),
            TERMINAL,
            4,
            Seq.from_byte(0x61),
            b"\0\0\1\0",
            authenticator=FixedAuthenticator(bytes(15)),
        )


def test_verify_pw() -> None:
    message = PwInput(0x4A, TERMINAL.to_bytes(), 4, 0x61, b"\0\0\1\0")
    assert verify_pw(FixedAuthenticator(MAC), message, MAC)
    assert not verify_pw(FixedAuthenticator(MAC), message, bytes(16))
    assert make_pw(ZERO, message) == bytes(16)


def test_command_builder_uses_the_authenticator() -> None:
    hsm = RecordingHsm()
    built = messages.command(TERMINAL, Afn.RESET, [DataUnit(0, 1)], 3, authenticator=hsm)
    # AFN01 F1 硬件初始化: C=41 (PRM=1 FC=1 复位), SEQ 63, p0 F1, PW from the HSM
    assert built == framed("41 0344 0C00 04 01 63 0000 0100 A0A1A2A3A4A5A6A7A8A9AAABACADAEAF")
    assert len(hsm.seen) == 1
