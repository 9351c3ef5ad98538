"""A serial device server (串口服务器 / DTU in transparent TCP-server mode) in front of an emulated RS-485 bus.

The head-end connects out to it; bytes pass unchanged both ways, as on the wire — no framing, no protocol of
its own. With ``paced`` (the default) the replies come at the bus's byte-time pace, as the device server's UART
receives them; without, each reply arrives in one piece after the meter's reply delay (fast tests). The
serial side runs at the bus's configured baud rate (a device server's port is configured, not negotiated).

One client at a time, as most device servers in server mode: while one is connected, a second connection is
accepted and closed at once (counted in :attr:`SerialServer.refused`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from concentrator_sim.meters.bus import Rs485Bus
from concentrator_sim.meters.pty import LineSettings

logger = logging.getLogger(__name__)


class _ClientPort:
    """The connected head-end, attached to the bus as a port."""

    def __init__(self, writer: asyncio.StreamWriter, *, paced: bool, name: str) -> None:
        self.name = name
        self.paced = paced
        self._writer = writer

    def deliver(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def line(self) -> LineSettings | None:
        return None


class SerialServer:
    """TCP listener bridging one client to ``bus``. :attr:`port` is the bound port once :meth:`start` returns."""

    def __init__(self, bus: Rs485Bus, *, host: str = "127.0.0.1", port: int = 0, paced: bool = True) -> None:
        self.bus = bus
        self.host = host
        self.port = port
        self.paced = paced
        self.connections = 0  #: clients served
        self.refused = 0  #: connections closed because another client was connected
        self._server: asyncio.Server | None = None
        self._client: asyncio.Task[None] | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def busy(self) -> bool:
        """A client is connected."""
        return self._client is not None and not self._client.done()

    async def start(self) -> SerialServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("bus %s: serial server on %s:%d", self.bus.name, self.host, self.port)
        return self

    async def close(self) -> None:
        """Stop listening and drop the client."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._client is not None:
            self._client.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._client
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.busy:
            self.refused += 1
            writer.close()
            return
        self._client = asyncio.current_task()
        self.connections += 1
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        port = _ClientPort(writer, paced=self.paced, name=f"tcp {peer}")
        self.bus.attach(port)
        try:
            while data := await reader.read(4096):
                self.bus.receive(port, data)
        except ConnectionError:
            pass
        finally:
            self.bus.detach(port)
            self._writers.discard(writer)
            writer.close()
            self._client = None
