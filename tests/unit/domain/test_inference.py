import json
import math

import numpy as np
import pytest

from churnlab.domain.errors import ModelIntegrityError
from churnlab.domain.features import joined, prepare_features
from churnlab.domain.inference import ChurnModel
from churnlab.ml.train import feature_frame, train
from tests.conftest import MODEL_DIR


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    return ChurnModel.load(MODEL_DIR)


@pytest.fixture(scope="module")
def sklearn_pipeline(dataset):
    """Retrained with the same seed: training is deterministic, so this is the exported model."""
    return train(*dataset).pipeline


def test_onnx_matches_sklearn_on_the_whole_dataset(model, sklearn_pipeline, dataset):
    features = feature_frame(dataset[0])
    expected = sklearn_pipeline.predict_proba(features)[:, 1]
    served = np.array(model.predict(features.to_dict("list")).churn_probability)
    assert len(served) == 7043
    assert np.max(np.abs(served - expected)) < 1e-5


def test_contributions_add_up_to_the_models_log_odds(model, dataset):
    features = prepare_features(dataset[0].head(300).to_dict("list"))
    scores = model.predict(features)
    baseline = model.card["explainer"]["baseline_log_odds"]
    for probability, contributions in zip(
        scores.churn_probability, scores.contributions, strict=True
    ):
        log_odds = math.log(probability / (1 - probability))
        assert baseline + sum(contributions.values()) == pytest.approx(log_odds, abs=1e-4)


def test_requests_joined_into_one_batch_score_exactly_as_each_alone(model, dataset):
    """What adaptive batching relies on: rows do not affect each other's scores."""
    records = dataset[0].head(10)
    parts = [
        prepare_features(records.iloc[a:b].to_dict("list")) for a, b in ((0, 1), (1, 4), (4, 10))
    ]
    batched = model.predict(joined(parts)).split([1, 3, 6])
    for part, scores in zip(parts, batched, strict=True):
        alone = model.predict(part)
        assert scores.churn_probability == pytest.approx(alone.churn_probability, abs=1e-6)
        assert scores.contributions == alone.contributions
    with pytest.raises(ValueError, match="9 rows asked for, 10 scored"):
        model.predict(joined(parts)).split([1, 3, 5])


def test_a_tampered_onnx_file_is_refused(model_copy):
    onnx_file = model_copy / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        ChurnModel.load(model_copy)


def test_warm_up_catches_an_explainer_that_disagrees_with_the_graph(model_copy):
    card_path = model_copy / "model_card.json"
    card = json.loads(card_path.read_text())
    card["explainer"]["baseline_log_odds"] += 0.5
    card_path.write_text(json.dumps(card))
    broken = ChurnModel.load(model_copy)
    with pytest.raises(ModelIntegrityError, match="warm-up mismatch"):
        broken.warm_up()


def test_model_version_is_the_onnx_content_hash(model):
    assert model.version == model.card["onnx_sha256"][:12]
