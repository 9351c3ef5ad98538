"""Several simulated days end to end: the simulated fleet (its clock at thousands × real time) → the daemon with
the same injected clock → TimescaleDB. Daily frozen data (AFN0D F161, 日冻结) that the simulator served must be in
the database exactly, for every meter and day, first-pass, without a single real-time poll."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from headend.config import CollectionConfig, PlanConfig
from tests.e2e.fleet_harness import ZONE, daemon_config, eventually, sample, simulated_days

CONCENTRATORS, METERS = 40, 8
#: simulated seconds per real second: a day in 12 s
SPEED = 7200.0
START = datetime(2026, 11, 20, 20, 0, tzinfo=ZONE)  # 4 h (2 s) before midnight: all log in before it
#: Td_d read: the day before START (caught up at login), then each day that closes while the test runs
DAYS = [date(2026, 11, 19) + timedelta(days=i) for i in range(4)]  # 19 … 22 Nov
END = datetime(2026, 11, 23, 3, 0, tzinfo=ZONE)  # after the 23rd's spread window (00:05 + 1 h)


def frozen_rows(dsn: str) -> dict[tuple[str, date], tuple[Decimal | None, str]]:
    """Daily forward active energy totals by (meter, Td_d): the freeze instant is the midnight closing Td_d."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT meter, ts, value, quality FROM frozen_readings"
            " WHERE register = 'daily.energy.active.forward' AND tariff = 0"
        ).fetchall()
    return {
        (meter, ts.astimezone(ZONE).date() - timedelta(days=1)): (value, quality) for meter, ts, value, quality in rows
    }


async def test_daily_frozen_data_of_several_days_reaches_the_database(tmp_path: Path, fresh_db_dsn: str) -> None:
    base = daemon_config(tmp_path, dsn=fresh_db_dsn, points=METERS)
    plans = PlanConfig(realtime_fns=[], daily_after="00:05", daily_spread_s=3600, event_fns=[], monthly_fns=[])
    collection = CollectionConfig(points=f"1-{METERS}", tick_s=0.02, backoff_base_s=60, backoff_cap_s=600, plans=plans)
    config = base.model_copy(update={"collection": collection})
    fleet = {
        # a tenth of the terminals lose power 00:30 on the 21st for a day: the others must not wait for them
        "offline_fraction": 0.1,
        "offline_after_h": 4.5,
        "offline_hours": 24,
    }
    async with simulated_days(config, START, SPEED, concentrators=CONCENTRATORS, meters=METERS, **fleet) as run:
        app, sim = run.app, run.sim
        offline = {a2 for a2, scenario in sim.scenarios.items() if scenario.offline}
        assert 0 < len(offline) < CONCENTRATORS
        # terminals that were always online: every day; the others may miss the 20th when their slot fell in the
        # outage (backfill's job) but are read for yesterday as soon as they are back
        expected = {
            (f"4403:{a2:05d}/p{pn}", day)
            for a2 in range(1, CONCENTRATORS + 1)
            for pn in range(1, METERS + 1)
            for day in DAYS
            if a2 not in offline or day != DAYS[1]
        }
        await eventually(lambda: run.clock() >= END, "the simulated clock passes the last window", timeout=60)
        served = sim.served_daily()
        await eventually(lambda: app.spool is not None and app.spool.depth() == 0, "spool drained")
        try:
            await eventually(lambda: expected <= frozen_rows(fresh_db_dsn).keys(), "every meter and day stored", 30)
        except AssertionError:
            missing = sorted(expected - frozen_rows(fresh_db_dsn).keys())
            jobs = {
                (s.labels["plan"], s.labels["result"]): s.value
                for metric in app.metrics.collection_jobs.collect()
                for s in metric.samples
                if s.name.endswith("_total")
            }
            report = f"{len(missing)} missing, e.g. {missing[:5]}; jobs {jobs}; served {len(served)}"
            raise AssertionError(report) from None
    rows = frozen_rows(fresh_db_dsn)
    truth = {(f"{terminal}/p{pn}", day): value for (terminal, pn, day), value in served.items()}
    assert set(truth) >= expected  # the simulator served every meter every day …
    assert {key: value for key, (value, _) in rows.items()} == truth  # … and exactly that is in the database
    assert {quality for _, quality in rows.values()} == {"ok"}
    # nothing real-time was read: the plan is off
    assert sample(app, "headend_polls_total") == 0  # the real-time plan is off for every terminal
