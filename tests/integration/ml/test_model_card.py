import json

from churnlab.domain.model_card import sha256_of
from churnlab.ml.data import DATASET_SHA256
from tests.conftest import MODEL_DIR


def card() -> dict:
    return json.loads((MODEL_DIR / "model_card.json").read_text())


def test_holdout_roc_auc_meets_the_target():
    assert card()["holdout_metrics"]["roc_auc"] >= 0.84


def test_card_identifies_model_and_data_by_hash():
    model_card = card()
    assert model_card["onnx_sha256"] == sha256_of(MODEL_DIR / "model.onnx")
    assert model_card["version"] == model_card["onnx_sha256"][:12]
    assert model_card["training_data"]["sha256"] == DATASET_SHA256
    assert model_card["training_data"]["holdout_rows"] == 1409


def test_card_records_the_feature_schema():
    schema = card()["feature_schema"]
    assert schema["input"]["required"][:2] == ["customer_id", "gender"]
    assert "month_to_month_tenure" in schema["model_inputs"]["numeric"]
