"""The arithmetic checksum used by both Q/GDW 376.1 (§4.3.3.6 帧校验和) and DL/T 645 (§4.3 校验码 CS)."""

from __future__ import annotations


def sum8(data: bytes | bytearray | memoryview) -> int:
    """Arithmetic sum of every byte, modulo 256.

    >>> sum8(bytes.fromhex("4B0344"))
    146
    """
    return sum(data) & 0xFF
