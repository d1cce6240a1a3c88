"""The request log the lab's analysis reads: every call, the ones never sent included. Locust
monkey-patches the interpreter that imports it (gevent), so the locustfile is imported in a
Python of its own, never in the test run's."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from runtimes.paths import ROOT

NOT_SENT = """
import csv, sys, time
from lab import locustfile
locustfile._request_log = csv.writer(sys.stdout)
locustfile._not_sent("predict_batch", time.perf_counter() - 0.25, max_in_flight=200)
"""


def test_a_call_that_could_not_be_sent_is_logged_as_a_failure_from_its_due_time():
    done = subprocess.run(
        [sys.executable, "-c", NOT_SENT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [row] = list(csv.reader(io.StringIO(done.stdout)))
    _, route, status, ok, ms, _, _, late_ms = row
    assert (route, status, ok, late_ms) == ("/v1/predict/batch", "0", "0", "inf")
    assert float(ms) >= 250


CALLS = """
import time
from lab import locustfile

class Response:
    status_code = 200
    def __init__(self):
        self.request_meta = {}
    def failure(self, _):
        raise AssertionError("a 200 is no failure")
    def __enter__(self):
        return self
    def __exit__(self, *_):
        return False

sent = []
class Client:
    def post(self, url, **kwargs):
        sent.append((url, kwargs["name"], Response()))
        return sent[-1][2]

class Options:
    path_prefix = "/lab/null"
    connection_per_call = False

calls = locustfile.ChurnCalls()
calls.client, calls.options = Client(), Options()
"""

PREFIXED = (
    CALLS
    + """
calls.predict_one(None)
url, name, response = sent[0]
print(url, name, response.request_meta["context"]["late_ms"])
"""
)


def test_a_prefixed_call_goes_to_the_prefixed_path_as_the_same_route():
    """Calibration sends the trials' own calls to the edge's null endpoint: counted under the
    route they stand for."""
    done = subprocess.run(
        [sys.executable, "-c", PREFIXED], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["/lab/null/v1/predict", "/v1/predict", "0.0"]


HELD_UP = (
    CALLS
    + """
import gevent
due = time.perf_counter()
call = gevent.spawn(calls.predict_one, due)  # on time when handed over, as the loop sees it
while time.perf_counter() < due + 0.08:  # the hub held: the call's greenlet cannot run yet
    pass
call.join()
print(sent[0][2].request_meta["context"]["late_ms"])
"""
)


def test_a_call_whose_greenlet_waited_to_run_is_counted_late_by_that_wait():
    """The generator proves itself only if its lateness includes the wait for the call's
    greenlet: under load that wait, not the sending loop's sleep, is where a schedule slips."""
    done = subprocess.run(
        [sys.executable, "-c", HELD_UP], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout) >= 80
