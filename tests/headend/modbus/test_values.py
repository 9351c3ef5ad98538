"""Register-map values: exact Decimals from every data type, word order and byte order; register numbers and
sources; the configuration's checks. Expected registers are written out by hand (or packed by ``struct`` here,
independently of headend.channels.modbus)."""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from headend.channels.modbus import (
    RegisterDecodeError,
    build_links,
    decode_registers,
    reading_source,
    register_number,
    registers_to_bytes,
)
from headend.config import ModbusConfig, ModbusDeviceConfig, ModbusRegisterConfig
from headend.errors import ConfigError
from headend.metrics import Metrics


def entry(**settings: Any) -> ModbusRegisterConfig:
    return ModbusRegisterConfig(**{"name": "energy.active.forward", "address": 0, **settings})


# 0x12345678 = 305419896; its registers in the four layouts of data sheets (ABCD, CDAB, BADC, DCBA)
LAYOUTS = [
    ("big", "big", [0x1234, 0x5678]),
    ("little", "big", [0x5678, 0x1234]),
    ("big", "little", [0x3412, 0x7856]),
    ("little", "little", [0x7856, 0x3412]),
]


@pytest.mark.parametrize(("word_order", "byte_order", "registers"), LAYOUTS)
def test_uint32_in_every_word_and_byte_order(word_order: str, byte_order: str, registers: list[int]) -> None:
    spec = entry(type="uint32", word_order=word_order, byte_order=byte_order)
    assert decode_registers(registers, spec) == Decimal(305419896)


def test_integer_types_scaled_exactly() -> None:
    assert decode_registers([0x0001, 0xE240], entry(type="uint32", scale="0.01")) == Decimal("1234.56")
    assert decode_registers([0xFFFF], entry(type="int16", scale="0.1")) == Decimal("-0.1")
    assert decode_registers([0xFFFF], entry(type="uint16", scale="0.1")) == Decimal("6553.5")
    assert decode_registers([0xFFFF, 0xFF85], entry(type="int32", scale="0.001")) == Decimal("-0.123")
    # 2^53 + 1: a float would lose the last digit
    big = [0x0020, 0x0000, 0x0000, 0x0001]
    assert decode_registers(big, entry(type="uint64", scale="0.01")) == Decimal("90071992547409.93")
    assert decode_registers([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], entry(type="int64")) == Decimal(-2)
    value = decode_registers([0x0001, 0xE240], entry(type="uint32", scale="0.01"))
    assert isinstance(value, Decimal)
    assert str(value) == "1234.56"


def test_float32_rounded_to_its_precision() -> None:
    # 230.1 as binary32 is 0x43661999 = 230.1000061035…; 7 significant digits give back 230.1
    assert decode_registers([0x4366, 0x1999], entry(type="float32")) == Decimal("230.1")
    # 12345.67 → 0x4640E6AE = 12345.669921875 → 12345.67
    assert decode_registers([0x4640, 0xE6AE], entry(type="float32")) == Decimal("12345.67")
    assert decode_registers([0xE6AE, 0x4640], entry(type="float32", word_order="little")) == Decimal("12345.67")
    # the configured precision wins: 5 digits
    assert decode_registers([0x4640, 0xE6AE], entry(type="float32", precision=5)) == Decimal("12346")
    # scaled after rounding: 230.1 kW × 1000 = W
    assert decode_registers([0x4366, 0x1999], entry(type="float32", scale="1000")) == Decimal("230100.0")


def test_float64_and_non_finite_values() -> None:
    registers = [int.from_bytes(struct.pack(">d", 0.1)[i : i + 2], "big") for i in range(0, 8, 2)]
    assert decode_registers(registers, entry(type="float64")) == Decimal("0.1")
    nan = [0x7FC0, 0x0000]
    inf = [0x7F80, 0x0000]
    assert decode_registers(nan, entry(type="float32")) is None
    assert decode_registers(inf, entry(type="float32")) is None


def test_wrong_register_count_is_a_decode_error() -> None:
    with pytest.raises(RegisterDecodeError):
        decode_registers([1], entry(type="uint32"))
    with pytest.raises(RegisterDecodeError):
        decode_registers([0x10000], entry(type="uint16"))


def test_registers_to_bytes_layouts() -> None:
    assert registers_to_bytes([0x0102, 0x0304], "big", "big") == bytes.fromhex("01020304")
    assert registers_to_bytes([0x0102, 0x0304], "little", "big") == bytes.fromhex("03040102")
    assert registers_to_bytes([0x0102, 0x0304], "big", "little") == bytes.fromhex("02010403")


FORMATS = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "uint64": ">Q", "int64": ">q"}


@st.composite
def integer_cases(draw: st.DrawFn) -> tuple[str, int, str, str, str]:
    kind = draw(st.sampled_from(sorted(FORMATS)))
    bits = struct.calcsize(FORMATS[kind]) * 8
    signed = kind.startswith("int")
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    value = draw(st.integers(low, high))
    scale = draw(st.sampled_from(["1", "0.1", "0.01", "0.001", "10", "0.0001"]))
    return kind, value, draw(st.sampled_from(["big", "little"])), draw(st.sampled_from(["big", "little"])), scale


@given(integer_cases())
def test_any_integer_in_any_layout_is_exact(case: tuple[str, int, str, str, str]) -> None:
    kind, value, word_order, byte_order, scale = case
    packed = struct.pack(FORMATS[kind], value)
    words = [packed[i : i + 2] for i in range(0, len(packed), 2)]
    if byte_order == "little":
        words = [word[::-1] for word in words]
    if word_order == "little":
        words.reverse()
    registers = [int.from_bytes(word, "big") for word in words]
    spec = entry(type=kind, word_order=word_order, byte_order=byte_order, scale=scale)
    assert decode_registers(registers, spec) == Decimal(value) * Decimal(scale)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_any_float32_keeps_seven_significant_digits(number: float) -> None:
    registers = list(struct.unpack(">HH", struct.pack(">f", number)))
    value = decode_registers(registers, entry(type="float32"))
    assert value is not None
    assert value == Decimal(f"{number:.7g}")
    if number != 0:
        assert abs(value - Decimal(number)) <= abs(Decimal(number)) * Decimal("5e-7")


def test_register_numbers_and_sources() -> None:
    assert register_number(entry()) == "40001"
    assert register_number(ModbusRegisterConfig(name="p", address=99, function="input")) == "30100"
    assert register_number(ModbusRegisterConfig(name="p", address=9998)) == "49999"
    assert register_number(ModbusRegisterConfig(name="p", address=9999)) == "410000"
    assert register_number(ModbusRegisterConfig(name="p", address=65535)) == "465536"
    assert reading_source("tcp", 1, entry()) == "modbus-tcp unit 1 reg 40001"
    assert reading_source("rtu", 17, entry(address=6, function="input")) == "modbus-rtu unit 17 reg 30007"


@pytest.mark.parametrize(
    "settings",
    [
        {"type": "uint32", "count": 1},
        {"scale": "abc"},
        {"scale": "0"},
        {"scale": "NaN"},
        {"function": "coil"},
        {"type": "float16"},
        {"word_order": "middle"},
    ],
)
def test_bad_register_entries_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        entry(**settings)


@pytest.mark.parametrize(
    "settings",
    [
        {"transport": "tcp"},  # no host
        {"transport": "tcp", "host": "h", "port": "/dev/ttyUSB0"},
        {"transport": "rtu", "port": 502},
        {"transport": "rtu", "port": "/dev/ttyUSB0", "unit": 0},
        {"transport": "rtu", "port": "/dev/ttyUSB0", "unit": 248},
    ],
)
def test_bad_devices_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ModbusDeviceConfig(id="d1", **settings)


def test_device_ids_are_unique() -> None:
    device = {"id": "d1", "host": "h"}
    with pytest.raises(ValidationError, match="appears twice"):
        ModbusConfig.model_validate({"devices": [device, device]})


async def test_devices_sharing_a_link_share_one_connection_and_must_agree() -> None:
    gateway = [
        ModbusDeviceConfig(id="a", host="192.0.2.1", unit=1),
        ModbusDeviceConfig(id="b", host="192.0.2.1", unit=2),
        ModbusDeviceConfig(id="c", host="192.0.2.1", port=503, unit=1),
        ModbusDeviceConfig(id="d", transport="rtu", port="/dev/ttyS1", unit=1),
        ModbusDeviceConfig(id="e", transport="rtu", port="/dev/ttyS1", unit=2),
    ]
    links = build_links(ModbusConfig(devices=gateway), Metrics())
    assert sorted(links) == [("rtu", "", "/dev/ttyS1"), ("tcp", "192.0.2.1", 502), ("tcp", "192.0.2.1", 503)]
    disagree = [*gateway, ModbusDeviceConfig(id="f", transport="rtu", port="/dev/ttyS1", unit=3, baud=2400)]
    with pytest.raises(ConfigError) as info:
        build_links(ModbusConfig(devices=disagree), Metrics())
    assert [(p.file, p.key) for p in info.value.problems] == [("modbus.devices.5", "baud")]


@given(
    st.lists(st.integers(-1, 0x10001), max_size=5),
    st.sampled_from(["uint16", "int16", "uint32", "int32", "float32", "uint64", "int64", "float64"]),
    st.sampled_from(["big", "little"]),
    st.sampled_from(["big", "little"]),
)
def test_any_registers_give_a_value_or_a_decode_error(
    registers: list[int], kind: str, word_order: str, byte_order: str
) -> None:
    spec = entry(type=kind, word_order=word_order, byte_order=byte_order, scale="0.01")
    try:
        value = decode_registers(registers, spec)
    except RegisterDecodeError:
        assert len(registers) != spec.words or any(not 0 <= r <= 0xFFFF for r in registers)
    else:
        assert value is None or value.is_finite()
