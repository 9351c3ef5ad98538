"""DL/T 645 data-field scramble: the sender adds 33H to every DATA byte, the receiver subtracts it
(DL/T 645-2007 §4.3 数据域, "发送方按字节进行加33H处理，接收方按字节进行减33H处理")."""

from __future__ import annotations

_ADD = bytes((b + 0x33) & 0xFF for b in range(256))
_SUB = bytes((b - 0x33) & 0xFF for b in range(256))


def add33(data: bytes | bytearray | memoryview) -> bytes:
    """Scramble for the wire.

    >>> add33(b"\\x00\\x01").hex()
    '3334'
    """
    return bytes(data).translate(_ADD)


def sub33(data: bytes | bytearray | memoryview) -> bytes:
    """Unscramble what came off the wire.

    >>> sub33(bytes.fromhex("3334")).hex()
    '0001'
    """
    return bytes(data).translate(_SUB)
