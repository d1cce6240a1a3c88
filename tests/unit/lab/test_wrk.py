"""wrk counts failed calls in its rate: a run with any is not a rate of answers."""

from __future__ import annotations

from lab.load.wrk import failed_calls

REPORT = """Running 3s test @ http://127.0.0.1:8000/v1/predict
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.91ms    2.10ms  30.12ms   80.00%
    Req/Sec   900.00     50.00     1.00k    70.00%
  Latency Distribution
     50%    8.50ms
     75%    9.80ms
     90%   11.20ms
     99%   16.40ms
  2700 requests in 3.00s, 1.20MB read
Requests/sec:    900.00
Transfer/sec:    400.00KB
"""


def test_a_clean_run_has_no_failed_calls():
    assert failed_calls(REPORT) == 0


def test_error_answers_and_socket_errors_are_both_failed_calls():
    failing = REPORT.replace(
        "Requests/sec:",
        "  Socket errors: connect 0, read 3, write 0, timeout 2\n"
        "  Non-2xx or 3xx responses: 40\nRequests/sec:",
    )
    assert failed_calls(failing) == 45
