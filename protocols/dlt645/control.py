"""Control code C (控制码) of DL/T 645: direction, abnormal-reply and follow-up bits over a 5-bit function.

DL/T 645-2007 §4.2.4 (控制码 C)::

    D7  传送方向      0 master → meter (主站发出的命令帧)   1 meter → master (从站发出的应答帧)
    D6  从站应答标志  0 normal reply (正确应答)            1 abnormal reply (异常应答)
    D5  后续帧标志    0 no follow-up frame                 1 follow-up frames exist
    D4..D0 功能码

DL/T 645-1997 §4.2.3 uses the same three flag bits; its function codes differ (:class:`Function1997`).
Checked against PROTOCOLS.md Part B.3/C and the dgiot ``dlt645_decoder.erl`` comments it cites.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocols.errors import LocalProtocolError

#: D7 传送方向: set on frames sent by the meter (slave).
DIRECTION_BIT = 0x80
#: D6 从站应答标志: set on abnormal replies, whose DATA is one error word (错误信息字).
ABNORMAL_BIT = 0x40
#: D5 后续帧标志: set when the reply continues in follow-up frames (read with 12H / 02H).
FOLLOW_UP_BIT = 0x20
#: D4..D0 功能码.
FUNCTION_MASK = 0x1F


class Edition(enum.StrEnum):
    """Which edition of the standard a frame belongs to; the values are the ``protocol`` strings of
    ``headend decode --json``."""

    V2007 = "dlt645-2007"
    V1997 = "dlt645-1997"


class Function(enum.IntEnum):
    """DL/T 645-2007 §4.2.4 function codes (功能码); 1CH is the State Grid smart-meter 费控 supplement."""

    BROADCAST_TIME = 0x08  #: 广播校时
    READ = 0x11  #: 读数据
    READ_FOLLOW = 0x12  #: 读后续数据
    READ_ADDRESS = 0x13  #: 读通信地址
    WRITE = 0x14  #: 写数据
    WRITE_ADDRESS = 0x15  #: 写通信地址
    FREEZE = 0x16  #: 冻结命令
    CHANGE_BAUD = 0x17  #: 更改通信速率
    CHANGE_PASSWORD = 0x18  #: 修改密码
    CLEAR_DEMAND = 0x19  #: 最大需量清零
    CLEAR_METER = 0x1A  #: 电表清零
    CLEAR_EVENTS = 0x1B  #: 事件清零
    CONTROL = 0x1C  #: 跳合闸、报警、保电


class Function1997(enum.IntEnum):
    """DL/T 645-1997 §4.2.3 function codes (PROTOCOLS.md Part C; cnblogs chen1880 comparison)."""

    READ = 0x01  #: 读数据
    READ_FOLLOW = 0x02  #: 读后续数据
    REREAD = 0x03  #: 重读数据
    WRITE = 0x04  #: 写数据
    BROADCAST_TIME = 0x08  #: 广播校时
    WRITE_ADDRESS = 0x0A  #: 写设备地址
    CHANGE_BAUD = 0x0C  #: 更改通信速率
    CHANGE_PASSWORD = 0x0F  #: 修改密码
    CLEAR_DEMAND = 0x10  #: 最大需量清零


#: Function codes that only the 1997 edition uses. 08H (broadcast time) has the same layout in both
#: editions and counts as 2007.
_FUNCTIONS_1997 = frozenset(f.value for f in Function1997) - {Function.BROADCAST_TIME.value}
_FUNCTIONS_2007 = frozenset(f.value for f in Function)


def edition_of(control: int) -> Edition | None:
    """The edition a control code belongs to, from its function bits; ``None`` for codes of neither.

    >>> edition_of(0x91), edition_of(0x81), edition_of(0x1F)
    (<Edition.V2007: 'dlt645-2007'>, <Edition.V1997: 'dlt645-1997'>, None)
    """
    function = control & FUNCTION_MASK
    if function in _FUNCTIONS_2007:
        return Edition.V2007
    if function in _FUNCTIONS_1997:
        return Edition.V1997
    return None


@dataclass(frozen=True, slots=True)
class Control:
    """A control code split into its fields (DL/T 645-2007 §4.2.4)."""

    function: int
    is_reply: bool = False
    is_abnormal: bool = False
    has_follow_up: bool = False

    @classmethod
    def from_byte(cls, control: int) -> Control:
        """Split a C byte.

        >>> Control.from_byte(0xD1)
        Control(function=17, is_reply=True, is_abnormal=True, has_follow_up=False)
        """
        return cls(
            function=control & FUNCTION_MASK,
            is_reply=bool(control & DIRECTION_BIT),
            is_abnormal=bool(control & ABNORMAL_BIT),
            has_follow_up=bool(control & FOLLOW_UP_BIT),
        )

    def to_byte(self) -> int:
        """Compose the C byte; raises :class:`LocalProtocolError` for a function outside D4..D0.

        >>> hex(Control(Function.READ, is_reply=True, has_follow_up=True).to_byte())
        '0xb1'
        """
        return compose_control(
            self.function, reply=self.is_reply, abnormal=self.is_abnormal, follow_up=self.has_follow_up
        )


def compose_control(function: int, *, reply: bool = False, abnormal: bool = False, follow_up: bool = False) -> int:
    """Compose a C byte from a function code and the three flag bits.

    >>> hex(compose_control(Function.READ, reply=True, abnormal=True))
    '0xd1'
    """
    if not 0 <= function <= FUNCTION_MASK:
        raise LocalProtocolError(f"function code {function:#x} does not fit D4..D0")
    return (
        function
        | (DIRECTION_BIT if reply else 0)
        | (ABNORMAL_BIT if abnormal else 0)
        | (FOLLOW_UP_BIT if follow_up else 0)
    )
