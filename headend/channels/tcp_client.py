"""A serial device server (串口服务器 / DTU in transparent mode) as a DL/T 645 bus: the head-end connects out over
TCP and the server puts the bytes on its RS-485 port. Reconnects with backoff
(:class:`~headend.channels.serial_bus.BusChannel`). The network adds delay and splits frames anywhere:
``latency_s`` (default 0.3 s) is added to every bus timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

from headend.channels.serial_bus import BusChannel, BusProtocol
from headend.config import TcpChannelConfig
from headend.metrics import Metrics


class TcpClientChannel(BusChannel):
    """``[[direct.tcp]]``: a bus master behind a serial device server."""

    kind = "tcp"

    def __init__(self, config: TcpChannelConfig, *, metrics: Metrics | None = None, **kwargs: Any) -> None:
        super().__init__(
            config,
            name=config.name or f"{config.host}:{config.port}",
            metrics=metrics,
            reconnect_base_s=config.reconnect_base_s,
            reconnect_cap_s=config.reconnect_cap_s,
            **kwargs,
        )
        self.host = config.host
        self.port = config.port
        self.connect_timeout_s = config.connect_timeout_s

    async def _open(self) -> BusProtocol:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout_s):
            _, protocol = await loop.create_connection(self._protocol_factory, self.host, self.port)
        return protocol
