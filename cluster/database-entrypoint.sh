#!/bin/sh
# One role of the cluster's prediction-log database (compose/swarm/database.yaml), run by
# pg_auto_failover: `monitor`, or a `data` node named by DB_NAME (also its DNS name). A
# restarted task finds its node on the volume and rejoins as it was (a data node is created
# once; creating the monitor again is a no-op).
# Settings beyond pg_autoctl's own come from /etc/churnlab/postgres/<role>.conf.
set -eu
role=${1:?usage: database-entrypoint.sh monitor|data}

# Nothing runs yet in this container: pid files are a killed predecessor's (whose pids a new
# container reuses, so they would look alive). One task owns the volume at a time.
rm -rf /tmp/pg_autoctl
rm -f "$PGDATA/postmaster.pid"

if [ "$role" = monitor ]; then
  pg_autoctl create monitor --no-ssl --skip-pg-hba --hostname "${DB_NAME:-db-monitor}"
else
  : "${DB_NAME:?a data node needs DB_NAME}"
  node_state="$XDG_DATA_HOME/pg_autoctl$PGDATA/pg_autoctl"  # .init only while creating
  if [ ! -f "$node_state.state" ] || [ -f "$node_state.init" ]; then
    pg_autoctl create postgres --no-ssl --skip-pg-hba \
      --hostname "$DB_NAME" --name "$DB_NAME" --dbname churnlab --username churnlab
  fi
  # A primary cut off from the monitor and its standby demotes itself after 8 s [20 s]:
  # before the monitor (monitor.conf) may promote the standby.
  pg_autoctl config set timeout.network_partition_timeout 8 >/dev/null
fi
include="include_if_exists = '/etc/churnlab/postgres/$role.conf'"
grep -qxF "$include" "$PGDATA/postgresql.conf" || echo "$include" >>"$PGDATA/postgresql.conf"
# Who may connect: anyone on the stack's own overlay network, which only its services join.
# pg_autoctl's own rules name peers by address or DNS name, and a rescheduled task gets a new
# address whose reverse name is not its service's; the network is the boundary instead.
for rule in "host all all samenet trust" "host replication all samenet trust"; do
  grep -qxF "$rule" "$PGDATA/pg_hba.conf" || echo "$rule" >>"$PGDATA/pg_hba.conf"
done
if pg_ctl status >/dev/null 2>&1; then pg_ctl reload >/dev/null; fi
exec pg_autoctl run
