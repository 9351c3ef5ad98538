"""``headend scan``, ``sniff`` and ``timesync`` as real processes against scripted meters on a pty."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from headend.collection.meter_clock import near_midnight
from protocols.dlt645.apdu import build_read, build_read_reply
from tests.cli.meters_harness import DEADLINE_S, FAST, far_from_midnight_zone, finish, headend, start
from tests.headend.direct.scripted_bus import ScriptedBus, ScriptedMeter

TOTAL = 0x00010000


def meter(address: str, **kwargs: object) -> ScriptedMeter:
    return ScriptedMeter(address, {TOTAL: [Decimal("1.00")]}, **kwargs)  # type: ignore[arg-type]


async def test_scan_finds_meters_including_two_that_collide(tmp_path: Path) -> None:
    # 000000000101 and 000000000201 both answer AAAAAAAAAA01: the sweep narrows down to the next byte
    addresses = ["000000000101", "000000000201", "000000000305"]
    async with ScriptedBus(tmp_path, [meter(a) for a in addresses]) as bus:
        result = await headend("scan", "--port", bus.path, *FAST, "--edition", "2007", "--low-bytes", "00-06", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == addresses


async def test_scan_one_meter_with_13h_only(tmp_path: Path) -> None:
    async with ScriptedBus(tmp_path, [meter("000000000042")]) as bus:
        result = await headend("scan", "--port", bus.path, *FAST, "--no-sweep")
    assert result.code == 0, result.stderr
    assert "1 meter(s) found" in result.stdout and "000000000042" in result.stdout


async def test_scan_empty_bus_exit_1(tmp_path: Path) -> None:
    async with ScriptedBus(tmp_path, []) as bus:
        result = await headend("scan", "--port", bus.path, *FAST, "--no-sweep", "--json")
    assert result.code == 1
    assert result.stdout.strip() == "[]"


async def test_sniff_decodes_traffic_it_only_listens_to(tmp_path: Path) -> None:
    request = build_read("000000000161", TOTAL)
    reply = build_read_reply("000000000161", TOTAL, [Decimal("12.34")], preamble=2)
    async with ScriptedBus(tmp_path, []) as bus:
        proc = await start("sniff", "--port", bus.path, "--baud", "9600", "--count", "2", "--json")
        try:
            # keep the line busy until the sniffer has seen two frames (it may open the port after the first writes)
            async with asyncio.timeout(DEADLINE_S):
                while proc.returncode is None:
                    bus.write(request)
                    bus.write(reply)
                    try:
                        await asyncio.wait_for(proc.wait(), 0.2)
                    except TimeoutError:
                        pass
        finally:
            result = await finish(proc)
    assert result.code == 0, result.stderr
    first, second = result.json_lines()[:2]
    assert bus.received == []  # nothing was sent by the sniffer (the bus saw no frame of its own)
    assert {first["direction"], second["direction"]} == {"request", "reply"}
    got = first if first["direction"] == "reply" else second
    assert got["values"][0]["value"] == "12.34" and got["di"] == "00010000"


def test_midnight_guard() -> None:
    assert near_midnight(datetime(2024, 1, 1, 23, 55, 1))
    assert near_midnight(datetime(2024, 1, 1, 0, 0))
    assert not near_midnight(datetime(2024, 1, 1, 23, 54, 59))
    assert not near_midnight(datetime(2024, 1, 1, 0, 5))


async def test_timesync_corrects_drift_and_reports_before_and_after(tmp_path: Path) -> None:
    zone_name = far_from_midnight_zone()
    zone = ZoneInfo(zone_name)
    drifting = [
        meter("000000000001", clock_offset=timedelta(seconds=-40), clock_zone=zone),
        meter("000000000002", clock_offset=timedelta(seconds=75), clock_zone=zone),
    ]
    async with ScriptedBus(tmp_path, drifting) as bus:
        result = await headend(
            "timesync", "--port", bus.path, *FAST, "--tz", zone_name,
            "--meter", "000000000001", "--meter", "000000000002", "--yes", "--json",
        )  # fmt: skip
    assert result.code == 0, result.stderr
    report = result.json_lines()[-1]
    assert report["synced"] is True
    before = {m["meter"]: m["drift_before_s"] for m in report["meters"]}
    after = {m["meter"]: m["drift_after_s"] for m in report["meters"]}
    assert abs(before["000000000001"] + 40) <= 2 and abs(before["000000000002"] - 75) <= 2
    assert all(abs(drift) <= 2 for drift in after.values())
    assert all(len(m.broadcasts) == 1 for m in drifting)
    assert bus.received[-1].address == "000000000002"  # the last read after the broadcast


async def test_timesync_refuses_a_correction_beyond_the_bound(tmp_path: Path) -> None:
    zone_name = far_from_midnight_zone()
    far_off = meter("000000000001", clock_offset=timedelta(minutes=20), clock_zone=ZoneInfo(zone_name))
    async with ScriptedBus(tmp_path, [far_off]) as bus:
        result = await headend(
            "timesync", "--port", bus.path, *FAST, "--tz", zone_name, "--meter", "000000000001", "--yes", "--json"
        )
    assert result.code == 1
    report = result.json_lines()[-1]
    assert report["synced"] is False and "max-correction" in report["refused"]
    assert far_off.broadcasts == []


async def test_timesync_asks_before_broadcasting(tmp_path: Path) -> None:
    zone_name = far_from_midnight_zone()
    off = meter("000000000001", clock_offset=timedelta(seconds=30), clock_zone=ZoneInfo(zone_name))
    async with ScriptedBus(tmp_path, [off]) as bus:
        result = await headend(
            "timesync", "--port", bus.path, *FAST, "--tz", zone_name, "--meter", "000000000001", stdin=b"n\n"
        )
    assert result.code == 1
    assert "Broadcast the time" in result.stderr
    assert off.broadcasts == []
