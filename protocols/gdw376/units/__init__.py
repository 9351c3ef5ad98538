"""Q/GDW 376.1 data-unit codecs (数据单元), registered by (AFN, Fn, DIR) — see :mod:`.registry`.

Importing this package registers every codec: AFN01 (:mod:`.afn01`), AFN04/AFN0A (:mod:`.afn04`),
AFN05 (:mod:`.afn05`), AFN09 (:mod:`.afn09`), AFN00 (:mod:`.afn00`), AFN02 (:mod:`.afn02`), AFN0C (:mod:`.afn0c`).
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
