"""What the load generator sends, by name: the locustfile sends it, and the experiments weigh it
(a fault's relative load, CPU per record). Importable without Locust."""

from __future__ import annotations

BATCH_SIZE = 50  # records in each batch call
# What a client of this API sends: mostly single predictions, some batches, a few card reads.
MIXES = {
    "api": (("predict_one", 20), ("predict_batch", 2), ("model_card", 1)),
    "single": (("predict_one", 1),),
    "batch": (("predict_batch", 1),),
}


def calls_per_single(single_ms: float, batch_record_ms: float, mix: str = "api") -> float | None:
    """How many calls of `mix` cost what one single prediction does, from the CPU per record of
    single predictions and of batches (cost.py's slopes); None when either slope is not a
    positive cost. A model-card read is counted as a single prediction (more than it costs):
    a load set from this errs low."""
    if single_ms <= 0 or batch_record_ms <= 0:
        return None
    per_call = {
        "predict_one": single_ms,
        "predict_batch": batch_record_ms * BATCH_SIZE,
        "model_card": single_ms,
    }
    weights = MIXES[mix]
    mean_ms = sum(per_call[call] * weight for call, weight in weights) / sum(
        weight for _, weight in weights
    )
    return single_ms / mean_ms
