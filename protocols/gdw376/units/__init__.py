"""Q/GDW 376.1 data-unit codecs (数据单元), registered by (AFN, Fn, DIR) — see :mod:`.registry`.

Importing this package registers every codec: AFN00 (:mod:`.afn00`), AFN01 (:mod:`.afn01`), AFN02 (:mod:`.afn02`),
AFN04/AFN0A (:mod:`.afn04`), AFN05 (:mod:`.afn05`), AFN09 (:mod:`.afn09`), AFN0C (:mod:`.afn0c`), AFN0D
(:mod:`.afn0d`), AFN0E (:mod:`.afn0e`, event bodies in :mod:`.erc`), AFN0F (:mod:`.afn0f`), AFN10 (:mod:`.afn10`).
"""

from __future__ import annotations

from protocols.gdw376.units import afn0c, afn0d, afn0e, afn0f, afn00, afn01, afn02, afn04, afn05, afn09, afn10
from protocols.gdw376.units.afn0c import EnergyIndication, TerminalClock
from protocols.gdw376.units.afn00 import ConfirmItem, ConfirmList, check_confirmation
from protocols.gdw376.units.afn02 import Heartbeat
from protocols.gdw376.units.registry import (
    REGISTRY,
    DataUnit,
    UnitCodec,
    UnitReader,
    decode_frame_units,
    decode_units,
    encode_units,
    lookup,
    register,
)

__all__ = [
    "REGISTRY",
    "ConfirmItem",
    "ConfirmList",
    "DataUnit",
    "EnergyIndication",
    "Heartbeat",
    "TerminalClock",
    "UnitCodec",
    "UnitReader",
    "afn0c",
    "afn0d",
    "afn0e",
    "afn0f",
    "afn00",
    "afn01",
    "afn02",
    "afn04",
    "afn05",
    "afn09",
    "afn10",
    "check_confirmation",
    "decode_frame_units",
    "decode_units",
    "encode_units",
    "lookup",
    "register",
]
