import pytest
from pydantic import ValidationError

from churnlab.domain.schema import BatchRequest, CustomerRecord


def errors_for(body: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        CustomerRecord.model_validate(body)
    return {".".join(map(str, e["loc"])): e["type"] for e in caught.value.errors()}


def test_every_dataset_row_is_a_valid_record(dataset_records):
    assert len([CustomerRecord.model_validate(r) for r in dataset_records]) == 7043


def test_total_charges_may_be_missing_or_null(record_body):
    record_body["total_charges"] = None
    assert CustomerRecord.model_validate(record_body).total_charges is None
    del record_body["total_charges"]
    assert CustomerRecord.model_validate(record_body).total_charges is None


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("tenure", "12", "int_type"),
        ("tenure", -1, "greater_than_equal"),
        ("tenure", 12.5, "int_type"),
        ("senior_citizen", True, "int_type"),
        ("senior_citizen", 2, "less_than_equal"),
        ("monthly_charges", "29.85", "float_type"),
        ("monthly_charges", -0.01, "greater_than_equal"),
        ("contract", "month-to-month", "literal_error"),
        ("internet_service", "Fibre", "literal_error"),
        ("customer_id", "", "string_too_short"),
        ("customer_id", "has spaces", "string_pattern_mismatch"),
    ],
)
def test_bad_field_values_are_rejected_with_the_field_named(record_body, field, value, error):
    record_body[field] = value
    assert errors_for(record_body) == {field: error}


def test_unknown_and_missing_fields_are_both_reported(record_body):
    record_body["favourite_colour"] = "blue"
    del record_body["contract"]
    assert errors_for(record_body) == {
        "favourite_colour": "extra_forbidden",
        "contract": "missing",
    }


def test_add_ons_require_their_base_service(record_body):
    record_body.update(internet_service="No", online_security="Yes")
    assert "value_error" in errors_for(record_body).values()
    record_body.update(phone_service="No", multiple_lines="Yes", internet_service="DSL")
    assert "value_error" in errors_for(record_body).values()


def test_batch_accepts_up_to_ten_thousand_records(record_body):
    assert len(BatchRequest.model_validate({"records": [record_body] * 10_000}).records) == 10_000
    with pytest.raises(ValidationError, match="at most 10000"):
        BatchRequest.model_validate({"records": [record_body] * 10_001})
    with pytest.raises(ValidationError, match="at least 1"):
        BatchRequest.model_validate({"records": []})
