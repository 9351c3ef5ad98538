"""A scripted Q/GDW 376.1 terminal for session tests: a real TCP client on loopback whose every frame the test
decides. It uses only protocols/ (the simulator is tested separately and used by the end-to-end tests)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from protocols.common.framing import Discarded
from protocols.gdw376 import messages
from protocols.gdw376.framer import Gdw376Framer
from protocols.gdw376.link import Address, LinkFrame

#: generous bound for "the head-end answers"; a failing test fails at this bound instead of hanging
ANSWER_TIMEOUT_S = 5.0


class ScriptedTerminal:
    def __init__(self, address: Address) -> None:
        self.address = address
        self.framer = Gdw376Framer()
        self.frames: asyncio.Queue[LinkFrame] = asyncio.Queue()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.pseq = 0

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.reader is not None
        try:
            while data := await self.reader.read(4096):
                for event in self.framer.feed(data):
                    if not isinstance(event, Discarded):
                        self.frames.put_nowait(event)
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    def send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def next_frame(self, timeout: float = ANSWER_TIMEOUT_S) -> LinkFrame:
        return await asyncio.wait_for(self.frames.get(), timeout)

    def link_check(self, fn: int, clock: datetime | None = None) -> int:
        self.pseq = (self.pseq + 1) & 0x0F
        self.send(messages.link_check(self.address, fn, self.pseq, clock=clock))
        return self.pseq

    async def login(self) -> LinkFrame:
        pseq = self.link_check(1)
        answer = await self.next_frame()
        assert answer.seq.seq == pseq
        return answer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except ConnectionError:
                pass
        if self._task is not None:
            await asyncio.wait_for(self._task, ANSWER_TIMEOUT_S)
