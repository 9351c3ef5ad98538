"""Logging setup and the per-channel/session prefix (STYLE.md §3.5: TRACE=5 for raw bytes, DEBUG decoded frames,
INFO state changes, WARNING device/frame errors, ERROR our own faults)."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

TRACE = 5
logging.addLevelName(TRACE, "TRACE")


class Prefixed(logging.LoggerAdapter[logging.Logger]):
    """Prefix every message with the identity of what it is about, e.g. ``term 4403:00012: …``."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        super().__init__(logger, {"log_name": name})

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        assert self.extra is not None
        return f"{self.extra['log_name']}: {msg}", kwargs


def setup_logging(level: str) -> None:
    numeric = TRACE if level == "TRACE" else getattr(logging, level)
    handler = logging.StreamHandler(sys.stderr)
    # under systemd the journal adds its own timestamps; the format stays short and grep-friendly
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
