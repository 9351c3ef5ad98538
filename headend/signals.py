"""Stop signals that arrive while the daemon is still importing and starting.

systemd (``systemctl stop`` during a slow start) or a supervisor may send SIGTERM before the event loop
exists. With Python's default disposition that kills the process (exit status -15, "failed" in systemd) with
no chance to close the spool cleanly. :func:`install_early` runs first thing in the entry point and only
*records* the signal; the daemon's loop-level handler (:func:`headend.app._install_signal_trigger`) takes
over once the loop runs and consults :func:`take_pending`, so an early stop becomes an orderly one.
"""

from __future__ import annotations

import signal
from types import FrameType

#: the signals that ask the daemon to stop (and drain)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_pending: list[int] = []


def _record(signum: int, frame: FrameType | None) -> None:
    del frame
    _pending.append(signum)


def install_early() -> None:
    """Record SIGTERM/SIGINT instead of dying on them, until the event loop's handlers replace these."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _record)


def take_pending() -> int | None:
    """The first stop signal recorded before the loop took over (and forget them), or None."""
    first = _pending[0] if _pending else None
    _pending.clear()
    return first


def restore_default() -> None:
    """Give the stop signals their default disposition back (for commands other than ``run``)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
