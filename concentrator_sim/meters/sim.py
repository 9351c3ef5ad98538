"""The whole meter simulator from a :class:`~concentrator_sim.meters.config.MetersConfig`: buses on ptys, serial
servers, modems — started, described as JSON, controlled at run time, stopped.

Run-time control (:meth:`MeterSim.control`, also the runner's ``--control`` JSON lines on stdin) takes one
command object and returns a JSON-ready reply (``{"ok": true, …}`` or ``{"ok": false, "error": …}``):

===========================================================================  ==========================================
``{"cmd": "describe"}``                                                      where everything is (as printed at start)
``{"cmd": "stats"}``                                                         counters of buses, meters, servers, modems
``{"cmd": "vanish", "bus": "bus1"}`` / ``"reappear"``                        the bus's pty goes away / comes back
``{"cmd": "fault", "bus": "bus1", "meter": ADDR, "fault": "silent"}``        set a meter's fault (``"rate"`` optional)
``{"cmd": "supply", "bus": "bus1", "meter": ADDR, "on": false}``             power a meter down / up (掉电 event)
``{"cmd": "cover", "bus": "bus1", "meter": ADDR, "open": true}``             open / close the cover (开表盖 event)
``{"cmd": "drop_carrier", "modem": "modem1"}``                               the modem's call drops (NO CARRIER)
===========================================================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from concentrator_sim.meters.bus import BusMeter, MeterFault, PtyPort, Rs485Bus, utc_now
from concentrator_sim.meters.config import BusSettings, MetersConfig, MeterSettings
from concentrator_sim.meters.model import DEFAULT_PASSWORDS, Dlt645Meter, MeterConfig
from concentrator_sim.meters.modem import AtModem, DialTarget, Result
from concentrator_sim.meters.profiles import FIXTURES, GENERIC, load_profile
from concentrator_sim.meters.tcp_server import SerialServer
from protocols.dlt645.control import Edition

_EDITIONS = {"2007": Edition.V2007, "1997": Edition.V1997}


class ControlError(ValueError):
    """A run-time command could not be carried out."""


def build_meter(settings: MeterSettings, bus: BusSettings, config: MetersConfig, fixtures: Path) -> BusMeter:
    """A meter on a bus from its settings: profile, then the meter's own overrides."""
    edition = _EDITIONS[settings.edition] if settings.edition else None
    profile = load_profile(settings.profile, fixtures) if settings.profile else GENERIC[edition or Edition.V2007]
    profile = dataclasses.replace(
        profile,
        edition=edition or profile.edition,
        phases=settings.phases or profile.phases,
        preamble=profile.preamble if settings.preamble is None else settings.preamble,
        reply_delay_s=profile.reply_delay_s if settings.reply_delay_s is None else settings.reply_delay_s,
    )
    seed = config.seed if settings.seed is None else settings.seed
    passwords = settings.passwords
    meter = Dlt645Meter(
        MeterConfig(
            settings.address,
            profile=profile,
            seed=seed,
            tz=ZoneInfo(config.tz),
            baud=settings.baud or bus.baud,
            clock_offset=timedelta(seconds=settings.clock_offset_s),
            clock_ppm=settings.clock_ppm,
            relay_closed=settings.relay_closed,
            close_delay=timedelta(seconds=settings.close_delay_s),
            settlement_day=settings.settlement_day,
            passwords=DEFAULT_PASSWORDS if passwords is None else {int(k): v for k, v in passwords.items()},
        )
    )
    return BusMeter(
        meter,
        fault=MeterFault(settings.fault),
        fault_rate=settings.fault_rate,
        late_reply_s=settings.late_reply_s,
        rng=random.Random(f"faults/{seed}/{settings.address}"),
    )


class MeterSim:
    """Everything in a config, on the running event loop. ``await start()`` returns :meth:`describe`."""

    def __init__(
        self,
        config: MetersConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        link_dir: Path | None = None,
    ) -> None:
        self.config = config
        fixtures = Path(config.fixtures) if config.fixtures else FIXTURES
        link_root = link_dir or (Path(config.link_dir) if config.link_dir else None)
        self.buses: dict[str, Rs485Bus] = {}
        self.ptys: dict[str, PtyPort] = {}
        self.servers: dict[str, SerialServer] = {}
        self.modems: dict[str, AtModem] = {}
        for settings in config.bus:
            meters = [build_meter(m, settings, config, fixtures) for m in settings.meter]
            bus = Rs485Bus(meters, name=settings.name, baud=settings.baud, check_line=settings.check_line, clock=clock)
            self.buses[settings.name] = bus
            if settings.pty:
                link = _link(settings.link, settings.name, link_root)
                self.ptys[settings.name] = PtyPort(bus, link=link, name=f"{settings.name} pty")
            if settings.tcp is not None:
                tcp = settings.tcp
                self.servers[settings.name] = SerialServer(bus, host=tcp.host, port=tcp.port, paced=tcp.paced)
        for modem in config.modem:
            numbers = {
                n.number: DialTarget(
                    Result(n.answer),
                    self.buses.get(n.bus),
                    connect_delay_s=n.connect_delay_s,
                    connect_baud=n.connect_baud,
                    drop_after_bytes=n.drop_after_bytes,
                )
                for n in modem.number
            }
            link = _link(modem.link, modem.name, link_root)
            self.modems[modem.name] = AtModem(numbers, name=modem.name, link=link, baud=modem.baud)

    async def start(self) -> dict[str, Any]:
        for pty in self.ptys.values():
            await pty.open()
        for server in self.servers.values():
            await server.start()
        for modem in self.modems.values():
            await modem.open()
        return self.describe()

    async def close(self) -> None:
        for modem in self.modems.values():
            modem.close()
        for server in self.servers.values():
            await server.close()
        for pty in self.ptys.values():
            pty.close()
        for bus in self.buses.values():
            bus.close()

    async def __aenter__(self) -> MeterSim:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def describe(self) -> dict[str, Any]:
        """Where to connect: ptys, symlinks, TCP ports, modems, and the meters on each bus."""
        buses: dict[str, Any] = {}
        for name, bus in self.buses.items():
            pty, server = self.ptys.get(name), self.servers.get(name)
            buses[name] = {
                "pty": pty.path if pty else None,
                "link": str(pty.link) if pty and pty.link else None,
                "baud": bus.baud,
                "tcp": {"host": server.host, "port": server.port} if server else None,
                "meters": [
                    {
                        "address": m.meter.address,
                        "edition": m.meter.edition.value,
                        "baud": m.meter.baud,
                        "profile": m.meter.profile.name,
                        "fault": m.fault.value,
                    }
                    for m in bus.meters
                ],
            }
        modems = {
            name: {
                "pty": modem.path,
                "link": str(modem.link) if modem.link else None,
                "numbers": {
                    number: {"answer": target.answer.value, "bus": target.bus.name if target.bus else None}
                    for number, target in modem.numbers.items()
                },
            }
            for name, modem in self.modems.items()
        }
        return {"buses": buses, "modems": modems}

    def stats(self) -> dict[str, Any]:
        """Counters: per bus (and its meters), serial server and modem."""
        buses = {
            name: {
                **dataclasses.asdict(bus.stats),
                "meters": {m.meter.address: dataclasses.asdict(m.meter.counters) for m in bus.meters},
            }
            for name, bus in self.buses.items()
        }
        for name, pty in self.ptys.items():
            buses[name]["dropped"] = pty.pty.dropped
        servers = {name: {"connections": s.connections, "refused": s.refused} for name, s in self.servers.items()}
        modems = {
            name: {"state": m.state.value, "calls": m.calls, "dialled": list(m.dialled)}
            for name, m in self.modems.items()
        }
        return {"buses": buses, "servers": servers, "modems": modems}

    async def control(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Carry out one run-time command (see the module docstring)."""
        try:
            return {"ok": True, **await self._control(command)}
        except (ControlError, KeyError, ValueError, TypeError) as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def _control(self, command: Mapping[str, Any]) -> dict[str, Any]:
        cmd = command.get("cmd")
        if cmd == "describe":
            return self.describe()
        if cmd == "stats":
            return self.stats()
        if cmd in ("vanish", "reappear"):
            pty = self.ptys.get(command["bus"])
            if pty is None:
                raise ControlError(f"bus {command['bus']!r} has no pty")
            if cmd == "vanish":
                pty.vanish()
            else:
                await pty.reappear()
            return {"pty": pty.path}
        if cmd in ("fault", "supply", "cover"):
            bus = self.buses[command["bus"]]
            bus_meter = bus.meter(command["meter"])
            if cmd == "fault":
                bus_meter.fault = MeterFault(command["fault"])
                bus_meter.fault_rate = float(command.get("rate", 1.0))
            elif cmd == "supply":
                bus_meter.set_supply(bool(command["on"]), bus.clock())
            else:
                bus_meter.meter.set_cover(bool(command["open"]), bus.clock())
            return {}
        if cmd == "drop_carrier":
            self.modems[command["modem"]].drop_carrier()
            return {}
        raise ControlError(f"unknown command {cmd!r}")


def _link(configured: str, name: str, root: Path | None) -> Path | None:
    if configured:
        return Path(configured)
    return root / name if root is not None else None
