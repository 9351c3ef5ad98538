"""Simulated DL/T 645 meters reached directly: on an RS-485 bus (a pty), behind a TCP serial server, behind a modem.

Run it (prints where to connect as one JSON line, see :mod:`concentrator_sim.meters.__main__`)::

    python -m concentrator_sim.meters --config config/meters.example.toml --link-dir /tmp/meters [--control]
    {"buses": {"bus1": {"pty": "/dev/pts/7", "link": "/tmp/meters/bus1", "baud": 2400,
               "tcp": {"host": "127.0.0.1", "port": 40113}, "meters": [{"address": "000000000001", …}]}},
     "modems": {"modem1": {"pty": "/dev/pts/8", "link": "/tmp/meters/modem1", "numbers": {"5550101": …}}}}

Or in-process, on the running event loop (tests)::

    from concentrator_sim.meters import BusMeter, Dlt645Meter, MeterConfig, PtyPort, Rs485Bus

    bus = Rs485Bus([BusMeter(Dlt645Meter(MeterConfig("000000000001")), reply_delay_s=0.05)], baud=2400)
    port = await PtyPort(bus, link=tmp_path / "bus1").open()   # port.path == "/dev/pts/N"
    ...  # the head-end opens port.path (or the link) at 2400 baud and reads
    port.close(); bus.close()

    async with MeterSim(config.from_mapping({...})) as sim:    # everything a config describes
        sim.describe(); sim.stats(); await sim.control({"cmd": "vanish", "bus": "bus1"})

Public API
    :class:`Dlt645Meter` (``model``) — one meter, sans-IO: ``handle(frame, now) -> list[bytes]`` answers a parsed
    :class:`~protocols.dlt645.link.Dlt645Frame` heard at true instant ``now`` (aware) with wire frames (preamble
    included); ``read(di, now, params=b"")`` gives the exact values it would send (``Decimal``/``date``/``time``/
    ``datetime``/``str``, ``None`` = filler), ``read_demand(now, period=0)``, ``advance(now)``, ``set_supply(on,
    now)`` (掉电), ``set_cover(opened, now)`` (开表盖), ``local_time(now)``, ``status_word(n)``; attributes
    ``address``, ``baud``, ``edition``, ``profile``, ``relay_closed``, ``keep_power``, ``alarm``, ``passwords``,
    ``last_timesync`` (:class:`TimeSync`), ``registers``, ``daily``/``hourly``/``settlements`` (freezes),
    ``events`` (by :class:`~concentrator_sim.meters.events.EventKind`), ``counters``. :class:`MeterConfig` —
    address, profile, seed, tz, baud (and the rates 17H may pick), clock offset/ppm, freezes kept, settlement day,
    load records kept, relay state and close delay, passwords and levels, lockout, programming key, broadcast-time
    safeguards, prepaid credit and price. The load behind meter ``A`` with seed ``S`` is
    ``concentrator_sim.model.meter_model(S, DIRECT_A1, 0, int(A))``; its forward active registers are that model's
    energy truncated to 0.01 kWh (paused while the relay is open or the supply off).

    :class:`Rs485Bus` (``bus``) — meters on one line at real 8E1 timing (11 bits per byte): ``receive(port,
    data)`` from an attached port, replies after each meter's delay at byte-time pace to every other port;
    ``meter(address)``, ``stats`` (:class:`BusStats`), ``attach``/``detach``/``close``, ``clock``. :class:`BusMeter`
    — a meter plus ``reply_delay_s`` (None: the profile's), ``fault`` (:class:`MeterFault`: silent, late, corrupt,
    wrong_address), ``fault_rate``, ``late_reply_s``, ``set_supply(on, now)``. ``utc_now`` is the default clock.

    :class:`PtyPort` (``bus``) — the bus on a pseudo-terminal: ``await open()``, ``path``, ``link``,
    ``vanish()`` / ``await reappear()`` (adapter unplugged and back), ``close()``. The meters only understand the
    baud rate the head-end set on the pty if it is their own (``Rs485Bus(check_line=False)`` to ignore). A pty
    cannot carry parity; see :mod:`concentrator_sim.meters.pty` for what that means for 8E1 clients.

    :class:`SerialServer` (``tcp_server``) — the bus behind a TCP listener, one client at a time: ``await
    start()``, ``host``, ``port``, ``paced``, ``busy``, ``connections``, ``refused``, ``await close()``.

    :class:`AtModem` (``modem``) — a Hayes modem on a pty (dialect in :mod:`concentrator_sim.meters.modem`):
    ``AtModem({"5550101": DialTarget(Result.CONNECT, bus, connect_delay_s=0.2)})``, ``await open()``, ``path``,
    ``link``, ``drop_carrier()``, ``state``, ``dialled``, ``calls``, ``close()``.

    :class:`MeterSim` (``sim``) — all of it from a :class:`MetersConfig` (``config``: ``load(path)``,
    ``from_mapping(table)``): ``await start()`` / ``async with``, ``describe()``, ``stats()``, ``await
    control(command)``; :class:`MeterProfile` (``profiles``: ``load_profile(name)``, ``profile_names()``,
    ``GENERIC_2007``, ``GENERIC_1997``) — vendor quirks learnt from ``firmware_fixtures/dlt645/<vendor>-<model>-<fw>/``
    transcripts.
"""

from concentrator_sim.meters.bus import BusMeter, BusStats, MeterFault, PtyPort, Rs485Bus, utc_now
from concentrator_sim.meters.config import MetersConfig
from concentrator_sim.meters.model import DIRECT_A1, Dlt645Meter, MeterConfig, TimeSync
from concentrator_sim.meters.modem import AtModem, DialTarget, Result
from concentrator_sim.meters.profiles import GENERIC_1997, GENERIC_2007, MeterProfile, load_profile, profile_names
from concentrator_sim.meters.sim import MeterSim
from concentrator_sim.meters.tcp_server import SerialServer

__all__ = [
    "DIRECT_A1",
    "GENERIC_1997",
    "GENERIC_2007",
    "AtModem",
    "BusMeter",
    "BusStats",
    "DialTarget",
    "Dlt645Meter",
    "MeterConfig",
    "MeterFault",
    "MeterProfile",
    "MeterSim",
    "MetersConfig",
    "PtyPort",
    "Result",
    "Rs485Bus",
    "SerialServer",
    "TimeSync",
    "load_profile",
    "profile_names",
    "utc_now",
]
