-- 0001: readings and reading_conflicts, the same contract as migrations/postgres/0001_readings.sql.
--
-- SQLite has no numeric with exact decimals or timestamptz, so:
--   value: TEXT, the exact decimal as the meter gave it ("123456.7891"); NULL when quality = 'invalid'
--   ts, received_at, ingested_at: TEXT, ISO 8601 in the store's configured zone with its UTC offset
--     ("2024-05-01T08:00:00+08:00"); one instant has one text, so ts works in the key.

CREATE TABLE readings (
    meter       TEXT    NOT NULL,
    register    TEXT    NOT NULL,
    tariff      INTEGER NOT NULL CHECK (tariff >= 0),
    ts          TEXT    NOT NULL,
    value       TEXT,
    unit        TEXT    NOT NULL,
    quality     TEXT    NOT NULL CHECK (quality IN ('ok', 'backfilled', 'estimated', 'invalid')),
    source      TEXT    NOT NULL,
    terminal    TEXT    NOT NULL,
    pn          INTEGER NOT NULL CHECK (pn >= 0),
    received_at TEXT    NOT NULL,
    ingested_at TEXT    NOT NULL,
    PRIMARY KEY (meter, register, tariff, ts)
) STRICT;

CREATE INDEX readings_ingested_at_idx ON readings (ingested_at);

CREATE TABLE reading_conflicts (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    meter                TEXT    NOT NULL,
    register             TEXT    NOT NULL,
    tariff               INTEGER NOT NULL,
    ts                   TEXT    NOT NULL,
    original_value       TEXT,
    original_unit        TEXT    NOT NULL,
    original_quality     TEXT    NOT NULL,
    original_source      TEXT    NOT NULL,
    original_received_at TEXT    NOT NULL,
    new_value            TEXT,
    new_unit             TEXT    NOT NULL,
    new_quality          TEXT    NOT NULL,
    new_source           TEXT    NOT NULL,
    new_terminal         TEXT    NOT NULL,
    new_pn               INTEGER NOT NULL,
    new_received_at      TEXT    NOT NULL,
    detected_at          TEXT    NOT NULL
) STRICT;

CREATE INDEX reading_conflicts_key_idx ON reading_conflicts (meter, register, tariff, ts);
CREATE INDEX reading_conflicts_detected_at_idx ON reading_conflicts (detected_at);

-- Settings of this store that must not change under existing rows (the zone of the ts texts).
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
