"""The peers `make bench` measures ChurnLab beside (lab/bench/peers/) serve the same model: each
answers the probability ChurnLab's own model gives the same record. Each needs its venv under
build/, which `make bench` makes on first use (minutes of pip): a peer whose venv is not there
is skipped, so CI, on a fresh clone, does not install three serving stacks to run this."""

from __future__ import annotations

import pytest

from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.inference import ChurnModel
from churnlab.domain.schema import CustomerRecord
from lab.bench.__main__ import PEERS
from lab.bench.peers.serving import probability, served
from runtimes.paths import ROOT


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(PEERS))
def test_a_peer_answers_the_probability_churnlab_s_model_gives(name, dataset_records):
    peer = PEERS[name]
    if not (peer.venv / ".installed").exists():
        pytest.skip(f"no {peer.venv.relative_to(ROOT)}: `make bench` installs it")
    model = ChurnModel.load(ROOT / "models" / "current")
    # A month-old customer, and one whose total_charges is missing (a null the peer must take).
    records = [dataset_records[0], next(r for r in dataset_records if r["total_charges"] is None)]
    expected = model.predict(
        prepare_features(records_to_columns([CustomerRecord.model_validate(r) for r in records]))
    ).churn_probability
    with served(peer) as url:
        answered = [probability(peer, url, record) for record in records]
    # MLflow serves the scikit-learn pipeline the ONNX model was exported from: parity, 1e-5.
    assert answered == pytest.approx(expected, abs=1e-5)
