-- 0002: the billing contract, the same as migrations/postgres/0002_billing_contract.sql (docs/schema.md).
--
-- SQLite differences: no sequences (ingest_batches.batch is AUTOINCREMENT; every write transaction is
-- BEGIN IMMEDIATE, so batches commit in number order here too); no numeric type: decimals are TEXT, and the
-- views compute differences and products exactly with scaled 64-bit integers (see "exact decimals" below);
-- times are ISO 8601 TEXT in the configured zone, so the local date is substr(ts, 1, 10) and instants are
-- compared with julianday(); energy_daily_agg is a table the store refreshes (no materialized views).

CREATE TABLE ingest_batches (
    batch      INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT    NOT NULL,
    inserted   INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    conflicts  INTEGER NOT NULL DEFAULT 0,
    events     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Rows written before this migration belong to batch 0.
ALTER TABLE readings ADD COLUMN ingest_batch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX readings_ingest_batch_idx ON readings (ingest_batch);
ALTER TABLE reading_conflicts ADD COLUMN ingest_batch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE frozen_readings (
    meter        TEXT    NOT NULL,
    register     TEXT    NOT NULL CHECK (register GLOB 'daily.*' OR register GLOB 'monthly.*'
                                         OR register GLOB 'settlement.*'),
    tariff       INTEGER NOT NULL CHECK (tariff >= 0),
    ts           TEXT    NOT NULL,
    value        TEXT,
    unit         TEXT    NOT NULL,
    quality      TEXT    NOT NULL CHECK (quality IN ('ok', 'backfilled', 'estimated', 'invalid')),
    source       TEXT    NOT NULL,
    terminal     TEXT    NOT NULL,
    pn           INTEGER NOT NULL CHECK (pn >= 0),
    received_at  TEXT    NOT NULL,
    ingested_at  TEXT    NOT NULL,
    ingest_batch INTEGER NOT NULL,
    PRIMARY KEY (meter, register, tariff, ts)
) STRICT;
CREATE INDEX frozen_readings_ingest_batch_idx ON frozen_readings (ingest_batch);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    origin       TEXT    NOT NULL CHECK (origin IN ('terminal', 'meter', 'headend')),
    code         TEXT    NOT NULL,
    severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'alarm')),
    terminal     TEXT    NOT NULL,
    pn           INTEGER NOT NULL CHECK (pn >= 0),
    meter        TEXT    NOT NULL,
    ts           TEXT    NOT NULL,
    detail       TEXT    NOT NULL,  -- JSON
    raw          BLOB,
    source       TEXT    NOT NULL,
    event_key    TEXT    NOT NULL UNIQUE,
    received_at  TEXT    NOT NULL,
    ingested_at  TEXT    NOT NULL,
    ingest_batch INTEGER NOT NULL
) STRICT;
CREATE INDEX events_ts_idx ON events (ts);
CREATE INDEX events_terminal_idx ON events (terminal, ts);
CREATE INDEX events_ingest_batch_idx ON events (ingest_batch);

CREATE TABLE terminal_link_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    terminal       TEXT    NOT NULL,
    ts             TEXT    NOT NULL,
    event          TEXT    NOT NULL CHECK (event IN ('login', 'logout', 'disconnect', 'clock_read', 'clock_set')),
    peer           TEXT    NOT NULL,
    clock_drift_ms INTEGER,
    detail         TEXT    NOT NULL  -- JSON
) STRICT;
CREATE INDEX terminal_link_log_terminal_idx ON terminal_link_log (terminal, ts);

CREATE TABLE terminals (
    terminal   TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    protocol   TEXT NOT NULL,
    name       TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE TABLE meters (
    meter        TEXT    PRIMARY KEY,
    address      TEXT    NOT NULL,
    protocol     TEXT    NOT NULL,
    tariff_count INTEGER CHECK (tariff_count >= 0),
    updated_at   TEXT    NOT NULL
) STRICT;
CREATE TABLE measurement_points (
    terminal   TEXT    NOT NULL REFERENCES terminals,
    pn         INTEGER NOT NULL CHECK (pn >= 0),
    meter      TEXT    NOT NULL REFERENCES meters,
    port       INTEGER,
    baud       INTEGER,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (terminal, pn)
) STRICT;
CREATE TABLE meter_ratios (
    meter      TEXT NOT NULL REFERENCES meters,
    valid_from TEXT NOT NULL,
    ct_ratio   TEXT NOT NULL CHECK (CAST(ct_ratio AS REAL) > 0),
    pt_ratio   TEXT NOT NULL CHECK (CAST(pt_ratio AS REAL) > 0),
    PRIMARY KEY (meter, valid_from)
) STRICT;

-- ---------------------------------------------------------------------------------------------- views

CREATE VIEW store_zone AS SELECT value AS zone FROM store_meta WHERE key = 'time_zone';

CREATE VIEW ingest_watermark AS
SELECT coalesce(max(batch), 0) AS ingest_batch,
       (SELECT b.started_at FROM ingest_batches b ORDER BY b.batch DESC LIMIT 1) AS started_at
  FROM ingest_batches;

CREATE VIEW frozen_registers AS
SELECT meter,
       substr(register, 1, instr(register, '.') - 1) AS kind,
       substr(register, instr(register, '.') + 1)    AS register,
       tariff,
       substr(ts, 1, 10)                             AS freeze_date,
       ts, value, unit, quality, source, terminal, pn, received_at, ingested_at, ingest_batch
  FROM frozen_readings;

CREATE VIEW billing_daily_frozen AS
SELECT meter, register, tariff, freeze_date, ts, value, unit, quality, source, terminal, pn, received_at,
       ingested_at, ingest_batch
  FROM frozen_registers WHERE kind = 'daily';

CREATE VIEW billing_monthly_frozen AS
SELECT meter, register, tariff, freeze_date, ts, value, unit, quality, source, terminal, pn, received_at,
       ingested_at, ingest_batch
  FROM frozen_registers WHERE kind = 'monthly';

-- Exact decimals: a decimal text v ("123456.7891", "-0.5", "40") is the integer i(v) = CAST(replace(v, '.', '')
-- AS INTEGER) at scale s(v) = the digits after the point. Aligned to scale S it is i(v) * 10^(S - s(v)), with
-- 10^k = CAST(substr('1000000000000000000', 1, k + 1) AS INTEGER). A result (n, s) is printed back as text by
-- left-padding abs(n) with zeros to at least s + 1 digits and putting the point before the last s of them.
-- Exact while every integer stays within 18 digits (energy registers have at most 12, ratios a few).

CREATE VIEW billing_consumption AS
WITH chain AS (
    SELECT meter, kind, register, tariff, freeze_date, ts, value, unit, quality, ingest_batch,
           lag(freeze_date)  OVER w AS prev_date,
           lag(ts)           OVER w AS prev_ts,
           lag(value)        OVER w AS prev_value,
           lag(quality)      OVER w AS prev_quality,
           lag(ingest_batch) OVER w AS prev_batch
      FROM frozen_registers
     WHERE value IS NOT NULL
    WINDOW w AS (PARTITION BY meter, kind, register, tariff ORDER BY julianday(ts))
), periods AS (
    SELECT c.*,
           CASE c.kind
               WHEN 'daily' THEN CAST(julianday(c.freeze_date) - julianday(c.prev_date) AS INTEGER)
               ELSE (CAST(substr(c.freeze_date, 1, 4) AS INTEGER) * 12 + CAST(substr(c.freeze_date, 6, 2) AS INTEGER))
                  - (CAST(substr(c.prev_date, 1, 4) AS INTEGER) * 12 + CAST(substr(c.prev_date, 6, 2) AS INTEGER))
           END AS periods,
           (SELECT r.valid_from FROM meter_ratios r
             WHERE r.meter = c.meter AND julianday(r.valid_from) <= julianday(c.prev_ts)
             ORDER BY julianday(r.valid_from) DESC LIMIT 1) AS ratio_from,
           EXISTS (SELECT 1 FROM meter_ratios r
                    WHERE r.meter = c.meter AND julianday(r.valid_from) > julianday(c.prev_ts)
                      AND julianday(r.valid_from) <= julianday(c.ts)) AS ratio_changed
      FROM chain c
     WHERE c.prev_ts IS NOT NULL
), scaled AS (
    SELECT p.*, r.ct_ratio, r.pt_ratio,
           CASE WHEN instr(p.value, '.') > 0 THEN length(p.value) - instr(p.value, '.') ELSE 0 END AS s_end,
           CASE WHEN instr(p.prev_value, '.') > 0 THEN length(p.prev_value) - instr(p.prev_value, '.') ELSE 0 END
               AS s_start,
           CASE WHEN instr(r.ct_ratio, '.') > 0 THEN length(r.ct_ratio) - instr(r.ct_ratio, '.') ELSE 0 END
           + CASE WHEN instr(r.pt_ratio, '.') > 0 THEN length(r.pt_ratio) - instr(r.pt_ratio, '.') ELSE 0 END
               AS s_mult,
           CAST(replace(r.ct_ratio, '.', '') AS INTEGER) * CAST(replace(r.pt_ratio, '.', '') AS INTEGER) AS i_mult
      FROM periods p
      LEFT JOIN meter_ratios r ON r.meter = p.meter AND r.valid_from = p.ratio_from
), deltas AS (
    SELECT s.*,
           max(s_end, s_start) AS s_delta,
           CAST(replace(value, '.', '') AS INTEGER)
               * CAST(substr('1000000000000000000', 1, max(s_end, s_start) - s_end + 1) AS INTEGER)
           - CAST(replace(prev_value, '.', '') AS INTEGER)
               * CAST(substr('1000000000000000000', 1, max(s_end, s_start) - s_start + 1) AS INTEGER) AS i_delta
      FROM scaled s
), results AS (
    SELECT d.*, i_delta * i_mult AS i_use, s_delta + s_mult AS s_use FROM deltas d
), texts AS (
    -- (n, s) → zero-padded digits of abs(n), for the three results
    SELECT x.*,
           substr('0000000000000000000' || abs(i_delta), -max(length(abs(i_delta)), s_delta + 1)) AS p_delta,
           substr('0000000000000000000' || abs(i_mult), -max(length(abs(i_mult)), s_mult + 1))   AS p_mult,
           substr('0000000000000000000' || abs(i_use), -max(length(abs(i_use)), s_use + 1))       AS p_use
      FROM results x
)
SELECT meter, kind, register, tariff,
       prev_date  AS start_date,
       freeze_date AS end_date,
       prev_ts    AS start_ts,
       ts         AS end_ts,
       prev_value AS start_value,
       value      AS end_value,
       CASE WHEN i_delta < 0 THEN '-' ELSE '' END
           || CASE WHEN s_delta = 0 THEN p_delta
                   ELSE substr(p_delta, 1, length(p_delta) - s_delta) || '.' || substr(p_delta, -s_delta) END
           AS register_delta,
       CASE WHEN i_mult IS NULL THEN NULL
            WHEN s_mult = 0 THEN p_mult
            ELSE substr(p_mult, 1, length(p_mult) - s_mult) || '.' || substr(p_mult, -s_mult) END AS multiplier,
       CASE WHEN i_use IS NULL THEN NULL
            ELSE CASE WHEN i_use < 0 THEN '-' ELSE '' END
                 || CASE WHEN s_use = 0 THEN p_use
                         ELSE substr(p_use, 1, length(p_use) - s_use) || '.' || substr(p_use, -s_use) END
       END AS consumption,
       unit,
       periods,
       periods > 1 AS gap,
       (quality = 'estimated' OR prev_quality = 'estimated') AS estimated,
       i_delta < 0 AS decreased,
       ratio_changed,
       max(ingest_batch, prev_batch) AS ingest_batch
  FROM texts;

CREATE VIEW terminal_status AS
SELECT t.terminal,
       (SELECT l.event IN ('login', 'clock_read', 'clock_set') FROM terminal_link_log l
         WHERE l.terminal = t.terminal
         ORDER BY julianday(l.ts) DESC, l.id DESC LIMIT 1)                                  AS online,
       (SELECT l.ts FROM terminal_link_log l WHERE l.terminal = t.terminal AND l.event = 'login'
         ORDER BY julianday(l.ts) DESC, l.id DESC LIMIT 1)                                  AS last_login,
       (SELECT l.ts FROM terminal_link_log l
         WHERE l.terminal = t.terminal AND l.event IN ('logout', 'disconnect')
         ORDER BY julianday(l.ts) DESC, l.id DESC LIMIT 1)                                  AS last_logout,
       (SELECT l.peer FROM terminal_link_log l WHERE l.terminal = t.terminal AND l.event = 'login'
         ORDER BY julianday(l.ts) DESC, l.id DESC LIMIT 1)                                  AS peer,
       (SELECT l.clock_drift_ms FROM terminal_link_log l
         WHERE l.terminal = t.terminal AND l.clock_drift_ms IS NOT NULL
         ORDER BY julianday(l.ts) DESC, l.id DESC LIMIT 1)                                  AS clock_drift_ms,
       (SELECT l.ts FROM terminal_link_log l
         WHERE l.terminal = t.terminal AND l.clock_drift_ms IS NOT NULL
         ORDER BY julianday(l.ts) DESC, l.id DESC LIMIT 1)                                  AS clock_checked_at
  FROM (SELECT DISTINCT terminal FROM terminal_link_log) t;

-- Daily first and last energy indication of each register from readings (instantaneous values and curve
-- points), kept up to date incrementally by the daemon (SqliteStore.maintain, from the ingest watermark), so it
-- outlives the retention of readings; on TimescaleDB the same columns come from headend/storage/editions.py.
CREATE TABLE energy_daily_agg (
    meter       TEXT    NOT NULL,
    register    TEXT    NOT NULL,
    tariff      INTEGER NOT NULL,
    day         TEXT    NOT NULL,  -- local date
    first_ts    TEXT    NOT NULL,
    first_value TEXT    NOT NULL,
    last_ts     TEXT    NOT NULL,
    last_value  TEXT    NOT NULL,
    samples     INTEGER NOT NULL,
    PRIMARY KEY (meter, register, tariff, day)
) STRICT;

CREATE VIEW daily_energy AS
WITH ends AS (
    SELECT a.*,
           CASE WHEN instr(first_value, '.') > 0 THEN length(first_value) - instr(first_value, '.') ELSE 0 END
               AS s_first,
           CASE WHEN instr(last_value, '.') > 0 THEN length(last_value) - instr(last_value, '.') ELSE 0 END
               AS s_last
      FROM energy_daily_agg a
), used AS (
    SELECT n.*,
           max(s_first, s_last) AS s_used,
           CAST(replace(last_value, '.', '') AS INTEGER)
               * CAST(substr('1000000000000000000', 1, max(s_first, s_last) - s_last + 1) AS INTEGER)
           - CAST(replace(first_value, '.', '') AS INTEGER)
               * CAST(substr('1000000000000000000', 1, max(s_first, s_last) - s_first + 1) AS INTEGER) AS i_used
      FROM ends n
), padded AS (
    SELECT u.*, substr('0000000000000000000' || abs(i_used), -max(length(abs(i_used)), s_used + 1)) AS p_used
      FROM used u
)
SELECT meter, register, tariff, day, first_ts, first_value, last_ts, last_value,
       CASE WHEN i_used < 0 THEN '-' ELSE '' END
           || CASE WHEN s_used = 0 THEN p_used
                   ELSE substr(p_used, 1, length(p_used) - s_used) || '.' || substr(p_used, -s_used) END AS used,
       samples
  FROM padded;
