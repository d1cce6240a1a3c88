import re

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate


def test_openapi_document_is_valid_3_1_and_covers_every_route(client, monolith_app):
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    served = {
        re.sub(r"<(\w+)>", r"{\1}", rule.rule)  # Flask's <name> is OpenAPI's {name}
        for rule in monolith_app.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert served == set(spec["paths"])


def test_openapi_request_schema_is_the_validation_schema(client):
    spec = client.get("/openapi.json").get_json()
    record = spec["components"]["schemas"]["CustomerRecord"]
    assert record["additionalProperties"] is False
    assert "Fiber optic" in record["properties"]["internet_service"]["enum"]
    assert (
        spec["components"]["schemas"]["BatchRequest"]["properties"]["records"]["maxItems"] == 10_000
    )


def test_the_spec_accepts_exactly_what_the_server_accepts(client, record_body):
    """A client generated from the spec must never send a record the spec allows and the
    server refuses, nor be told a record is invalid that the server would take: over random
    mixes of every categorical field, the cross-field rules (add-ons without their base
    service) included, the spec's verdict and the server's agree."""
    spec = client.get("/openapi.json").get_json()
    record_schema = spec["components"]["schemas"]["CustomerRecord"]
    validator = Draft202012Validator(record_schema)
    categorical = {
        name: field["enum"]
        for name, field in record_schema["properties"].items()
        if "enum" in field
    }
    verdicts: set[tuple[bool, int]] = set()

    @settings(max_examples=300, deadline=None)
    @given(
        st.fixed_dictionaries(
            {name: st.sampled_from(values) for name, values in categorical.items()}
        )
    )
    def agree(values):
        record = record_body | values
        allowed = validator.is_valid(record)
        status = client.post("/v1/predict", json=record).status_code
        assert status == (200 if allowed else 422), (values, status)
        verdicts.add((allowed, status))

    agree()
    assert verdicts == {(True, 200), (False, 422)}  # both kinds were tried
