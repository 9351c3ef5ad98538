-- 0001: readings and reading_conflicts (docs/schema.md is the contract).
--
-- Key (meter, register, tariff, ts): the same reading delivered twice is one row. A different value for an
-- existing key is never written over the original: the writer records it in reading_conflicts.

CREATE TABLE readings (
    meter       text        NOT NULL,   -- 12-digit meter address, or "<terminal>/p<pn>"
    register    text        NOT NULL,   -- e.g. energy.active.forward
    tariff      smallint    NOT NULL CHECK (tariff >= 0),          -- 0 = total, 1..M = tariff (费率)
    ts          timestamptz NOT NULL,   -- the device's read time (终端抄表时间), not when we received it
    value       numeric,                -- exactly what the meter said; NULL when quality = 'invalid'
    unit        text        NOT NULL,   -- kWh, kvarh, kW, V, A, ...
    quality     text        NOT NULL CHECK (quality IN ('ok', 'backfilled', 'estimated', 'invalid')),
    source      text        NOT NULL,   -- protocol and code, e.g. "gdw376.1 AFN0C F129"
    terminal    text        NOT NULL,   -- terminal address "A1:A2", '' for meters read directly
    pn          integer     NOT NULL CHECK (pn >= 0),              -- measurement point (测量点号)
    received_at timestamptz NOT NULL,   -- when the head-end received the frame
    ingested_at timestamptz NOT NULL DEFAULT now(),  -- commit batch time: the incremental-read watermark
    PRIMARY KEY (meter, register, tariff, ts)
);

CREATE INDEX readings_ingested_at_idx ON readings (ingested_at);

CREATE TABLE reading_conflicts (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meter                text        NOT NULL,
    register             text        NOT NULL,
    tariff               smallint    NOT NULL,
    ts                   timestamptz NOT NULL,
    original_value       numeric,
    original_unit        text        NOT NULL,
    original_quality     text        NOT NULL,
    original_source      text        NOT NULL,
    original_received_at timestamptz NOT NULL,
    new_value            numeric,
    new_unit             text        NOT NULL,
    new_quality          text        NOT NULL,
    new_source           text        NOT NULL,
    new_terminal         text        NOT NULL,
    new_pn               integer     NOT NULL,
    new_received_at      timestamptz NOT NULL,
    detected_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX reading_conflicts_key_idx ON reading_conflicts (meter, register, tariff, ts);
CREATE INDEX reading_conflicts_detected_at_idx ON reading_conflicts (detected_at);

-- A hypertable on ts (7-day chunks) when TimescaleDB is installed in this database; plain PostgreSQL keeps the
-- ordinary table with the same columns, key and semantics.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('readings', 'ts', chunk_time_interval => INTERVAL '7 days',
                                  if_not_exists => TRUE);
    END IF;
END
$$;
