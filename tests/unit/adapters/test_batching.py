"""Adaptive batching with a fake model: each request gets its own rows' scores, concurrent ones
share calls no larger than the policy allows, and one request's bad rows fail it alone."""

import threading
import time

import pytest
from prometheus_client import REGISTRY

from churnlab.adapters.batching import Batcher, BatchPolicy
from churnlab.domain.errors import ModelNotReadyError
from churnlab.domain.scores import Scores
from churnlab.request_context import current_deadline


class SlowModel:
    """Scores each row as its `x` over 100, in `seconds` per call; remembers each call's rows.
    A row with x < 0 makes the whole call fail, as a malformed input fails an ONNX run."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.calls: list[list[int]] = []

    def __call__(self, features):
        self.calls.append(list(features["x"]))
        time.sleep(self.seconds)
        if any(x < 0 for x in features["x"]):
            raise ValueError("negative x")
        return Scores("v1", [x / 100 for x in features["x"]], [{"x": x} for x in features["x"]])


def predict_together(batcher: Batcher, requests: list[list[int]]) -> list[object]:
    outcomes: list[object] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def predict(n: int) -> None:
        start.wait()
        try:
            outcomes[n] = batcher.predict({"x": requests[n]})
        except Exception as error:
            outcomes[n] = error

    threads = [threading.Thread(target=predict, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return outcomes


def observed(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_concurrent_requests_share_calls_and_each_gets_its_own_rows():
    model = SlowModel()
    requests = [[n, n + 50] for n in range(12)]
    before = observed("churnlab_inference_batch_requests_count")
    outcomes = predict_together(Batcher(model, BatchPolicy(64, 0.0)), requests)
    for rows, scores in zip(requests, outcomes, strict=True):
        assert scores.churn_probability == [x / 100 for x in rows]
        assert scores.contributions == [{"x": x} for x in rows]
    assert sorted(x for call in model.calls for x in call) == sorted(
        x for rows in requests for x in rows
    )
    assert len(model.calls) < len(requests) / 2, model.calls
    assert observed("churnlab_inference_batch_requests_count") - before == len(model.calls)


def test_no_call_is_larger_than_max_rows():
    model = SlowModel()
    predict_together(Batcher(model, BatchPolicy(4, 0.0)), [[n, n] for n in range(12)])
    assert max(len(call) for call in model.calls) <= 4
    assert any(len(call) == 4 for call in model.calls)


def test_a_lone_request_waits_for_company_only_as_long_as_the_policy_allows():
    model = SlowModel(seconds=0)
    started = time.monotonic()
    Batcher(model, BatchPolicy(64, 0.2)).predict({"x": [1]})
    assert time.monotonic() - started >= 0.2
    outcomes = predict_together(Batcher(model, BatchPolicy(3, 5.0)), [[1], [2], [3]])
    assert [scores.churn_probability for scores in outcomes] == [[0.01], [0.02], [0.03]]
    assert sorted(model.calls[-1]) == [1, 2, 3]  # full at three rows: nobody waited 5 s


def test_one_request_s_bad_rows_fail_that_request_alone():
    model = SlowModel()
    outcomes = predict_together(Batcher(model, BatchPolicy(64, 0.1)), [[1], [-1], [3], [4]])
    assert isinstance(outcomes[1], ValueError)
    assert [outcomes[n].churn_probability for n in (0, 2, 3)] == [[0.01], [0.03], [0.04]]
    assert any(len(call) > 1 and -1 in call for call in model.calls)  # joined, then each alone


def test_a_model_that_is_not_ready_refuses_the_batch_without_trying_each_request_again():
    """Not the rows' fault: trying each alone would only wait out the model's load again."""
    calls = []

    def not_loaded(features):
        calls.append(features["x"])
        raise ModelNotReadyError("loading")

    outcomes = predict_together(Batcher(not_loaded, BatchPolicy(64, 0.05)), [[1], [2], [3]])
    assert all(isinstance(outcome, ModelNotReadyError) for outcome in outcomes)
    assert len(calls) <= 2, calls  # one call a batch; each alone again would make four


def test_a_request_queued_past_its_deadline_is_a_503_and_is_never_scored():
    model = SlowModel(seconds=0.5)
    batcher = Batcher(model, BatchPolicy(1, 0.0))
    busy = threading.Thread(target=batcher.predict, args=({"x": [1]},))
    busy.start()
    while not model.calls:  # the first request is being scored
        time.sleep(0.005)
    token = current_deadline.set(time.monotonic() + 0.1)
    try:
        with pytest.raises(ModelNotReadyError, match="busy"):
            batcher.predict({"x": [2]})
    finally:
        current_deadline.reset(token)
    busy.join(5)
    assert model.calls == [[1]]
