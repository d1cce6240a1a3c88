-- The monitor, once it runs (cluster/database-entrypoint.sh): the password pg_auto_failover's
-- nodes log in with, from its Docker secret (a line of libpq's password file).
\set password `cut -d: -f5- /run/secrets/db-monitor.pgpass`
SET synchronous_commit = local;
-- The password below is a statement's text: never logged, even should it fail.
SET log_statement = 'none';
SET log_min_error_statement = panic;
ALTER ROLE autoctl_node PASSWORD :'password';
