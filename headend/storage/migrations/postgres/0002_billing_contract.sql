-- 0002: the billing contract (docs/schema.md): frozen registers, ingest batches (the incremental-read
-- watermark), events, terminal link history, the meter archive, and the billing views.
--
-- Objects that depend on the TimescaleDB edition (compression, the continuous aggregate behind daily_energy,
-- retention policies) are not here: headend/storage/editions.py creates them after the migrations, for the
-- edition it finds, because they differ between Community, Apache and plain PostgreSQL.

-- Settings of this database that the views need: the configured zone of device clocks (local dates).
CREATE TABLE store_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- One row per write transaction of the head-end. Writers take the ingest lock (an advisory transaction lock)
-- before drawing a batch number, so batches commit in the order of their numbers: a reader that has seen
-- batch N has seen every row of every batch <= N.
CREATE SEQUENCE ingest_batch_seq AS bigint;
CREATE TABLE ingest_batches (
    batch      bigint      PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    inserted   integer     NOT NULL DEFAULT 0,
    duplicates integer     NOT NULL DEFAULT 0,
    conflicts  integer     NOT NULL DEFAULT 0,
    events     integer     NOT NULL DEFAULT 0
);

-- Rows written before this migration belong to batch 0. No default afterwards: every writer names its batch.
ALTER TABLE readings ADD COLUMN ingest_batch bigint NOT NULL DEFAULT 0;
ALTER TABLE readings ALTER COLUMN ingest_batch DROP DEFAULT;
CREATE INDEX readings_ingest_batch_idx ON readings (ingest_batch);

ALTER TABLE reading_conflicts ADD COLUMN ingest_batch bigint NOT NULL DEFAULT 0;
ALTER TABLE reading_conflicts ALTER COLUMN ingest_batch DROP DEFAULT;

-- Frozen registers (日冻结 / 月冻结 / 结算日冻结): the same columns, key and rules as readings; register names
-- start with daily. / monthly. / settlement. ; ts is the instant the device froze the register. Never dropped.
CREATE TABLE frozen_readings (
    meter        text        NOT NULL,
    register     text        NOT NULL CHECK (register ~ '^(daily|monthly|settlement)\.'),
    tariff       smallint    NOT NULL CHECK (tariff >= 0),
    ts           timestamptz NOT NULL,
    value        numeric,
    unit         text        NOT NULL,
    quality      text        NOT NULL CHECK (quality IN ('ok', 'backfilled', 'estimated', 'invalid')),
    source       text        NOT NULL,
    terminal     text        NOT NULL,
    pn           integer     NOT NULL CHECK (pn >= 0),
    received_at  timestamptz NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    ingest_batch bigint      NOT NULL,
    PRIMARY KEY (meter, register, tariff, ts)
);
CREATE INDEX frozen_readings_ingest_batch_idx ON frozen_readings (ingest_batch);

-- Events: terminal ERC records (AFN0E), meter event records (DL/T 645 03xxxxxx), head-end events
-- (reading_conflict, spool_full, ...). event_key is the identity of the event at its origin: the same event
-- delivered twice (re-read pointers, retransmission, replay) is one row.
CREATE TABLE events (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin       text        NOT NULL CHECK (origin IN ('terminal', 'meter', 'headend')),
    code         text        NOT NULL,
    severity     text        NOT NULL CHECK (severity IN ('info', 'warning', 'alarm')),
    terminal     text        NOT NULL,
    pn           integer     NOT NULL CHECK (pn >= 0),
    meter        text        NOT NULL,
    ts           timestamptz NOT NULL,
    detail       jsonb       NOT NULL,
    raw          bytea,
    source       text        NOT NULL,
    event_key    text        NOT NULL UNIQUE,
    received_at  timestamptz NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    ingest_batch bigint      NOT NULL
);
CREATE INDEX events_ts_idx ON events (ts);
CREATE INDEX events_terminal_idx ON events (terminal, ts);
CREATE INDEX events_ingest_batch_idx ON events (ingest_batch);

-- Link history of terminals: logins, logouts, dropped connections, clock reads and clock settings.
CREATE TABLE terminal_link_log (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    terminal       text        NOT NULL,
    ts             timestamptz NOT NULL,
    event          text        NOT NULL CHECK (event IN ('login', 'logout', 'disconnect', 'clock_read',
                                                         'clock_set')),
    peer           text        NOT NULL,
    clock_drift_ms bigint,
    detail         jsonb       NOT NULL
);
CREATE INDEX terminal_link_log_terminal_idx ON terminal_link_log (terminal, ts);

-- The meter archive (档案).
CREATE TABLE terminals (
    terminal   text        PRIMARY KEY,
    kind       text        NOT NULL,
    protocol   text        NOT NULL,
    name       text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE meters (
    meter        text        PRIMARY KEY,
    address      text        NOT NULL,
    protocol     text        NOT NULL,
    tariff_count smallint    CHECK (tariff_count >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE measurement_points (
    terminal   text        NOT NULL REFERENCES terminals,
    pn         integer     NOT NULL CHECK (pn >= 0),
    meter      text        NOT NULL REFERENCES meters,
    port       smallint,
    baud       integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (terminal, pn)
);
CREATE TABLE meter_ratios (
    meter      text        NOT NULL REFERENCES meters,
    valid_from timestamptz NOT NULL,
    ct_ratio   numeric     NOT NULL CHECK (ct_ratio > 0),
    pt_ratio   numeric     NOT NULL CHECK (pt_ratio > 0),
    PRIMARY KEY (meter, valid_from)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('frozen_readings', 'ts', chunk_time_interval => INTERVAL '30 days',
                                  if_not_exists => TRUE);
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------- views

-- The configured zone, for local dates.
CREATE VIEW store_zone AS SELECT value AS zone FROM store_meta WHERE key = 'time_zone';

-- The highest committed ingest batch: read rows with ingest_batch > :last_seen AND <= this.
CREATE VIEW ingest_watermark AS
SELECT coalesce(max(batch), 0) AS ingest_batch,
       (SELECT b.started_at FROM ingest_batches b ORDER BY b.batch DESC LIMIT 1) AS started_at
  FROM ingest_batches;

CREATE VIEW frozen_registers AS
SELECT f.meter,
       split_part(f.register, '.', 1)                  AS kind,
       substr(f.register, strpos(f.register, '.') + 1) AS register,
       f.tariff,
       (f.ts AT TIME ZONE z.zone)::date                AS freeze_date,
       f.ts,
       f.value, f.unit, f.quality, f.source, f.terminal, f.pn, f.received_at, f.ingested_at, f.ingest_batch
  FROM frozen_readings f CROSS JOIN store_zone z;

CREATE VIEW billing_daily_frozen AS
SELECT meter, register, tariff, freeze_date, ts, value, unit, quality, source, terminal, pn, received_at,
       ingested_at, ingest_batch
  FROM frozen_registers WHERE kind = 'daily';

CREATE VIEW billing_monthly_frozen AS
SELECT meter, register, tariff, freeze_date, ts, value, unit, quality, source, terminal, pn, received_at,
       ingested_at, ingest_batch
  FROM frozen_registers WHERE kind = 'monthly';

-- Consumption between two consecutive valid freezes of the same register (daily, monthly, settlement):
-- (end - start) x CT x PT, with the ratio in effect at the start. Invalid (NULL) freezes are skipped, so the
-- period then spans more than one freeze interval and is flagged as a gap.
CREATE VIEW billing_consumption AS
WITH chain AS (
    SELECT meter, kind, register, tariff, freeze_date, ts, value, unit, quality, ingest_batch,
           lag(freeze_date) OVER w AS prev_date,
           lag(ts)          OVER w AS prev_ts,
           lag(value)       OVER w AS prev_value,
           lag(quality)     OVER w AS prev_quality,
           lag(ingest_batch) OVER w AS prev_batch
      FROM frozen_registers
     WHERE value IS NOT NULL
    WINDOW w AS (PARTITION BY meter, kind, register, tariff ORDER BY ts)
), periods AS (
    SELECT c.*,
           CASE c.kind
               WHEN 'daily' THEN c.freeze_date - c.prev_date
               ELSE (extract(year FROM c.freeze_date) * 12 + extract(month FROM c.freeze_date))::integer
                  - (extract(year FROM c.prev_date) * 12 + extract(month FROM c.prev_date))::integer
           END AS periods,
           (SELECT r.ct_ratio * r.pt_ratio FROM meter_ratios r
             WHERE r.meter = c.meter AND r.valid_from <= c.prev_ts
             ORDER BY r.valid_from DESC LIMIT 1) AS multiplier,
           EXISTS (SELECT 1 FROM meter_ratios r
                    WHERE r.meter = c.meter AND r.valid_from > c.prev_ts AND r.valid_from <= c.ts) AS ratio_changed
      FROM chain c
     WHERE c.prev_ts IS NOT NULL
)
SELECT meter, kind, register, tariff,
       prev_date                          AS start_date,
       freeze_date                        AS end_date,
       prev_ts                            AS start_ts,
       ts                                 AS end_ts,
       prev_value                         AS start_value,
       value                              AS end_value,
       value - prev_value                 AS register_delta,
       multiplier,
       (value - prev_value) * multiplier  AS consumption,
       unit,
       periods,
       periods > 1                        AS gap,
       (quality = 'estimated' OR prev_quality = 'estimated') AS estimated,
       value < prev_value                 AS decreased,
       ratio_changed,
       greatest(ingest_batch, prev_batch) AS ingest_batch
  FROM periods;

-- Current status of each terminal, from its link history.
CREATE VIEW terminal_status AS
SELECT t.terminal,
       (SELECT l.event IN ('login', 'clock_read', 'clock_set') FROM terminal_link_log l
         WHERE l.terminal = t.terminal AND l.event IN ('login', 'logout', 'disconnect', 'clock_read', 'clock_set')
         ORDER BY l.ts DESC, l.id DESC LIMIT 1)                                         AS online,
       (SELECT max(l.ts) FROM terminal_link_log l WHERE l.terminal = t.terminal AND l.event = 'login')  AS last_login,
       (SELECT max(l.ts) FROM terminal_link_log l
         WHERE l.terminal = t.terminal AND l.event IN ('logout', 'disconnect'))          AS last_logout,
       (SELECT l.peer FROM terminal_link_log l WHERE l.terminal = t.terminal AND l.event = 'login'
         ORDER BY l.ts DESC, l.id DESC LIMIT 1)                                         AS peer,
       (SELECT l.clock_drift_ms FROM terminal_link_log l
         WHERE l.terminal = t.terminal AND l.clock_drift_ms IS NOT NULL
         ORDER BY l.ts DESC, l.id DESC LIMIT 1)                                         AS clock_drift_ms,
       (SELECT max(l.ts) FROM terminal_link_log l
         WHERE l.terminal = t.terminal AND l.clock_drift_ms IS NOT NULL)                 AS clock_checked_at
  FROM (SELECT DISTINCT terminal FROM terminal_link_log) t;
