"""`make bench`: how fast one machine serves the churn workflow, as ratios from a single run.

1. In-process: microseconds per single prediction through all four stages (JSON validation,
   recording in the SQLite log, features, ONNX inference, response), each stage's own time,
   and batch rows/s (10,000-record batches, validation and recording included).
2. HTTP: /v1/predict throughput of the monolith on gunicorn divided by /livez on the same server,
   which shows how much of a request's cost is the model path rather than the web stack.
   The figures are medians of alternating runs; the ratio, not the absolute rate, is the result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from churnlab.adapters.stage_client import StageClient
from churnlab.bootstrap import inprocess_workflow
from churnlab.config import Settings
from churnlab.domain.ingest import accept
from churnlab.domain.response import build_predictions
from churnlab.domain.schema import BatchRequest, CustomerRecord
from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
from loadtests.cpu import tree_cpu_seconds
from loadtests.deployments import gunicorn, local_micro
from loadtests.images import image_figures
from loadtests.wrk import run_wrk


def median_microseconds(action, repeats: int = 7, calls: int = 2_000) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        timings.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(timings)


def inprocess_figures(records: list[dict], scratch: Path) -> dict[str, float]:
    """End-to-end single-prediction time, each stage's share, and batch throughput."""
    settings = Settings(prediction_log_path=scratch / "bench_log.sqlite3")
    workflow = inprocess_workflow(settings)
    workflow.inference.wait(30)
    single_body = json.dumps(records[0]).encode()
    counter = iter(range(10**9))
    record = CustomerRecord.model_validate_json(single_body)
    accepted = accept([record], "stage-timing")
    features = workflow.features.prepare([record])
    scores = workflow.inference.predict(features)

    def single() -> None:
        parsed = CustomerRecord.model_validate_json(single_body)
        workflow.predict([parsed], f"bench-{next(counter)}")

    def record_once() -> None:
        workflow.ingest.record(accept([record], f"stage-{next(counter)}"))

    figures = {
        "single_prediction_us": median_microseconds(single),
        "stage_validate_us": median_microseconds(
            lambda: CustomerRecord.model_validate_json(single_body)
        ),
        "stage_ingest_us": median_microseconds(record_once),
        "stage_features_us": median_microseconds(lambda: workflow.features.prepare([record])),
        "stage_inference_us": median_microseconds(lambda: workflow.inference.predict(features)),
        "stage_response_us": median_microseconds(
            lambda: build_predictions(accepted, features, scores, recorded=True)
        ),
    }
    batch_body = json.dumps({"records": (records * 2)[:10_000]}).encode()
    batch_seconds = []
    for repeat in range(3):
        started = time.perf_counter()
        batch = BatchRequest.model_validate_json(batch_body)
        workflow.predict(batch.records, f"batch-{repeat}")
        batch_seconds.append(time.perf_counter() - started)
    figures = {name: round(value, 1) for name, value in figures.items()}
    figures["batch_rows_per_second"] = round(10_000 / statistics.median(batch_seconds))
    return figures


def http_figures(record: dict, scratch: Path, seconds: int, rounds: int) -> dict[str, float]:
    """Alternate /livez and /v1/predict runs so both see the same (noisy, shared) machine.

    One gunicorn worker, with wrk on the other core: with two workers, keep-alive connections
    sometimes all land on one worker, which made the figures bimodal rather than comparable.
    """
    livez, predict = [], []
    with gunicorn("monolith.app:create_app()", scratch, WEB_CONCURRENCY="1") as (url, _):
        run_wrk(f"{url}/v1/predict", body=record, seconds=1)  # warm every worker
        for _ in range(rounds):
            livez.append(run_wrk(f"{url}/livez", seconds=seconds))
            predict.append(run_wrk(f"{url}/v1/predict", body=record, seconds=seconds))
    if any(result.non_2xx for result in livez + predict):
        raise SystemExit(f"errors during the benchmark: {livez}, {predict}")
    livez_rps = statistics.median(result.requests_per_second for result in livez)
    predict_rps = statistics.median(result.requests_per_second for result in predict)
    return {
        "livez_rps": round(livez_rps),
        "predict_rps": round(predict_rps),
        "predict_over_livez": round(predict_rps / livez_rps, 3),
        "predict_median_ms": statistics.median(result.median_ms for result in predict),
        "predict_p99_ms": statistics.median(result.p99_ms for result in predict),
    }


def microservices_figures(
    record: dict, scratch: Path, seconds: int, rounds: int
) -> dict[str, float]:
    """The gateway against the monolith, both local, on the same machine in alternating runs.

    Both get the whole machine (monolith: 2 workers; microservices: gateway 2 workers, one
    process per stage). CPU per request is read from /proc for every server process, so the
    cost of a hop can be compared with its floor: one Flask request plus one client call.
    """
    throughput = {"monolith": [], "micro": []}
    cpu_ms = {"monolith": [], "micro": []}
    low_load_ms = {"monolith": [], "micro": []}
    with (
        gunicorn("monolith.app:create_app()", scratch / "mono", WEB_CONCURRENCY="2") as (
            monolith_url,
            monolith_process,
        ),
        local_micro(scratch / "micro") as micro,
    ):
        targets = {
            "monolith": (monolith_url, monolith_process.pid),
            "micro": (micro.url, micro.pid),
        }
        for url, _ in targets.values():
            run_wrk(f"{url}/v1/predict", body=record, seconds=1, connections=16)
        for _ in range(rounds):
            for name, (url, pid) in targets.items():
                cpu_before = tree_cpu_seconds(pid)
                result = run_wrk(f"{url}/v1/predict", body=record, seconds=seconds, connections=16)
                used = tree_cpu_seconds(pid) - cpu_before
                throughput[name].append(result.requests_per_second)
                cpu_ms[name].append(1000 * used / (result.requests_per_second * seconds))
                quiet = run_wrk(f"{url}/v1/predict", body=record, seconds=2, connections=1)
                low_load_ms[name].append(quiet.median_ms)
        hop_floor_cpu_ms, hop_floor_ms = hop_floor(micro)
    median = {
        table: {name: statistics.median(values) for name, values in data.items()}
        for table, data in (("rps", throughput), ("cpu", cpu_ms), ("p50", low_load_ms))
    }
    hops = 3
    added_per_hop = (median["p50"]["micro"] - median["p50"]["monolith"]) / hops
    floor_ratio = median["cpu"]["monolith"] / (median["cpu"]["monolith"] + hops * hop_floor_cpu_ms)
    measured_ratio = median["rps"]["micro"] / median["rps"]["monolith"]
    return {
        "monolith_predict_rps": round(median["rps"]["monolith"]),
        "gateway_predict_rps": round(median["rps"]["micro"]),
        "gateway_over_monolith": round(measured_ratio, 3),
        "monolith_cpu_ms_per_request": round(median["cpu"]["monolith"], 3),
        "micro_cpu_ms_per_request": round(median["cpu"]["micro"], 3),
        "monolith_p50_ms_low_load": median["p50"]["monolith"],
        "gateway_p50_ms_low_load": median["p50"]["micro"],
        "added_ms_per_hop": round(added_per_hop, 3),
        "hop_floor_ms": round(hop_floor_ms, 3),
        "hop_floor_cpu_ms": round(hop_floor_cpu_ms, 3),
        "floor_ratio": round(floor_ratio, 3),
        "measured_over_floor_ratio": round(measured_ratio / floor_ratio, 3),
    }


def hop_floor(micro, calls: int = 2_000) -> tuple[float, float]:
    """One hop at its cheapest: the gateway's own client calling a service's /livez.

    Returns (CPU ms per hop, client and server together; median wall ms per hop at low load).
    """
    client = StageClient("floor", micro_stage_url(micro, "features"), Settings())
    server_pid = micro.faults.pids("features")[-1]
    latencies = []
    for _ in range(200):
        client.call("GET", "/livez")
    cpu_before, server_before = time.process_time(), tree_cpu_seconds(server_pid)
    for _ in range(calls):
        started = time.perf_counter()
        client.call("GET", "/livez")
        latencies.append(time.perf_counter() - started)
    client_cpu = time.process_time() - cpu_before
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    return 1000 * (client_cpu + server_cpu) / calls, 1000 * statistics.median(latencies)


def micro_stage_url(micro, stage: str) -> str:
    return f"http://127.0.0.1:{micro.ports[stage.upper() + '_PORT']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each HTTP run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating HTTP runs per route")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--images",
        action="store_true",
        help="also image sizes and cold starts (needs Docker and built images)",
    )
    args = parser.parse_args()
    records = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")
    with tempfile.TemporaryDirectory() as scratch:
        figures = inprocess_figures(records, Path(scratch))
        figures |= http_figures(records[0], Path(scratch), args.seconds, args.rounds)
        figures |= microservices_figures(records[0], Path(scratch), args.seconds, args.rounds)
    if args.images:
        figures["images"] = image_figures()
    for name, value in figures.items():
        print(f"{name:>24}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
