import re

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
