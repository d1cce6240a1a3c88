"""Churn-API traffic for Locust: single predictions of real customers (most calls), batches, and
model-card reads, each prediction with its own X-Request-ID. Two ways to send it:

- closed loop (CHURNLAB_LOOP=closed, the default): each user waits for an answer before its
  next call, as a person at a screen does; a slower server simply receives less load.
- open loop (CHURNLAB_LOOP=open): requests arrive at a set rate whatever the answers do, as
  independent clients do. Each user offers CHURNLAB_RATE_PER_USER requests a second (Poisson
  arrivals, or CHURNLAB_ARRIVALS=constant), so the dashboard's user count sets the offered
  rate. Latency counts from when a request was due, not from when it left: a server that
  stalls cannot hide it by slowing the sender (coordinated omission). A request that could not
  be sent (too many in flight) counts as a failure; one sent late says by how much.

    make load ARCH=monolith            # dashboard on http://127.0.0.1:8089
    CHURNLAB_LOOP=open CHURNLAB_SHAPE=rates CHURNLAB_RATES=50,100,200 \\
      locust -f lab/locustfile.py --headless --host http://127.0.0.1:8000

Environment:
    CHURNLAB_SHAPE        steady | ramp | spike | rates (unset: the dashboard decides)
    CHURNLAB_USERS        peak users (default 32); CHURNLAB_SECONDS run length (default 60)
    CHURNLAB_STEP_USERS / CHURNLAB_STEP_SECONDS   ramp step (default 4 users every 5 s)
    CHURNLAB_RATES        open loop, shape "rates": offered requests/s, one step each
    CHURNLAB_MIX          open loop: api (the mix below, default) | single (single predictions
                          only: a capacity in predictions/s)
    CHURNLAB_WAIT_SECONDS closed loop: think time between a user's calls (default 0)
    CHURNLAB_REQUEST_LOG  write every request (due time, route, status, ms, request id, how
                          late it left) to a CSV
"""

from __future__ import annotations

import csv
import math
import os
import random
import time
import uuid
from pathlib import Path

import gevent
import gevent.pool
from locust import FastHttpUser, LoadTestShape, between, constant, events, task

DATASET = Path(__file__).resolve().parents[1] / "data" / "telco_customer_churn.csv"
BATCH_SIZE = 50
# What a client of this API sends: mostly single predictions, some batches, a few card reads.
MIX = (("predict_one", 20), ("predict_batch", 2), ("model_card", 1))
MIXES = {"api": MIX, "single": (("predict_one", 1),)}


def load_records(path: Path = DATASET) -> list[dict]:
    """The real customers as API bodies, without pandas (Locust workers stay light)."""
    from churnlab.domain.schema import DATASET_COLUMNS

    records = []
    with path.open(newline="") as stream:
        for row in csv.DictReader(stream):
            record = {api: row[column] for column, api in DATASET_COLUMNS.items()}
            record["senior_citizen"] = int(record["senior_citizen"])
            record["tenure"] = int(record["tenure"])
            record["monthly_charges"] = float(record["monthly_charges"])
            total = record["total_charges"].strip()
            record["total_charges"] = float(total) if total else None
            records.append(record)
    return records


def _setting(name: str, default: float) -> float:
    return float(os.environ.get(f"CHURNLAB_{name}", default))


RECORDS = load_records()
LOOP = os.environ.get("CHURNLAB_LOOP", "closed")
WAIT = _setting("WAIT_SECONDS", 0)
RATE_PER_USER = _setting("RATE_PER_USER", 5)
POISSON = os.environ.get("CHURNLAB_ARRIVALS", "poisson") == "poisson"
MAX_IN_FLIGHT = int(_setting("MAX_IN_FLIGHT", 200))
TIMEOUT_SECONDS = _setting("TIMEOUT_SECONDS", 10)


class ChurnCalls:
    """The calls themselves, the same for both loops. In the open loop `due` is when the call
    should have left (latency is reported from then) and `late_ms` how much later it did."""

    def _post(self, path: str, body: dict, records: int, due: float | None, late_ms: float) -> None:
        request_id = uuid.uuid4().hex
        with self.client.post(
            path, json=body, name=path, catch_response=True, headers={"X-Request-ID": request_id}
        ) as response:
            _account(response, due, late_ms, request_id=request_id, records=records)

    def predict_one(self, due: float | None = None, late_ms: float = 0.0) -> None:
        self._post("/v1/predict", random.choice(RECORDS), 1, due, late_ms)

    def predict_batch(self, due: float | None = None, late_ms: float = 0.0) -> None:
        body = {"records": random.sample(RECORDS, BATCH_SIZE)}
        self._post("/v1/predict/batch", body, BATCH_SIZE, due, late_ms)

    def model_card(self, due: float | None = None, late_ms: float = 0.0) -> None:
        with self.client.get("/v1/model", name="/v1/model", catch_response=True) as response:
            _account(response, due, late_ms)


def _account(response, due: float | None, late_ms: float, **context) -> None:
    """Latency from the due time in the open loop; anything but a 200 is a failure."""
    if due is not None:
        response.request_meta["response_time"] = (time.perf_counter() - due) * 1000
    response.request_meta["context"] = context | {"late_ms": late_ms}
    if response.status_code != 200:
        response.failure(f"{response.status_code}")


class ChurnApiUser(ChurnCalls, FastHttpUser):
    """Closed loop: a client of the churn API that waits for each answer."""

    abstract = LOOP != "closed"
    wait_time = between(WAIT / 2, WAIT * 1.5) if WAIT else constant(0)
    network_timeout = connection_timeout = TIMEOUT_SECONDS

    @task(MIX[0][1])
    def one(self) -> None:
        self.predict_one()

    @task(MIX[1][1])
    def batch(self) -> None:
        self.predict_batch()

    @task(MIX[2][1])
    def card(self) -> None:
        self.model_card()


class OpenLoopUser(ChurnCalls, FastHttpUser):
    """Open loop: offers RATE_PER_USER calls a second, each sent in a greenlet of its own."""

    abstract = LOOP != "open"
    concurrency = MAX_IN_FLIGHT
    network_timeout = connection_timeout = TIMEOUT_SECONDS
    wait_time = constant(0)

    def on_start(self) -> None:
        self._in_flight = gevent.pool.Pool(MAX_IN_FLIGHT)
        mix = MIXES[os.environ.get("CHURNLAB_MIX", "api")]
        self._calls = [name for name, weight in mix for _ in range(weight)]

    def on_stop(self) -> None:
        self._in_flight.kill(block=False)

    @task
    def offer(self) -> None:
        due = time.perf_counter()
        while True:  # until Locust stops this user
            due += random.expovariate(RATE_PER_USER) if POISSON else 1 / RATE_PER_USER
            ahead = due - time.perf_counter()
            if ahead > 0:
                gevent.sleep(ahead)
            call = getattr(self, random.choice(self._calls))
            if self._in_flight.full():
                _not_sent(call.__name__, due)
                continue
            self._in_flight.spawn(call, due, max(-ahead, 0.0) * 1000)


def _not_sent(call: str, due: float) -> None:
    """A call the generator could not send: as many in flight as it allows (the server has
    stopped answering, or the generator is overloaded). It counts, as a failure."""
    paths = {"predict_one": "/v1/predict", "predict_batch": "/v1/predict/batch"}
    path = paths.get(call, "/v1/model")
    events.request.fire(
        request_type="POST",
        name=path,
        response_time=(time.perf_counter() - due) * 1000,
        response_length=0,
        exception=RuntimeError(f"not sent: {MAX_IN_FLIGHT} already in flight"),
        context={"late_ms": math.inf},
    )


# --- load shapes: abstract here; CHURNLAB_SHAPE makes exactly one of them concrete ------------


class Steady(LoadTestShape):
    """A constant number of users for the whole run."""

    abstract = True

    def tick(self):
        if self.get_run_time() >= _setting("SECONDS", 60):
            return None
        users = int(_setting("USERS", 32))
        return users, users


class Ramp(LoadTestShape):
    """Users added in steps until the peak, to find where the service saturates."""

    abstract = True

    def tick(self):
        run_time = self.get_run_time()
        if run_time >= _setting("SECONDS", 60):
            return None
        step = int(run_time // _setting("STEP_SECONDS", 5)) + 1
        users = int(min(step * _setting("STEP_USERS", 4), _setting("USERS", 32)))
        return users, users


class Spike(LoadTestShape):
    """A quarter of the peak, then the full peak for the middle fifth of the run, then back."""

    abstract = True

    def tick(self):
        run_time, seconds = self.get_run_time(), _setting("SECONDS", 60)
        if run_time >= seconds:
            return None
        peak = int(_setting("USERS", 32))
        in_spike = 0.4 * seconds <= run_time < 0.6 * seconds
        users = peak if in_spike else max(peak // 4, 1)
        return users, peak


class Rates(LoadTestShape):
    """Open loop: each offered rate of CHURNLAB_RATES for CHURNLAB_STEP_SECONDS, in turn."""

    abstract = True

    def tick(self):
        rates = [float(rate) for rate in os.environ["CHURNLAB_RATES"].split(",")]
        step = int(self.get_run_time() // _setting("STEP_SECONDS", 10))
        if step >= len(rates):
            return None
        users = max(round(rates[step] / RATE_PER_USER), 1)
        return users, users  # all at once: the rate is the step's from its first second


SHAPES = {"steady": Steady, "ramp": Ramp, "spike": Spike, "rates": Rates}
if os.environ.get("CHURNLAB_SHAPE"):
    SelectedShape = type("SelectedShape", (SHAPES[os.environ["CHURNLAB_SHAPE"]],), {})


# --- an exact record of every request, for the experiments' analysis --------------------------

_request_log = None
if os.environ.get("CHURNLAB_REQUEST_LOG"):
    # Line-buffered: a fault injector waits for the first row to start its clock.
    _log_file = open(os.environ["CHURNLAB_REQUEST_LOG"], "w", newline="", buffering=1)  # noqa: SIM115
    _request_log = csv.writer(_log_file)
    _request_log.writerow(
        ["time", "route", "status", "ok", "ms", "request_id", "records", "late_ms"]
    )

    @events.request.add_listener
    def _log_request(name, response_time, response, exception, context, **_):
        status = getattr(response, "status_code", 0) or 0
        ok = exception is None and status == 200
        context = context or {}
        # When it was sent (closed loop) or due (open loop): response_time counts from then.
        started = time.time() - response_time / 1000
        _request_log.writerow(
            [
                f"{started:.4f}",
                name,
                status,
                int(ok),
                f"{response_time:.2f}",
                context.get("request_id", ""),
                context.get("records", 0),
                f"{context.get('late_ms', 0.0):.2f}",
            ]
        )

    @events.quitting.add_listener
    def _close_log(**_):
        _log_file.flush()
