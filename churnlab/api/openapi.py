"""OpenAPI 3.1 description of the public API, built from the same pydantic models that validate."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from churnlab.config import Settings
from churnlab.domain.schema import MAX_BATCH_RECORDS, BatchPrediction, BatchRequest, CustomerRecord

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=schema_ref)}}},
    }


def _upload_errors(settings: Settings) -> dict[str, Any]:
    """What a body the edge streams (over 64 KiB) may get besides (churnlab/api/body.py)."""
    return {
        "408": _problem(
            f"A body over 64 KiB that did not arrive within {settings.upload_grace_seconds:g} s"
            f" plus its length at {settings.upload_min_bytes_per_second} bytes a second; the"
            " connection then closes."
        ),
        "429": _problem(
            "Over the rate limit of this address or this key; or, for a body over 64 KiB,"
            " another such upload from this address still under way. See Retry-After."
        ),
    }


def _body_errors(max_bytes: int) -> dict[str, Any]:
    return {
        "400": _problem("Empty body, malformed JSON, or a malformed Idempotency-Key."),
        "409": _problem("The Idempotency-Key was already used for a different request."),
        "413": _problem(f"Body larger than {max_bytes} bytes."),
        "415": _problem("Content type is not application/json."),
        "422": _problem("JSON that is not a valid request; `errors` lists each field."),
        "503": _problem(
            "Not answered: the model, a stage or the prediction log is not available (see"
            " Retry-After). `kept` says what was kept: `nothing`, or `unknown` / `one copy`,"
            " when only a retry with the same Idempotency-Key is safe."
        ),
    }


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Names this request, so that it can be retried safely: the same key with the same"
        " body gets the first answer again (header Idempotent-Replayed: true) and records"
        " nothing twice; the same key with another body gets a 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
# The edge's answers to any call under /v1/ (edge/haproxy.cfg): a key where the deployment
# asks for one (API_KEYS=1), and rate limits per address and per key.
EDGE_ERRORS = {
    "401": _problem(
        "Where the deployment asks for API keys: no X-API-Key header, or not one of its keys."
    ),
    "429": _problem("Over the rate limit of this address or this key; see Retry-After."),
}
AUDIT_ERRORS = EDGE_ERRORS | {
    "401": _problem(
        "No audit key, or not this one (Authorization: Bearer <key>); or, where the deployment"
        " asks for API keys, no X-API-Key, or not one of its keys."
    ),
    "403": _problem("No audit key is configured: reading and erasing are switched off."),
    "503": _problem("The prediction log is not available; see Retry-After."),
}


AUDIT_SECURITY = [{"apiKey": [], "auditKey": []}, {"auditKey": []}]


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _open_object(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    _, schemas = models_json_schema(
        [
            (CustomerRecord, "validation"),
            (BatchRequest, "validation"),
            (BatchPrediction, "serialization"),
        ],
        ref_template=REF,
    )
    components = schemas["$defs"] | {"Problem": PROBLEM_SCHEMA}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ChurnLab churn prediction API",
            "version": "1",
            "description": "Served alike by the monolith, the microservices and the hybrid.",
        },
        "paths": {
            "/v1/predict": {
                "post": {
                    "summary": "Score one customer.",
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": REF.format(model="CustomerRecord")}
                            }
                        },
                    },
                    "responses": {"200": _json("Prediction", "The churn prediction.")}
                    | _body_errors(settings.max_single_body_bytes)
                    | EDGE_ERRORS,
                }
            },
            "/v1/predict/batch": {
                "post": {
                    "summary": f"Score up to {MAX_BATCH_RECORDS} customers in one call.",
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": REF.format(model="BatchRequest")}
                            }
                        },
                    },
                    "responses": {"200": _json("BatchPrediction", "One prediction per record.")}
                    | _body_errors(settings.max_batch_body_bytes)
                    | EDGE_ERRORS
                    | _upload_errors(settings),
                }
            },
            "/v1/model": {
                "get": {
                    "summary": "The served model's card: version, metrics, feature schema.",
                    "responses": {
                        "200": _open_object("The model card."),
                        "503": _problem("The model is still loading."),
                    }
                    | EDGE_ERRORS,
                }
            },
            "/v1/predictions/{prediction_id}": {
                "get": {
                    "summary": "One logged prediction: its record, answer, time and request id.",
                    "security": AUDIT_SECURITY,
                    "parameters": [_path("prediction_id", "A prediction's `prediction_id`.")],
                    "responses": {
                        "200": _open_object("The prediction as the log keeps it."),
                        "404": _problem("No such prediction in the log."),
                    }
                    | AUDIT_ERRORS,
                }
            },
            "/v1/customers/{customer_id}/predictions": {
                "delete": {
                    "summary": "Erase every prediction of one customer from the log.",
                    "security": AUDIT_SECURITY,
                    "parameters": [_path("customer_id", "The customer's id, as sent.")],
                    "responses": {
                        "200": _open_object("`erased`: how many predictions were deleted."),
                        "400": _problem("Not a customer id."),
                    }
                    | AUDIT_ERRORS,
                }
            },
            "/livez": {
                "get": {
                    "summary": "Liveness: the process answers. Checks no dependency.",
                    "security": [],
                    "responses": {"200": _open_object("Alive.")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: model loaded and warmed up, every stage reachable.",
                    "security": [],
                    "responses": {
                        "200": _open_object(
                            "Ready; `checks` gives each dependency's state (ready, degraded or"
                            " not ready)."
                        ),
                        "503": _open_object(
                            "Not ready; `checks` says which dependency. With `?verbose`, inside"
                            " the deployment only (the edge drops the query), also why."
                        ),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "security": [],
                    "summary": (
                        "Prometheus metrics, summed over all server worker processes. Inside the"
                        " deployment only: the edge's public port answers it 404."
                    ),
                    "responses": {
                        "200": {
                            "description": "Prometheus text format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "security": [],
                    "responses": {"200": _open_object("OpenAPI 3.1.")},
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "auditKey": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        # A key where the deployment asks for one (API_KEYS=1), none where it does not.
        "security": [{"apiKey": []}, {}],
    }
