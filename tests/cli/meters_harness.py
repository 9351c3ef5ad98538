"""Run ``headend`` meter commands as real processes while scripted meters answer on a pty or loopback TCP in the
test's own event loop."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from headend.collection.meter_clock import near_midnight

#: a broken command fails here instead of hanging the suite
DEADLINE_S = 60.0
#: fast bus settings for the scripted meters (9600 baud, short reply delay)
FAST = ["--baud", "9600", "--reply-delay", "0.15", "--retries", "1", "--connect-timeout", "5"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headend", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(proc: asyncio.subprocess.Process, stdin: bytes = b"") -> Result:
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), DEADLINE_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def headend(*args: str, stdin: bytes = b"") -> Result:
    return await finish(await start(*args), stdin)


def far_from_midnight_zone() -> str:
    """A zone where it is not near midnight now (timesync refuses there, by design)."""
    for name in ("UTC", "Asia/Shanghai", "America/New_York"):
        if not near_midnight(datetime.now(ZoneInfo(name)) + timedelta(minutes=1)):
            return name
    raise AssertionError("unreachable: the zones are hours apart")
