"""A tiny head-end for simulator tests: a real TCP server on loopback that confirms link checks with
:func:`protocols.gdw376.messages.confirm` and lets a test send requests and read what comes back. It uses only
protocols/ — the simulator and the head-end never import each other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from protocols.common.framing import Discarded
from protocols.gdw376 import messages
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import Address, Afn, Dir, LinkFrame
from protocols.gdw376.units import decode_units
from protocols.gdw376.units.afn02 import F1_LOGIN

#: generous bound for "the peer answers"; a failing test fails at this bound instead of hanging
WAIT_S = 5.0


def link_fn(frame: LinkFrame) -> int:
    """Fn of an AFN02 frame from a terminal (1 login, 2 logout, 3 heartbeat)."""
    (unit,) = decode_units(Afn.LINK_CHECK, frame.data, Dir.UP)
    return unit.fn


@dataclass
class Connection:
    """One accepted terminal connection."""

    writer: asyncio.StreamWriter
    link_checks: asyncio.Queue[LinkFrame] = field(default_factory=asyncio.Queue)  #: AFN02 frames received
    frames: asyncio.Queue[LinkFrame] = field(default_factory=asyncio.Queue)  #: everything else received
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    address: Address | None = None
    pfc: int = 0

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def request(self, items: Sequence[tuple[int, int]], *, afn: int = Afn.REQUEST_CLASS1) -> list[LinkFrame]:
        """Send a read request with the next PSEQ and collect the answer frames up to FIN."""
        assert self.address is not None, "no login on this connection yet"
        self.pfc = (self.pfc + 1) & 0xFF
        self.send(messages.read_request(self.address.with_msa(1), afn, items, self.pfc))
        return await self.answer()

    async def answer(self) -> list[LinkFrame]:
        frames = [await asyncio.wait_for(self.frames.get(), WAIT_S)]
        while not frames[-1].seq.fin:
            frames.append(await asyncio.wait_for(self.frames.get(), WAIT_S))
        return frames

    def received_link_checks(self) -> list[LinkFrame]:
        """Take every AFN02 frame received so far, in order."""
        return [self.link_checks.get_nowait() for _ in range(self.link_checks.qsize())]

    def close(self) -> None:
        self.writer.close()


class MasterStub:
    """Accepts terminals; confirms AFN02 (unless told to ignore the first ``ignore_link_checks`` of each
    connection, or ``confirm`` is False)."""

    def __init__(self, *, ignore_link_checks: int = 0, confirm: bool = True) -> None:
        self.ignore_link_checks = ignore_link_checks
        self.confirm = confirm
        self.connections: asyncio.Queue[Connection] = asyncio.Queue()
        self.all_connections: list[Connection] = []
        self.logins: asyncio.Queue[Connection] = asyncio.Queue()  #: a connection each time a login arrives
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, port: int = 0) -> MasterStub:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.all_connections:
            conn.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def next_connection(self) -> Connection:
        return await asyncio.wait_for(self.connections.get(), WAIT_S)

    async def next_login(self) -> Connection:
        return await asyncio.wait_for(self.logins.get(), WAIT_S)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection(writer)
        self.all_connections.append(conn)
        self.connections.put_nowait(conn)
        framer = Gdw376Framer()
        seen = 0
        try:
            while data := await reader.read(4096):
                for event in framer.feed(data):
                    if isinstance(event, Discarded):
                        continue
                    if event.afn != Afn.LINK_CHECK:
                        conn.frames.put_nowait(event)
                        continue
                    conn.link_checks.put_nowait(event)
                    seen += 1
                    if seen <= self.ignore_link_checks or not self.confirm:
                        continue
                    conn.address = event.address
                    conn.send(messages.confirm(event))
                    if link_fn(event) == F1_LOGIN:
                        self.logins.put_nowait(conn)
        except ConnectionError:
            pass
        finally:
            conn.closed.set()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._tasks.discard(task)
