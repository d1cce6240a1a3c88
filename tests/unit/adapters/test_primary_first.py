"""Reconnects try the host the primary was last reached on first, keeping each host's port."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict

from churnlab.adapters.postgres_log import primary_first


def test_the_primary_moves_to_the_front_and_the_rest_keep_their_order():
    moved = conninfo_to_dict(primary_first("host=a,b,c port=1,2,3 dbname=log", "c"))
    assert (moved["host"], moved["port"], moved["dbname"]) == ("c,a,b", "3,1,2", "log")


def test_a_single_port_stays_everyones():
    moved = conninfo_to_dict(primary_first("host=db-a,db-b port=5432 dbname=log", "db-b"))
    assert (moved["host"], moved["port"]) == ("db-b,db-a", "5432")


def test_unchanged_when_the_primary_is_first_or_not_listed():
    for conninfo, primary in (("host=a,b dbname=log", "a"), ("host=a,b dbname=log", "10.0.0.9")):
        assert primary_first(conninfo, primary) == conninfo
