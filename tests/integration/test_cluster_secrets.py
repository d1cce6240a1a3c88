"""The local Swarm's credentials as `make cluster-up` makes them (runtimes/cluster_secrets.py),
checked with openssl: each server's certificate holds for its own name only, under the
cluster's CA, and nothing is readable by anyone but its owner."""

from __future__ import annotations

import subprocess

import pytest

from runtimes import cluster_secrets


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cluster") / "secrets"
    cluster_secrets.make(directory)
    return directory


def verify(made, certificate: str, hostname: str) -> int:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", made / "ca.crt", "-verify_hostname", hostname,
         made / certificate],
        capture_output=True, check=False,
    ).returncode  # fmt: skip


@pytest.mark.parametrize("server", cluster_secrets.SERVERS)
def test_each_server_certificate_holds_for_its_name_alone(made, server):
    assert verify(made, f"{server}.crt", server) == 0
    others = [name for name in cluster_secrets.SERVERS if name != server]
    assert all(verify(made, f"{server}.crt", other) != 0 for other in others)


def test_keys_and_passwords_are_their_owners_alone(made):
    assert made.stat().st_mode & 0o777 == 0o700
    for name in ["ca.key", *cluster_secrets.DEPLOYED]:
        if name.endswith((".key", ".pgpass")):
            assert (made / name).stat().st_mode & 0o077 == 0, name


def test_every_purpose_has_its_own_password(made):
    lines = [(made / name).read_text().strip() for name in cluster_secrets.PASSWORDS]
    passwords = {line.split(":", 4)[4] for line in lines}
    assert len(passwords) == len(lines)
    assert all(len(password) >= 40 for password in passwords)
    assert [line.split(":")[2:4] for line in lines] == [
        list(purpose) for purpose in cluster_secrets.PASSWORDS.values()
    ]


def test_ensure_keeps_what_is_there_and_makes_what_is_missing(made):
    before = (made / "ca.crt").read_bytes()
    assert cluster_secrets.ensure(made) == made
    assert (made / "ca.crt").read_bytes() == before
    (made / "db-a.key").unlink()
    cluster_secrets.ensure(made)
    assert (made / "db-a.key").is_file()
    assert (made / "ca.crt").read_bytes() != before  # a new CA for the whole set
