"""``headend read`` against scripted meters on a real pty, a serial device server on loopback TCP, and a modem."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from protocols.dlt645.control import Edition
from tests.cli.meters_harness import FAST, headend
from tests.headend.direct.scripted_bus import ScriptedBus, ScriptedMeter, ScriptedModem, ScriptedServer

BLOCK, TOTAL = 0x0001FF00, 0x00010000
A, B = "000000000161", "000000000162"


def energy(address: str, *values: str, **kwargs: object) -> ScriptedMeter:
    registers = {BLOCK: [Decimal(v) for v in values], TOTAL: [Decimal(values[0])]}
    return ScriptedMeter(address, registers, **kwargs)  # type: ignore[arg-type]


async def test_read_json_over_a_serial_port(tmp_path: Path) -> None:
    async with ScriptedBus(tmp_path, [energy(A, "12.34", "10.00", "2.34"), energy(B, "1.00")]) as bus:
        result = await headend("read", "--port", bus.path, *FAST, "--meter", A, "--di", "energy", "--json")
    assert result.code == 0, result.stderr
    [report] = result.json_lines()
    assert report["meter"] == A and report["di"] == "0001FF00" and report["protocol"] == "dlt645-2007"
    assert [v["value"] for v in report["values"]] == ["12.34", "10.00", "2.34"]
    assert {v["unit"] for v in report["values"]} == {"kWh"}


async def test_read_text_several_dis_and_meters(tmp_path: Path) -> None:
    async with ScriptedBus(tmp_path, [energy(A, "5.00", "5.00"), energy(B, "7.25", "7.25")]) as bus:
        result = await headend(
            "read", "--port", bus.path, *FAST, "--meter", A, "--meter", B, "--di", "energy-total", "--di", "0001FF00"
        )
    assert result.code == 0, result.stderr
    assert f"{A} dlt645-2007 DI 00010000 ENERGY_FORWARD_ACTIVE_TOTAL" in result.stdout
    assert f"{B} dlt645-2007 DI 0001FF00" in result.stdout
    assert "7.25 kWh" in result.stdout


async def test_read_without_meter_asks_the_only_meter_its_address(tmp_path: Path) -> None:
    async with ScriptedBus(tmp_path, [energy(B, "3.00")]) as bus:
        result = await headend("read", "--port", bus.path, *FAST, "--di", "energy-total", "--json")
    assert result.code == 0, result.stderr
    assert result.json_lines()[0]["meter"] == B


async def test_read_a_1997_meter_by_name(tmp_path: Path) -> None:
    old = ScriptedMeter(A, {0x901F: [Decimal("9.00"), Decimal("9.00")]}, edition=Edition.V1997)
    async with ScriptedBus(tmp_path, [old]) as bus:
        result = await headend("read", "--port", bus.path, *FAST, "--meter", A, "--json")
    assert result.code == 0, result.stderr
    [report] = result.json_lines()
    assert (report["protocol"], report["di"]) == ("dlt645-1997", "901F")


async def test_read_dead_meter_and_refusal_exit_1(tmp_path: Path) -> None:
    refusing = energy(B, "1.00", errors={TOTAL: 0x02})
    async with ScriptedBus(tmp_path, [ScriptedMeter(A, silent=True), refusing]) as bus:
        result = await headend(
            "read", "--port", bus.path, *FAST, "--edition", "2007", "--meter", A, "--meter", B, "--di", "energy-total"
        )
    assert result.code == 1
    assert f"{A} 10000: ResponseTimeout" in result.stdout
    assert f"{B} 10000: NoRequestedData" in result.stdout


async def test_read_over_tcp_and_by_modem(tmp_path: Path) -> None:
    async with ScriptedServer([energy(A, "8.80", "8.80")]) as server:
        result = await headend("read", "--tcp", f"127.0.0.1:{server.port}", *FAST, "--meter", A, "--json")
    assert result.code == 0, result.stderr
    assert result.json_lines()[0]["values"][0]["value"] == "8.80"
    async with ScriptedModem(tmp_path, [energy(A, "6.60", "6.60")]) as modem:
        result = await headend("read", "--dial", "5551234", "--port", modem.path, *FAST, "--meter", A, "--json")
    assert result.code == 0, result.stderr
    assert result.json_lines()[0]["values"][0]["value"] == "6.60"
    assert modem.commands[-2:] == ["ATD5551234", "ATH"]


async def test_unreachable_bus_and_bad_options_exit_2(tmp_path: Path) -> None:
    missing = await headend("read", "--port", str(tmp_path / "nope"), "--connect-timeout", "0.5", "--meter", A)
    assert missing.code == 2
    assert "cannot reach the bus" in missing.stderr
    both = await headend("read", "--port", "x", "--tcp", "h:1", "--meter", A)
    assert both.code == 2
    bad_di = await headend("read", "--port", "x", "--meter", A, "--di", "bogus")
    assert bad_di.code == 2 and "--di" in bad_di.stderr
