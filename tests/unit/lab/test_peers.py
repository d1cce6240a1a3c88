"""What the bench sends its peers and how it stops them (their own tests run the servers:
tests/e2e/test_peers.py)."""

from __future__ import annotations

import os
import subprocess
import time

import psutil

from lab.bench.__main__ import PEERS
from lab.bench.peers.mlserver_peer import oip_request
from lab.bench.peers.serving import stop_group


def test_a_record_is_an_inference_request_of_one_typed_column_per_field(record_body):
    record = {**record_body, "total_charges": None}
    request = oip_request(record)
    assert request["parameters"] == {"content_type": "pd"}  # MLServer's pandas codec
    inputs = {i["name"]: i for i in request["inputs"]}
    assert list(inputs) == list(record)
    assert inputs["gender"]["datatype"] == "BYTES"
    assert inputs["gender"]["parameters"] == {"content_type": "str"}
    assert inputs["tenure"]["datatype"] == "INT64"
    assert inputs["monthly_charges"]["datatype"] == "FP64"
    assert inputs["total_charges"] == {"name": "total_charges", "shape": [1], "data": [None],
                                       "datatype": "FP64"}  # fmt: skip
    assert all(i["shape"] == [1] and len(i["data"]) == 1 for i in inputs.values())


def test_each_peer_has_a_venv_of_its_own_under_build():
    venvs = {peer.venv for peer in PEERS.values()}
    assert len(venvs) == len(PEERS)
    assert all(venv.parent.name == "build" for venv in venvs)


def test_stopping_a_peer_stops_every_process_of_its_group_even_one_that_ignores_sigterm():
    """A worker may outlive its leader: none may run into the next peer's rounds."""
    server = subprocess.Popen(
        ["sh", "-c", '(trap "" TERM; sleep 30) & exec sleep 30'], start_new_session=True
    )
    time.sleep(0.5)  # the child has started and set its trap
    started = time.monotonic()
    stop_group(server, grace=1)
    assert time.monotonic() - started < 10
    # SIGKILL lands at once, but a loaded machine may take a moment to end the process.
    deadline = time.monotonic() + 5
    while _alive_in(server.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive_in(server.pid) == []


def _alive_in(group: int) -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["status"])
        if _group(p) == group and p.info["status"] != psutil.STATUS_ZOMBIE
    ]  # fmt: skip


def _group(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None
