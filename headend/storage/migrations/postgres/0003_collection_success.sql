-- 0003: the collection success rate (采集成功率, docs/collection.md "Success rate", docs/schema.md).
--
-- Derived data: recomputed after every backfill run for each freeze date it covers, never written by billing.
-- IF NOT EXISTS: headend versions before this migration created these tables on first use; they are adopted.

-- One row per freeze date and terminal ('' = overall; "direct:<channel>" for meters on a direct bus).
CREATE TABLE IF NOT EXISTS collection_success (
    day                 date        NOT NULL,
    terminal            text        NOT NULL,
    expected            integer     NOT NULL,  -- meters of the archive
    complete_first_pass integer     NOT NULL,  -- with a daily total of quality ok (read by the plan)
    complete            integer     NOT NULL,  -- with one of any quality (after backfill too)
    computed_at         timestamptz NOT NULL,
    PRIMARY KEY (day, terminal)
);

-- The meters still missing on a freeze date, with the reason of the last failed request for each.
CREATE TABLE IF NOT EXISTS collection_missing (
    day      date    NOT NULL,
    terminal text    NOT NULL,
    pn       integer NOT NULL,
    meter    text    NOT NULL,
    reason   text    NOT NULL,  -- terminal_offline, terminal_not_answering, meter_not_answering, denied, ...
    detail   text    NOT NULL,
    PRIMARY KEY (day, terminal, pn)
);
