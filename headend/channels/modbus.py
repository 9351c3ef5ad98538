"""Modbus devices (meters, inverters, gateways) read from register maps in the configuration, into the same
ingest/spool pipeline as every other reading (docs/collection.md "Modbus").

Standards: Modbus Application Protocol V1.1b3 (§4.2 data model: 16-bit registers; §4.4 addressing: the PDU
carries 0-based addresses; §6.3 function 03 Read Holding Registers, §6.4 function 04 Read Input Registers; §7
exception responses) and Modbus over Serial Line V1.02 (§2.2 slave address 1..247; RTU framing). The wire is
pymodbus's: its asyncio TCP client (MBAP, unit identifier) and serial RTU client.

* A **link** (:class:`ModbusLink`) is one connection: a TCP connection to a device or gateway, or one serial port.
  Devices with the same host/port or the same serial port share it; one request is on the wire at a time. It is
  kept open by a supervisor that reconnects with capped exponential backoff (pymodbus's own reconnect is off).
* A **device poll** (:class:`ModbusDevicePoll`) reads every register-map entry of one device every ``interval_s``.
  A device that does not answer skips the rest of its round and is left alone for ``backoff_base_s ×
  2^(failures-1)`` (at most ``backoff_cap_s``), so a dead unit behind a gateway costs the live ones one timeout per
  backoff period, not one per entry per round. Devices on different links never wait for each other.
* Values (:func:`decode_registers`) are exact: an integer register value × the Decimal ``scale``; an IEEE 754 float
  (float32/float64) is first rounded to ``precision`` significant digits (default 7 for float32 — it carries
  6 to 9 —, 15 for float64) through its decimal string, then scaled. NaN and ±inf become ``None`` (quality invalid).
* Readings: ``meter`` = the device id, ``register`` = the entry name, ``tariff`` from the entry, ``ts`` = the round's
  start on the head-end clock (injectable ``now``) truncated to the second, ``source`` = ``"modbus-tcp unit 1 reg
  40001"`` (data-sheet notation: 4xxxx holding / 3xxxx input, register number = address + 1; six digits from
  address 9999 on).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from headend.channels.serial_bus import backoff_delay
from headend.config import ModbusConfig, ModbusDeviceConfig, ModbusRegisterConfig
from headend.errors import ChannelClosed, ConfigError, ConfigProblem, HeadendError, ResponseTimeout
from headend.logs import Prefixed
from headend.metrics import Metrics
from headend.readings import Quality, Reading
from headend.scheduling.meter_poll import round_delay, run_rounds

_LOGGER = logging.getLogger(__name__)
_PYMODBUS_LOGGER = logging.getLogger("pymodbus")

#: struct format of each data type, big-endian after word and byte order are applied
_STRUCT = {
    "uint16": ">H",
    "int16": ">h",
    "uint32": ">I",
    "int32": ">i",
    "float32": ">f",
    "uint64": ">Q",
    "int64": ">q",
    "float64": ">d",
}
#: significant digits a float keeps when no ``precision`` is configured (IEEE 754: binary32 6–9, binary64 15–17)
DEFAULT_PRECISION = {"float32": 7, "float64": 15}

#: link settings that every device sharing a link must agree on
_TCP_LINK_KEYS = ("timeout_s", "retries", "reconnect_base_s", "reconnect_cap_s")
_RTU_LINK_KEYS = (*_TCP_LINK_KEYS, "baud", "bytesize", "parity", "stopbits")


class ModbusDeviceException(HeadendError):
    """The device answered with a Modbus exception response (Modbus Application Protocol §7: 01 illegal function,
    02 illegal data address, 03 illegal data value, 04 slave device failure, 06 busy …)."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what}: exception code {code:02X}")
        self.code = code


class RegisterDecodeError(HeadendError):
    """A response that does not hold the registers asked for."""


# -- values ---------------------------------------------------------------------------------------------------
def registers_to_bytes(registers: Sequence[int], word_order: str, byte_order: str) -> bytes:
    """The value's bytes, most significant first, from registers as they came off the wire.

    ``word_order`` "big" = the first register is the most significant word (Modbus Application Protocol §4.2
    convention, "ABCD"), "little" = least significant first ("CDAB"); ``byte_order`` "little" = bytes swapped inside
    each register ("BADC" with big word order).

    >>> registers_to_bytes([0x0102, 0x0304], "little", "big").hex()
    '03040102'
    """
    words = list(registers) if word_order == "big" else list(reversed(registers))
    endian: Literal["big", "little"] = "big" if byte_order == "big" else "little"
    return b"".join(word.to_bytes(2, endian) for word in words)


def decode_registers(registers: Sequence[int], entry: ModbusRegisterConfig) -> Decimal | None:
    """The exact value of one register-map entry: integer × scale, or a float rounded to its precision × scale;
    None for NaN/±inf. Raises :class:`RegisterDecodeError` when the count of registers is wrong.

    >>> decode_registers([0x0001, 0xE240], ModbusRegisterConfig(name="e", address=0, type="uint32", scale="0.01"))
    Decimal('1234.56')
    """
    if len(registers) != entry.words or any(not 0 <= word <= 0xFFFF for word in registers):
        raise RegisterDecodeError(f"{entry.name}: {len(registers)} registers, expected {entry.words} of 16 bits")
    (raw,) = struct.unpack(_STRUCT[entry.type], registers_to_bytes(registers, entry.word_order, entry.byte_order))
    scale = Decimal(entry.scale)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None
        digits = entry.precision or DEFAULT_PRECISION[entry.type]
        return Decimal(format(raw, f".{digits}g")) * scale
    return Decimal(raw) * scale


def register_number(entry: ModbusRegisterConfig) -> str:
    """The data-sheet register number: 4xxxx for holding, 3xxxx for input registers (address + 1), six digits
    (4xxxxx) from address 9999 on.

    >>> register_number(ModbusRegisterConfig(name="e", address=0)), register_number(
    ...     ModbusRegisterConfig(name="e", address=9999, function="input"))
    ('40001', '310000')
    """
    prefix = "4" if entry.function == "holding" else "3"
    return f"{prefix}{entry.address + 1:04d}" if entry.address < 9999 else f"{prefix}{entry.address + 1:05d}"


def reading_source(transport: str, unit: int, entry: ModbusRegisterConfig) -> str:
    """``"modbus-tcp unit 1 reg 40001"``."""
    return f"modbus-{transport} unit {unit} reg {register_number(entry)}"


# -- links ----------------------------------------------------------------------------------------------------
LinkKey = tuple[str, str, int | str]


def link_key(device: ModbusDeviceConfig) -> LinkKey:
    """Which connection a device uses: ("tcp", host, port) or ("rtu", "", serial port)."""
    if device.transport == "tcp":
        return ("tcp", device.host, device.port)
    return ("rtu", "", device.port)


class ModbusLink:
    """One Modbus connection (TCP or a serial port with RTU framing), kept open, one request at a time."""

    def __init__(
        self,
        settings: ModbusDeviceConfig,
        metrics: Metrics,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.transport = settings.transport
        self.name = (
            f"modbus-tcp {settings.host}:{settings.port}"
            if settings.transport == "tcp"
            else f"modbus-rtu {settings.port}"
        )
        self.log = Prefixed(_LOGGER, self.name)
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._clock = clock
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.opens = 0  #: successful connects (a reconnect after a loss counts again)
        self.client: AsyncModbusTcpClient | AsyncModbusSerialClient = self._make_client()

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        s = self.settings
        # reconnect_delay=0: pymodbus does not reconnect by itself; _supervise does, with our backoff and metrics
        common: dict[str, Any] = {
            "name": self.name,
            "reconnect_delay": 0,
            "timeout": s.timeout_s,
            "retries": s.retries,
            "trace_connect": self._traced_connect,
        }
        if s.transport == "tcp":
            assert isinstance(s.port, int)
            return AsyncModbusTcpClient(s.host, port=s.port, **common)
        assert isinstance(s.port, str)
        return AsyncModbusSerialClient(
            s.port, baudrate=s.baud, bytesize=s.bytesize, parity=s.parity, stopbits=s.stopbits, **common
        )

    def _traced_connect(self, connected: bool) -> None:
        if not connected:
            self._lost.set()

    @property
    def is_up(self) -> bool:
        return self._up.is_set() and self.client.connected

    async def wait_up(self) -> None:
        """Wait until connected (bound it with ``asyncio.timeout``)."""
        await self._up.wait()

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"link {self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._down()
        self.client.close()

    def _down(self) -> None:
        if self._up.is_set():
            self._up.clear()
            self._metrics.modbus_links_up.labels(self.transport).dec()

    async def _supervise(self) -> None:
        failures = 0
        s = self.settings
        while True:
            self._lost.clear()
            if not await self.client.connect():
                failures += 1
                self._metrics.modbus_connects.labels(self.transport, "failed").inc()
                delay = backoff_delay(failures, s.reconnect_base_s, s.reconnect_cap_s, self._rng)
                (self.log.warning if failures == 1 else self.log.debug)("cannot connect; retrying in %.1f s", delay)
                self.client.close()
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.opens += 1
            self._metrics.modbus_connects.labels(self.transport, "ok").inc()
            self._metrics.modbus_links_up.labels(self.transport).inc()
            self._up.set()
            self.log.info("connected")
            await self._lost.wait()
            self._down()
            self._metrics.modbus_connects.labels(self.transport, "lost").inc()
            self.client.close()
            self.log.warning("connection lost; reconnecting")
            failures = 1
            await asyncio.sleep(backoff_delay(failures, s.reconnect_base_s, s.reconnect_cap_s, self._rng))

    # -- requests -------------------------------------------------------------------------------------------
    async def read(self, unit: int, entry: ModbusRegisterConfig) -> list[int]:
        """The registers of ``entry`` from device ``unit`` (function 03 or 04), after the client's retries.

        Raises :class:`ChannelClosed` (not connected, or the connection went away meanwhile),
        :class:`ResponseTimeout` (no valid response), :class:`ModbusDeviceException`, :class:`RegisterDecodeError`.
        """
        what = f"unit {unit} {register_number(entry)}"
        async with self._lock:
            if not self.is_up:
                raise ChannelClosed(f"{self.name}: not connected")
            reader = (
                self.client.read_holding_registers if entry.function == "holding" else self.client.read_input_registers
            )
            started = self._clock()
            request = asyncio.ensure_future(reader(entry.address, count=entry.words, device_id=unit))
            lost = asyncio.ensure_future(self._lost.wait())
            try:
                await asyncio.wait({request, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
                if not request.done():
                    request.cancel()
                await asyncio.gather(request, lost, return_exceptions=True)
            if request.cancelled():
                raise ChannelClosed(f"{self.name}: connection lost during {what}")
            try:
                response: ModbusPDU = request.result()
            except ConnectionException as exc:
                raise ChannelClosed(f"{self.name}: {exc}") from exc
            except ModbusIOException as exc:
                raise ResponseTimeout(f"{self.name}: no response from {what}") from exc
            self._metrics.request_latency.labels(f"modbus-{self.transport}").observe(self._clock() - started)
        if response.isError():
            raise ModbusDeviceException(response.exception_code, f"{self.name}: {what}")
        registers = list(response.registers)
        if len(registers) != entry.words:
            raise RegisterDecodeError(f"{self.name}: {what}: {len(registers)} registers, asked for {entry.words}")
        return registers


# -- polls ----------------------------------------------------------------------------------------------------
class ModbusDevicePoll:
    """Reads one device's register map every ``interval_s`` and hands the readings to ``sink``."""

    def __init__(
        self,
        device: ModbusDeviceConfig,
        link: ModbusLink,
        metrics: Metrics,
        sink: Callable[[Sequence[Reading]], Awaitable[None]],
        *,
        now: Callable[[], datetime],
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.link = link
        self.log = Prefixed(_LOGGER, f"modbus device {device.id}")
        self._metrics = metrics
        self._sink = sink
        self._now = now
        self._rng = rng or random.Random()
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.failures = 0  #: rounds in a row in which the device did not answer
        self._skip_until = 0.0
        self.completed_rounds = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"modbus poll {self.device.id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._set_backoff(False)

    def next_delay(self, first: bool) -> float:
        return round_delay(self.device.interval_s, self.device.jitter, first, self._rng)

    async def _run(self) -> None:
        await run_rounds(self.next_delay, self.poll_round, self.log)

    @property
    def in_backoff(self) -> bool:
        return self._clock() < self._skip_until

    def _set_backoff(self, on: bool) -> None:
        was = self._skip_until > 0
        if on and not was:
            self._metrics.modbus_devices_failing.labels(self.link.transport).inc()
        elif not on and was:
            self._metrics.modbus_devices_failing.labels(self.link.transport).dec()
        if not on:
            self._skip_until = 0.0

    def _count(self, result: str) -> None:
        self._metrics.modbus_requests.labels(self.link.transport, result).inc()

    async def poll_round(self) -> int:
        """Read every register-map entry once; return the number of readings handed over. Skipped (0) while the
        device is in backoff."""
        if self.in_backoff:
            return 0
        device = self.device
        received_at = self._now()
        ts = received_at.replace(microsecond=0)
        readings: list[Reading] = []
        answered = False
        for entry in device.registers:
            try:
                registers = await self.link.read(device.unit, entry)
                value = decode_registers(registers, entry)
            except ResponseTimeout as exc:
                self._count("timeout")
                self._no_answer(exc)
                break
            except ChannelClosed as exc:
                self._count("closed")
                self.log.debug("%s", exc)
                break
            except ModbusDeviceException as exc:
                answered = True
                self._count("exception")
                self.log.warning("%s %s: %s", entry.name, register_number(entry), exc)
                continue
            except RegisterDecodeError as exc:
                answered = True
                self._count("decode_error")
                self.log.warning("%s", exc)
                continue
            answered = True
            self._count("ok")
            readings.append(
                Reading(
                    meter=device.id,
                    register=entry.name,
                    tariff=entry.tariff,
                    ts=ts,
                    value=value,
                    unit=entry.unit,
                    quality=Quality.OK if value is not None else Quality.INVALID,
                    source=reading_source(device.transport, device.unit, entry),
                    terminal="",
                    pn=0,
                    received_at=received_at,
                )
            )
        if answered:
            if self.failures:
                self.log.info("answering again")
            self.failures = 0
            self._set_backoff(False)
        self._metrics.readings_invalid.inc(sum(1 for r in readings if r.value is None))
        if readings:
            await self._sink(readings)
        self.completed_rounds += 1
        return len(readings)

    def _no_answer(self, exc: Exception) -> None:
        self.failures += 1
        device = self.device
        delay = min(device.backoff_cap_s, device.backoff_base_s * 2 ** (self.failures - 1))
        self._set_backoff(delay > 0)
        self._skip_until = self._clock() + delay if delay > 0 else 0.0
        (self.log.warning if self.failures == 1 else self.log.debug)("%s; skipped for %.0f s", exc, delay)


def build_links(
    config: ModbusConfig, metrics: Metrics, *, rng: random.Random | None = None
) -> dict[LinkKey, ModbusLink]:
    """One link per distinct connection; ConfigError when devices sharing one disagree on its settings."""
    links: dict[LinkKey, ModbusLink] = {}
    problems: list[ConfigProblem] = []
    for index, device in enumerate(config.devices):
        key = link_key(device)
        link = links.get(key)
        if link is None:
            links[key] = ModbusLink(device, metrics, rng=rng)
            continue
        for name in _TCP_LINK_KEYS if device.transport == "tcp" else _RTU_LINK_KEYS:
            if getattr(device, name) != getattr(link.settings, name):
                problems.append(
                    ConfigProblem(
                        f"modbus.devices.{index}",
                        None,
                        name,
                        f"{device.id} shares {link.name} with {link.settings.id} but sets a different {name}",
                    )
                )
    if problems:
        raise ConfigError(problems)
    return links


class ModbusDevices:
    """Every configured Modbus device: the links and the device polls, started and stopped with the daemon."""

    def __init__(
        self,
        config: ModbusConfig,
        metrics: Metrics,
        sink: Callable[[Sequence[Reading]], Awaitable[None]],
        *,
        now: Callable[[], datetime],
        rng: random.Random | None = None,
    ) -> None:
        self.links = build_links(config, metrics, rng=rng)
        self.polls = [
            ModbusDevicePoll(device, self.links[link_key(device)], metrics, sink, now=now, rng=rng)
            for device in config.devices
        ]

    @property
    def completed_rounds(self) -> int:
        return sum(poll.completed_rounds for poll in self.polls)

    def start(self) -> None:
        # pymodbus logs a device's silence at ERROR and every failed connect at WARNING, without the device's name;
        # this module logs both, named, at WARNING (STYLE.md §3.5). A level set on the "pymodbus" logger is kept.
        if self.links and _PYMODBUS_LOGGER.level == logging.NOTSET:
            _PYMODBUS_LOGGER.setLevel(logging.CRITICAL)
        for link in self.links.values():
            link.start()
        for poll in self.polls:
            poll.start()

    async def stop(self) -> None:
        for poll in self.polls:
            await poll.stop()
        for link in self.links.values():
            await link.stop()
