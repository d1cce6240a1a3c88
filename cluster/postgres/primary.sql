-- A data node that is the primary, once it runs (cluster/database-entrypoint.sh): the log's
-- schema (churnlab/adapters/postgres_schema.sql), the login role ingest (or the monolith)
-- connects as, a member of churnlab_writer, and the passwords of it and of replication, from
-- their Docker secrets (lines of libpq's password file). Safe to run again.
\set writer_password `cut -d: -f5- /run/secrets/db-writer.pgpass`
\set replication_password `cut -d: -f5- /run/secrets/db-replication.pgpass`
SET synchronous_commit = local;  -- the standby, if any, gets it all the same
-- The passwords below are statements' text: never logged, even should one fail.
SET log_statement = 'none';
SET log_min_error_statement = panic;
\i /etc/churnlab/postgres/schema.sql
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'churnlab_ingest') AS missing \gset
\if :missing
CREATE ROLE churnlab_ingest LOGIN IN ROLE churnlab_writer;
\endif
ALTER ROLE churnlab_ingest PASSWORD :'writer_password';
ALTER ROLE pgautofailover_replicator PASSWORD :'replication_password';
-- pg_auto_failover makes its replication role a superuser; streaming and pg_basebackup need
-- only REPLICATION, and pg_rewind (a demoted primary rejoining) these four functions
-- (PostgreSQL's pg_rewind documentation). Its password, on the network, opens nothing more.
ALTER ROLE pgautofailover_replicator NOSUPERUSER;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean),
    pg_catalog.pg_stat_file(text, boolean), pg_catalog.pg_read_binary_file(text),
    pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)
    TO pgautofailover_replicator;
