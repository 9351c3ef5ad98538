"""``headend db status`` content (headend/storage/status.py): store and spool, including when either is missing
or unreachable."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from headend.config import CollectionConfig, Config, StorageConfig
from headend.readings import ReadingKind
from headend.storage.records import Event, EventOrigin
from headend.storage.spool import Spool
from headend.storage.sqlite_store import SqliteStore
from headend.storage.status import collect_status
from headend.storage.timescale import TimescaleStore
from tests.headend.storage.helpers import T0, TZ, batch, reading


def _config(tmp_path: Path, dsn: str = "") -> Config:
    return Config(
        collection=CollectionConfig(timezone=TZ.key),
        storage=StorageConfig(
            dsn=dsn, sqlite_path=tmp_path / "h.sqlite3", spool_path=tmp_path / "spool.sqlite3", spool_max_bytes=1 << 20
        ),
    )


async def test_nothing_there_yet(tmp_path: Path) -> None:
    status = await collect_status(_config(tmp_path))
    assert status["store"]["kind"] == "sqlite"
    assert "run `headend db migrate`" in status["store"]["error"]
    assert status["spool"] == {"path": str(tmp_path / "spool.sqlite3"), "exists": False}
    assert not (tmp_path / "h.sqlite3").exists()  # looking creates nothing


async def test_embedded_store_and_waiting_readings(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = SqliteStore(config.storage.sqlite_path, tz=TZ)
    await store.open()
    original = reading(1, Decimal("10.00"), register=ReadingKind.DAILY.register("energy.active.forward"))
    await store.migrate()
    await store.write([original, reading(2)])
    await store.write([dataclasses.replace(original, value=Decimal("10.01"))])
    await store.close()
    spool = Spool(config.storage.spool_path)
    waiting = batch(3, 4)
    spool.append(waiting)
    pushed = Event(EventOrigin.TERMINAL, "ERC14", T0, waiting[0].received_at + timedelta(seconds=30),
                   terminal="4403:00012", raw=b"\x0e\x00")  # fmt: skip
    spool.append((), [pushed])
    spool.close()

    status = await collect_status(config, now=waiting[0].received_at + timedelta(seconds=90))

    store_part = status["store"]
    assert store_part["kind"] == "sqlite" and store_part["edition"] == "sqlite"
    assert (store_part["schema_version"], store_part["time_zone"]) == (3, TZ.key)
    assert (store_part["readings"], store_part["frozen_readings"], store_part["conflicts"]) == (1, 1, 1)
    assert store_part["ingest_batch"] == 2
    spool_part = status["spool"]
    assert (spool_part["exists"], spool_part["format"], spool_part["depth"], spool_part["events"]) == (True, 3, 5, 1)
    assert spool_part["max_bytes"] == 1 << 20 and spool_part["bytes"] > 0
    assert spool_part["oldest"] == {
        "meter": waiting[0].meter,
        "register": "energy.active.forward",
        "tariff": 0,
        "ts": waiting[0].ts.isoformat(),
        "received_at": waiting[0].received_at.isoformat(),
        "age_s": 90.0,
    }
    assert spool_part["oldest_event"] == {
        "code": "ERC14",
        "terminal": "4403:00012",
        "ts": T0.isoformat(),
        "received_at": pushed.received_at.isoformat(),
        "age_s": 60.0,
    }


async def test_timescaledb_status(tmp_path: Path, fresh_db_dsn: str) -> None:
    store = TimescaleStore(fresh_db_dsn, tz=TZ)
    await store.open()
    await store.migrate()
    await store.write([reading(1, ts=T0)])
    await store.close()

    status = await collect_status(_config(tmp_path, fresh_db_dsn))

    assert status["store"]["kind"] == "timescaledb"
    assert status["store"]["edition"] == store.edition.value
    assert (status["store"]["readings"], status["store"]["conflicts"], status["store"]["ingest_batch"]) == (1, 0, 1)
    assert status["store"]["last_conflict_at"] is None
    assert isinstance(status["store"]["last_ingest_at"], str)  # ISO text, JSON-able


async def test_an_unreachable_database_is_reported_not_raised(tmp_path: Path) -> None:
    config = _config(tmp_path, "postgresql://postgres@127.0.0.1:1/headend?connect_timeout=2")
    Spool(config.storage.spool_path).close()

    status = await collect_status(config)

    assert status["store"]["kind"] == "timescaledb"
    assert status["store"]["error"].startswith("OperationalError")
    assert (status["spool"]["depth"], status["spool"]["oldest"], status["spool"]["oldest_event"]) == (0, None, None)
