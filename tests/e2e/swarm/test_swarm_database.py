"""The Swarm's database checks who connects: from inside the log's writer (on the one network
the database shares), only its own role, over TLS that names the server, with its password,
gets in; and every connection the database holds, replication and the monitor's included,
is TLS."""

from __future__ import annotations

import json

import pytest

from runtimes import swarm

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.timeout(600)]
WRITERS = {"monolith": "monolith", "micro": "ingest", "hybrid": "hybrid"}
# Run inside the writer's container: each way in, and whether PostgreSQL let it in.
ATTEMPTS = r"""
import json, os, socket
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

own = conninfo_to_dict(os.environ["CHURNLAB_PREDICTION_LOG_URL"])
own.update(host="db-a", connect_timeout=5, client_encoding="utf8")
own.pop("target_session_attrs")
without = lambda *names: {k: v for k, v in own.items() if k not in names}
ways = {
    "its own": own,
    "without TLS": own | {"sslmode": "disable"},
    "a wrong password": without("passfile") | {"password": "not-the-password"},
    "as the superuser": own | {"user": "churnlab"},
    "as the replication role": own | {"user": "pgautofailover_replicator"},
    "by address, unnamed": own | {"host": socket.gethostbyname("db-a")},
}
outcomes = {}
for way, parameters in ways.items():
    try:
        with psycopg.connect(make_conninfo(**parameters)) as connection:
            outcomes[way] = connection.execute(
                "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            ).fetchone()
    except psycopg.OperationalError as refused:
        outcomes[way] = "refused: " + str(refused).strip().splitlines()[-1]
print(json.dumps(outcomes))
"""
HELD = (
    "SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
    " WHERE a.client_addr IS NOT NULL"
)


@pytest.mark.parametrize("deployment", sorted(WRITERS))
def test_only_the_writer_s_role_over_checked_tls_with_its_password_gets_in(stacks, deployment):
    _, printed = swarm.in_task(deployment, WRITERS[deployment], "python3", "-c", ATTEMPTS)
    outcomes = json.loads(printed)
    assert outcomes.pop("its own") == ["churnlab_ingest", True]
    for way, outcome in outcomes.items():
        assert str(outcome).startswith("refused"), (way, outcome)
    assert "no pg_hba.conf entry" in outcomes["without TLS"]
    assert "password authentication failed" in outcomes["a wrong password"]
    assert "does not match host name" in outcomes["by address, unnamed"]


@pytest.mark.parametrize("deployment", sorted(WRITERS))
def test_every_connection_the_database_holds_is_tls(stacks, deployment):
    held = []
    for service, database in (("db-a", "churnlab"), ("db-b", "churnlab"),
                              ("db-monitor", "pg_auto_failover")):  # fmt: skip
        _, rows = swarm.in_task(deployment, service, "psql", "-qAtX", "-d", database, "-c", HELD)
        held += [tuple(row.split("|")) for row in rows.splitlines()]
    users = {user for user, _ in held}
    # The writer and the standby's replication at least (the keepers come and go).
    assert {"churnlab_ingest", "pgautofailover_replicator"} <= users, held
    assert all(ssl == "t" for _, ssl in held), held


@pytest.mark.parametrize("deployment", sorted(WRITERS))
def test_no_role_that_logs_in_over_the_network_is_a_superuser(stacks, deployment):
    """pg_auto_failover makes its replication role a superuser; the primary's setup takes that
    away (pg_rewind needs four functions, granted). The superuser pg_autoctl makes has no rule
    in pg_hba.conf but the container's own socket."""
    _, rows = swarm.in_task(
        deployment, "db-a", "psql", "-qAtX", "-d", "churnlab", "-c",  # either: roles replicate
        "SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN"
        " ('churnlab_ingest', 'pgautofailover_replicator', 'churnlab')",
    )  # fmt: skip
    roles = dict(row.split("|") for row in rows.splitlines())
    assert roles == {"churnlab_ingest": "f", "pgautofailover_replicator": "f", "churnlab": "t"}
