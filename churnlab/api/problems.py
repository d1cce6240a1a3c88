"""RFC 9457 problem+json responses, and the one mapping from failures to them."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from churnlab.domain.errors import (
    PROBLEM_JSON,
    PROBLEM_TYPE_PREFIX,
    IdempotencyConflictError,
    ModelIntegrityError,
    ModelNotReadyError,
    StageRejectedError,
    StageUnavailableError,
    StorageUnavailableError,
    UnknownCategoryError,
)

MAX_REPORTED_ERRORS = 50
# What an HTTP error's own headers may add to its problem response.
PASSED_HEADERS = frozenset({"allow", "retry-after", "www-authenticate"})

logger = logging.getLogger(__name__)
# What a 503 says was kept, by StorageUnavailableError.kept: a client may trust "nothing" and
# send the request again as new; otherwise only a retry under the same Idempotency-Key is safe.
KEPT = {
    "nothing": "{store} could not record the request ({reason}); nothing was kept",
    "unknown": (
        "{store} did not finish recording the request in time ({reason}); it may have been"
        " kept: retry with the same Idempotency-Key to get its answer without a duplicate"
    ),
    "one copy": (
        "{store} kept the request on one node only ({reason}); no standby confirmed it, so it"
        " is not acknowledged: retry with the same Idempotency-Key to finish it"
    ),
}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response; `kind` names a ChurnLab-specific problem type."""
    body = {
        "type": PROBLEM_TYPE_PREFIX + kind if kind else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def validation_problem(error: ValidationError) -> Response:
    """422 with every failing field (capped), without echoing the caller's values back."""
    errors = error.errors(include_url=False, include_input=False, include_context=False)
    return problem(
        422,
        "Invalid request",
        f"{len(errors)} field(s) failed validation",
        kind="validation-error",
        errors=[
            {
                "field": ".".join(str(part) for part in item["loc"]) or "(body)",
                "message": item["msg"],
                "type": item["type"],
            }
            for item in errors[:MAX_REPORTED_ERRORS]
        ],
    )


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        headers = {k: v for k, v in error.get_headers() if k.lower() in PASSED_HEADERS}
        return problem(
            error.code or 500, error.name, error.description or error.name, headers=headers
        )

    @app.errorhandler(ValidationError)
    def invalid_body(error: ValidationError) -> Response:
        return validation_problem(error)

    @app.errorhandler(UnknownCategoryError)
    def unknown_category(error: UnknownCategoryError) -> Response:
        return problem(422, "Unknown category", str(error), kind="unknown-category")

    @app.errorhandler(ModelNotReadyError)
    def model_not_ready(error: ModelNotReadyError) -> Response:
        return problem(
            503, "Model not ready", str(error), kind="model-not-ready", headers={"Retry-After": "1"}
        )

    @app.errorhandler(ModelIntegrityError)
    def model_broken(error: ModelIntegrityError) -> Response:
        return problem(503, "Model unusable", str(error), kind="model-integrity")

    @app.errorhandler(StageUnavailableError)
    def stage_down(error: StageUnavailableError) -> Response:
        return problem(
            503,
            "Stage unavailable",
            str(error),
            kind="stage-unavailable",
            headers={"Retry-After": str(error.retry_after_seconds)},
            stage=error.stage,
            kept="nothing",  # ingest's own failures that may have kept something are not this
        )

    @app.errorhandler(StorageUnavailableError)
    def storage_down(error: StorageUnavailableError) -> Response:
        logger.error("%s", error)
        return problem(
            503,
            "Not recorded" if error.kept == "nothing" else "Not confirmed",
            KEPT[error.kept].format(store=error.store, reason=error.reason),
            kind="not-replicated" if error.kept == "one copy" else "storage-unavailable",
            headers={"Retry-After": str(error.retry_after_seconds)},
            store=error.store,
            kept=error.kept,
        )

    @app.errorhandler(IdempotencyConflictError)
    def key_reused(error: IdempotencyConflictError) -> Response:
        return problem(
            409,
            "Idempotency-Key reused",
            f"{error}: send a new key for a new request",
            kind="idempotency-key-reused",
        )

    @app.errorhandler(StageRejectedError)
    def stage_rejected(error: StageRejectedError) -> Response:
        logger.error("stage rejected a call, or answered what cannot be read: %s", error)
        return problem(
            502,
            "Bad Gateway",
            "a stage rejected the call, or answered what could not be read; it was logged",
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return problem(500, "Internal Server Error", "an unexpected error was logged")
