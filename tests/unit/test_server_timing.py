"""Server-Timing as a request gathers it: the stages in the order they ran, each hop's inner
time after its stage, nothing gathered outside a request, and the header read back."""

import time

import pytest

from churnlab import server_timing
from churnlab.server_timing import durations, timed


@pytest.fixture
def request_scope():
    token = server_timing.start()
    yield
    server_timing.stop(token)


def test_a_stage_is_listed_before_what_was_added_inside_it(request_scope):
    with timed("features"):
        time.sleep(0.01)
        server_timing.add("features-service", 2.0)
    with timed("inference"):
        pass
    value = server_timing.header(25.0, "gateway")
    assert server_timing.names(value) == [
        "app", "features", "features-service", "inference",
    ]  # fmt: skip
    assert value.startswith('app;dur=25.00;desc="gateway"')
    found = durations(value)
    assert found["features"] >= 10
    assert found["features-service"] == 2.0


def test_a_stage_that_raises_is_timed_too(request_scope):
    with pytest.raises(RuntimeError), timed("ingest"):
        raise RuntimeError("down")
    assert "ingest" in durations(server_timing.header(1.0, "monolith"))


def test_outside_a_request_nothing_is_gathered():
    with timed("ingest"):
        pass
    assert server_timing.header(3.0, "ingest") == 'app;dur=3.00;desc="ingest"'


def test_durations_read_every_field_joined_and_skip_metrics_without_one():
    value = (
        'app;dur=4.2;desc="monolith", features;dur=1, '
        'edge;desc="answered by the edge", edge-upstream;dur=5;desc="the edge waiting"'
    )
    assert durations(value) == {"app": 4.2, "features": 1.0, "edge-upstream": 5.0}
    assert durations("") == {}
    assert durations("app;dur=1.2.3, x;dur=abc") == {"app": 1.2}
