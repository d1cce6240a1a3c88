"""Ids of the server's own, fingerprints that tell one request from another, and the recording
of an answered request surviving its trip over HTTP unchanged."""

from churnlab.domain.ingest import (
    IdempotencyKey,
    LoggedPrediction,
    Recording,
    accept,
    fingerprint,
)


def test_every_record_gets_a_new_server_id_whatever_the_request_id(customer):
    first = accept([customer, customer], "reuse-1")
    again = accept([customer], "reuse-1")
    ids = [*first.prediction_ids, *again.prediction_ids]
    assert len(set(ids)) == 3  # a reused correlation id never reuses a record's id
    assert all(len(i) == 32 and int(i, 16) for i in ids)
    assert first.request_id == again.request_id == "reuse-1"


def test_ids_are_time_ordered_so_the_log_appends(customer):
    ids = [accept([customer], "r").prediction_ids[0] for _ in range(50)]
    assert ids == sorted(ids)


def test_no_id_shape_of_a_client_can_collide_with_a_record():
    """The old scheme made batch record ids `<id>:<index>`, which a single request could send
    as its own id. Server ids are hex UUIDs; a client's id is only ever a correlation id."""
    single = accept([None], "dup-test-1:0")  # type: ignore[list-item]
    batch = accept([None, None], "dup-test-1")  # type: ignore[list-item]
    assert not set(single.prediction_ids) & set(batch.prediction_ids)
    assert "dup-test-1:0" not in batch.prediction_ids


def test_the_fingerprint_is_of_the_validated_request(customer):
    other = customer.model_copy(update={"tenure": customer.tenure + 1})
    assert fingerprint("/v1/predict", [customer]) == fingerprint("/v1/predict", [customer])
    assert fingerprint("/v1/predict", [customer]) != fingerprint("/v1/predict", [other])
    assert fingerprint("/v1/predict", [customer]) != fingerprint("/v1/predict/batch", [customer])
    assert fingerprint("/v1/predict/batch", [customer, other]) != fingerprint(
        "/v1/predict/batch", [other, customer]
    )


def test_a_recording_survives_json_unchanged(customer):
    reasons = ({"feature": "tenure", "value": 1, "impact": 0.5},)
    prediction = LoggedPrediction("0" * 32, 0, customer, 0.7, True, "high", reasons, "v1")
    recording = Recording(
        "req", "2026-12-01T00:00:00.000000+00:00", IdempotencyKey("k", "f" * 64), (prediction,)
    )
    assert Recording.from_json(recording.to_json()) == recording
    unkeyed = Recording("req", recording.received_at, None, (prediction,))
    assert Recording.from_json(unkeyed.to_json()) == unkeyed
