"""The hybrid as local processes: the API records each prediction in its own log and calls the
model tier for the score, so a lost inference replica costs no request, and a model tier that
is wholly down gives fast 503s, and the routes the API holds itself still answer; nothing is
recorded that was not answered.
"""

from __future__ import annotations

import time
import uuid

import requests

from tests.e2e.test_micro_resilience import (
    all_succeed,
    post,
    statuses_while_killed,
    timed,
    wait_until,
)

REPLICAS = ("inference1", "inference2")


def test_the_api_records_each_prediction_and_the_model_tier_scores_it(local_hybrid, record_body):
    marker = f"hybrid-{uuid.uuid4().hex}"
    ids = [f"{marker}-{index}" for index in range(20)]
    for request_id in ids:
        assert post(local_hybrid.url, record_body, request_id).status_code == 200
    logged = {r: n for r, n in local_hybrid.logged_request_ids().items() if r.startswith(marker)}
    assert logged == dict.fromkeys(ids, 1)
    # Each access log line is written after its answer is sent: wait for them, not race them.
    assert wait_until(
        lambda: all(local_hybrid.log_text(replica).count(marker) >= 5 for replica in REPLICAS)
    ), [local_hybrid.log_text(replica).count(marker) for replica in REPLICAS]


def test_a_killed_inference_replica_costs_no_request(local_hybrid, record_body):
    assert statuses_while_killed(local_hybrid, "inference2", record_body) == [200] * 60
    assert wait_until(lambda: requests.get(f"{local_hybrid.url}/readyz", timeout=2).ok)


def test_the_model_tier_down_gives_fast_503s_and_records_nothing(local_hybrid, record_body):
    marker = f"down-{uuid.uuid4().hex}"
    for replica in REPLICAS:
        local_hybrid.faults.stop_cleanly(replica)
    try:
        response, elapsed = timed(lambda: post(local_hybrid.url, record_body, marker))
        assert response.status_code == 503
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["stage"] == "inference"
        assert int(response.headers["Retry-After"]) >= 1
        assert elapsed < 0.5  # refused connections: no timeout to wait out
        # Each worker answers readiness from its own health watch's probes (every 0.5 s):
        # within a few, whichever worker the edge asks.
        down = {"ingest": "ready", "features": "ready", "inference": "not ready"}

        def reports_the_tier_down() -> bool:
            ready = requests.get(f"{local_hybrid.url}/readyz", timeout=5)
            return ready.status_code == 503 and ready.json()["checks"] == down

        assert wait_until(reports_the_tier_down, timeout=5)
        # The model card is the model tier's, as in the microservices: a fast 503 too. What
        # the API holds itself still answers.
        card, card_elapsed = timed(lambda: requests.get(f"{local_hybrid.url}/v1/model", timeout=5))
        assert (card.status_code, card.json()["stage"]) == (503, "inference")
        assert card_elapsed < 0.5
        for path in ("/livez", "/openapi.json"):
            assert requests.get(f"{local_hybrid.url}{path}", timeout=5).status_code == 200
    finally:
        for replica in REPLICAS:
            local_hybrid.faults.start(replica)
    assert wait_until(lambda: all_succeed(local_hybrid.url, record_body, 10))
    time.sleep(0.5)
    assert marker not in local_hybrid.logged_request_ids()
