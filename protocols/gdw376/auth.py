"""消息认证码 PW (Q/GDW 376.1-2009 §4.3.4.6.1; 1376.1-2013 §4.3.4.6.1): who produces the 16 bytes of PW.

PW is present in downlink frames of AFN 01 复位, 04 设置参数, 05 控制命令, 06 身份认证, 0F 文件传输, 10 数据转发
(:func:`protocols.gdw376.link.has_pw`). The standard leaves the algorithm to the 消息认证方案 the terminal is set to
(AFN04 F5 终端上行通信消息认证参数设置: scheme number + parameter; scheme 0 = no authentication), and terminals with
an ESAM security chip (1376.1-2013 安全认证) check a MAC computed by the master's security module (密码机). With
security off every deployment we know of sends 16 zero bytes.

So PW comes from a pluggable :class:`Authenticator`:

- :class:`ZeroAuthenticator` (the default, :data:`ZERO`): 16 zero bytes.
- A hardware security module: implement :meth:`Authenticator.pw` by sending the fields it needs to the HSM and
  returning its 16-byte answer. It gets a :class:`PwInput` with every field of the frame except PW itself and
  CS: C, A (5 bytes as on the wire), AFN, SEQ, the data units (DA DT data…) and the Tp bytes (empty without
  Tp). :attr:`PwInput.user_data` is the user-data area up to PW (C … data units) — what a MAC over "the frame
  without PW" covers. The call is synchronous (protocols/ is sans-IO): an HSM reached over the network is asked
  by the head-end first and its answer passed in as a fixed-PW authenticator, or the builder is called in a
  worker thread.

:func:`protocols.gdw376.link.build_frame` (``authenticator=``) and the builders in
:mod:`protocols.gdw376.messages` call it whenever PW is required and none is given explicitly.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from protocols.errors import LocalProtocolError

PW_LEN = 16


@dataclass(frozen=True, slots=True)
class PwInput:
    """The fields of a downlink frame a PW is computed over (everything but PW and CS), as wire bytes."""

    control: int  #: 控制域 C
    address: bytes  #: 地址域 A, 5 bytes (A1 A1 A2 A2 A3)
    afn: int  #: 应用层功能码 AFN
    seq: int  #: 帧序列域 SEQ
    data: bytes  #: 数据单元标识 + 数据单元 (DA DT data…)
    tp: bytes = b""  #: 时间标签 Tp (6 bytes, empty without TpV)

    @property
    def user_data(self) -> bytes:
        """C A AFN SEQ data units: the user-data area (用户数据区) before PW."""
        return bytes((self.control,)) + self.address + bytes((self.afn, self.seq)) + self.data


class Authenticator(Protocol):
    """Produces the PW of one downlink frame. Implementations must return exactly 16 bytes."""

    def pw(self, message: PwInput) -> bytes: ...


class ZeroAuthenticator:
    """Security off (消息认证方案 0): PW is 16 zero bytes."""

    def pw(self, message: PwInput) -> bytes:
        return bytes(PW_LEN)


@dataclass(frozen=True, slots=True)
class FixedAuthenticator:
    """A PW obtained beforehand (e.g. from an HSM reached asynchronously), used as it is."""

    value: bytes

    def pw(self, message: PwInput) -> bytes:
        return self.value


ZERO = ZeroAuthenticator()


def make_pw(authenticator: Authenticator, message: PwInput) -> bytes:
    """Ask ``authenticator`` for the PW of ``message``; :class:`LocalProtocolError` unless it gives 16 bytes."""
    pw = bytes(authenticator.pw(message))
    if len(pw) != PW_LEN:
        raise LocalProtocolError(f"authenticator {authenticator!r} gave a PW of {len(pw)} bytes, not {PW_LEN}")
    return pw


def verify_pw(authenticator: Authenticator, message: PwInput, pw: bytes) -> bool:
    """A receiver's check (the simulated terminal's): does ``pw`` equal what ``authenticator`` computes?
    Compared in constant time."""
    return hmac.compare_digest(make_pw(authenticator, message), bytes(pw))
