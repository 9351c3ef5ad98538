"""DL/T 645 abnormal-reply error word (错误信息字 ERR) → exception subclass registry.

DL/T 645-2007 §7.1 / 表 1 (异常应答帧的错误信息字): one byte, one bit per cause::

    D0 其他错误  D1 无请求数据  D2 密码错/未授权  D3 通信速率不能更改
    D4 年时区数超  D5 日时段数超  D6 费率数超  D7 保留

DL/T 645-1997 names D0 "illegal data" and D1 "DI error" but keeps the positions (PROTOCOLS.md Part C), so one
registry serves both. As in asyncua's ``UaStatusCodeError``, the codec never raises: it decodes an
:class:`~protocols.dlt645.apdu.ErrorReply`, whose ``check()`` raises the class registered for the lowest set bit.

::

    DeviceError
     └─ Dlt645ErrorResponse(err)
         ├─ OtherError                D0
         ├─ NoRequestedData           D1
         ├─ PasswordError             D2
         ├─ BaudRateNotChangeable     D3
         ├─ YearZoneCountExceeded     D4
         ├─ DailyPeriodCountExceeded  D5
         └─ TariffCountExceeded       D6
"""

from __future__ import annotations

from typing import ClassVar, NoReturn

from protocols.errors import Dlt645ErrorResponse

__all__ = [
    "ERROR_BITS",
    "BaudRateNotChangeable",
    "DailyPeriodCountExceeded",
    "Dlt645ErrorResponse",
    "NoRequestedData",
    "OtherError",
    "PasswordError",
    "TariffCountExceeded",
    "YearZoneCountExceeded",
    "error_class",
    "raise_error_word",
]

#: Bit index of the error word → the exception class for it.
ERROR_BITS: dict[int, type[_ErrorBit]] = {}


class _ErrorBit(Dlt645ErrorResponse):
    """A :class:`Dlt645ErrorResponse` for one bit of the error word; subclasses register themselves."""

    bit: ClassVar[int]
    meaning: ClassVar[str]

    def __init_subclass__(cls, *, bit: int, meaning: str) -> None:
        super().__init_subclass__()
        cls.bit = bit
        cls.meaning = meaning
        ERROR_BITS[bit] = cls

    def __init__(self, err: int) -> None:
        super().__init__(err, f"meter answered {self.meaning} (error word {err:02X}H)")


class OtherError(_ErrorBit, bit=0, meaning="other error (其他错误)"):
    """D0 其他错误 (1997: 非法数据)."""


class NoRequestedData(_ErrorBit, bit=1, meaning="no requested data (无请求数据)"):
    """D1 无请求数据: the meter does not have the data identifier (1997: 数据标识错)."""


class PasswordError(_ErrorBit, bit=2, meaning="password error or unauthorized (密码错/未授权)"):
    """D2 密码错/未授权."""


class BaudRateNotChangeable(_ErrorBit, bit=3, meaning="baud rate cannot be changed (通信速率不能更改)"):
    """D3 通信速率不能更改."""


class YearZoneCountExceeded(_ErrorBit, bit=4, meaning="year time-zone count exceeded (年时区数超)"):
    """D4 年时区数超."""


class DailyPeriodCountExceeded(_ErrorBit, bit=5, meaning="daily period count exceeded (日时段数超)"):
    """D5 日时段数超."""


class TariffCountExceeded(_ErrorBit, bit=6, meaning="tariff count exceeded (费率数超)"):
    """D6 费率数超."""


def error_class(err: int) -> type[Dlt645ErrorResponse]:
    """The class for an error word: that of its lowest set registered bit, else the base class (err 00H or
    only the reserved D7).

    >>> error_class(0x06).__name__
    'NoRequestedData'
    """
    for bit in sorted(ERROR_BITS):
        if err & (1 << bit):
            return ERROR_BITS[bit]
    return Dlt645ErrorResponse


def raise_error_word(err: int) -> NoReturn:
    """Raise the exception :func:`error_class` picks, keeping ``err`` as its attribute."""
    raise error_class(err)(err)
