"""Daily frozen data, backfill and load profiles of direct meters (headend/collection/meter_frozen.py): simulated
DL/T 645 meters (concentrator_sim.meters, which keep daily freezes and load records) behind a serial device server
on loopback TCP, the head-end's channel and poll plan as the daemon builds them (DirectMeters), a real SQLite store
(readings written straight to it), and an injectable head-end clock that is also the meters' true time.

Expected values come from the simulated meter's own records (its freeze list and energy register history), not
from the code under test."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from concentrator_sim.meters.model import Dlt645Meter
from headend.app import HeadendApp
from headend.channels.direct import DirectMeters
from headend.collection.archive import Archive
from headend.collection.meter_frozen import FrozenRun, MeterFrozenPlan, check_frozen_dis, curve_readings, nth
from headend.collection.success import FailureLog, SuccessRate
from headend.config import (
    Config,
    DirectConfig,
    DirectMeterConfig,
    MetricsConfig,
    ServerConfig,
    StorageConfig,
    TcpChannelConfig,
)
from headend.config_collection import BackfillConfig
from headend.errors import ConfigError
from headend.metrics import Metrics
from headend.readings import Reading
from headend.sessions.dlt645_master import MeterRead
from headend.storage.collection import CollectionQueries
from headend.storage.sqlite_store import SqliteStore
from protocols.dlt645.apdu import Value
from protocols.dlt645.control import Edition
from tests.headend.direct.helpers import DEADLINE_S, eventually
from tests.headend.direct.scripted_bus import ScriptedMeter, ScriptedModem
from tests.headend.direct.test_meter_clock import OLD, SILENT, ShiftedClock, sim_bus
from tests.headend.direct.test_modem import modem_config
from tests.headend.storage.helpers import TZ

A, B = "000000000001", "000000000002"
MAY2 = date(2024, 5, 2)
NO_BACKFILL = BackfillConfig(enabled=False)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


@dataclass
class Rig:
    clock: ShiftedClock
    bus: Any
    direct: DirectMeters
    metrics: Metrics
    store: SqliteStore

    @property
    def plan(self) -> MeterFrozenPlan:
        return self.direct.frozen_plans[0]

    def meter(self, address: str) -> Dlt645Meter:
        meter: Dlt645Meter = self.bus.meter(address).meter
        return meter

    def last(self) -> FrozenRun | None:
        """The plan's last run (a call: mypy would keep an attribute narrowed across rounds)."""
        return self.plan.last

    async def round(self) -> None:
        await self.direct.plans[0].poll_round()

    def frozen(self, register: str = "daily.energy.active.forward") -> dict[tuple[str, datetime], dict[int, Any]]:
        """(meter, ts) → {tariff: (value, quality)} of the frozen rows of ``register``."""
        out: dict[tuple[str, datetime], dict[int, Any]] = {}
        with sqlite3.connect(self.store.path) as db:
            rows = db.execute(
                "SELECT meter, ts, tariff, value, quality FROM frozen_readings WHERE register = ?", (register,)
            )
            for meter, ts, tariff, value, quality in rows:
                out.setdefault((meter, datetime.fromisoformat(ts)), {})[tariff] = (Decimal(value), quality)
        return out

    def curve(self, register: str) -> dict[tuple[str, datetime], Decimal]:
        with sqlite3.connect(self.store.path) as db:
            rows = db.execute("SELECT meter, ts, value FROM readings WHERE register = ?", (register,))
            return {(m, datetime.fromisoformat(ts)): Decimal(v) for m, ts, v in rows}

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def freeze_values(self, address: str, n: int) -> tuple[datetime, dict[int, Decimal]]:
        """The simulated meter's n-th previous daily freeze (1 = last): its time and forward active energy,
        total + tariffs, taken from its own register history."""
        meter = self.meter(address)
        meter.advance(self.clock())
        record = meter.daily[n - 1]
        values = meter.registers.snapshot(record.instant).values(0x01)
        return record.at.replace(tzinfo=TZ), dict(enumerate(values))


@asynccontextmanager
async def rig(
    tmp_path: Path,
    start: datetime,
    offsets: dict[str, float],
    *,
    backfill: BackfillConfig = NO_BACKFILL,
    failures: FailureLog | None = None,
    **channel: Any,
) -> AsyncIterator[Rig]:
    clock = ShiftedClock(start)
    store = SqliteStore(tmp_path / "store.sqlite3", tz=TZ)
    await store.open()
    await store.migrate()
    metrics = Metrics()
    settings: dict[str, Any] = {"daily_frozen": True, "daily_spread_s": 0, "interval_s": 3600, **channel}
    async with sim_bus(clock, offsets, **settings) as (bus, config):

        async def sink(readings: Sequence[Reading]) -> None:
            await store.write(readings)

        direct = DirectMeters(DirectConfig(tcp=[config]), metrics, sink, now=clock)
        direct.start_frozen(zone=TZ, store=store, backfill=backfill, failures=failures)
        (bus_channel,) = direct.channels
        bus_channel.start()
        try:
            async with asyncio.timeout(DEADLINE_S):
                await bus_channel.wait_up()
            yield Rig(clock, bus, direct, metrics, store)
        finally:
            await direct.stop()
            await store.close()


def _expected(r: Rig, address: str, n: int, quality: str) -> dict[tuple[str, datetime], dict[int, Any]]:
    ts, values = r.freeze_values(address, n)
    return {(address, ts): {t: (v, quality) for t, v in values.items()}}


async def test_daily_frozen_is_read_after_the_due_time_once_a_day(tmp_path: Path) -> None:
    async with rig(tmp_path, at(MAY2, 0, 2), {A: 0.0, B: 0.0}) as r:
        await r.round()
        assert r.last() is None and r.frozen() == {}  # 00:02: not due before 00:05
        r.clock.jump_to(at(MAY2, 0, 6))
        await r.round()
        run = r.last()
        assert run is not None and set(run.daily) == {A, B} and run.failed == {SILENT: run.failed[SILENT]}
        assert r.frozen() == {**_expected(r, A, 1, "ok"), **_expected(r, B, 1, "ok")}
        assert set(r.frozen()) == {(A, at(MAY2, 0)), (B, at(MAY2, 0))}  # the freeze at the end of yesterday
        assert len(r.frozen()[(A, at(MAY2, 0))]) == 5  # total + 4 tariffs
        requests = r.meter(A).counters.requests
        r.clock.jump_to(at(MAY2, 13))
        await r.round()  # the same day: current values only
        assert r.last() is run and r.meter(A).counters.requests == requests + 1
        r.clock.jump_to(at(MAY2 + timedelta(days=1), 0, 30))
        await r.round()
        assert r.last() is not run
        assert set(r.frozen()) == {(m, at(d, 0)) for m in (A, B) for d in (MAY2, MAY2 + timedelta(days=1))}
        assert (
            r.frozen()[(A, at(MAY2 + timedelta(days=1), 0))]
            == _expected(r, A, 1, "ok")[(A, at(MAY2, 0) + timedelta(days=1))]
        )


async def test_the_daily_time_and_spread_come_from_the_channel(tmp_path: Path) -> None:
    async with rig(tmp_path, at(MAY2, 1, 0), {A: 0.0}, daily_after="01:30", daily_spread_s=600) as r:
        due = r.plan.due_at(MAY2)
        assert at(MAY2, 1, 30) <= due < at(MAY2, 1, 40)
        r.clock.jump_to(due - timedelta(seconds=30))
        assert not r.plan.due()
        r.clock.jump_to(due + timedelta(seconds=1))
        assert r.plan.due()


async def test_a_freeze_that_is_not_the_one_ending_yesterday_is_stored_under_its_own_time(tmp_path: Path) -> None:
    """Meter A's clock is 30 min behind: at 00:10 it still shows 23:40 of May 1, so its last freeze is May 1's."""
    async with rig(tmp_path, at(MAY2, 0, 10), {A: -1800.0, B: 0.0}) as r:
        await r.round()
        run = r.last()
        assert run is not None and run.other_day == {A: at(MAY2 - timedelta(days=1), 0)}
        stored = r.frozen()
        assert (A, at(MAY2, 0)) not in stored  # not mislabelled as May 2's freeze
        assert {k: v for k, v in stored.items() if k[0] == A} == _expected(r, A, 1, "ok")
        assert next(iter(_expected(r, A, 1, "ok")))[1] == at(MAY2 - timedelta(days=1), 0)
        assert r.sample("headend_direct_reads_total", kind="tcp", result="frozen_other_day") == 1


async def test_a_1997_meter_is_skipped_with_one_log_line_and_a_metric(tmp_path: Path, caplog: Any) -> None:
    async with rig(tmp_path, at(MAY2, 0, 10), {A: 0.0, OLD: 0.0}) as r:
        await r.round()
        r.clock.jump_to(at(MAY2 + timedelta(days=1), 0, 10))
        await r.round()
        run = r.last()
        assert run is not None and run.skipped == [OLD] and set(run.daily) == {A}
        assert {m for m, _ in r.frozen()} == {A}
        assert r.sample("headend_direct_reads_total", kind="tcp", result="no_daily_freeze") == 2
        assert sum("DL/T 645-1997" in rec.getMessage() and OLD in rec.getMessage() for rec in caplog.records) == 1


async def test_missing_days_are_backfilled_from_the_right_previous_freeze(tmp_path: Path) -> None:
    backfill = BackfillConfig(days=3, after_plan_s=3600, interval_s=3600)
    may4 = MAY2 + timedelta(days=2)
    async with rig(tmp_path, at(may4, 0, 10), {A: 0.0, B: 0.0}, backfill=backfill) as r:
        # meter B missed May 3's freeze (off at midnight): its 上2次 is May 2's, and May 3's it does not hold
        r.freeze_values(B, 1)
        assert r.meter(B).daily[1].at.date() == MAY2 + timedelta(days=1)
        del r.meter(B).daily[1]
        await r.round()
        run = r.last()
        assert run is not None
        # today's (May 4) first pass; May 3 and May 2 backfilled — not today's, whose first pass it is
        assert run.backfilled == {(A, MAY2 + timedelta(days=1)), (A, MAY2), (B, MAY2)}
        stored = r.frozen()
        expected = {
            **_expected(r, A, 1, "ok"),
            **_expected(r, A, 2, "backfilled"),
            **_expected(r, A, 3, "backfilled"),
            **_expected(r, B, 1, "ok"),
            **_expected(r, B, 2, "backfilled"),  # May 2's, read as 上2次 after 上3次 showed May 1
        }
        assert stored == expected
        assert (B, at(MAY2 + timedelta(days=1), 0)) not in stored
        assert r.sample("headend_backfill_readings_total") == 3 * 5
        # not due again before [backfill] interval_s
        assert not r.plan.backfill_due()


async def test_backfill_effort_is_bounded_per_run(tmp_path: Path) -> None:
    backfill = BackfillConfig(days=3, after_plan_s=0, interval_s=3600, max_requests_per_terminal=2)
    async with rig(tmp_path, at(MAY2, 12), {A: 0.0, B: 0.0}, backfill=backfill) as r:
        r.plan.done_on = MAY2  # no first pass today: everything is the backfill's
        await r.round()
        run = r.last()
        assert run is not None and run.daily == {}
        assert run.backfilled == {(A, MAY2), (B, MAY2)}  # newest day first, two (meter, day) pairs
        r.clock.jump_to(at(MAY2, 13, 1))
        await r.round()
        second = r.last()
        assert second is not None and second.backfilled == {
            (A, MAY2 - timedelta(days=1)),
            (B, MAY2 - timedelta(days=1)),
        }


async def test_load_profiles_of_yesterday_are_stored_as_curves(tmp_path: Path) -> None:
    async with rig(tmp_path, at(MAY2, 0, 20), {A: 0.0}, curve_dis=["06100101", "06000001"]) as r:
        meter = r.meter(A)
        meter.advance(r.clock())
        meter.parameters[0x04000A02] = [Decimal(60)]  # hourly records: 24 a day
        await r.round()
        run = r.last()
        assert run is not None and not run.failed.get(A)
        voltage = r.curve("curve.voltage.a")
        hours = [at(MAY2 - timedelta(days=1), h) for h in range(24)]
        assert sorted(ts for _, ts in voltage) == hours
        # the simulated meter's own record of each hour (06000001 from the model, read without the bus)
        for hour in (hours[0], hours[13], hours[23]):
            record = meter.read(0x06000001, r.clock(), params=_params(hour))
            assert record is not None and record[0] == hour.replace(tzinfo=None)
            assert voltage[(A, hour)] == record[1]
            assert r.curve("curve.power.active")[(A, hour)] == record[8]
            assert r.curve("curve.energy.active.forward")[(A, hour)] == record[20]
        assert len(r.curve("curve.power.active")) == 24


def _params(start: datetime) -> bytes:
    from protocols.dlt645.apdu import load_profile_params

    return load_profile_params(1, start.replace(tzinfo=None))


def test_nth_and_curve_naming() -> None:
    assert nth(0x05060101, 0x3E) == 0x0506013E and nth(0x05060001, 2) == 0x05060002
    start = datetime(2024, 5, 1, 0, 0)
    read = MeterRead(
        A,
        0x06100101,
        Edition.V2007,
        (
            Value("CURVE_VOLTAGE_A_START", start, ""),
            Value("CURVE_VOLTAGE_A_POINT1", Decimal("220.1"), "V"),
            Value("CURVE_VOLTAGE_A_POINT2", None, "V"),
            Value("CURVE_VOLTAGE_A_POINT3", Decimal("221.0"), "V"),
        ),
        b"",
    )
    got = curve_readings(read, timedelta(minutes=15), TZ, datetime(2024, 5, 2, tzinfo=TZ))
    assert [(x.register, x.ts, x.value, x.unit) for x in got] == [
        ("curve.voltage.a", datetime(2024, 5, 1, 0, 0, tzinfo=TZ), Decimal("220.1"), "V"),
        ("curve.voltage.a", datetime(2024, 5, 1, 0, 30, tzinfo=TZ), Decimal("221.0"), "V"),
    ]


def test_good_frozen_dis_are_accepted() -> None:
    good = TcpChannelConfig(host="h", port=1, daily_dis=["05060101", "05060201"], curve_dis=["06100301", "06000001"])
    check_frozen_dis(good, "direct.tcp.0")


@pytest.mark.parametrize(
    ("field", "bad"), [("daily_dis", ["00010000"]), ("daily_dis", ["05060102"]), ("curve_dis", ["06109901"])]
)
def test_bad_frozen_dis_are_refused_at_start(field: str, bad: list[str]) -> None:
    with pytest.raises(ConfigError, match=field):
        check_frozen_dis(TcpChannelConfig.model_validate({"host": "h", "port": 1, field: bad}), "direct.tcp.0")


async def test_direct_meters_count_in_the_success_rate_with_their_reasons(tmp_path: Path) -> None:
    failures = FailureLog()
    async with rig(tmp_path, at(MAY2, 0, 10), {A: 0.0, B: 0.0, OLD: 0.0}, failures=failures) as r:
        await r.round()
        success = SuccessRate(Archive(), r.store, metrics=r.metrics, failures=failures, online=list, now=r.clock)
        success.direct = r.direct.success_entries
        rows, missing = await success.update(MAY2)
        overall, channel = rows
        # A and B read, the silent meter not; the 1997 meter (found so) is not expected: it has no daily freeze
        assert (overall.terminal, overall.expected, overall.complete_first_pass, overall.complete) == ("", 3, 2, 2)
        assert (channel.terminal, channel.expected) == ("direct:bus1", 3)
        (gone,) = missing
        assert (gone.meter, gone.terminal, gone.reason) == (SILENT, "direct:bus1", "meter_not_answering")
        assert r.sample("headend_collection_success_ratio", **{"pass": "first"}) == 2 / 3


async def test_the_daemon_reads_direct_frozen_data_and_backfills_in_its_poll_rounds(tmp_path: Path) -> None:
    clock = ShiftedClock(at(MAY2, 0, 10))
    settings: dict[str, Any] = {"daily_frozen": True, "daily_spread_s": 0, "interval_s": 0.2, "jitter": 0}
    async with sim_bus(clock, {A: 0.0}, **settings) as (bus, channel):
        config = Config(
            server=ServerConfig(host="127.0.0.1", port=0),
            metrics=MetricsConfig(enabled=False),
            storage=StorageConfig(sqlite_path=tmp_path / "h.sqlite3", spool_path=tmp_path / "spool.sqlite3"),
            direct=DirectConfig(tcp=[channel]),
            backfill=BackfillConfig(days=3),
        )
        app = HeadendApp(config, now=clock)
        await app.start()
        try:
            assert app.direct is not None
            (plan,) = app.direct.frozen_plans
            await eventually(lambda: plan.last is not None and len(plan.last.backfilled) == 2, "a backfill run")
            # no [archive]: the direct meters alone make the success rate worth computing
            assert app.ops is not None
            await eventually(lambda: app.ops is not None and app.ops.last_backfill is not None, "a success update")
        finally:
            await app.stop()
        meter: Dlt645Meter = bus.meter(A).meter
    with sqlite3.connect(config.storage.sqlite_path) as db:
        success = db.execute("SELECT terminal, expected FROM collection_success WHERE day = '2024-05-02'").fetchall()
        assert sorted(success) == [("", 2), ("direct:bus1", 2)]  # meter A and the silent one
        rows = db.execute(
            "SELECT ts, quality FROM frozen_readings WHERE meter = ? AND register = 'daily.energy.active.forward'"
            " AND tariff = 0",
            (A,),
        ).fetchall()
    days = [record.at.replace(tzinfo=TZ) for record in list(meter.daily)[:3]]
    assert sorted((datetime.fromisoformat(ts), q) for ts, q in rows) == [
        (days[2], "backfilled"),
        (days[1], "backfilled"),
        (days[0], "ok"),
    ]
    assert days[0] == at(MAY2, 0)


async def modem_round(tmp_path: Path, freeze: datetime) -> tuple[list[Reading], ScriptedModem, Metrics]:
    """One poll round at 2024-05-02 01:00 of meters A and B behind a scripted Hayes modem, whose last daily freeze
    (05060001) is ``freeze``: the readings handed over."""
    now = datetime(2024, 5, 2, 1, 0, tzinfo=TZ)
    registers: dict[int, Any] = {
        0x0001FF00: [Decimal("10.00"), Decimal("1.00")],
        0x05060001: [freeze],
        0x05060101: [Decimal("9.50"), Decimal("0.50")],
    }
    scripted = [ScriptedMeter(address, dict(registers)) for address in (A, B)]
    collected: list[Reading] = []

    async def sink(readings: Sequence[Reading]) -> None:
        collected.extend(readings)

    metrics = Metrics()
    modem = ScriptedModem(tmp_path, scripted)
    async with modem:
        config = modem_config(modem.path, daily_frozen=True, daily_spread_s=0)
        config = config.model_copy(update={"meters": [DirectMeterConfig(address=a, edition="2007") for a in (A, B)]})
        direct = DirectMeters(DirectConfig(modem=[config]), metrics, sink, now=lambda: now)
        direct.start_frozen(zone=TZ)
        async with asyncio.timeout(DEADLINE_S):
            await direct.plans[0].poll_round()
        await direct.stop()
    return collected, modem, metrics


async def test_a_modem_channel_reads_frozen_data_in_the_same_call(tmp_path: Path) -> None:
    """The poll round's current values and the daily frozen data come in one call (one ATD, one ATH)."""
    freeze = datetime(2024, 5, 2, 0, 0)
    collected, modem, _ = await modem_round(tmp_path, freeze)
    assert [c for c in modem.commands if c.startswith("AT")] == ["ATZ", "ATE0V1", "ATD02087654321", "ATH"]
    daily = {(r.meter, r.tariff): (r.value, r.ts) for r in collected if r.register == "daily.energy.active.forward"}
    stamp = freeze.replace(tzinfo=TZ)
    assert daily == {(m, t): (v, stamp) for m in (A, B) for t, v in enumerate([Decimal("9.50"), Decimal("0.50")])}
    assert {r.meter for r in collected if r.register == "energy.active.forward"} == {A, B}


async def test_a_freeze_time_that_is_not_a_midnight_is_not_stored(tmp_path: Path) -> None:
    collected, _, metrics = await modem_round(tmp_path, datetime(2024, 5, 1, 23, 58))
    assert [r for r in collected if r.register.startswith("daily.")] == []
    assert {r.register for r in collected} == {"energy.active.forward"}  # the current values still came
    assert (
        metrics.registry.get_sample_value("headend_direct_reads_total", {"kind": "modem", "result": "frozen_bad_time"})
        == 2
    )


class _DownStore:
    async def frozen_days(self, since: date, until: date, *, register: str = "") -> dict[tuple[str, date], bool]:
        raise OSError("database unreachable")


async def test_an_unreachable_store_skips_the_backfill_not_the_round(tmp_path: Path) -> None:
    backfill = BackfillConfig(days=3, after_plan_s=0)
    async with rig(tmp_path, at(MAY2, 0, 10), {A: 0.0}, backfill=backfill) as r:
        r.plan._store = cast("CollectionQueries", _DownStore())
        await r.round()
        run = r.last()
        assert run is not None and set(run.daily) == {A} and run.backfilled == set()
        assert r.direct.plans[0].completed_rounds == 1
        assert set(r.frozen()) == {(A, at(MAY2, 0))}


async def test_reverse_active_daily_frozen_on_request(tmp_path: Path) -> None:
    async with rig(tmp_path, at(MAY2, 0, 10), {A: 0.0}, daily_dis=["05060101", "05060201"]) as r:
        await r.round()
        meter = r.meter(A)
        record = meter.daily[0]
        reverse = dict(enumerate(meter.registers.snapshot(record.instant).values(0x02)))
        assert r.frozen("daily.energy.active.reverse") == {(A, at(MAY2, 0)): {t: (v, "ok") for t, v in reverse.items()}}
        assert r.frozen() == _expected(r, A, 1, "ok")
