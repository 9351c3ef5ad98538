"""Issue 6 "Proof": a fleet of hundreds of concentrators and thousands of meters through several simulated days,
the daemon and the simulator sharing one fast clock, against the real TimescaleDB server.

The fleet: a tenth of the terminals lose power for a day, a few meters stop answering for good, a quarter of
the terminal clocks run an hour ahead. The daemon: the archive from configuration (meter addresses), the
daily frozen plan (AFN0D F161) in a spread window after midnight, backfill (补抄) of the last three days, time sync
(AFN05 F31), the success rate (采集成功率). What must hold at the end:

- every meter and day the simulator could serve is in ``frozen_readings``, under the archive's meter address,
  with exactly the value the simulator sent, stored once; the gaps of the terminals that were offline were
  backfilled (quality ``backfilled``) once they returned, and only theirs;
- the stored success rate of each freeze date equals what the simulator actually served, and every meter still
  missing is missing for the right reason (a lost meter: ``meter_not_answering``);
- every drifted terminal clock was set once, and recorded; no right clock was touched.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from concentrator_sim.fleet import choose_drifting
from headend.config import CollectionConfig, PlanConfig
from headend.config_collection import (
    ArchiveConfig,
    ArchiveMeterConfig,
    ArchiveTerminalConfig,
    BackfillConfig,
    TimeSyncConfig,
)
from tests.e2e.fleet_harness import ZONE, daemon_config, eventually, simulated_days

CONCENTRATORS, METERS = 200, 12
#: simulated seconds per real second: an hour a second
SPEED = 3600.0
START = datetime(2026, 11, 20, 21, 0, tzinfo=ZONE)  # 3 h (3 s) before midnight: all log in before it
#: freeze dates whose daily data the plan or the backfill must bring (the freeze at 00:00 of the date, Td_d the
#: day before): the 20th (caught up at login), then each midnight the test runs through
FREEZE_DATES = [date(2026, 11, 20) + timedelta(days=i) for i in range(4)]
END = datetime(2026, 11, 23, 4, 0, tzinfo=ZONE)  # after the 23rd's spread window (00:05 + 1 h) and a backfill
DRIFT_S = 3600.0  #: clocks of the drifted terminals run this far ahead, far beyond the sync threshold:
THRESHOLD_S = 1200.0  #: at 3600× a millisecond of real latency is 3.6 s of apparent drift
SLOW = 600.0  #: the clock's speed once the last window has passed


def terminal_name(a2: int) -> str:
    return f"4403:{a2:05d}"


def meter_address(a2: int, pn: int) -> str:
    """Synthetic 12-digit meter addresses: terminal number and point."""
    return f"{a2:06d}{pn:06d}"


def frozen_rows(dsn: str) -> list[tuple[str, date, Decimal | None, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT meter, (ts AT TIME ZONE %s)::date, value, quality FROM frozen_readings"
            " WHERE register = 'daily.energy.active.forward' AND tariff = 0",
            (ZONE.key,),
        ).fetchall()
    return [(meter, day, value, quality) for meter, day, value, quality in rows]


def success_rows(dsn: str) -> dict[date, tuple[int, int, int]]:
    """Overall success row (terminal '') per freeze date: expected, complete first pass, complete."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT day, expected, complete_first_pass, complete FROM collection_success WHERE terminal = ''"
        ).fetchall()
    return {day: (expected, first, complete) for day, expected, first, complete in rows}


def missing_reasons(dsn: str) -> dict[tuple[date, str], str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT day, meter, reason FROM collection_missing").fetchall()
    return {(day, meter): reason for day, meter, reason in rows}


def clock_sets(dsn: str) -> Counter[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT terminal FROM terminal_link_log WHERE event = 'clock_set'").fetchall()
    return Counter(terminal for (terminal,) in rows)


@pytest.mark.timeout(600)  # a minute of simulated days; more on a busy 2-core machine
async def test_a_fleet_through_several_days(tmp_path: Path, fresh_db_dsn: str) -> None:
    archive = ArchiveConfig(
        terminals=[
            ArchiveTerminalConfig(
                terminal=terminal_name(a2),
                meters=[ArchiveMeterConfig(pn=pn, address=meter_address(a2, pn)) for pn in range(1, METERS + 1)],
            )
            for a2 in range(1, CONCENTRATORS + 1)
        ]
    )
    base = daemon_config(tmp_path, dsn=fresh_db_dsn, points=METERS)
    plans = PlanConfig(realtime_fns=[], daily_after="00:05", daily_spread_s=3600, event_fns=[], monthly_fns=[])
    config = base.model_copy(
        update={
            "collection": CollectionConfig(
                points=f"1-{METERS}", tick_s=0.02, backoff_base_s=60, backoff_cap_s=600, plans=plans
            ),
            "archive": archive,
            # backfill waits 6 h (6 s here) past a terminal's due time before it takes today's freeze date: the
            # plan's first pass of 200 terminals must not be raced because a loaded CI machine is slow
            "backfill": BackfillConfig(days=3, interval_s=3600, after_plan_s=6 * 3600),
            # clocks checked at login (and at a return from an outage), not again within the test's days
            "timesync": TimeSyncConfig(threshold_s=THRESHOLD_S, ntp_check="assume", interval_s=30 * 86400),
        }
    )
    fleet = {
        # a tenth of the terminals lose power at 00:30 on the 21st, for a day
        "offline_fraction": 0.1,
        "offline_after_h": 3.5,
        "offline_hours": 24,
        # a few meters stop answering at 06:00 on the 21st, for good
        "lost_fraction": 0.02,
        "lost_after_h": 9,
        # a quarter of the clocks run an hour ahead
        "clock_drift_s": DRIFT_S,
        "drift_fraction": 0.25,
    }
    async with simulated_days(
        config, START, SPEED, hold=True, concentrators=CONCENTRATORS, meters=METERS, **fleet
    ) as run:
        app, sim = run.app, run.sim
        # the clock stands while the fleet logs in and the clocks are checked, then the days run
        async with asyncio.timeout(60):
            await sim.wait_logged_in()
        drifted = {terminal_name(a2) for a2 in choose_drifting(sim.config)}
        await eventually(lambda: all(t.model.time_syncs for t in sim.terminals if t.name in drifted), "clock syncs")
        run.set_speed(SPEED)
        offline = {terminal_name(a2) for a2, s in sim.scenarios.items() if s.offline}
        lost = {(terminal_name(a2), pn): at for a2, s in sim.scenarios.items() for pn, at in s.lost.items()}

        def lost_before(meter: tuple[str, int], day: date) -> bool:
            at = lost.get(meter)
            return at is not None and at <= datetime.combine(day, datetime.min.time(), ZONE)

        assert 0 < len(offline) < CONCENTRATORS and lost and 0 < len(drifted) < CONCENTRATORS
        # what the simulator can serve: every meter and freeze date, unless the meter was lost before the freeze
        servable = {
            (terminal_name(a2), pn, day)
            for a2 in range(1, CONCENTRATORS + 1)
            for pn in range(1, METERS + 1)
            for day in FREEZE_DATES
            if not lost_before((terminal_name(a2), pn), day)
        }
        wanted = {(meter_address(int(t[5:]), pn), day) for t, pn, day in servable}
        await eventually(lambda: run.clock() >= END, "the simulated clock passes the last window", timeout=120)
        run.set_speed(SLOW)  # ten minutes a second: backfill runs every few seconds, no midnight brings new data
        await eventually(lambda: app.spool is not None and app.spool.depth() == 0, "spool drained")
        try:
            await eventually(
                lambda: wanted <= {(m, d) for m, d, v, _ in frozen_rows(fresh_db_dsn) if v is not None},
                "every servable meter and day stored",
                60,
            )
        except AssertionError:
            have = {(m, d) for m, d, v, _ in frozen_rows(fresh_db_dsn) if v is not None}
            missing = sorted(wanted - have)
            raise AssertionError(f"{len(missing)} of {len(wanted)} missing, e.g. {missing[:5]}") from None
        served = sim.served_daily()
        truth = {
            (meter_address(int(t[5:]), pn), td_d + timedelta(days=1)): value
            for (t, pn, td_d), value in served.items()
            if td_d + timedelta(days=1) in FREEZE_DATES
        }
        # the success rate is recomputed after each backfill run: wait for the one that saw the last rows
        served_per_day = Counter(day for _, day in truth)

        def success_matches() -> bool:
            rates = success_rows(fresh_db_dsn)
            return all(
                day in rates and rates[day][0] == CONCENTRATORS * METERS and rates[day][2] == served_per_day[day]
                for day in FREEZE_DATES[1:]
            )

        await eventually(success_matches, "success rates that match what the simulator served", 60)

    rows = [(m, d, v, q) for m, d, v, q in frozen_rows(fresh_db_dsn) if d in FREEZE_DATES]
    # each (meter, day) once, with the value the simulator sent
    assert len(rows) == len({(m, d) for m, d, _, _ in rows})
    assert {(m, d): v for m, d, v, _ in rows} == truth
    # the gaps were the offline terminals', filled by backfill once they returned
    # (the 20th is the login catch-up's, three simulated hours before midnight — three real seconds, which a
    # loaded machine may not give 200 terminals, and then backfill rightly takes it: left out here)
    backfilled = {m for m, d, _, q in rows if q == "backfilled" and d in FREEZE_DATES[1:]}
    offline_meters = {meter_address(int(t[5:]), pn) for t in offline for pn in range(1, METERS + 1)}
    assert backfilled and backfilled <= offline_meters
    assert {q for *_, q in rows} == {"ok", "backfilled"}
    # success rates: expected = the archive, complete = what was served; first pass ≤ final
    rates = success_rows(fresh_db_dsn)
    for day in FREEZE_DATES[1:]:
        expected, first, complete = rates[day]
        assert (expected, complete) == (CONCENTRATORS * METERS, served_per_day[day])
        assert first == sum(1 for m, d, _, q in rows if d == day and q == "ok")
    assert any(rates[day][1] < rates[day][2] for day in FREEZE_DATES[1:])  # backfill counted in the final pass
    # every meter still missing is a lost one, missing for a reason of the meter's (the simulator denies a point
    # without a record, AFN00 F2; an answer without its value is "meter not answering"), not the terminal's
    reasons = missing_reasons(fresh_db_dsn)
    unserved = {(day, meter_address(int(t[5:]), pn)) for t, pn in lost for day in FREEZE_DATES[1:]} - {
        (d, m) for m, d in truth
    }
    assert unserved
    assert {key for key in reasons if key[0] in FREEZE_DATES[1:]} == unserved
    assert {reasons[key] for key in unserved} <= {"denied", "meter_not_answering"}
    # clocks: every drifted terminal set once, from an hour ahead to within the threshold; no other touched
    synced = {t.name: t.model.time_syncs for t in sim.terminals if t.model.time_syncs}
    assert set(synced) == drifted
    for syncs in synced.values():
        (before, after), *again = syncs
        assert before == timedelta(seconds=DRIFT_S) and abs(after) < timedelta(seconds=THRESHOLD_S) and not again
    assert clock_sets(fresh_db_dsn) == Counter(dict.fromkeys(drifted, 1))
