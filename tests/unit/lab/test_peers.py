"""What the bench sends its peers: a record as each server takes it (their own tests run the
servers: tests/e2e/test_peers.py)."""

from __future__ import annotations

from lab.bench.__main__ import PEERS
from lab.bench.peers.mlserver_peer import oip_request


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
