"""httperf's report, read back: the second generator's figures are only as good as this."""

from __future__ import annotations

import json

import pytest

from lab.experiments.analysis import binned_percentiles
from lab.load.httperf import BIN_MS, parse, run_httperf, sessions_file
from runtimes.paths import ROOT

# A real run's stdout (httperf 0.9.0, Debian 12, -v -v): 30 GETs of a local http.server.
REPORT = (ROOT / "tests" / "unit" / "lab" / "data" / "httperf-report.txt").read_text()


def test_a_report_gives_its_calls_answers_duration_and_histogram():
    run = parse(REPORT, rate=100)
    assert (run.calls, run.answered, run.errors) == (30, 30, 0)
    assert run.seconds == pytest.approx(0.189)
    assert run.histogram == {0.0: 22, 1.0: 6, 2.0: 1, 6.0: 1}  # the ":" row skips empty bins
    assert run.achieved_rps == pytest.approx(30 / 0.189)


def test_failed_answers_and_errors_are_not_counted_answered():
    failing = REPORT.replace("2xx=30 3xx=0 4xx=0 5xx=0", "2xx=20 3xx=0 4xx=0 5xx=10")
    failing = failing.replace("Errors: total 0 client-timo 0", "Errors: total 3 client-timo 3")
    run = parse(failing, rate=100)
    assert (run.answered, run.errors) == (20, 3)


def test_anything_but_a_report_is_refused():
    with pytest.raises(ValueError, match="not an httperf report"):
        parse("httperf: connection refused\n", rate=100)


def test_binned_percentiles_are_the_upper_edge_of_their_bin_and_need_their_samples():
    histogram = {0.0: 900, 3.0: 85, 40.0: 15}  # 1,000 calls: 985 by 4 ms, too few for a p99
    assert binned_percentiles(histogram, BIN_MS) == {
        "samples": 1000,
        "p50_ms": 1.0,
        "p99_ms": 41.0,
        "p999_ms": None,  # from 10,000 samples only
    }
    few = binned_percentiles({0.0: 500, 3.0: 499}, BIN_MS)
    assert few["p50_ms"] == 1.0
    assert few["p99_ms"] is None


def test_each_record_is_a_session_of_one_post_whose_body_is_the_record(tmp_path):
    records = [{"customer_id": 'say "hi"', "tenure": 1}, {"customer_id": "back\\slash"}]
    sessions = sessions_file(records, tmp_path / "sessions.txt").read_text().split("\n\n")
    assert len(sessions) == 2
    for session, record in zip(sessions, records, strict=True):
        assert session.startswith('/v1/predict method=POST contents="')
        body = session.strip()[len('/v1/predict method=POST contents="') : -1]
        unescaped = body.replace('\\"', '"').replace("\\\\", "\\")
        assert json.loads(unescaped) == record


def test_load_goes_to_loopback_only(tmp_path):
    with pytest.raises(ValueError, match="loopback"):
        run_httperf("http://10.0.0.1:8000", 10, 1, tmp_path / "sessions.txt")
