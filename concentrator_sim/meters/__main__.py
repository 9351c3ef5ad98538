"""``python -m concentrator_sim.meters`` (or ``python -m concentrator_sim meters``): run simulated DL/T 645 meters.

::

    python -m concentrator_sim.meters --config config/meters.example.toml [--link-dir DIR] [--control]

When everything is up, one JSON line on stdout says where to connect (:meth:`MeterSim.describe
<concentrator_sim.meters.sim.MeterSim.describe>`): ``{"buses": {name: {"pty", "link", "baud", "tcp", "meters"}},
"modems": {name: {"pty", "link", "numbers"}}}``. With ``--control``, each JSON line read on stdin is a run-time
command (:mod:`concentrator_sim.meters.sim`) answered by one JSON line on stdout. SIGTERM or SIGINT stops cleanly
(ptys and symlinks removed, a last ``{"stopped": stats}`` line) with status 0; a configuration error exits with
status 2 and a message naming the file and key. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from concentrator_sim.meters.config import MetersConfigError, load
from concentrator_sim.meters.profiles import ProfileError
from concentrator_sim.meters.sim import MeterSim


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="concentrator-sim meters",
        description="Simulated DL/T 645 meters on RS-485 buses (ptys), behind TCP serial servers and AT modems.",
    )
    parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="TOML (config/meters.example.toml)")
    parser.add_argument("--link-dir", type=Path, metavar="DIR", help="put <DIR>/<name> symlinks to every pty")
    parser.add_argument("--control", action="store_true", help="read JSON commands on stdin, answer on stdout")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _emit(obj: object) -> None:
    print(json.dumps(obj), flush=True)


async def run(sim: MeterSim, *, control: bool) -> dict[str, object]:
    """Serve until SIGTERM/SIGINT; return the final statistics."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reader: asyncio.Task[None] | None = None
    try:
        _emit(await sim.start())
        if control:
            reader = asyncio.create_task(_commands(sim))
        await stop.wait()
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        stats = sim.stats()
        await sim.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return stats


async def _commands(sim: MeterSim) -> None:
    """JSON commands from stdin, one per line; EOF ends the control channel, not the simulator."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            try:
                command = json.loads(line)
            except json.JSONDecodeError as exc:
                _emit({"ok": False, "error": f"not JSON: {exc}"})
                continue
            if not isinstance(command, dict):
                _emit({"ok": False, "error": "a command is a JSON object"})
                continue
            _emit(await sim.control(command))
    finally:
        transport.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load(args.config)
        sim = MeterSim(config, link_dir=args.link_dir)
    except (MetersConfigError, ProfileError) as exc:
        print(f"concentrator-sim meters: {exc}", file=sys.stderr)
        return 2
    stats = asyncio.run(run(sim, control=args.control))
    _emit({"stopped": stats})
    return 0


if __name__ == "__main__":
    sys.exit(main())
