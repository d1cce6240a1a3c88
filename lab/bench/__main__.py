"""`make bench`: how fast one machine serves the churn workflow, as ratios from a single run.

1. In-process: microseconds per single prediction through all four stages (JSON validation,
   features, ONNX inference, response, and recording it with its answer in the SQLite log),
   each stage's own time, batch rows/s, the cost per prediction when four threads predict at
   once (group commit), and what the log's default synchronous=FULL costs beside NORMAL.
2. HTTP at the default settings (the monolith: 2 workers x 4 threads, behind the edge):
   /v1/predict throughput divided by /livez on the same server, through the edge and directly,
   and the workers' CPU per request.
3. The microservices and the hybrid against the monolith, each behind its edge: throughput,
   CPU per request, latency at low load, and what each sequential hop adds, beside its floor.
4. What tracing costs the microservices: every trace sent by OTLP against traces off; what
   adaptive batching at the model does for the monolith and the hybrid, with the batches
   their models formed; and MLServer as the hybrid's model tier against ChurnLab's own, its
   own adaptive batching on and off.
   Then the hop tax (hops.py): where a prediction's time goes on each wiring, from its trace,
   and each process's CPU per prediction; written beside the JSON as bench-hops.png too.
5. Peers on the same model and record (lab/bench/peers/): MLflow `models serve`, MLServer and
   BentoML, each at its own production settings (--peers chooses, or none).
6. Image sizes and cold starts (--images; needs Docker and built images).

Every HTTP figure comes from alternating rounds (wrk, 8 connections unless said), so each
configuration sees the same noisy machine; it is reported as the median with its min and max.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.bootstrap import inprocess_workflow
from churnlab.config import Settings
from churnlab.domain.features import FeatureColumns
from churnlab.domain.ingest import LoggedPrediction, Outcome, Recording, accept
from churnlab.domain.response import answers, score_records
from churnlab.domain.schema import BatchRequest, CustomerRecord
from churnlab.domain.scores import Scores
from churnlab.ml.data import DEFAULT_DATASET_PATH, load_dataset
from lab.bench import hops
from lab.bench.peers.bentoml_peer import PEER as BENTOML
from lab.bench.peers.mlflow_peer import PEER as MLFLOW
from lab.bench.peers.mlserver_peer import PEER as MLSERVER
from lab.bench.peers.serving import Peer, probability, served
from lab.bench.wirings import SEQUENTIAL_HOPS, alternating_served, wiring_figures
from lab.experiments.budget import UNLIMITED_EDGE
from lab.figures import stamped, write_figures
from lab.load.cpu import tree_cpu_seconds
from lab.load.otlp import otlp_receiver
from lab.load.wrk import run_wrk
from lab.stats import in_turns, spread
from runtimes.http import model_batches
from runtimes.local import LocalDeployment, local_deployment

HOPS_PLOT = "bench-hops.png"  # beside the figures' JSON
PEERS = {peer.name.lower(): peer for peer in (MLFLOW, MLSERVER, BENTOML)}
WIRING_NAMES = {"monolith": "monolith", "micro": "microservices", "hybrid": "hybrid"}


def median_microseconds(
    action: Callable[[], object], repeats: int = 7, calls: int = 2_000
) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        timings.append((time.perf_counter() - started) / calls * 1e6)
    return round(statistics.median(timings), 1)


# --- 1. in-process ----------------------------------------------------------------------------


def inprocess_figures(records: list[dict], scratch: Path) -> dict[str, float]:
    """End-to-end single-prediction time, each stage's own, batch throughput, and the CPU per
    prediction when four threads share the log (their writes share commits)."""
    workflow = inprocess_workflow(
        Settings(prediction_log_path=scratch / "bench_log.sqlite3", retention_every_seconds=0)
    )
    workflow.inference.wait(30)
    single_body = json.dumps(records[0]).encode()
    counter = iter(range(10**9))
    record = CustomerRecord.model_validate_json(single_body)
    features = workflow.features.prepare([record])
    scores = workflow.inference.predict(features)

    def single() -> None:
        parsed = CustomerRecord.model_validate_json(single_body)
        workflow.predict([parsed], f"bench-{next(counter)}")

    def respond() -> list[dict]:
        answered = recording_of(record, features, scores, "stage-response")
        return answers(Outcome(answered, replayed=False, copies=1), [record.customer_id])

    figures = {
        "single_prediction_us": median_microseconds(single),
        "stage_validate_us": median_microseconds(
            lambda: CustomerRecord.model_validate_json(single_body)
        ),
        "stage_features_us": median_microseconds(lambda: workflow.features.prepare([record])),
        "stage_inference_us": median_microseconds(lambda: workflow.inference.predict(features)),
        "stage_response_us": median_microseconds(respond),
        # A new request each time (an old one would be a no-op), its answer built outside.
        "stage_ingest_us": _record_us(
            lambda request_id: workflow.ingest.record(
                recording_of(record, features, scores, request_id)
            )
        ),
        "four_threads_cpu_us_per_prediction": _threaded_cpu_us(single),
    }
    batch_body = json.dumps({"records": (records * 2)[:10_000]}).encode()
    batch_seconds = []
    for repeat in range(3):
        started = time.perf_counter()
        batch = BatchRequest.model_validate_json(batch_body)
        workflow.predict(batch.records, f"batch-{repeat}")
        batch_seconds.append(time.perf_counter() - started)
    figures["batch_rows_per_second"] = round(10_000 / statistics.median(batch_seconds))
    return figures


def recording_of(
    record: CustomerRecord, features: FeatureColumns, scores: Scores, request_id: str
) -> Recording:
    """A new answered request for one record, with fresh ids."""
    accepted = accept([record], request_id)
    return Recording(
        request_id,
        accepted.received_at,
        None,
        tuple(score_records(accepted, features, scores)),
    )


def _record_us(record: Callable[[str], object], repeats: int = 7, calls: int = 300) -> float:
    """Median microseconds per recorded request, each with ids of its own, made beforehand."""
    counter = iter(range(10**9))
    timings = []
    for _ in range(repeats):
        request_ids = [f"bench-record-{next(counter)}" for _ in range(calls)]
        started = time.perf_counter()
        for request_id in request_ids:
            record(request_id)
        timings.append((time.perf_counter() - started) / calls * 1e6)
    return round(statistics.median(timings), 1)


def log_durability_figures(records: list[dict], scratch: Path, rounds: int = 7) -> dict:
    """What the default synchronous=FULL (each commit on disk before its answer) costs beside
    NORMAL (a power cut may lose the last commits), one writer, in alternating rounds so both
    see the same disk. Prepared recordings: only the log's write is timed."""
    record = CustomerRecord.model_validate(records[0])
    answered = Recording("durability", "2026-01-01T00:00:00.000000+00:00", None, ())
    prediction = LoggedPrediction("", 0, record, 0.5, True, "medium", (), "bench")
    logs = {
        mode: PredictionLog(scratch / f"durability-{mode}.sqlite3", synchronous=mode)
        for mode in ("FULL", "NORMAL")
    }
    timings: dict[str, list[float]] = {mode: [] for mode in logs}
    counter = iter(range(10**9))
    calls = 200
    for _ in range(rounds):
        for mode, log in logs.items():
            prepared = [
                answered.with_predictions(
                    [prediction._replace(prediction_id=f"{next(counter):032x}")]
                )
                for _ in range(calls)
            ]
            started = time.perf_counter()
            for recording in prepared:
                log.record(recording)
            timings[mode].append((time.perf_counter() - started) / calls * 1e6)
    ratios = [
        full / normal for full, normal in zip(timings["FULL"], timings["NORMAL"], strict=True)
    ]
    return {
        "full_us": spread(timings["FULL"], 1),
        "normal_us": spread(timings["NORMAL"], 1),
        "full_over_normal": spread(ratios, 2),
        "filesystem": _filesystem(scratch),
    }


def _filesystem(path: Path) -> str:
    """The type of the filesystem holding `path`, from /proc/mounts (the longest mount point)."""
    mounts = [line.split()[:3] for line in Path("/proc/mounts").read_text().splitlines()]
    resolved = str(path.resolve())
    best = max(
        (m for m in mounts if resolved == m[1] or resolved.startswith(m[1].rstrip("/") + "/")),
        key=lambda m: len(m[1]),
    )
    return f"{best[2]} ({best[0]})"


def _threaded_cpu_us(single: Callable[[], None], threads: int = 4, each: int = 2_000) -> float:
    started = time.process_time()
    workers = [
        threading.Thread(target=lambda: [single() for _ in range(each)]) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return round((time.process_time() - started) / (threads * each) * 1e6, 1)


# --- 2. HTTP at the default settings ----------------------------------------------------------


def http_figures(record: dict, monolith: LocalDeployment, seconds: int, rounds: int) -> dict:
    """/v1/predict over /livez on the same server, per round, through the edge and directly;
    CPU per request of the app's gunicorn (master and workers) and of the edge."""
    app_pid = monolith.faults.pids("monolith")[-1]
    edge_pid = monolith.faults.pids("edge")[-1]
    targets = {"edge": monolith.url, "direct": monolith.app_url}
    runs: dict[str, dict[str, list]] = {
        target: {
            "ratio": [],
            "livez_rps": [],
            "predict_rps": [],
            "app_cpu_ms": [],
            "edge_cpu_ms": [],
        }
        for target in targets
    }
    per_route_cpu: dict[str, list[float]] = {"livez": [], "predict": []}
    for url in targets.values():
        run_wrk(f"{url}/v1/predict", body=record, seconds=1)
    for _ in range(rounds):
        for target, url in targets.items():
            rates = {}
            for route, path, body in (
                ("livez", "/livez", None),
                ("predict", "/v1/predict", record),
            ):
                app_before, edge_before = tree_cpu_seconds(app_pid), tree_cpu_seconds(edge_pid)
                result = run_wrk(f"{url}{path}", body=body, seconds=seconds)
                handled = result.requests_per_second * seconds
                rates[route] = result.requests_per_second
                app_ms = 1000 * (tree_cpu_seconds(app_pid) - app_before) / handled
                if target == "direct":
                    per_route_cpu[route].append(app_ms)
                if route == "predict":
                    runs[target]["app_cpu_ms"].append(app_ms)
                    runs[target]["edge_cpu_ms"].append(
                        1000 * (tree_cpu_seconds(edge_pid) - edge_before) / handled
                    )
            runs[target]["livez_rps"].append(rates["livez"])
            runs[target]["predict_rps"].append(rates["predict"])
            runs[target]["ratio"].append(rates["predict"] / rates["livez"])
    return {
        "settings": "monolith: 2 gunicorn workers x 4 threads (gthread), wrk -c8",
        **{
            target: {name: spread(values) for name, values in measured.items() if values}
            for target, measured in runs.items()
        },
        "worker_cpu_ms_per_request": {route: spread(v) for route, v in per_route_cpu.items()},
    }


# --- 3. the microservices and the hybrid against the monolith ----------------------------------


def durability_http_figures(
    record: dict, full: LocalDeployment, normal: LocalDeployment, seconds: int, rounds: int
) -> dict:
    """The monolith at the default synchronous=FULL against one at NORMAL, in alternating
    rounds (wrk, 16 connections): what an fsync per commit costs a served prediction, with
    concurrent requests sharing commits as they do in production."""
    return alternating_served({"full": full, "normal": normal}, record, seconds, rounds)


def tracing_http_figures(
    record: dict, untraced: LocalDeployment, traced: LocalDeployment, seconds: int, rounds: int
) -> dict:
    """The microservices, where a prediction makes most spans (four services), with traces off
    (the default) against every trace sent by OTLP over HTTP to a sink in this process (every
    request sampled: the dearest setting), in alternating rounds (wrk, 16 connections)."""
    return alternating_served({"on": traced, "off": untraced}, record, seconds, rounds)


def batching_http_figures(
    record: dict, base: Path, unbatched: dict[str, LocalDeployment], seconds: int, rounds: int
) -> dict:
    """Each wiring with adaptive batching at its model against itself without, in alternating
    rounds (wrk, 16 connections), and the batches its model formed: the monolith's workers
    batch across their own threads, the hybrid's model tier across the API's calls (the counts
    are one model replica's of two)."""
    figures = {}
    for name, plain in unbatched.items():
        with local_deployment(
            name, base / f"batched-{name}", **UNLIMITED_EDGE, OTEL_TRACES_EXPORTER="none",
            CHURNLAB_BATCHING="true",
        ) as batched:  # fmt: skip
            figures[name] = alternating_served(
                {"on": batched, "off": plain}, record, seconds, rounds
            )
            model = batched.app_url if name == "monolith" else batched.stage_url("inference")
            figures[name]["batches"] = model_batches(model)
    return figures


# MLServer batches only within a wait: 2 ms, a tenth of its own examples' 100 ms.
MLSERVER_BATCHING = {"CHURNLAB_BATCHING": "true", "CHURNLAB_BATCH_MAX_WAIT_SECONDS": "0.002"}


def mlserver_figures(
    record: dict, base: Path, hybrid: LocalDeployment, seconds: int, rounds: int
) -> dict:
    """The hybrid with MLServer as its model tier (MODEL_SERVER=mlserver) against the hybrid
    on ChurnLab's own inference service, then MLServer's own adaptive batching on against off,
    each pair in alternating rounds (wrk, 16 connections)."""
    on_mlserver = {**UNLIMITED_EDGE, "OTEL_TRACES_EXPORTER": "none", "MODEL_SERVER": "mlserver"}
    with local_deployment("hybrid", base / "mlserver", **on_mlserver) as plain:
        figures = alternating_served(
            {"mlserver": plain, "churnlab": hybrid}, record, seconds, rounds
        )
        with local_deployment(
            "hybrid", base / "mlserver-batched", **on_mlserver, **MLSERVER_BATCHING
        ) as batched:
            figures["batching"] = alternating_served(
                {"on": batched, "off": plain}, record, seconds, rounds
            )
    return figures


def hop_figures(
    record: dict,
    base: Path,
    monolith: LocalDeployment,
    micro: LocalDeployment,
    args: argparse.Namespace,
) -> dict:
    """The hop tax (lab/bench/hops.py): each wiring traced, every span kept, beside the
    untraced ones the other sections measured."""
    return hops.measure(
        record, base / "hops", args.hop_rate, args.hop_seconds, args.rounds,
        untraced={"monolith": monolith, "micro": micro}, **UNLIMITED_EDGE,
    )  # fmt: skip


# --- 5. peers ---------------------------------------------------------------------------------


def peer_figures(
    record: dict, monolith: LocalDeployment, seconds: int, rounds: int, chosen: list[Peer]
) -> dict:
    """ChurnLab's monolith (through its edge) against each peer serving the same model and
    record, one at a time, in rounds alternating the two (stats.in_turns), same wrk settings:
    each peer's throughput, ChurnLab's over it, and the probability it answered beside
    ChurnLab's."""
    churnlab_probability = requests.post(
        f"{monolith.url}/v1/predict", json=record, timeout=30
    ).json()["churn_probability"]
    figures = {}
    for peer in chosen:
        with served(peer) as url:
            peer_probability = probability(peer, url, record)
            endpoints = {
                "churnlab": (f"{monolith.url}/v1/predict", record),
                peer.name: (url + peer.predict_path, peer.body(record)),
            }
            run_wrk(endpoints[peer.name][0], body=endpoints[peer.name][1], seconds=1)
            rps: dict[str, list[float]] = {name: [] for name in endpoints}
            for round_number in range(rounds):
                for name, (target, body) in in_turns(endpoints, round_number):
                    rps[name].append(
                        run_wrk(target, body=body, seconds=seconds).requests_per_second
                    )
        figures[peer.name] = {
            "probability": round(peer_probability, 6),
            "churnlab_probability": round(churnlab_probability, 6),
            "rps": spread(rps[peer.name], 1),
            "churnlab_rps": spread(rps["churnlab"], 1),
            "churnlab_over_peer": spread(
                [c / m for c, m in zip(rps["churnlab"], rps[peer.name], strict=True)], 2
            ),
        }
    return figures


def _range(figure: dict, unit: str = "", digits: int = 2) -> str:
    return (
        f"{figure['median']:,.{digits}f}{unit} "
        f"({figure['min']:,.{digits}f} to {figure['max']:,.{digits}f})"
    )


def summary_markdown(figures: dict) -> str:
    """The figures as the README shows them: each HTTP one as median (min to max)."""
    inprocess, http, wirings = figures["inprocess"], figures["http"], figures["wirings"]
    durability = figures["durability"]
    stages = " / ".join(
        f"{inprocess[f'stage_{name}_us']:g}"
        for name in ("validate", "ingest", "features", "inference", "response")
    )
    rows = [
        (
            "single prediction in-process, all four stages",
            f"{inprocess['single_prediction_us']:g} µs",
        ),
        ("— validate / ingest / features / inference / response, each alone", f"{stages} µs"),
        (
            "CPU per prediction, four threads at once (their log writes share commits)",
            f"{inprocess['four_threads_cpu_us_per_prediction']:g} µs",
        ),
        ("batch of 10,000 records", f"{inprocess['batch_rows_per_second']:,} rows/s"),
        (
            "the log's commit, synchronous FULL (the default) / NORMAL, one writer "
            f"({durability['filesystem']})",
            f"{_range(durability['full_us'], ' µs', 1)} / "
            f"{_range(durability['normal_us'], ' µs', 1)}: FULL costs "
            f"{_range(durability['full_over_normal'], 'x')}",
        ),
        (
            "`/v1/predict` through the edge, FULL (the default) ÷ NORMAL, 16 connections",
            f"{_range(durability['full_over_normal_rps'])} "
            f"({durability['predict_rps']['full']['median']:,.0f} vs "
            f"{durability['predict_rps']['normal']['median']:,.0f} req/s)",
        ),
        ("`/v1/predict` ÷ `/livez`, through the edge", _range(http["edge"]["ratio"])),
        ("`/v1/predict` ÷ `/livez`, directly", _range(http["direct"]["ratio"])),
        ("`/v1/predict` through the edge", _range(http["edge"]["predict_rps"], " req/s", 0)),
        ("workers' CPU per `/livez`", _range(http["worker_cpu_ms_per_request"]["livez"], " ms")),
        (
            "workers' CPU per `/v1/predict`",
            _range(http["worker_cpu_ms_per_request"]["predict"], " ms"),
        ),
        ("edge's CPU per `/v1/predict`", _range(http["edge"]["edge_cpu_ms"], " ms", 3)),
    ]
    for name in SEQUENTIAL_HOPS:
        rows.append(
            (f"{WIRING_NAMES[name]} ÷ monolith, `/v1/predict` throughput, 16 connections",
             _range(wirings[name]["over_monolith"]))
        )  # fmt: skip
    for name in WIRING_NAMES:
        rows += [
            (f"CPU per prediction, every process: {WIRING_NAMES[name]}",
             _range(wirings["cpu_ms_per_request"][name], " ms")),
            (f"median latency at low load (one connection): {WIRING_NAMES[name]}",
             _range(wirings["p50_ms_low_load"][name], " ms")),
        ]  # fmt: skip
    for name, split in ((name, wirings[name]) for name in SEQUENTIAL_HOPS):
        rows.append(
            (f"{WIRING_NAMES[name]}: added per sequential hop ({split['sequential_hops']})",
             _range(split["added_ms_per_sequential_hop"], " ms"))
        )  # fmt: skip
    rows.append(
        (
            "floor of one hop: client call + Flask request (`GET /livez`)",
            f"{wirings['hop_floor_ms']:g} ms wall, {wirings['hop_floor_cpu_ms']:g} ms CPU",
        )
    )
    if "tracing" in figures:
        tracing = figures["tracing"]
        rows.append(
            (
                "microservices with every trace sent (OTLP) ÷ traces off, `/v1/predict` "
                "throughput, 16 connections",
                f"{_range(tracing['on_over_off_rps'])} (CPU per prediction "
                f"{_range(tracing['cpu_ms_per_request']['on'], ' ms')} vs "
                f"{_range(tracing['cpu_ms_per_request']['off'], ' ms')})",
            )
        )
    for name, batching in figures.get("batching", {}).items():
        batches = batching["batches"]
        rows.append(
            (
                f"{WIRING_NAMES[name]} with adaptive batching at the model ÷ without, "
                "`/v1/predict` throughput, 16 connections",
                f"{_range(batching['on_over_off_rps'])} (requests per model call "
                f"{batches['requests'] / max(batches['calls'], 1):.2f}; calls that scored more "
                f"than one {batches['shared'] / max(batches['calls'], 1):.0%})",
            )
        )
    if "mlserver" in figures:
        mlserver = figures["mlserver"]
        cpu = mlserver["cpu_ms_per_request"]
        rows += [
            (
                "hybrid with MLServer as its model tier ÷ with ChurnLab's inference service, "
                "`/v1/predict` throughput, 16 connections",
                f"{_range(mlserver['mlserver_over_churnlab_rps'])} (CPU per prediction "
                f"{_range(cpu['mlserver'], ' ms')} vs {_range(cpu['churnlab'], ' ms')})",
            ),
            (
                "hybrid on MLServer, its adaptive batching on ÷ off, `/v1/predict` throughput",
                _range(mlserver["batching"]["on_over_off_rps"]),
            ),
        ]
    for name, peer in figures.get("peers", {}).items():
        rates = f"{peer['churnlab_rps']['median']:,.0f} vs {peer['rps']['median']:,.0f}"
        rows.append(
            (
                f"ChurnLab ÷ {name}, same model and record, `/v1/predict` throughput",
                f"{_range(peer['churnlab_over_peer'], 'x')} ({rates} req/s; probability "
                f"{peer['churnlab_probability']} vs {peer['probability']})",
            )
        )
    for name, image in figures.get("images", {}).items():
        rows.append(
            (
                f"image `{name}`: size, cold start",
                f"{image['size_mb']} MB, {image['cold_start_s']} s",
            )
        )
    if "hops" in figures:
        rows += hops.rows(figures["hops"])
    machine = figures["machine"]
    lines = [
        f"Measured by `{figures['command']}` on {figures['date']}: {machine['cpus']} CPUs, "
        f"Linux {machine['kernel']}, Python {machine['python']}. HTTP figures: median of "
        f"{figures['rounds']} alternating rounds, (min to max) beside it.",
        "",
        "| figure | value |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    if "hops" in figures:
        lines += [
            "",
            hops.conclusion(
                figures["hops"], wirings["hop_floor_ms"], wirings["micro"]["sequential_hops"]
            ),
            "",
            f"![Where a prediction's time goes, on each wiring]({HOPS_PLOT})",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each HTTP run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating HTTP runs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--hop-rate", type=float, default=40, help="predictions a second of the hop tax's runs"
    )
    parser.add_argument(
        "--hop-seconds", type=float, default=8, help="length of each of the hop tax's runs"
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"serving systems to measure beside ChurnLab, comma-separated, of "
        f"{', '.join(PEERS)}; or none",
    )
    parser.add_argument(
        "--images", action="store_true", help="also image sizes and cold starts (needs Docker)"
    )
    args = parser.parse_args()
    chosen = [PEERS[n] for n in args.peers.split(",") if n in PEERS]
    if set(args.peers.split(",")) - {*PEERS, "none"}:
        parser.error(f"--peers: choose from {', '.join(PEERS)}, or none")
    records = load_dataset(DEFAULT_DATASET_PATH)[0].to_dict("records")
    figures = stamped("make bench", rounds=args.rounds)
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        figures["inprocess"] = inprocess_figures(records, base)
        figures["durability"] = log_durability_figures(records, base)
        with local_deployment(
            "monolith", base / "monolith", **UNLIMITED_EDGE, OTEL_TRACES_EXPORTER="none"
        ) as monolith:
            figures["http"] = http_figures(records[0], monolith, args.seconds, args.rounds)
            if chosen:
                figures["peers"] = peer_figures(
                    records[0], monolith, args.seconds, args.rounds, chosen
                )
            # The split wirings only now: idle beside the monolith's runs, they would be noise.
            with local_deployment(
                "micro", base / "micro", **UNLIMITED_EDGE, OTEL_TRACES_EXPORTER="none"
            ) as micro:
                with local_deployment(
                    "hybrid", base / "hybrid", **UNLIMITED_EDGE, OTEL_TRACES_EXPORTER="none"
                ) as hybrid:  # stopped after its runs, so as not to idle beside the rest
                    figures["wirings"] = wiring_figures(
                        records[0], {"monolith": monolith, "micro": micro, "hybrid": hybrid},
                        args.seconds, args.rounds,
                    )  # fmt: skip
                    figures["batching"] = batching_http_figures(
                        records[0], base, {"monolith": monolith, "hybrid": hybrid},
                        args.seconds, args.rounds,
                    )  # fmt: skip
                    figures["mlserver"] = mlserver_figures(
                        records[0], base, hybrid, args.seconds, args.rounds
                    )
                with otlp_receiver(keep=False) as sink, local_deployment(
                    "micro", base / "traced", **UNLIMITED_EDGE, OTEL_TRACES_EXPORTER="otlp",
                    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=sink.url,
                ) as traced:  # fmt: skip
                    figures["tracing"] = tracing_http_figures(
                        records[0], micro, traced, args.seconds, args.rounds
                    )
                figures["hops"] = hop_figures(records[0], base, monolith, micro, args)
            with local_deployment(
                "monolith", base / "normal", **UNLIMITED_EDGE, CHURNLAB_SQLITE_SYNCHRONOUS="NORMAL"
            ) as normal:
                figures["durability"] |= durability_http_figures(
                    records[0], monolith, normal, args.seconds, args.rounds
                )
    if args.images:
        from lab.bench.images import image_figures

        figures["images"] = image_figures()
    summary = summary_markdown(figures)
    print(summary)
    if args.json:
        write_figures(figures, args.json, summary)
        hops.plot(figures["hops"]).savefig(args.json.with_name(HOPS_PLOT), bbox_inches="tight")


if __name__ == "__main__":
    main()
