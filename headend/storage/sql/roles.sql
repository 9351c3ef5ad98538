-- Database roles of the billing contract (docs/schema.md "Roles"). Idempotent.
--
-- Run as a superuser (or a role with CREATEROLE that owns the headend objects), in the headend database, after
-- `headend db migrate`, and again after each upgrade of headend:
--
--     psql -v ON_ERROR_STOP=1 -d headend -f roles.sql       (the file: `headend db roles` prints it)
--
-- headend_writer  owns the headend tables and views: the daemon and `headend db migrate` log in as a member of
--                 it (CREATE ROLE headend LOGIN IN ROLE headend_writer), so they may write, migrate, refresh
--                 the materialized view and drop old chunks of `readings` (owner rights).
-- headend_billing reads everything, writes nothing: billing and reporting log in as members of it
--                 (CREATE ROLE billing LOGIN IN ROLE headend_billing).
--
-- Both are NOLOGIN group roles; the login roles and their passwords are the DBA's business.

DO $$
DECLARE
    rel record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'headend_writer') THEN
        CREATE ROLE headend_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'headend_billing') THEN
        CREATE ROLE headend_billing NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO headend_writer', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO headend_billing', current_database());

    -- headend_writer owns every table, view, materialized view and free-standing sequence of the schema that is
    -- not part of an extension (identity sequences follow their table; hypertable chunks follow their table).
    FOR rel IN
        SELECT c.oid::regclass AS name, c.relkind
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'
           AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO headend_writer',
                       CASE rel.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                        WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                       rel.name);
    END LOOP;
END
$$;

GRANT USAGE, CREATE ON SCHEMA public TO headend_writer;
GRANT USAGE ON SCHEMA public TO headend_billing;

-- Billing: SELECT on every table and view, now and on what later migrations create (as headend_writer).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO headend_billing;
ALTER DEFAULT PRIVILEGES FOR ROLE headend_writer IN SCHEMA public GRANT SELECT ON TABLES TO headend_billing;
