"""The capacity experiment's decisions, on made-up trials: the SLO verdict of a step, the rerun
of a step too short to tell, the stop where the generator could not hold its schedule, and the
figure repeated searches make."""

from __future__ import annotations

import pytest

from lab.experiments import capacity
from lab.experiments.capacity import Method, capacity_search, slo_verdict, summarise

METHOD = Method(
    slo_ms=250,
    settle_seconds=1,
    measure_seconds=2,
    calls=400,
    timeout_seconds=2,
    start=50,
    limit=800,
    floor=5,
    resolution=0.05,
)


def test_a_step_passes_only_when_its_interval_clears_99_percent():
    assert slo_verdict(1000, 1000) == "pass"
    assert slo_verdict(960, 1000) == "fail"
    assert slo_verdict(992, 1000) == "undecided"  # 99.2%: too few calls to tell
    assert slo_verdict(380, 380) == "undecided"  # under 381 calls nothing can pass
    assert slo_verdict(0, 0) == "fail"


def test_a_method_whose_trials_could_never_pass_is_refused():
    with pytest.raises(ValueError, match="never pass"):
        Method(**{**METHOD.__dict__, "calls": 150})


def made_up(
    true_capacity: float,
    undecided_near: float = 0.0,
    limit: float = 10_000,
    stalls_once_at: float | None = None,
):
    """Trials of a service that answers within the SLO up to `true_capacity`; within
    `undecided_near` of it, a first trial cannot tell and the longer one can; at
    `stalls_once_at` its first trial fails (a stall of the machine), and later ones do not."""
    tried = []

    def trial(deployment, log, budget, method, rate, longer=1):
        tried.append((rate, longer))
        if rate == stalls_once_at and tried.count((rate, 1)) == 1:
            verdict = "fail"
        elif rate > limit:
            verdict = None
        elif abs(rate - true_capacity) < undecided_near and longer == 1:
            verdict = "undecided"
        else:
            verdict = "pass" if rate <= true_capacity else "fail"
        calls = 1000 * longer
        good = calls if verdict == "pass" else int(0.9 * calls)
        return {
            "offered_rps": rate,
            "verdict": verdict,
            "calls": calls,
            "within_slo": good,
            "generator": {"expected_calls": calls, "cpu_share": 0.2, "late_share": 0.0},
        }

    return trial, tried


def test_the_search_brackets_a_true_capacity_and_keeps_every_trial(monkeypatch, tmp_path):
    trial, tried = made_up(237)
    monkeypatch.setattr(capacity, "trial", trial)
    found = capacity_search(None, tmp_path, None, METHOD)
    low, high = found["bracket"]
    assert low <= 237 < high
    assert high - low <= 0.05 * low
    assert [t["offered_rps"] for t in found["trials"]] == [rate for rate, _ in tried]
    assert found["limited_by"] is None


def test_a_step_too_short_to_tell_runs_again_twice_as_long(monkeypatch, tmp_path):
    trial, tried = made_up(237, undecided_near=20)
    monkeypatch.setattr(capacity, "trial", trial)
    found = capacity_search(None, tmp_path, None, METHOD)
    reruns = [rate for rate, longer in tried if longer == 2]
    assert reruns, tried
    assert all((rate, 1) in tried for rate in reruns)
    assert found["bracket"][0] <= 237 < found["bracket"][1]


def test_a_generator_that_cannot_hold_the_rate_searches_below_it_and_says_so(monkeypatch, tmp_path):
    trial, tried = made_up(10_000, limit=300)
    monkeypatch.setattr(capacity, "trial", trial)
    found = capacity_search(None, tmp_path, None, METHOD)
    assert found["limited_by"] == "generator"
    assert found["censored"] == "above"  # it never failed: at least this much
    assert 300 * 0.95 <= found["capacity_rps"] <= 300
    assert max(rate for rate, _ in tried) == 400


def test_an_estimate_starts_the_search_near_it_in_small_steps(monkeypatch, tmp_path):
    trial, tried = made_up(237)
    monkeypatch.setattr(capacity, "trial", trial)
    capacity_search(None, tmp_path, None, METHOD, estimate=230)
    assert tried[0] == (230, 1)
    assert tried[1][0] == pytest.approx(253, abs=0.1)  # 10% up at a 5% resolution
    assert len({rate for rate, _ in tried}) <= 4  # rates; each failure is tried twice


def search(capacity_rps: float, censored: str | None = None) -> dict:
    return {"capacity_rps": capacity_rps, "censored": censored}


def test_repeated_searches_read_as_a_bound_when_any_was_censored():
    assert summarise([search(100), search(110), search(105)])["reads"] == "="
    bounded = summarise([search(100), search(800, "above"), search(105)])
    assert (bounded["reads"], bounded["censored_runs"]) == ("≥", 1)
    assert summarise([search(1, "below"), search(800, "above")])["reads"] == "?"
    assert summarise([search(100)] * 3)["capacity_rps"]["median"] == 100


def test_one_stall_does_not_fail_a_rate_but_a_confirmed_failure_does(monkeypatch, tmp_path):
    trial, tried = made_up(237, stalls_once_at=100)
    monkeypatch.setattr(capacity, "trial", trial)
    found = capacity_search(None, tmp_path, None, METHOD)
    assert tried[:4] == [(50, 1), (100, 1), (100, 1), (100, 1)]  # fail, pass, pass: 2 of 3
    assert found["bracket"][0] <= 237 < found["bracket"][1]
    failing = [rate for rate, _ in tried if rate > 237]
    assert all(failing.count(rate) == 2 for rate in failing)  # each failure seen twice


@pytest.mark.parametrize("trials", [0, 2])
def test_a_method_whose_failures_could_tie_is_refused(trials):
    with pytest.raises(ValueError, match="odd number"):
        Method(**{**METHOD.__dict__, "failure_trials": trials})


def test_a_method_of_one_failure_trial_takes_a_failure_as_it_comes(monkeypatch, tmp_path):
    """The quick plan's: fewer trials, and a stall can fail a rate (it is indicative only)."""
    trial, tried = made_up(237)
    monkeypatch.setattr(capacity, "trial", trial)
    found = capacity_search(
        None, tmp_path, None, Method(**{**METHOD.__dict__, "failure_trials": 1})
    )
    assert len(tried) == len({rate for rate, _ in tried})  # each rate once
    assert found["bracket"][0] <= 237 < found["bracket"][1]


def test_no_rate_decided_is_an_error_not_a_figure(monkeypatch, tmp_path):
    trial, _ = made_up(237, limit=10)
    monkeypatch.setattr(capacity, "trial", trial)
    with pytest.raises(RuntimeError, match="no rate was decided"):
        capacity_search(None, tmp_path, None, METHOD)


def test_a_first_call_late_on_its_shape_still_leaves_the_window_inside_the_step(
    monkeypatch, tmp_path
):
    """The step's window is timed from its first call; on a loaded core that call leaves
    seconds after the shape's clock starts, while the shape stops offering on its own clock.
    CI's quick run lost 67 of 450 due calls to that and called its generator off."""
    from lab.experiments.budget import Budget
    from lab.load.locust import LocustRun, Request

    rate, lag = 100.0, 1.5

    def locust(url, log, *, step_seconds, **_) -> LocustRun:
        """Calls due every 1/rate from `lag` after the shape starts until its step ends."""
        due = [1000.0 + lag + n / rate for n in range(int((step_seconds - lag) * rate))]
        calls = [Request(t, "/v1/predict", True, 5.0, f"r{n}", 1) for n, t in enumerate(due)]
        return LocustRun(calls, generator_cpu_seconds=1.0, seconds=step_seconds + 4)

    monkeypatch.setattr(capacity, "run_locust", locust)
    serving = type("Serving", (), {"url": "http://127.0.0.1:1"})()
    step = capacity.trial(serving, tmp_path / "t.csv", Budget("0", "1", shared=False), METHOD, rate)
    assert step["calls"] == METHOD.window_seconds(rate) * rate
    assert step["generator"]["on_schedule"], step["generator"]
    assert step["verdict"] == "pass"


def step_of(monkeypatch, tmp_path, *, good_share: float, late_every: int) -> dict:
    """One trial at 100/s where `good_share` of the calls (spread evenly) were answered within
    the SLO and every `late_every`-th of the others left 50 ms after it was due."""
    from lab.experiments.budget import Budget
    from lab.load.locust import LocustRun, Request

    rate = 100.0

    def locust(url, log, *, step_seconds, **_) -> LocustRun:
        due = [1000.0 + n / rate for n in range(int(step_seconds * rate))]
        good = {n for n in range(len(due)) if (n * good_share) % 1 + good_share >= 1}
        calls = [
            Request(
                t,
                "/v1/predict",
                n in good,
                5.0 if n in good else 900.0,
                f"r{n}",
                1,
                late_ms=50.0 if n not in good and n % late_every == 0 else 0.0,
            )
            for n, t in enumerate(due)
        ]
        return LocustRun(calls, generator_cpu_seconds=1.0, seconds=step_seconds + 4)

    monkeypatch.setattr(capacity, "run_locust", locust)
    serving = type("Serving", (), {"url": "http://127.0.0.1:1"})()
    return capacity.trial(serving, tmp_path / "t.csv", Budget("0", "1", shared=False), METHOD, rate)


def test_a_trial_that_fails_even_counting_its_late_calls_good_fails(monkeypatch, tmp_path):
    """An overloaded deployment makes its generator late too: CI's quick run saw 0 of 1,251
    calls within the SLO with 1.1% sent late, and calling that trial off cut the search short."""
    step = step_of(monkeypatch, tmp_path, good_share=0.0, late_every=50)
    assert not step["generator"]["valid"], step["generator"]
    assert step["verdict"] == "fail"


def test_a_trial_its_late_calls_could_have_passed_tells_nothing(monkeypatch, tmp_path):
    step = step_of(monkeypatch, tmp_path, good_share=0.98, late_every=1)
    assert not step["generator"]["valid"], step["generator"]
    assert step["verdict"] is None
