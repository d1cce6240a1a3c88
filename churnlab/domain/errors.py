"""One exception type per kind of domain failure; the API layer maps each to problem+json once."""

# Each kind's problem type is this prefix and its name, e.g. urn:churnlab:problem:not-replicated.
PROBLEM_TYPE_PREFIX = "urn:churnlab:problem:"
PROBLEM_JSON = "application/problem+json"  # RFC 9457's media type


class ChurnLabError(Exception):
    """Base class for failures the workflow reports to its callers."""


class ModelNotReadyError(ChurnLabError):
    """The model is still loading (or failed to load): callers should retry later."""


class ModelIntegrityError(ChurnLabError):
    """The model artifact on disk does not match the hash in its model card."""


class UnknownCategoryError(ChurnLabError, ValueError):
    """Feature columns with a category the model was not trained on (only a caller of the model
    tier's own API can send one: the public API's schema admits known categories alone)."""

    def __init__(self, unknown: dict[str, list[str]]) -> None:
        listed = "; ".join(f"{name}: {', '.join(map(repr, got))}" for name, got in unknown.items())
        super().__init__(f"categories the model does not know: {listed}")
        self.unknown = unknown


class StageUnavailableError(ChurnLabError):
    """A stage the request cannot do without is down; the caller gets a fast 503."""

    def __init__(
        self,
        stage: str,
        reason: str,
        retry_after_seconds: int = 5,
        problem: dict | None = None,
        reached: bool = False,
    ) -> None:
        super().__init__(f"{stage} is unavailable: {reason}")
        self.stage = stage
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds
        self.problem = problem  # the stage's own problem+json answer, when it gave one
        # Whether a call may have reached the stage and done its work (a read timeout, a
        # connection lost mid-call, a 500), as opposed to never having been made.
        self.reached = reached


class StageRejectedError(ChurnLabError):
    """A stage answered 4xx to the gateway, or an answer it could not read: a contract bug
    between them, not the caller's fault (or, for a read, a 404: nothing there)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class StorageUnavailableError(ChurnLabError):
    """Records could not be stored durably (disk full, read-only volume, no standby): they are
    not acknowledged. `kept` says what is left of them: "nothing", "unknown" (the write did not
    end in time and may have committed), or "one copy" (committed on one node only)."""

    def __init__(
        self, store: str, reason: str, retry_after_seconds: int = 5, kept: str = "nothing"
    ) -> None:
        super().__init__(f"{store} cannot store records: {reason}")
        self.store = store
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds
        self.kept = kept


# StorageUnavailableError.kept, from the least to the most a client must account for.
KEPT = ("nothing", "unknown", "one copy")


def kept_rank(problem: dict | None) -> int:
    """How much a stage's problem says was kept (-1: it does not say)."""
    kept = (problem or {}).get("kept")
    return KEPT.index(kept) if kept in KEPT else -1


class NotReplicatedError(StorageUnavailableError):
    """The records were committed on the primary but no standby confirmed them in time: kept
    on one node, so not acknowledged. A retry with the same Idempotency-Key finishes the write
    (its commit waits for the standby again) and answers as the first would have."""

    def __init__(self, store: str, reason: str, retry_after_seconds: int = 2) -> None:
        super().__init__(store, reason, retry_after_seconds, kept="one copy")


class IdempotencyConflictError(ChurnLabError):
    """An Idempotency-Key already named another request: reusing it would lose one of the two.
    Or it named a request some of whose predictions were erased since: its answer is gone, and
    recording it again would bring back what was erased."""

    def __init__(self, key: str, erased: bool = False) -> None:
        named = "a request whose predictions were erased" if erased else "a different request"
        super().__init__(f"Idempotency-Key {key!r} was already used for {named}")
        self.key = key
        self.erased = erased
