"""The experiments' arithmetic, on hand-made request logs."""

from loadtests.experiments import Request, p99, time_to_recover


def request(time: float, ok: bool, ms: float = 5.0) -> Request:
    return Request(time, "/v1/predict", ok, ms, "id", 1)


def test_recovery_waits_for_the_first_success_to_complete():
    # Undone at t=10; failures until 10.2; the next request is held 0.8 s (model loading).
    log = [
        request(9.5, False),
        request(10.2, False),
        request(10.3, True, ms=800),
        request(11.2, True),
    ]
    assert time_to_recover(log, [(10.5, "not ready"), (11.0, "ready")], end=10.0) == 1.1


def test_recovery_also_waits_for_readiness():
    log = [request(10.1, True)]
    assert time_to_recover(log, [(10.2, "unreachable"), (12.0, "ready")], end=10.0) == 2.0


def test_no_recovery_while_still_failing():
    assert time_to_recover([request(10.5, False)], [(11.0, "ready")], end=10.0) is None
    assert time_to_recover([request(10.5, True)], [(11.0, "not ready")], end=10.0) is None


def test_p99():
    assert p99([float(v) for v in range(1, 101)]) == 99.0
    assert p99([]) is None
