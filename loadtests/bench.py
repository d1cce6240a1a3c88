"""`make bench`: how fast one machine serves the churn workflow, as ratios from a single run.

1. In-process: microseconds per single prediction through all four stages (JSON validation,
   recording in the SQLite log, features, ONNX inference, response), and batch rows/s.
2. HTTP: /v1/predict throughput of the monolith on gunicorn divided by /livez on the same server,
   which shows how much of a request's cost is the model path rather than the web stack.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from churnlab.bootstrap import inprocess_workflow
from churnlab.config import Settings
from churnlab.domain.schema import BatchRequest, CustomerRecord
from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
from loadtests.wrk import run_wrk
from tests.deploy.servers import gunicorn


def median_microseconds(action, repeats: int = 7, calls: int = 2_000) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        timings.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(timings)


def inprocess_figures(records: list[dict], scratch: Path) -> dict[str, float]:
    settings = Settings(prediction_log_path=scratch / "bench_log.sqlite3")
    workflow = inprocess_workflow(settings)
    workflow.inference.wait(30)
    single_body = json.dumps(records[0]).encode()
    counter = iter(range(10**9))

    def single() -> None:
        record = CustomerRecord.model_validate_json(single_body)
        workflow.predict([record], f"bench-{next(counter)}")

    batch_body = json.dumps({"records": (records * 2)[:10_000]}).encode()
    batch_seconds = []
    for repeat in range(3):
        started = time.perf_counter()
        batch = BatchRequest.model_validate_json(batch_body)
        workflow.predict(batch.records, f"batch-{repeat}")
        batch_seconds.append(time.perf_counter() - started)
    return {
        "single_prediction_us": round(median_microseconds(single), 1),
        "batch_rows_per_second": round(10_000 / statistics.median(batch_seconds)),
    }


def http_figures(record: dict, scratch: Path, seconds: int) -> dict[str, float]:
    with gunicorn("monolith.app:create_app()", scratch) as (url, _):
        run_wrk(f"{url}/v1/predict", body=record, seconds=1)  # warm every worker
        livez = run_wrk(f"{url}/livez", seconds=seconds)
        predict = run_wrk(f"{url}/v1/predict", body=record, seconds=seconds)
    if predict.non_2xx or livez.non_2xx:
        raise SystemExit(f"errors during the benchmark: {predict}, {livez}")
    return {
        "livez_rps": round(livez.requests_per_second),
        "predict_rps": round(predict.requests_per_second),
        "predict_over_livez": round(predict.requests_per_second / livez.requests_per_second, 3),
        "predict_median_ms": predict.median_ms,
        "predict_p99_ms": predict.p99_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each HTTP run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    records = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")
    with tempfile.TemporaryDirectory() as scratch:
        figures = inprocess_figures(records, Path(scratch))
        figures |= http_figures(records[0], Path(scratch), args.seconds)
    for name, value in figures.items():
        print(f"{name:>24}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
