"""systemd service notification (sd_notify(3)) without a dependency: READY, STOPPING, STATUS, WATCHDOG.

Does nothing when ``NOTIFY_SOCKET`` is not set (not under systemd). The watchdog interval comes from
``WATCHDOG_USEC``; the daemon pings only while its loop makes real progress (see ``headend.app``).
"""

from __future__ import annotations

import os
import socket


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_interval_s: float | None = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, state: str) -> bool:
        """Send one state string such as ``READY=1``; returns False when not under systemd or on error."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(state.encode(), self._address)
        except OSError:
            return False
        return True

    def ready(self) -> bool:
        return self.notify("READY=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
