"""Exceptions raised by :mod:`protocols` — the one root of this layer.

The tree (python-can style, with h11's local/remote split and asyncua's code registry)::

    ProtocolError(Exception)                          root for everything protocols/ raises
     ├─ RemoteProtocolError(ProtocolError, ValueError)    the wire or the device is wrong: count, keep running
     │   ├─ FrameError                                    start/end byte, length, preamble, L fields disagree
     │   │   └─ ChecksumError                              CS byte does not match the sum
     │   └─ DecodeError                                   link layer fine, data unit / APDU malformed
     │       ├─ UnknownDataItem                           DL/T 645 DI not in the catalogue
     │       └─ UnsupportedFn                             376.1 (AFN, Fn) without a registered codec
     ├─ LocalProtocolError(ProtocolError, ValueError)     we tried to build something illegal: a bug
     └─ DeviceError(ProtocolError)                        the device answered "no" (decoded, then .check())
         ├─ Dlt645ErrorResponse                            abnormal reply with an error word
         └─ Gdw376Denied                                   AFN00 F2 / F3 deny

Codecs never raise on a negative reply; they decode it into a message whose ``check()`` raises the
matching :class:`DeviceError` subclass. Every exception keeps its evidence as attributes.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of every exception raised by :mod:`protocols`."""


class RemoteProtocolError(ProtocolError, ValueError):
    """The bytes received are not valid protocol: the peer (or the line) is at fault."""

    def __init__(self, message: str, *, raw: bytes = b"", offset: int | None = None) -> None:
        super().__init__(message)
        self.raw = bytes(raw)
        self.offset = offset


class FrameError(RemoteProtocolError):
    """Framing is wrong: start/end byte, length field, duplicated L fields disagree, truncation."""


class ChecksumError(FrameError):
    """The CS byte does not equal the arithmetic sum mod 256 of the covered bytes."""

    def __init__(self, expected: int, actual: int, *, raw: bytes = b"", offset: int | None = None) -> None:
        super().__init__(
            f"checksum mismatch: computed {expected:02X}H, frame carries {actual:02X}H", raw=raw, offset=offset
        )
        self.expected = expected
        self.actual = actual


class DecodeError(RemoteProtocolError):
    """The link frame is valid but its application data cannot be decoded."""

    def __init__(self, message: str, *, raw: bytes = b"", offset: int | None = None, path: str | None = None) -> None:
        super().__init__(message if path is None else f"{path}: {message}", raw=raw, offset=offset)
        self.path = path


class UnknownDataItem(DecodeError):
    """A DL/T 645 data identifier that the catalogue does not know."""

    def __init__(self, di: int, *, raw: bytes = b"") -> None:
        super().__init__(f"unknown data identifier {di:08X}", raw=raw)
        self.di = di


class UnsupportedFn(DecodeError):
    """A Q/GDW 376.1 (AFN, Fn) with no registered data-unit codec."""

    def __init__(self, afn: int, fn: int, *, raw: bytes = b"") -> None:
        super().__init__(f"no codec for AFN{afn:02X} F{fn}", raw=raw)
        self.afn = afn
        self.fn = fn


class LocalProtocolError(ProtocolError, ValueError):
    """We were asked to build something the standard does not allow: a bug on our side."""


class DeviceError(ProtocolError):
    """The device understood the request and refused it."""


class Dlt645ErrorResponse(DeviceError):
    """DL/T 645 abnormal reply (control code D6=1) carrying an error word (DL/T 645-2007 §7.1 错误信息字)."""

    def __init__(self, err: int, message: str | None = None) -> None:
        super().__init__(message or f"meter answered with error word {err:02X}H")
        self.err = err


class Gdw376Denied(DeviceError):
    """Q/GDW 376.1 AFN00 F2 (all denied) or a non-zero error in AFN00 F3 (§5.1 确认／否认)."""

    def __init__(self, afn: int, fn: int | None = None, pn: int | None = None, code: int | None = None) -> None:
        what = f"AFN{afn:02X}" + (f" F{fn}" if fn is not None else "") + (f" p{pn}" if pn is not None else "")
        super().__init__(f"terminal denied {what}" + (f" (error {code})" if code is not None else ""))
        self.afn = afn
        self.fn = fn
        self.pn = pn
        self.code = code
