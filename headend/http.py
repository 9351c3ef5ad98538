"""A minimal asyncio HTTP endpoint for ``/metrics`` (Prometheus text format) and ``/healthz``.

Served on the event loop instead of prometheus_client's thread server, so shutdown is clean and nothing else
runs in threads. Bound to 127.0.0.1 by default (config ``[metrics]``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from headend.metrics import Metrics

_LOGGER = logging.getLogger(__name__)
#: a scraper that sends nothing for this long is dropped
REQUEST_TIMEOUT_S = 10.0


class MetricsEndpoint:
    def __init__(self, metrics: Metrics, host: str, port: int, *, health: Callable[[], dict[str, object]]):
        self._metrics = metrics
        self._host = host
        self._port = port
        self._health = health
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        _LOGGER.info("metrics on http://%s:%d/metrics", self._host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                request_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if parts[:1] != ["GET"]:
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path.split("?")[0] == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._metrics.registry)
            elif path == "/healthz":
                health = self._health()
                ok = bool(health.get("ok"))
                status = "200 OK" if ok else "503 Service Unavailable"
                ctype = "application/json"

                body = (json.dumps(health, default=str) + "\n").encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /metrics or /healthz\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
