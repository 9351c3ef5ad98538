-- 0003: the collection success rate, the same as migrations/postgres/0003_collection_success.sql.
-- Dates are ISO texts ('2026-11-23'), times ISO texts with their offset.

CREATE TABLE IF NOT EXISTS collection_success (
    day                 TEXT    NOT NULL,
    terminal            TEXT    NOT NULL,
    expected            INTEGER NOT NULL,
    complete_first_pass INTEGER NOT NULL,
    complete            INTEGER NOT NULL,
    computed_at         TEXT    NOT NULL,
    PRIMARY KEY (day, terminal)
) STRICT;

CREATE TABLE IF NOT EXISTS collection_missing (
    day      TEXT    NOT NULL,
    terminal TEXT    NOT NULL,
    pn       INTEGER NOT NULL,
    meter    TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    PRIMARY KEY (day, terminal, pn)
) STRICT;
