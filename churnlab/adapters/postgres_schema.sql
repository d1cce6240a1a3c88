-- The prediction log's schema in PostgreSQL (postgres_log.py), and who may do what to it.
-- Installed by the database's owner, never by ingest: psql -v ON_ERROR_STOP=1 -f this file
-- (cluster/database-entrypoint.sh on the swarm's primary; the tests' fixtures). Safe to run
-- again: every statement is idempotent.
--
-- churnlab_owner (no login) owns the tables and the functions below. churnlab_writer (no
-- login) is what ingest's login role is a member of: it may read the log and insert into it,
-- and change nothing else but through these functions, each one narrow job run as the owner
-- (SECURITY DEFINER, with a fixed search_path), whose bounds the database sets, not the
-- caller: the partitions of days around today, one customer's erasure (which leaves a
-- tombstone, dated now, that a later erasure never moves back), and retention, which never
-- reaches records younger than log_settings' min_retention_seconds (a day, unless the owner
-- says otherwise); and the replication figures for the metrics. It owns nothing, so it cannot
-- drop, alter or truncate a table itself, and it is no superuser, so it cannot read files,
-- run programs or make roles.

DO $$ BEGIN CREATE ROLE churnlab_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE churnlab_writer NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT CREATE ON SCHEMA public TO churnlab_owner;
GRANT pg_read_all_stats TO churnlab_owner;  -- churnlab_replication() reads sync_state
SET ROLE churnlab_owner;

CREATE TABLE IF NOT EXISTS predictions (
    prediction_id     TEXT NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL,
    request_id        TEXT NOT NULL,
    idempotency_key   TEXT,
    position          INTEGER NOT NULL,
    customer_id       TEXT NOT NULL,
    record            JSONB NOT NULL,
    churn_probability DOUBLE PRECISION NOT NULL,
    churn             BOOLEAN NOT NULL,
    risk              TEXT NOT NULL,
    reasons           JSONB NOT NULL,
    model_version     TEXT NOT NULL,
    PRIMARY KEY (prediction_id, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE IF NOT EXISTS predictions_default PARTITION OF predictions DEFAULT;
CREATE INDEX IF NOT EXISTS predictions_by_customer ON predictions (customer_id);
CREATE INDEX IF NOT EXISTS predictions_by_time ON predictions (received_at);
CREATE INDEX IF NOT EXISTS predictions_by_key ON predictions (idempotency_key, received_at)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    records     INTEGER NOT NULL,
    erased      BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_time ON idempotency_keys (received_at);
CREATE TABLE IF NOT EXISTS erasures (
    customer_key TEXT PRIMARY KEY,
    erased_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS log_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO log_settings VALUES ('erasure_salt', replace(gen_random_uuid()::text, '-', ''))
    ON CONFLICT DO NOTHING;
INSERT INTO log_settings VALUES ('min_retention_seconds', '86400') ON CONFLICT DO NOTHING;

-- The oldest a record may be and still be kept from retention: now, less the owner's floor.
CREATE OR REPLACE FUNCTION churnlab_retention_floor(wanted timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
    SELECT least(wanted, now() - make_interval(secs => (
        SELECT value::float8 FROM log_settings WHERE name = 'min_retention_seconds')))
$fn$;

-- Day partitions from first_day to last_day, within yesterday and a week from today (UTC).
CREATE OR REPLACE FUNCTION churnlab_make_partitions(first_day date, last_day date)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    day date;
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    IF first_day < today - 1 OR last_day > today + 7 THEN
        RAISE EXCEPTION 'partitions from % to %: only from % to %', first_day, last_day,
            today - 1, today + 7;
    END IF;
    PERFORM pg_advisory_xact_lock(426954289774);  -- processes starting together: one at a time
    FOR day IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF predictions FOR VALUES FROM (%L) TO (%L)',
            'predictions_p' || to_char(day, 'YYYYMMDD'),
            day::text || ' 00:00+00', (day + 1)::text || ' 00:00+00'
        );
    END LOOP;
END
$fn$;

-- Drops the day partitions that end by `cutoff` (no later than the retention floor); how
-- many rows they held.
CREATE OR REPLACE FUNCTION churnlab_drop_days(cutoff timestamptz)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    partition_name text;
    held bigint;
    dropped bigint := 0;
BEGIN
    cutoff := churnlab_retention_floor(cutoff);
    FOR partition_name IN
        SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
        WHERE i.inhparent = 'predictions'::regclass AND c.relname ~ '^predictions_p[0-9]{8}$'
    LOOP
        IF (to_date(substr(partition_name, 14), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC'
                <= cutoff THEN
            EXECUTE format('SELECT count(*) FROM %I', partition_name) INTO held;
            EXECUTE format('DROP TABLE %I', partition_name);
            dropped := dropped + held;
        END IF;
    END LOOP;
    RETURN dropped;
END
$fn$;

-- Up to `batch` (at most 10,000) predictions received before `cutoff` (or at it,
-- `inclusive`), no later than the retention floor, with the keys and tombstones as old; how
-- many predictions went. Called again until fewer than `batch`.
CREATE OR REPLACE FUNCTION churnlab_delete_before(cutoff timestamptz, inclusive boolean, batch integer)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    deleted bigint;
BEGIN
    cutoff := churnlab_retention_floor(cutoff);
    batch := least(greatest(batch, 1), 10000);
    DELETE FROM predictions WHERE (prediction_id, received_at) IN (
        SELECT prediction_id, received_at FROM predictions
        WHERE received_at < cutoff OR (inclusive AND received_at = cutoff) LIMIT batch
    );
    GET DIAGNOSTICS deleted = ROW_COUNT;
    DELETE FROM idempotency_keys WHERE received_at < cutoff OR (inclusive AND received_at = cutoff);
    DELETE FROM erasures WHERE erased_at < cutoff OR (inclusive AND erased_at = cutoff);
    RETURN deleted;
END
$fn$;

-- One customer's predictions out of the log, their keys marked erased, and a tombstone left
-- (the id hashed with the log's salt, as log_rows.tombstone does) so that a spool's later
-- replay of them is refused; dated now, never earlier than it was; how many predictions went.
CREATE OR REPLACE FUNCTION churnlab_erase(erased_customer text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    erased bigint;
    salt text := (SELECT value FROM log_settings WHERE name = 'erasure_salt');
BEGIN
    UPDATE idempotency_keys SET erased = true WHERE key IN (
        SELECT idempotency_key FROM predictions
        WHERE customer_id = erased_customer AND idempotency_key IS NOT NULL
    );
    DELETE FROM predictions WHERE customer_id = erased_customer;
    GET DIAGNOSTICS erased = ROW_COUNT;
    INSERT INTO erasures VALUES (
        encode(sha256(convert_to(salt || ':' || erased_customer, 'UTF8')), 'hex'), now()
    ) ON CONFLICT (customer_key)
        DO UPDATE SET erased_at = greatest(erasures.erased_at, excluded.erased_at);
    RETURN erased;
END
$fn$;

-- For the metrics: synchronous standbys now, and the largest replay lag in seconds.
CREATE OR REPLACE FUNCTION churnlab_replication(OUT sync_standbys bigint, OUT lag_seconds float8)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')),
           (SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication)::float8
$fn$;

REVOKE ALL ON predictions, predictions_default, idempotency_keys, erasures, log_settings FROM PUBLIC;
GRANT SELECT, INSERT ON predictions TO churnlab_writer;
GRANT SELECT, INSERT, UPDATE ON idempotency_keys TO churnlab_writer;
GRANT SELECT ON erasures, log_settings TO churnlab_writer;
DROP FUNCTION IF EXISTS churnlab_erase(text, text, timestamptz);  -- the caller dated it once
REVOKE ALL ON FUNCTION churnlab_make_partitions(date, date), churnlab_drop_days(timestamptz),
    churnlab_delete_before(timestamptz, boolean, integer), churnlab_erase(text),
    churnlab_replication(), churnlab_retention_floor(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION churnlab_make_partitions(date, date), churnlab_drop_days(timestamptz),
    churnlab_delete_before(timestamptz, boolean, integer), churnlab_erase(text),
    churnlab_replication() TO churnlab_writer;

RESET ROLE;
