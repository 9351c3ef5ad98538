"""Fleet and FleetConfig: address plan, failures, connect ramp, statistics — over loopback TCP."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from concentrator_sim.fleet import Fleet, FleetConfig, FleetConfigError, choose_failures
from concentrator_sim.model import Failure, expected_indication
from protocols.gdw376.link import Afn
from protocols.gdw376.units import EnergyIndication, decode_units
from tests.concentrator_sim.master_stub import WAIT_S, MasterStub, link_fn

FAST = {
    "heartbeat_s": 0.2,
    "response_timeout_s": 0.5,
    "idle_s": 0.2,
    "backoff_base_s": 0.01,
    "backoff_cap_s": 0.05,
}


@given(
    st.integers(1, 30),
    st.integers(1, 40),
    st.floats(0.0, 1.0),
    st.integers(0, 1000),
)
def test_failures_are_an_exact_fraction_from_the_seed(
    concentrators: int, meters: int, fraction: float, seed: int
) -> None:
    config = FleetConfig(concentrators=concentrators, meters_per_concentrator=meters, fail_fraction=fraction, seed=seed)
    failing = choose_failures(config)
    assert len(failing) == round(fraction * concentrators * meters)
    assert all(1 <= a2 <= concentrators and 1 <= pn <= meters for a2, pn in failing)
    kinds = list(failing.values())
    assert abs(kinds.count(Failure.NO_VALUE) - kinds.count(Failure.DENY)) <= 1
    assert choose_failures(config) == failing


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": 70000}, "port: must be 0..65535"),
        ({"concentrators": 0}, "concentrators: must be at least 1"),
        ({"meters_per_concentrator": 3000}, "meters_per_concentrator: must be 1..2040"),
        ({"a1": "44X3"}, "a1: must be 4 decimal digits"),
        ({"a2_start": 65530, "concentrators": 10}, "a2_start: terminal addresses"),
        ({"version": "2017"}, "version: must be one of '2013', '2009'"),
        ({"fail_fraction": 1.5}, "fail_fraction: must be between 0 and 1"),
        ({"heartbeat_s": 0}, "heartbeat_s: must be positive"),
        ({"retries": 5}, "retries: must be 0..3"),
        ({"tz": "Mars/Olympus"}, "tz: is not a known time zone"),
        ({"concentrators": "ten"}, "concentrators: must be int, got 'ten'"),
        ({"concentrators": True}, "concentrators: must be int, got True"),
        ({"heart_beat": 3}, "heart_beat: unknown key"),
    ],
)
def test_config_errors_name_the_key(values: dict[str, object], message: str) -> None:
    with pytest.raises(FleetConfigError, match="^sim.toml: .*" + message.replace("(", r"\(")):
        FleetConfig.from_mapping(values, source="sim.toml")


def test_config_accepts_ints_for_floats() -> None:
    config = FleetConfig.from_mapping({"heartbeat_s": 30, "version": "2009"})
    assert config.heartbeat_s == 30.0
    assert isinstance(config.heartbeat_s, float)
    assert config.timing.heartbeat_s == 30.0


async def test_fleet_logs_in_answers_and_logs_out(master: MasterStub) -> None:
    config = FleetConfig(
        port=master.port,
        concentrators=3,
        meters_per_concentrator=4,
        a2_start=100,
        seed=4,
        fail_fraction=0.25,
        **FAST,  # type: ignore[arg-type]
    )
    fleet = Fleet(config)
    await fleet.start()
    try:
        conns = [await master.next_login() for _ in range(3)]
        async with asyncio.timeout(WAIT_S):
            await fleet.wait_logged_in()
        assert sorted(c.address.a2 for c in conns if c.address) == [100, 101, 102]
        assert fleet.stats()["logged_in"] == 3

        values = 0
        for conn in conns:
            assert conn.address is not None
            a2 = conn.address.a2
            frames = await conn.request([(pn, 129) for pn in range(1, 5)])
            units = [u for f in frames if f.afn == Afn.REQUEST_CLASS1 for u in decode_units(f.afn, f.data, f.dir)]
            expected_pns = [pn for pn in range(1, 5) if fleet.failing.get((a2, pn)) is not Failure.DENY]
            if not expected_pns:
                assert [f.afn for f in frames] == [Afn.CONFIRM_DENY]
                continue
            assert [u.pn for u in units] == expected_pns
            for unit in units:
                assert isinstance(unit.value, EnergyIndication)
                if fleet.failing.get((a2, unit.pn)) is Failure.NO_VALUE:
                    assert unit.value.total is None
                else:
                    values += 1
                    assert unit.value == expected_indication(4, "4403", a2, unit.pn, unit.value.read_time)
        stats = fleet.stats()
        assert stats["failing_meters"] == 3
        assert stats["readings_served"] == values == 12 - 3
        assert stats["no_value_served"] == 2  # 3 failing meters: 2 with EE, 1 denied
        assert stats["requests_answered"] == 3
    finally:
        await asyncio.wait_for(fleet.stop(), WAIT_S)
    for conn in conns:
        assert link_fn(conn.received_link_checks()[-1]) == 2  # logged out
    stats = fleet.stats()
    assert (stats["connected"], stats["logged_in"], stats["logins"]) == (0, 0, 3)


async def test_start_ramps_connections(master: MasterStub) -> None:
    fleet = Fleet(FleetConfig(port=master.port, concentrators=5, connect_rate=50.0, **FAST))  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    began = loop.time()
    await fleet.start()
    took = loop.time() - began
    try:
        assert took >= 4 / 50.0 * 0.9  # 5 terminals at 50/s: four gaps of 20 ms
        async with asyncio.timeout(WAIT_S):
            await fleet.wait_logged_in()
    finally:
        await asyncio.wait_for(fleet.stop(), WAIT_S)


async def test_run_forever_stops_on_request(master: MasterStub) -> None:
    fleet = Fleet(FleetConfig(port=master.port, concentrators=2, **FAST))  # type: ignore[arg-type]
    task = asyncio.create_task(fleet.run_forever())
    async with asyncio.timeout(WAIT_S):
        await fleet.wait_logged_in()
    fleet.request_stop()
    await asyncio.wait_for(task, WAIT_S)
    assert fleet.stats()["connected"] == 0
