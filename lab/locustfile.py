"""Churn-API traffic for Locust: single predictions of real customers (most calls), batches, and
model-card reads, each prediction with its own X-Request-ID. Two ways to send it:

- closed loop (--loop closed, the default): each user waits for an answer before its next
  call, as a person at a screen does; a slower server simply receives less load.
- open loop (--loop open): requests arrive at a set rate whatever the answers do, as
  independent clients do. Each user offers --rate-per-user requests a second (Poisson
  arrivals, or --arrivals constant), so the dashboard's user count sets the offered rate.
  Latency counts from when a request was due, not from when it left: a server that stalls
  cannot hide it by slowing the sender (coordinated omission). A request that could not be
  sent (too many in flight) counts as a failure; one sent late says by how much, read in
  the call's own greenlet just before it is sent (the wait for that greenlet to run included).
  `--path-prefix /lab/null` sends the same calls to the
  edge's null endpoint (the lab's deployments only), to show the generator holds a rate.

    make load ARCH=monolith            # dashboard on http://127.0.0.1:8089
    locust -f lab/locustfile.py,lab/shapes/rates.py --headless --host http://127.0.0.1:8000 \
      --loop open --rates 50,100,200 --step-seconds 30

Every knob is one of Locust's own options: `-u` peak users and `-t` run length (which the
shapes read too), and the custom arguments of `_options` below (each also as LOCUST_<NAME>,
and editable in the dashboard's custom parameters). A load shape is a second locustfile of
lab/shapes/ (steady, ramp, spike, rates); without one, the dashboard decides.
"""

from __future__ import annotations

import csv
import math
import random
import time
import uuid
from pathlib import Path

import gevent
import gevent.pool
from locust import FastHttpUser, events, task

from lab.load.mixes import BATCH_SIZE, MIXES

DATASET = Path(__file__).resolve().parents[1] / "data" / "telco_customer_churn.csv"


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


RECORDS = load_records()


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    """The generator's knobs, as Locust's own custom arguments."""
    add = parser.add_argument  # Locust's own: it puts the argument in the dashboard too
    add(
        "--loop",
        choices=["closed", "open"],
        default="closed",
        env_var="LOCUST_LOOP",
        help="closed: each user waits for its answer; open: calls arrive at a set rate",
    )
    add(
        "--rate-per-user",
        type=float,
        default=5.0,
        env_var="LOCUST_RATE_PER_USER",
        help="open loop: calls a second each user offers",
    )
    add(
        "--arrivals",
        choices=["poisson", "constant"],
        default="poisson",
        env_var="LOCUST_ARRIVALS",
        help="open loop: Poisson arrivals or a fixed gap",
    )
    add(
        "--mix",
        choices=sorted(MIXES),
        default="api",
        env_var="LOCUST_MIX",
        help="api: the mix of a client of this API; single or batch: those calls only",
    )
    add(
        "--wait-seconds",
        type=float,
        default=0.0,
        env_var="LOCUST_WAIT_SECONDS",
        help="closed loop: mean think time between a user's calls",
    )
    add(
        "--max-in-flight",
        type=int,
        default=200,
        env_var="LOCUST_MAX_IN_FLIGHT",
        help="open loop: calls in flight per user before one counts as not sent",
    )
    add(
        "--timeout-seconds",
        type=float,
        default=10.0,
        env_var="LOCUST_TIMEOUT_SECONDS",
        help="a call's connect and read timeout",
    )
    add(
        "--rates",
        default="",
        env_var="LOCUST_RATES",
        help="shape rates: offered calls a second, one step each (e.g. 50,100,200)",
    )
    add(
        "--step-seconds",
        type=float,
        default=5.0,
        env_var="LOCUST_STEP_SECONDS",
        help="shapes ramp and rates: the length of a step",
    )
    add(
        "--drain-seconds",
        type=float,
        default=0.0,
        env_var="LOCUST_DRAIN_SECONDS",
        help="shape rates: after the last step, send nothing for this long, so that every call "
        "in flight ends in an answer or its timeout and is logged",
    )
    add(
        "--step-users",
        type=int,
        default=4,
        env_var="LOCUST_STEP_USERS",
        help="shape ramp: users added each step",
    )
    add(
        "--connection-per-call",
        action="store_true",
        default=False,
        help="ask for each call's connection to be closed after its answer (Connection: "
        "close), so every call opens one, as httperf's do: the generators' cross-check",
    )
    add(
        "--path-prefix",
        default="",
        help="sent before every call's path, as the same route: /lab/null calibrates the "
        "generator against the edge's null endpoint (the lab's deployments only)",
    )
    add(
        "--request-log",
        default="",
        env_var="LOCUST_REQUEST_LOG",
        help="write every request (due time, route, status, ms, id, how late) to this CSV",
        include_in_web_ui=False,  # opened once, when Locust starts
    )


class ChurnCalls:
    """The calls themselves, the same for both loops. In the open loop `due` is when the call
    should have left: latency is reported from then, and how late it left is read here, in the
    call's greenlet, just before the send."""

    def _post(self, path: str, body: dict, records: int, due: float | None) -> None:
        request_id = uuid.uuid4().hex
        late_ms = _late_ms(due)
        with self.client.post(
            self.options.path_prefix + path,
            json=body,
            name=path,
            catch_response=True,
            headers={"X-Request-ID": request_id, **self._connection()},
        ) as response:
            _account(response, due, late_ms, request_id=request_id, records=records)

    def predict_one(self, due: float | None = None) -> None:
        self._post("/v1/predict", random.choice(RECORDS), 1, due)

    def predict_batch(self, due: float | None = None) -> None:
        body = {"records": random.sample(RECORDS, BATCH_SIZE)}
        self._post("/v1/predict/batch", body, BATCH_SIZE, due)

    def model_card(self, due: float | None = None) -> None:
        url = self.options.path_prefix + "/v1/model"
        late_ms = _late_ms(due)
        with self.client.get(
            url, name="/v1/model", catch_response=True, headers=self._connection()
        ) as response:
            _account(response, due, late_ms)

    def _connection(self) -> dict[str, str]:
        return {"Connection": "close"} if self.options.connection_per_call else {}


def _late_ms(due: float | None) -> float:
    """How long after its due time a call is being sent: the sending loop's sleep overshooting,
    and the wait for the call's greenlet to be run, both."""
    return 0.0 if due is None else max(time.perf_counter() - due, 0.0) * 1000


def _account(response, due: float | None, late_ms: float, **context) -> None:
    """Latency from the due time in the open loop; anything but a 200 is a failure."""
    if due is not None:
        response.request_meta["response_time"] = (time.perf_counter() - due) * 1000
    response.request_meta["context"] = context | {"late_ms": late_ms}
    if response.status_code != 200:
        response.failure(f"{response.status_code}")


class ChurnUser(ChurnCalls, FastHttpUser):
    """A client of the churn API, in the loop --loop chose. Closed: a call, its answer, the
    think time, again. Open: --rate-per-user calls a second, each in a greenlet of its own."""

    # Over HTTPS (the Swarm's edge), the certificate is checked, against the trust Python's
    # default context reads (SSL_CERT_FILE: runtimes.swarm.cluster_trust), not waved through.
    insecure = False

    def __init__(self, environment) -> None:
        self.options = environment.parsed_options
        # FastHttpUser builds its client from these, so they are set before it does.
        self.network_timeout = self.connection_timeout = self.options.timeout_seconds
        self.concurrency = self.options.max_in_flight
        super().__init__(environment)

    def on_start(self) -> None:
        self._calls = [name for name, weight in MIXES[self.options.mix] for _ in range(weight)]
        self._in_flight = gevent.pool.Pool(self.options.max_in_flight)

    def on_stop(self) -> None:
        self._in_flight.kill(block=False)

    def wait_time(self) -> float:
        wait = self.options.wait_seconds
        return random.uniform(wait / 2, wait * 1.5) if self.options.loop == "closed" else 0.0

    @task
    def call(self) -> None:
        if self.options.loop == "open":
            self._offer()
        else:
            getattr(self, random.choice(self._calls))()

    def _offer(self) -> None:
        rate, poisson = self.options.rate_per_user, self.options.arrivals == "poisson"
        due = time.perf_counter()
        while offering(self.environment):  # until a shape drains, or Locust stops this user
            due += random.expovariate(rate) if poisson else 1 / rate
            ahead = due - time.perf_counter()
            if ahead > 0:
                gevent.sleep(ahead)
            call = getattr(self, random.choice(self._calls))
            if self._in_flight.full():
                _not_sent(call.__name__, due, self.options.max_in_flight)
                continue
            self._in_flight.spawn(call, due)
        self._in_flight.join()  # draining: every call sent ends, and is logged, before the stop
        while True:
            gevent.sleep(1)


def offering(environment) -> bool:
    """False once a shape drains (lab/shapes/rates.py): users keep their calls in flight but
    send no more."""
    return getattr(environment, "offering", True)


def _not_sent(call: str, due: float, max_in_flight: int) -> None:
    """A call the generator could not send: as many in flight as it allows (the server has
    stopped answering, or the generator is overloaded). It counts, as a failure."""
    paths = {"predict_one": "/v1/predict", "predict_batch": "/v1/predict/batch"}
    path = paths.get(call, "/v1/model")
    events.request.fire(
        request_type="POST",
        name=path,
        response_time=(time.perf_counter() - due) * 1000,
        response_length=0,
        exception=RuntimeError(f"not sent: {max_in_flight} already in flight"),
        context={"late_ms": math.inf},
    )


# --- an exact record of every request, for the experiments' analysis --------------------------

_request_log = None


@events.init.add_listener
def _open_request_log(environment, **_) -> None:
    """Line-buffered: a fault injector waits for the first row to start its clock."""
    global _request_log
    path = getattr(environment.parsed_options, "request_log", "")
    if not path:
        return
    log_file = open(path, "w", newline="", buffering=1)  # noqa: SIM115
    _request_log = csv.writer(log_file)
    _request_log.writerow(
        ["time", "route", "status", "ok", "ms", "request_id", "records", "late_ms"]
    )
    environment.events.quitting.add_listener(lambda **_: log_file.flush())


@events.request.add_listener
def _log_request(name, response_time, exception, context, response=None, **_) -> None:
    if _request_log is None:
        return
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
