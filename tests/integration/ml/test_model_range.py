"""The heavier models the lab spans the range of model costs with: each trained on the same
data, exported to ONNX and held to today's checks: served probabilities equal scikit-learn's,
the artifact passes its own warm-up, and the holdout AUC is a churn model's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from churnlab.domain.inference import ChurnModel
from churnlab.ml.evaluate import holdout_metrics
from churnlab.ml.export import export_artifact
from churnlab.ml.train import ModelSpec, train

# Small ones: each knob exercised, in seconds.
SPECS = [ModelSpec("gbt", trees=30), ModelSpec("mlp", width=32, depth=3)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_each_model_serves_what_it_was_trained_to_and_says_what_it_is(spec, dataset, tmp_path):
    trained = train(*dataset, spec=spec)
    metrics = holdout_metrics(
        trained.holdout_target, trained.pipeline.predict_proba(trained.holdout_features)[:, 1]
    )
    assert metrics["roc_auc"] >= 0.8, metrics
    artifact = export_artifact(
        trained, metrics=metrics, dataset_hash="test", models_dir=tmp_path, current=False
    )
    card = json.loads((artifact / "model_card.json").read_text())
    assert (card["name"], card["model"]["kind"]) == (spec.name, spec.kind)
    assert card["explainer"]["kind"] == "linear-surrogate"
    model = ChurnModel.load(artifact)
    model.warm_up()  # the card's reference rows, to 1e-5
    holdout = trained.holdout_features
    served = model.predict(holdout.to_dict("list")).churn_probability
    expected = trained.pipeline.predict_proba(holdout)[:, 1]
    assert np.max(np.abs(np.array(served) - expected)) < 1e-5


def test_the_knobs_name_the_model():
    assert ModelSpec().name == "churn-logistic-regression"
    assert ModelSpec("mlp", width=1024, depth=4).name == "churn-mlp-4x1024"
    assert ModelSpec("gbt", trees=500).name == "churn-gbt-500"
    assert ModelSpec("mlp", width=8, depth=5).classifier(1).hidden_layer_sizes == (8,) * 5
    assert ModelSpec("gbt", trees=7).classifier(1).n_estimators == 7
    with pytest.raises(ValueError, match="choose from logistic, mlp, gbt"):
        ModelSpec("forest")
