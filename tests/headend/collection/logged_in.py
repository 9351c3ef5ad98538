"""Helpers of the 6c tests: a scripted terminal logged in to the test listener, and a responder task that runs
for the length of a block."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from headend.sessions.gdw376_station import TerminalSession
from protocols.gdw376.link import Address
from tests.headend.scripted_terminal import ScriptedTerminal
from tests.headend.test_terminal_server import Harness


@asynccontextmanager
async def logged_in(harness: Harness, address: Address) -> AsyncIterator[tuple[ScriptedTerminal, TerminalSession]]:
    """A scripted terminal connected and logged in, with its head-end session; closed at the end."""
    terminal = ScriptedTerminal(address)
    await terminal.connect(harness.server.port)
    try:
        await terminal.login()
        yield terminal, await harness.online(address)
    finally:
        await terminal.close()


@asynccontextmanager
async def serving(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``work`` (a scripted device's answer loop) in a task for the block; cancelled at its end."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
