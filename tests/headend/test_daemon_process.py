"""`headend run` as systemd runs it: a real process, a real NOTIFY_SOCKET, SIGTERM; and the HTTP endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

from headend.app import HeadendApp
from headend.config import Config, MetricsConfig, ServerConfig, StorageConfig
from protocols.gdw376.link import Address
from tests.headend.scripted_terminal import ScriptedTerminal

DEADLINE_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sd_notify_ready_watchdog_stopping_and_clean_exit(tmp_path: Path) -> None:
    sock_dir = tempfile.mkdtemp(prefix="hn", dir="/tmp")  # AF_UNIX paths must stay short
    sock_path = os.path.join(sock_dir, "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(sock_path)
    notify.setblocking(False)
    cfg = tmp_path / "h.toml"
    cfg.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {_free_port()}\n[metrics]\nenabled = false\n'
        f'[storage]\nsqlite_path = "{tmp_path / "h.sqlite3"}"\nspool_path = "{tmp_path / "s.sqlite3"}"\n'
    )
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="600000")  # ping every 0.2 s
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "headend", "run", "-c", str(cfg),
        env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    async def until(state: str) -> None:
        async with asyncio.timeout(DEADLINE_S):
            while state not in seen:
                seen.append((await loop.sock_recv(notify, 4096)).decode())

    try:
        await until("READY=1")
        await until("WATCHDOG=1")  # an idle daemon with nothing to do is alive
        proc.send_signal(signal.SIGTERM)
        await until("STOPPING=1")
        assert await asyncio.wait_for(proc.wait(), DEADLINE_S) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        notify.close()
        os.unlink(sock_path)
        os.rmdir(sock_dir)
    assert seen.index("READY=1") < seen.index("STOPPING=1")


async def _http_get(port: int, path: str) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), DEADLINE_S)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return head.splitlines()[0], body


async def test_metrics_and_health_endpoints(tmp_path: Path) -> None:
    config = Config(
        server=ServerConfig(host="127.0.0.1", port=0),
        storage=StorageConfig(sqlite_path=tmp_path / "h.sqlite3", spool_path=tmp_path / "s.sqlite3"),
        metrics=MetricsConfig(port=0),
    )
    app = HeadendApp(config)
    await app.start()
    terminal = ScriptedTerminal(Address("4403", 77))
    try:
        assert app.server is not None and app.endpoint is not None
        await terminal.connect(app.server.port)
        await terminal.login()
        status, body = await _http_get(app.endpoint.port, "/metrics")
        assert status == "HTTP/1.1 200 OK"
        assert "headend_terminals_online 1.0" in body
        assert 'headend_logins_total{result="accepted"} 1.0' in body
        assert 'headend_frames_total{direction="in",protocol="gdw376.1"} 1.0' in body
        assert "4403" not in body  # no per-terminal labels
        status, body = await _http_get(app.endpoint.port, "/healthz")
        assert status == "HTTP/1.1 200 OK"
        assert json.loads(body)["terminals_online"] == 1
        status, _ = await _http_get(app.endpoint.port, "/nope")
        assert status.startswith("HTTP/1.1 404")
    finally:
        await terminal.close()
        await app.stop()


async def test_sigterm_during_start_up_ends_in_an_orderly_exit(tmp_path: Path) -> None:
    """systemd may stop a unit that is still importing: the signal is recorded, and the daemon that then comes up
    stops at once, draining, with exit status 0 instead of dying of SIGTERM."""
    cfg = tmp_path / "h.toml"
    cfg.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {_free_port()}\n[metrics]\nenabled = false\n'
        f'[storage]\nsqlite_path = "{tmp_path / "h.sqlite3"}"\nspool_path = "{tmp_path / "s.sqlite3"}"\n'
    )
    # the signal lands deterministically between the early handler and the daemon's own imports
    script = (
        "import os, signal, sys\n"
        f"sys.argv = ['headend', 'run', '-c', {str(cfg)!r}]\n"
        "from headend.signals import install_early\n"
        "install_early()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "from headend.__main__ import main\n"
        "main()\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(proc.communicate(), DEADLINE_S)
    assert proc.returncode == 0, stderr.decode()
    assert "SIGTERM arrived during start-up" in stderr.decode()
