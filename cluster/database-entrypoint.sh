#!/bin/sh
# One role of the cluster's prediction-log database (compose/swarm/database.yaml), run by
# pg_auto_failover: `monitor`, or a `data` node named by DB_NAME (also its DNS name). A
# restarted task finds its node on the volume and rejoins as it was (a data node is created
# once; creating the monitor again is a no-op).
# Settings beyond pg_autoctl's own come from /etc/churnlab/postgres/<role>.conf, who may connect
# from <role>.hba, and the credentials from Docker secrets (runtimes/cluster_secrets.py):
# every connection over the network is TLS, checked against the cluster's CA (verify-full),
# and authenticated by a scram-sha-256 password of its purpose's own.
set -eu
role=${1:?usage: database-entrypoint.sh monitor|data}
conf=/etc/churnlab/postgres

# Nothing runs yet in this container: pid files are a killed predecessor's (whose pids a new
# container reuses, so they would look alive). One task owns the volume at a time.
rm -rf /tmp/pg_autoctl
rm -f "$PGDATA/postmaster.pid"

# PostgreSQL takes a key only its own user may read, and libpq a password file only its user
# may: copies on the tmpfs (the secrets are root's), made again at every start.
tls=/tmp/tls
mkdir -p -m 700 "$tls"
cp /run/secrets/db-ca.crt "$tls/ca.crt"
cp /run/secrets/db-server.crt "$tls/server.crt"
cp /run/secrets/db-server.key "$tls/server.key"
chmod 600 "$tls/server.key"
set -- --skip-pg-hba --ssl-mode verify-full --ssl-ca-file "$tls/ca.crt" \
  --server-cert "$tls/server.crt" --server-key "$tls/server.key"

if [ "$role" = monitor ]; then
  pg_autoctl create monitor "$@" --hostname "${DB_NAME:-db-monitor}"
  setup="$conf/monitor.sql" setup_database=pg_auto_failover
else
  : "${DB_NAME:?a data node needs DB_NAME}"
  # The keeper's passwords (the monitor's, replication's) where libpq looks: PGPASSFILE is
  # the image's, so that `docker exec ... pg_autoctl perform promotion` finds them too.
  (umask 077; cat /run/secrets/db-monitor.pgpass /run/secrets/db-replication.pgpass >"$PGPASSFILE")
  node_state="$XDG_DATA_HOME/pg_autoctl$PGDATA/pg_autoctl"  # .init only while creating
  if [ ! -f "$node_state.state" ] || [ -f "$node_state.init" ]; then
    pg_autoctl create postgres "$@" \
      --hostname "$DB_NAME" --name "$DB_NAME" --dbname churnlab --username churnlab
  fi
  # A primary cut off from the monitor and its standby demotes itself after 8 s [20 s]:
  # before the monitor (monitor.conf) may promote the standby.
  pg_autoctl config set timeout.network_partition_timeout 8 >/dev/null
  setup="$conf/primary.sql" setup_database=churnlab
fi
include="include_if_exists = '$conf/$role.conf'"
grep -qxF "$include" "$PGDATA/postgresql.conf" || echo "$include" >>"$PGDATA/postgresql.conf"
cp "$conf/$role.hba" "$PGDATA/pg_hba.conf"
if pg_ctl status >/dev/null 2>&1; then pg_ctl reload >/dev/null; fi

# Once the server takes connections: the roles' passwords from the secrets (and, on a data
# node that is the primary, the log's schema and its writer's role). The standby has them by
# replication; a failover keeps them. (pg_autoctl, PID 1, logs this helper's end as an
# "Unknown subprocess died".)
(
  until pg_isready -q; do sleep 1; done
  [ "$role" = monitor ] || [ "$(psql -qAtX -d churnlab -c 'SELECT pg_is_in_recovery()')" = f ] \
    || exit 0
  psql -qX -v ON_ERROR_STOP=1 -d "$setup_database" -f "$setup" \
    && echo "database-entrypoint: $setup applied" >&2
) &
exec pg_autoctl run
