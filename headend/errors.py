"""Exceptions raised by :mod:`headend` — the one root of the IO layer.

::

    HeadendError(Exception)
     ├─ ChannelError(HeadendError, ConnectionError)     a transport failed
     │   └─ ChannelClosed                                 the connection is gone; pending requests fail with it
     ├─ ResponseTimeout(HeadendError, TimeoutError)     no answer after every retry
     ├─ SessionError(HeadendError)                      wrong state, terminal not online, refused login
     ├─ ConfigError(HeadendError, ValueError)           names the file, line and key
     └─ StorageError(HeadendError)                      spool or database (see headend.storage.errors)

Errors from :mod:`protocols` (``ProtocolError``) cross this layer unchanged when they describe the device
(``DeviceError``) and are counted, logged and survived when they describe the wire.
"""

from __future__ import annotations

from dataclasses import dataclass


class HeadendError(Exception):
    """Root of every exception raised by :mod:`headend`."""


class ChannelError(HeadendError, ConnectionError):
    """A transport failed."""


class ChannelClosed(ChannelError):
    """The connection closed; every request pending on it fails with this."""


class ResponseTimeout(HeadendError, TimeoutError):
    """The device did not answer within the response timeout, after every retry."""


class SessionError(HeadendError):
    """The session is not in a state that allows the operation (e.g. the terminal is offline)."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration file: where, which key, what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(HeadendError, ValueError):
    """The configuration is invalid. ``problems`` lists every problem found, each naming file, line and key."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
