"""One exception type per kind of domain failure; the API layer maps each to problem+json once."""


class ChurnLabError(Exception):
    """Base class for failures the workflow reports to its callers."""


class ModelNotReadyError(ChurnLabError):
    """The model is still loading (or failed to load): callers should retry later."""


class ModelIntegrityError(ChurnLabError):
    """The model artifact on disk does not match the hash in its model card."""


class StageUnavailableError(ChurnLabError):
    """A stage the request cannot do without is down; the caller gets a fast 503."""

    def __init__(self, stage: str, reason: str, retry_after_seconds: int = 5) -> None:
        super().__init__(f"{stage} is unavailable: {reason}")
        self.stage = stage
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class StageRejectedError(ChurnLabError):
    """A stage answered 4xx to the gateway: a contract bug between them, not the caller's fault."""


class StorageUnavailableError(ChurnLabError):
    """A record could not be stored durably (disk full, read-only volume): it is not accepted."""

    def __init__(self, store: str, reason: str, retry_after_seconds: int = 5) -> None:
        super().__init__(f"{store} cannot store records: {reason}")
        self.store = store
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds
