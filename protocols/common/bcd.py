"""Packed BCD as both standards use it: low byte first on the wire, sign-and-magnitude for signed values,
and all-``EE`` (vendor ``EF``/``FF``) fillers meaning "no value" (Q/GDW 376.1 附录A; DL/T 645-2007 §5.1).

Values are exact :class:`decimal.Decimal` — never floats: billing reads these numbers.
"""

from __future__ import annotations

from decimal import Decimal

from protocols.errors import DecodeError, LocalProtocolError

#: Bytes that, repeated over a whole field, mean "no data" rather than a number.
NO_VALUE_FILLERS = frozenset((0xEE, 0xEF, 0xFF))


#: A ``bytes.translate`` table: each packed BCD byte → its value 0..99, and :data:`NOT_BCD` for a byte with a
#: nibble above 9 — one C-level pass over a field of BCD bytes (dates and times of 附录A).
NOT_BCD = 0xFF
BCD_VALUES = bytes((b >> 4) * 10 + (b & 0x0F) if b >> 4 < 10 and b & 0x0F < 10 else NOT_BCD for b in range(256))


def is_no_value(raw: bytes | bytearray | memoryview) -> bool:
    """True when every byte of ``raw`` is the same "no value" filler (EE, or vendor EF/FF).

    >>> is_no_value(b"\\xee\\xee"), is_no_value(b"\\xee\\x01")
    (True, False)
    """
    if not raw:
        return False
    first = raw[0]
    return first in NO_VALUE_FILLERS and all(b == first for b in raw)


def bcd_byte(value: int) -> int:
    """Decode one packed BCD byte (tens in the high nibble).

    >>> bcd_byte(0x59)
    59
    """
    hi, lo = value >> 4, value & 0x0F
    if hi > 9 or lo > 9:
        raise DecodeError(f"byte {value:02X}H is not BCD", raw=bytes((value,)))
    return hi * 10 + lo


def to_bcd_byte(value: int) -> int:
    """Encode 0..99 as one packed BCD byte.

    >>> hex(to_bcd_byte(59))
    '0x59'
    """
    if not 0 <= value <= 99:
        raise LocalProtocolError(f"{value} does not fit one BCD byte")
    return (value // 10) << 4 | (value % 10)


def bcd_to_int(raw: bytes | bytearray | memoryview) -> int:
    """Decode little-endian packed BCD (low byte first) to an int.

    >>> bcd_to_int(bytes.fromhex("3412"))
    1234
    """
    result = 0
    for byte in reversed(bytes(raw)):
        result = result * 100 + bcd_byte(byte)
    return result


def int_to_bcd(value: int, size: int) -> bytes:
    """Encode a non-negative int as ``size`` bytes of little-endian packed BCD.

    >>> int_to_bcd(1234, 2).hex()
    '3412'
    """
    if value < 0 or value >= 100**size:
        raise LocalProtocolError(f"{value} does not fit {size} BCD bytes")
    # The decimal digits, most significant first, read as hex are the packed bytes; reversed for low byte first
    # (one C-level conversion instead of a divmod per byte: encoding runs per value of every data unit).
    return bytes.fromhex(f"{value:0{2 * size}d}")[::-1] if size else b""


def decode_decimal(raw: bytes | bytearray | memoryview, decimals: int, *, signed: bool = False) -> Decimal | None:
    """Decode a little-endian BCD number with ``decimals`` digits after the point.

    Signed fields use sign-and-magnitude: bit D7 of the most significant (last) byte is the sign.
    Returns ``None`` for a "no value" filler.

    >>> decode_decimal(bytes.fromhex("0000340012"), 4)
    Decimal('120034.0000')
    >>> decode_decimal(bytes.fromhex("128092"), 4, signed=True)
    Decimal('-12.8012')
    """
    data = raw if type(raw) is bytes else bytes(raw)
    if not data:
        raise DecodeError("an empty field holds no number")
    first = data[0]
    if first in NO_VALUE_FILLERS and data.count(first) == len(data):
        return None
    # Hex of the reversed bytes is the digit string, most significant first; a nibble above 9 shows as a
    # letter. This is ~2x faster than a per-byte loop (benchmarks/README.md) and gives identical Decimals.
    digits = data[::-1].hex()
    negative = False
    if signed and digits[0] in _SIGNED_TOP:
        # D7 of the top byte is the sign: its hex digit 8..f is the magnitude's 0..7 with the sign bit set.
        negative = True
        digits = _SIGNED_TOP[digits[0]] + digits[1:]
    if not digits.isdigit():
        magnitude = data[:-1] + bytes((data[-1] & 0x7F,)) if signed else data
        bcd_to_int(magnitude)  # raises DecodeError naming the first byte that is not BCD
    value = Decimal(int(digits)).scaleb(-decimals)
    return -value if negative else value


#: The top hex digit of a signed field with D7 (the sign) set → that digit without it.
_SIGNED_TOP = dict(zip("89abcdef", "01234567", strict=True))
#: The inverse: the top digit of a magnitude → with the sign bit set (a signed field's top digit is 0..7).
_SIGN_TOP = dict(zip("01234567", "89abcdef", strict=True))
#: 100**size and 8 × 10**(2 size − 1): the bounds of an unsigned / signed field of ``size`` bytes (1..16).
_UNSIGNED_LIMIT = tuple(100**size for size in range(17))
_SIGNED_LIMIT = (1, *(8 * 10 ** (2 * size - 1) for size in range(1, 17)))


def encode_decimal(value: Decimal | None, size: int, decimals: int, *, signed: bool = False) -> bytes:
    """Inverse of :func:`decode_decimal`; ``None`` encodes as the standard ``EE`` filler.

    >>> encode_decimal(Decimal("-12.8012"), 3, 4, signed=True).hex()
    '128092'
    """
    if value is None:
        return b"\xee" * size
    if not value.is_finite():
        raise LocalProtocolError(f"{value} is not a number a BCD field can hold")
    scaled = value.scaleb(decimals)
    magnitude = int(scaled)
    if magnitude != scaled:
        raise LocalProtocolError(f"{value} has more than {decimals} decimals")
    negative = value < 0
    if negative:
        if not signed:
            raise LocalProtocolError(f"{value} is negative but the field is unsigned")
        magnitude = -magnitude
    # A signed field gives up bit D7 of its top byte to the sign, so its top digit is 0..7.
    if 0 < size <= 16:
        if magnitude >= (_SIGNED_LIMIT[size] if signed else _UNSIGNED_LIMIT[size]):
            raise LocalProtocolError(f"{value} does not fit {size} BCD bytes with {decimals} decimals")
        # The digits read as hex are the packed bytes, most significant first (as int_to_bcd); the sign is set
        # in the top digit (D7 of the top byte) before the bytes are reversed to low byte first.
        digits = f"{magnitude:0{2 * size}d}"
        if negative:
            digits = _SIGN_TOP[digits[0]] + digits[1:]
        return bytes.fromhex(digits)[::-1]
    limit = 8 * 10 ** (2 * size - 1) if signed else 100**size
    if magnitude >= limit:
        raise LocalProtocolError(f"{value} does not fit {size} BCD bytes with {decimals} decimals")
    out = bytearray(int_to_bcd(magnitude, size))
    if negative:
        out[-1] |= 0x80
    return bytes(out)
