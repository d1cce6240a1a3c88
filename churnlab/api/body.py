"""Reading a JSON request body into a pydantic model, with the right 4xx for each way it fails."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

Model = TypeVar("Model", bound=BaseModel)

# pydantic reports unparsable JSON with these error types: a 400, not a 422.
MALFORMED_JSON_ERRORS = frozenset({"json_invalid", "json_type"})


def read_json(model: type[Model], max_bytes: int) -> Model:
    """Parse and validate in one pass (pydantic-core's JSON parser), after checking the envelope.

    415 unless the body is declared JSON, 413 past `max_bytes`, 400 when empty or not JSON,
    422 (via ValidationError) when it is JSON but not a valid `model`.
    """
    if not request.is_json:
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.mimetype or 'no content type'}"
        )
    request.max_content_length = max_bytes
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        malformed = [e for e in error.errors() if e["type"] in MALFORMED_JSON_ERRORS]
        if malformed:
            raise BadRequest(f"the body is not valid JSON: {malformed[0]['msg']}") from None
        raise
