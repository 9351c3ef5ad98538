"""AFN02 链路接口检测 (Q/GDW 376.1 §5.1.3.3; PROTOCOLS.md A.9, A.11): F1 登录, F2 退出登录, F3 心跳, sent by
the terminal (C=C9, CON=1), p0.

F3 heartbeat body: empty in 2009-era terminals; many 2013-era terminals append their clock (附录A.1, 6 bytes).
Both are accepted: the body is read as A.1 when at least 6 bytes follow the identifier, else as empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from protocols.errors import LocalProtocolError
from protocols.gdw376.formats import decode_a1, encode_a1
from protocols.gdw376.link import Afn, Dir
from protocols.gdw376.units.registry import UnitCodec, UnitReader, no_body, register

F1_LOGIN = 1
F2_LOGOUT = 2
F3_HEARTBEAT = 3
_A1_LEN = 6


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """AFN02 F3 心跳: ``clock`` is the terminal clock (A.1) of 2013-era devices, ``None`` for an empty body."""

    clock: datetime | None = None


def _decode_heartbeat(reader: UnitReader) -> Heartbeat:
    if reader.remaining < _A1_LEN:
        return Heartbeat(None)
    return Heartbeat(reader.field(decode_a1, _A1_LEN))


def _encode_heartbeat(value: object) -> bytes:
    if not isinstance(value, Heartbeat):
        raise LocalProtocolError(f"AFN02 F3 needs a Heartbeat, got {value!r}")
    return b"" if value.clock is None else encode_a1(value.clock)


register(Afn.LINK_CHECK, F1_LOGIN, (Dir.UP,), no_body("登录"))
register(Afn.LINK_CHECK, F2_LOGOUT, (Dir.UP,), no_body("退出登录"))
register(Afn.LINK_CHECK, F3_HEARTBEAT, (Dir.UP,), UnitCodec("心跳", _decode_heartbeat, _encode_heartbeat))
