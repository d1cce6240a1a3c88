import math

import pytest

from churnlab.domain.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    prepare_features,
    records_to_columns,
)
from churnlab.domain.schema import CustomerRecord


def features_of(record: CustomerRecord) -> dict:
    return {
        name: column[0] for name, column in prepare_features(records_to_columns([record])).items()
    }


def test_missing_total_charges_is_imputed_from_what_was_billed(customer):
    record = customer.model_copy(
        update={"tenure": 3, "monthly_charges": 50.0, "total_charges": None}
    )
    assert features_of(record)["total_charges"] == 150.0


def test_new_customer_average_spend_is_the_monthly_charge(customer):
    record = customer.model_copy(
        update={"tenure": 0, "monthly_charges": 20.25, "total_charges": None}
    )
    features = features_of(record)
    assert features["avg_monthly_spend"] == 20.25
    assert features["charge_increase"] == 0.0
    assert features["log_tenure"] == 0.0


def test_derived_features_of_a_long_standing_customer(customer):
    record = customer.model_copy(
        update={
            "tenure": 10,
            "monthly_charges": 80.0,
            "total_charges": 700.0,
            "contract": "Two year",
        }
    )
    features = features_of(record)
    assert features["avg_monthly_spend"] == 70.0
    assert features["charge_increase"] == pytest.approx(10.0)
    assert features["log_tenure"] == pytest.approx(math.log(11))
    assert features["month_to_month_tenure"] == 0


def test_service_count_counts_each_paid_service(customer):
    # Real first row: no phone, DSL internet with online backup only.
    assert features_of(customer)["service_count"] == 2
    everything = customer.model_copy(
        update={
            "phone_service": "Yes",
            "multiple_lines": "Yes",
            "online_security": "Yes",
            "device_protection": "Yes",
            "tech_support": "Yes",
            "streaming_tv": "Yes",
            "streaming_movies": "Yes",
        }
    )
    assert features_of(everything)["service_count"] == 9


def test_a_batch_gives_exactly_the_features_of_each_record_alone(dataset_records):
    records = [CustomerRecord.model_validate(r) for r in dataset_records[:500]]
    batch = prepare_features(records_to_columns(records))
    assert set(batch) == set(CATEGORICAL_FEATURES + NUMERIC_FEATURES)
    for row, record in enumerate(records):
        assert {name: column[row] for name, column in batch.items()} == features_of(record)
