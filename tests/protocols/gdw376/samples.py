"""Hand-written Q/GDW 376.1 frames (synthetic terminal 4403:00012, MSA 2), spaces grouping fields.

Each was written field by field from PROTOCOLS.md A.1-A.10: L = (user length << 2) | 2 (12 → 32 00, 18 → 4A 00,
33 → 86 00 as in A.2), CS = sum of the user data mod 256 worked out by hand. None is produced by our builder.
"""

from __future__ import annotations


def frame(text: str) -> bytes:
    return bytes.fromhex(text)


def framed(user: str) -> bytes:
    """A frame around a user-data area, with L and CS worked out here (test arithmetic, not the code under test)."""
    body = bytes.fromhex(user)
    length = (len(body) << 2 | 2).to_bytes(2, "little")
    return b"\x68" + length + length + b"\x68" + body + bytes((sum(body) & 0xFF, 0x16))


# AFN02 F1 login, C=C9, SEQ 75 (FIR FIN CON, PSEQ 5), MSA 0.
LOGIN = frame("68 3200 3200 68 C9 0344 0C00 00 02 75 0000 0100 94 16")
# AFN00 F1 from the master: C=0B, SEQ 65 (RSEQ 5).
LOGIN_CONFIRM = frame("68 3200 3200 68 0B 0344 0C00 00 00 65 0000 0100 C4 16")
# AFN02 F3 heartbeat, 2009 style (no data), PSEQ 6; and its confirmation.
HEARTBEAT_2009 = frame("68 3200 3200 68 C9 0344 0C00 00 02 76 0000 0400 98 16")
HEARTBEAT_2009_CONFIRM = frame("68 3200 3200 68 0B 0344 0C00 00 00 66 0000 0100 C5 16")
# AFN02 F3 heartbeat with an A.1 clock 2024-05-01 08:00:30, Wednesday (week 3 in D7..D5: 65 = 011 0 0101).
HEARTBEAT_2013 = frame("68 4A00 4A00 68 C9 0344 0C00 00 02 77 0000 0400 300008016524 5B 16")
# AFN0C F2 p0 request (C=4B, MSA 2 → A3 04, SEQ 61) and response (C=88) with the same A.1 clock.
CLOCK_REQUEST = frame("68 3200 3200 68 4B 0344 0C00 04 0C 61 0000 0200 11 16")
CLOCK_RESPONSE = frame("68 4A00 4A00 68 88 0344 0C00 04 0C 61 0000 0200 300008016524 10 16")
# Same response with ACD=1 (C=A8) and EC1=3, EC2=1.
CLOCK_RESPONSE_ACD = frame("68 5200 5200 68 A8 0344 0C00 04 0C 62 0000 0200 300008016524 0301 35 16")
# AFN0C F129 p1 request, and the response: read 2024-05-01 08:00, M=4, total 1234.5678 kWh,
# tariffs 100.0000 / 200.5000 / 300.0000 / 634.0678 (A.14, low byte first).
F129_REQUEST = frame("68 3200 3200 68 4B 0344 0C00 04 0C 63 0101 0110 24 16")
F129_RESPONSE = frame(
    "68 AE00 AE00 68 88 0344 0C00 04 0C 63 0101 0110 0008010524 04"
    " 7856341200 0000000100 0050000200 0000000300 7806340600 B9 16"
)
# AFN0C F129 p2: M=2, total 5.0000, tariff 1 EE (no value), tariff 2 5.0000.
F129_REQUEST_P2 = frame("68 3200 3200 68 4B 0344 0C00 04 0C 64 0201 0110 26 16")
F129_RESPONSE_EE = frame(
    "68 8600 8600 68 88 0344 0C00 04 0C 64 0201 0110 0008010524 02 0000050000 EEEEEEEEEE 0000050000 47 16"
)
# AFN00 F2 deny of the p2 request: C=89 (否认：无所召唤的数据), RSEQ 4.
F129_DENY = frame("68 3200 3200 68 89 0344 0C00 04 00 64 0000 0200 46 16")
