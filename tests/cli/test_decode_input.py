from __future__ import annotations

import pytest

from headend.decode_cmd import parse_hex


@pytest.mark.parametrize(
    ("text", "expected"),
    [("68 32 00", "683200"), ("0x68,0x32", "6832"), ("68:32-00\n16", "68320016"), ("AbCd", "abcd")],
)
def test_parse_hex_accepts_pasted_forms(text: str, expected: str) -> None:
    assert parse_hex(text).hex() == expected


@pytest.mark.parametrize(("text", "message"), [("", "no hex"), ("683", "odd number"), ("68zz", "not hex")])
def test_parse_hex_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hex(text)
