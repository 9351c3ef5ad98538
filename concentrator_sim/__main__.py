"""``python -m concentrator_sim`` / ``concentrator-sim``: run a simulated fleet against a head-end.

Settings come from the defaults of :class:`~concentrator_sim.fleet.FleetConfig`, then ``--config FILE`` (TOML,
keys as in ``config/sim.example.toml``), then the flags. Logs go to stderr. On exit — ``--duration`` elapsed,
SIGTERM or SIGINT — every terminal logs out (AFN02 F2), one JSON line of fleet statistics is printed on stdout
and the exit status is 0. A configuration error exits with status 2 and a message naming the key.

``python -m concentrator_sim meters …`` runs the DL/T 645 meter simulator instead (:mod:`concentrator_sim.meters`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from concentrator_sim.fleet import Fleet, FleetConfig, FleetConfigError

#: flag destination → FleetConfig key, for the flags whose name differs from the key
_FLAG_KEYS = {"meters": "meters_per_concentrator", "heartbeat": "heartbeat_s"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="concentrator-sim",
        description="Simulated Q/GDW 376.1 concentrators that connect to a head-end over TCP.",
    )
    add = parser.add_argument
    add("--config", type=Path, metavar="FILE", help="TOML file (see config/sim.example.toml); flags override it")
    add("--host", help="head-end address (default 127.0.0.1)")
    add("--port", type=int, help="head-end terminal port (default 9001)")
    add("--concentrators", type=int, metavar="N", help="number of concentrators (default 10)")
    add("--meters", type=int, metavar="N", help="meters (measurement points) per concentrator (default 8)")
    add("--heartbeat", type=float, metavar="SECONDS", help="heartbeat period (default 60)")
    add("--seed", type=int, help="seed for meters, failures and jitter (default 0)")
    add("--a1", help='A1 行政区划码, 4 digits (default "4403")')
    add("--a2-start", type=int, metavar="A2", help="A2 of the first concentrator (default 1)")
    add("--version", choices=("2013", "2009"), help="protocol profile (default 2013: heartbeat with clock)")
    add("--tz", help="terminal time zone (default Asia/Shanghai)")
    add("--fail-fraction", type=float, metavar="F", help="share of meters that fail, 0..1 (default 0)")
    add("--as-of", metavar="ISO", help='start the simulated clock here, e.g. "2026-11-20T23:50:00+08:00"')
    add("--speed", type=float, metavar="X", help="simulated seconds per real second (default 1)")
    add("--history-days", type=int, metavar="N", help="days of frozen history before --as-of (default 31)")
    add("--duration", type=float, metavar="SECONDS", help="stop after this long (default: until SIGTERM)")
    add("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="stderr log level")
    return parser


def build_config(args: argparse.Namespace) -> FleetConfig:
    """Defaults < ``--config`` file < flags. Raises :class:`FleetConfigError` naming the file and key."""
    values: dict[str, Any] = {}
    if args.config is not None:
        try:
            with args.config.open("rb") as f:
                file_values = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise FleetConfigError(f"{args.config}: {exc}") from None
        FleetConfig.from_mapping(file_values, source=str(args.config))  # report file errors as the file's
        values.update(file_values)
    for dest, value in vars(args).items():
        if value is None or dest in ("config", "duration", "log_level"):
            continue
        values[_FLAG_KEYS.get(dest, dest)] = value
    return FleetConfig.from_mapping(values, source="flags")


async def run(config: FleetConfig, duration_s: float | None) -> dict[str, int]:
    """Run the fleet until ``duration_s`` elapses or SIGTERM/SIGINT; return its final statistics."""
    fleet = Fleet(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, fleet.request_stop)
    timer = loop.call_later(duration_s, fleet.request_stop) if duration_s is not None else None
    try:
        await fleet.run_forever()
    finally:
        if timer is not None:
            timer.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return fleet.stats()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["meters"]:  # python -m concentrator_sim meters …: the DL/T 645 meter simulator
        from concentrator_sim.meters.__main__ import main as meters_main

        return meters_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = build_config(args)
    except FleetConfigError as exc:
        print(f"concentrator-sim: {exc}", file=sys.stderr)
        return 2
    stats = asyncio.run(run(config, args.duration))
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
