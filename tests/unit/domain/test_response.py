import pytest

from churnlab.domain.features import prepare_features, records_to_columns
from churnlab.domain.ingest import Outcome, Recording, accept
from churnlab.domain.response import answers, risk_band, score_records, top_reasons
from churnlab.domain.scores import Scores


@pytest.mark.parametrize(
    ("probability", "band"), [(0.0, "low"), (0.2999, "low"), (0.3, "medium"), (0.6, "high")]
)
def test_risk_bands(probability, band):
    assert risk_band(probability) == band


def test_reasons_are_the_largest_positive_contributions_grouped_by_field(customer):
    features = prepare_features(records_to_columns([customer]))
    contributions = {
        "contract": 0.7,
        "tenure": 0.5,
        "log_tenure": 0.4,
        "gender": -2.0,
        "paperless_billing": 0.1,
        "monthly_charges": 0.05,
    }
    reasons = top_reasons(contributions, features, 0)
    assert reasons == [
        {"feature": "tenure", "value": 1, "impact": 0.9},
        {"feature": "contract", "value": "Month-to-month", "impact": 0.7},
        {"feature": "paperless_billing", "value": "Yes", "impact": 0.1},
    ]


def test_no_reasons_when_nothing_raises_the_score(customer):
    features = prepare_features(records_to_columns([customer]))
    assert top_reasons({"contract": -1.0, "tenure": -0.2}, features, 0) == []


def scored(customer):
    other = customer.model_copy(update={"customer_id": "B"})
    accepted = accept([customer, other], "req-1")
    features = prepare_features(records_to_columns(accepted.records))
    scores = Scores("v1", [0.51, 0.49], [{"contract": 1.0}, {"contract": -1.0}])
    return accepted, score_records(accepted, features, scores)


def test_predictions_keep_request_order_ids_and_labels(customer):
    accepted, (first, second) = scored(customer)
    assert [first.prediction_id, second.prediction_id] == list(accepted.prediction_ids)
    assert (first.position, first.record.customer_id, first.churn) == (0, "7590-VHVEG", True)
    assert (second.position, second.record.customer_id, second.churn) == (1, "B", False)
    assert first.risk == "medium"
    assert first.model_version == "v1"
    assert first.reasons[0]["feature"] == "contract"


def test_answers_come_from_what_was_recorded_with_the_requests_customer_ids(customer):
    accepted, predictions = scored(customer)
    recording = Recording("first-request", accepted.received_at, None, tuple(predictions))
    spooled = Outcome(recording, replayed=True, copies=1, logged=False)
    first, second = answers(spooled, ["7590-VHVEG", "B"])
    assert first["request_id"] == "first-request"  # a replay answers as the first did
    assert first["prediction_id"] == predictions[0].prediction_id
    assert (first["recorded"], first["copies"]) == (False, 1)
    assert second["customer_id"] == "B"
