"""The local Swarm's credentials, made at `make cluster-up` in var/secrets/cluster/ (a directory
only its owner may enter) and handed to the stacks as Docker secrets (compose/swarm/):

- a certificate authority of the cluster's own (`ca.crt`; its key never leaves this machine),
  and a server certificate signed by it for each database server, named as the stacks' clients
  reach them, so that every connection to PostgreSQL is TLS checked with `verify-full`;
- the edge's certificate, for the names this machine's clients reach it by (`edge.pem`, with
  its key, as HAProxy takes it): clients trust `ca.crt` to call the stacks over HTTPS;
- a password per purpose, each in libpq's password-file form (`*:*:<database>:<role>:<pw>`),
  which libpq reads itself (`passfile=`) and the database entrypoint reads to set it: the
  log's writer (ingest, or the monolith), pg_auto_failover's nodes at the monitor, and
  replication between the data nodes.

The CA is made again only with a new cluster: a stack's volumes go with the stack, and a
cluster's secrets go with the cluster (`cluster-down`).
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from runtimes.paths import ROOT

DIRECTORY = ROOT / "var" / "secrets" / "cluster"
SERVERS = ("db-monitor", "db-a", "db-b")  # the database's services, by the names clients use
# file -> (database, role) of the password in it
PASSWORDS = {
    "db-writer.pgpass": ("churnlab", "churnlab_ingest"),
    "db-monitor.pgpass": ("pg_auto_failover", "autoctl_node"),
    # Streaming replication, and its checks and pg_rewind in the log's database.
    "db-replication.pgpass": ("*", "pgautofailover_replicator"),
}
DAYS = 825  # the longest validity clients commonly accept for a server certificate
EDGE_NAMES = ["localhost", "127.0.0.1"]  # node 1's ports, published on this machine
# What the stacks are given: everything but the CA's key.
DEPLOYED = (
    "ca.crt",
    *(f"{server}.{part}" for server in SERVERS for part in ("crt", "key")),
    "edge.pem",
    *PASSWORDS,
)


def make(directory: Path = DIRECTORY) -> None:
    """A new CA, a certificate for each server and a password for each purpose, replacing any
    that were there."""
    shutil.rmtree(directory, ignore_errors=True)
    authority(directory)
    for server in SERVERS:
        sign(directory, server, subject_names([server]))
    sign(directory, "edge", subject_names(EDGE_NAMES))
    _private(
        directory / "edge.pem",
        (directory / "edge.crt").read_text() + (directory / "edge.key").read_text(),
    )
    for name, (database, role) in PASSWORDS.items():
        _private(directory / name, f"*:*:{database}:{role}:{new_key()}\n")


def authority(directory: Path) -> None:
    """A new certificate authority, `ca.crt` and `ca.key`, in `directory`, made private."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _openssl(
        "req", "-x509", "-new", "-nodes", "-days", "3650", *_NEW_KEY,
        "-keyout", directory / "ca.key", "-out", directory / "ca.crt",
        "-subj", "/CN=ChurnLab cluster CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def ensure(directory: Path = DIRECTORY) -> Path:
    """The secrets, made if any is missing (a cluster made before they existed)."""
    if not all((directory / name).is_file() for name in (*DEPLOYED, "ca.key")):
        make(directory)
    return directory


def sign(directory: Path, name: str, names: list[str]) -> None:
    """`name`.key and `name`.crt, a server certificate for `names` (e.g. DNS:db-a,
    IP:127.0.0.1), signed by the directory's CA."""
    with tempfile.TemporaryDirectory() as scratch:
        request, extensions = Path(scratch) / "request.csr", Path(scratch) / "extensions"
        extensions.write_text(
            f"subjectAltName={','.join(names)}\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
        )
        _openssl(
            "req", "-new", "-nodes", *_NEW_KEY, "-keyout", directory / f"{name}.key",
            "-out", request, "-subj", f"/CN={name}",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", request, "-days", str(DAYS), "-extfile", extensions,
            "-CA", directory / "ca.crt", "-CAkey", directory / "ca.key", "-CAcreateserial",
            "-out", directory / f"{name}.crt",
        )  # fmt: skip
    (directory / f"{name}.key").chmod(0o600)


_NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")


def _openssl(*args: str | Path) -> None:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr[-2000:]}")


def subject_names(hostnames: list[str]) -> list[str]:
    """A certificate's subjectAltName entries: IP:<address> or DNS:<name>."""
    names = []
    for hostname in hostnames:
        try:
            names.append(f"IP:{ipaddress.ip_address(hostname)}")
        except ValueError:
            names.append(f"DNS:{hostname}")
    return names


def new_key() -> str:
    """A random key of about 256 bits, URL-safe: a password, or an API key."""
    return secrets.token_urlsafe(32)


def _private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.write_text(text)
