"""Realistic churn-API traffic for Locust: single predictions of real customers (most calls),
batches, and model-card reads, each prediction with its own X-Request-ID.

    make load ARCH=monolith            # dashboard on http://127.0.0.1:8089
    CHURNLAB_SHAPE=ramp locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000

Environment:
    CHURNLAB_SHAPE        steady | ramp | spike (unset: users and rate from the dashboard)
    CHURNLAB_USERS        peak users (default 32); CHURNLAB_SECONDS run length (default 60)
    CHURNLAB_STEP_USERS / CHURNLAB_STEP_SECONDS   ramp step (default 4 users every 5 s)
    CHURNLAB_WAIT_SECONDS think time between a user's calls (default 0: as fast as answers come)
    CHURNLAB_REQUEST_LOG  write every request (start time, route, status, ms, request id) to a CSV
"""

from __future__ import annotations

import csv
import os
import random
import time
import uuid
from pathlib import Path

from locust import FastHttpUser, LoadTestShape, between, constant, events, task

DATASET = Path(__file__).resolve().parents[1] / "data" / "telco_customer_churn.csv"
BATCH_SIZE = 50


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
WAIT = float(os.environ.get("CHURNLAB_WAIT_SECONDS", "0"))


class ChurnApiUser(FastHttpUser):
    """A client of the churn API; the same user class drives either deployment."""

    wait_time = between(WAIT / 2, WAIT * 1.5) if WAIT else constant(0)

    def _post(self, path: str, body: dict, name: str, records: int) -> None:
        request_id = uuid.uuid4().hex
        with self.client.post(
            path, json=body, name=name, catch_response=True, headers={"X-Request-ID": request_id}
        ) as response:
            response.request_meta["context"] = {"request_id": request_id, "records": records}
            if response.status_code != 200:
                response.failure(f"{response.status_code}")

    @task(20)
    def predict_one(self) -> None:
        self._post("/v1/predict", random.choice(RECORDS), "/v1/predict", 1)

    @task(2)
    def predict_batch(self) -> None:
        batch = {"records": random.sample(RECORDS, BATCH_SIZE)}
        self._post("/v1/predict/batch", batch, "/v1/predict/batch", BATCH_SIZE)

    @task(1)
    def model_card(self) -> None:
        self.client.get("/v1/model", name="/v1/model")


# --- load shapes: abstract here; CHURNLAB_SHAPE makes exactly one of them concrete ------------


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(f"CHURNLAB_{name}", default))


class Steady(LoadTestShape):
    """A constant number of users for the whole run."""

    abstract = True

    def tick(self):
        if self.get_run_time() >= _setting("SECONDS", 60):
            return None
        users = _setting("USERS", 32)
        return users, users


class Ramp(LoadTestShape):
    """Users added in steps until the peak, to find where the service saturates."""

    abstract = True

    def tick(self):
        run_time = self.get_run_time()
        if run_time >= _setting("SECONDS", 60):
            return None
        step = int(run_time // _setting("STEP_SECONDS", 5)) + 1
        users = min(step * _setting("STEP_USERS", 4), _setting("USERS", 32))
        return users, users


class Spike(LoadTestShape):
    """A quarter of the peak, then the full peak for the middle fifth of the run, then back."""

    abstract = True

    def tick(self):
        run_time, seconds = self.get_run_time(), _setting("SECONDS", 60)
        if run_time >= seconds:
            return None
        peak = _setting("USERS", 32)
        in_spike = 0.4 * seconds <= run_time < 0.6 * seconds
        users = peak if in_spike else max(peak // 4, 1)
        return users, peak


SHAPES = {"steady": Steady, "ramp": Ramp, "spike": Spike}
if os.environ.get("CHURNLAB_SHAPE"):
    SelectedShape = type("SelectedShape", (SHAPES[os.environ["CHURNLAB_SHAPE"]],), {})


# --- an exact record of every request, for the experiments' fault-window analysis ------------

_request_log = None
if os.environ.get("CHURNLAB_REQUEST_LOG"):
    _log_file = open(os.environ["CHURNLAB_REQUEST_LOG"], "w", newline="")  # noqa: SIM115
    _request_log = csv.writer(_log_file)
    _request_log.writerow(["time", "route", "status", "ok", "ms", "request_id", "records"])

    @events.request.add_listener
    def _log_request(name, response_time, response, exception, context, **_):
        status = getattr(response, "status_code", 0) or 0
        ok = exception is None and status == 200
        started = time.time() - response_time / 1000  # when it was sent, not when it ended
        _request_log.writerow(
            [
                f"{started:.4f}",
                name,
                status,
                int(ok),
                f"{response_time:.2f}",
                (context or {}).get("request_id", ""),
                (context or {}).get("records", 0),
            ]
        )

    @events.quitting.add_listener
    def _close_log(**_):
        _log_file.flush()
