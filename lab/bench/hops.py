"""The hop tax explained: where a prediction's time and CPU go on each wiring.

Steady open-loop runs at low load send predictions through the edge of deployments that trace
every request (OTLP, to a receiver in this process). Each answer's latency, from its intended
send time, is split into parts by its trace's spans (each span's own time, less its
children's) and by the edge's own timers (its Server-Timing):
- the generator's lateness, and the client's and edge's floor: a separate run at the same rate
  and body to the edge's null endpoint;
- the edge: queueing for a server and connecting (HAProxy's Tw and Tc);
- edge to app: the edge's wait for the answer (Tr) beyond the app's server span, the loopback
  and gunicorn reading the request and writing the answer;
- in the app: parsing and validating the request, compute, accepting the record and the log's
  commit, and the app's own remainder (routing, the answer, the response);
- each hop of the microservices: the stage client's own time, the gateway's encode, the call
  beyond the stage's server span (both ends' HTTP code, the loopback, queues), the stage's
  decode and validate, the stage's framework (its server span beyond its parts), and the
  gateway's decode of the answer;
- what is left unattributed, which checks the floor against the time outside the edge.

A prediction is split only when its trace is whole. The figures are each part's mean over the
rounds (means add up, medians would not), beside the rounds' median, interval and range.
Traced deployments pay for their spans: untraced twins, run in the same rounds, give the
latency without tracing and each process's CPU per prediction at the rate, above idle (each
process tree's CPU from /proc, regressed on throughput as the lab does).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from urllib.parse import urlsplit

from churnlab import server_timing
from lab.experiments.calibration import NULL_PREFIX
from lab.experiments.cost import fit
from lab.load.cpu import tree_cpu_seconds
from lab.load.otlp import CLIENT, SERVER, Received, otlp_receiver, traces_by_request
from lab.stats import in_turns, spread
from runtimes.local import LocalDeployment, local_deployment

EDGE = "edge: queue and connect"
EDGE_TO_APP = "edge to app: loopback, gunicorn reading and writing"
PARSE = "parse and validate"
COMPUTE = "compute: features and model"
ACCEPT = "record: accept"
COMMIT = "record: log commit"
RESPOND = "app: its own (routing, the answer, the response)"
HOP_CLIENT = "hop: stage client's own (replica, retry, breaker, metrics)"
HOP_ENCODE = "hop: encode"
HOP_WIRE = "hop: the call beyond the stage (HTTP both ends, loopback, queues)"
HOP_DECODE = "hop: stage's decode and validate"
HOP_SERVE = "hop: stage's framework (Flask, middleware, response)"
HOP_ANSWER = "hop: decode the answer"
FLOOR = "client and edge's floor (its null endpoint)"
UNSEEN = "unattributed"
LATE = "generator: late to send (its sleep, or its last answer)"
# In the order a prediction meets them, which is the order the bars stack in.
PARTS = (
    LATE, FLOOR, EDGE, EDGE_TO_APP, PARSE, HOP_CLIENT, HOP_ENCODE, HOP_WIRE, HOP_DECODE, HOP_SERVE,
    COMPUTE, ACCEPT, COMMIT, HOP_ANSWER, RESPOND, UNSEEN,
)  # fmt: skip
HOPS = tuple(part for part in PARTS if part.startswith("hop:"))
EDGE_TIMERS = ("edge-queue", "edge-connect", "edge-upstream")
STAGES = ("features", "inference", "ingest")
WIRINGS = ("monolith", "micro")
SERVICES = {"monolith": {"monolith"}, "micro": {"gateway", *STAGES}}  # each one's server spans
NULL_PATH = f"{NULL_PREFIX}/predict"  # needs EDGE_NULL_ENDPOINT=1


@dataclass(frozen=True)
class Answer:
    request_id: str
    latency_ms: float  # from the time it was meant to be sent
    late_ms: float  # of which the sender was late to send it
    status: int
    timings: dict[str, float]  # its Server-Timing


def open_loop(
    url: str, record: dict, rate: float, seconds: float, path: str = "/v1/predict", senders: int = 4
) -> list[Answer]:
    """`rate` predictions a second for `seconds`, each sent at its planned time by one of
    `senders` threads (each its own keep-alive connection, by the standard library's client,
    the lightest there is), whatever came back before: a late answer delays the sender's next
    call, and that call's latency counts the delay, which is kept apart too."""
    count, address = round(rate * seconds), urlsplit(url)
    body = json.dumps(record).encode()
    start = time.perf_counter() + 0.05
    answers: list[Answer] = []

    def send(first: int) -> None:
        connection = HTTPConnection(address.hostname, address.port, timeout=10)
        try:
            for number in range(first, count, senders):
                planned = start + number / rate
                time.sleep(max(0.0, planned - time.perf_counter()))
                request_id = f"hop-{uuid.uuid4().hex}"
                sent = time.perf_counter()
                try:
                    connection.request(
                        "POST", path, body=body,
                        headers={"Content-Type": "application/json", "X-Request-ID": request_id},
                    )  # fmt: skip
                    answer = connection.getresponse()
                    answer.read()
                    status, timed = answer.status, answer.getheader("Server-Timing", "")
                except (OSError, HTTPException):  # counted as failed; the next call reconnects
                    connection.close()
                    status, timed = 0, ""
                done = time.perf_counter()
                late, latency = (sent - planned) * 1000, (done - planned) * 1000
                answers.append(
                    Answer(request_id, latency, late, status, server_timing.durations(timed))
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(first,)) for first in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def split(spans: list[dict], answer: Answer) -> dict[str, float]:
    """One answer's latency in parts (ms) that add up to it: each span's own time (less its
    children's) under the part it belongs to, the edge's timers, and what lies outside them."""
    by_id = {span["id"]: span for span in spans}
    children: dict[str, list[dict]] = defaultdict(list)
    for span in spans:
        children[span["parent"]].append(span)
    (root,) = [span for span in spans if span["parent"] not in by_id]
    parts: Counter[str] = Counter()
    timings = answer.timings
    parts[LATE] = answer.late_ms
    parts[EDGE] = timings["edge-queue"] + timings["edge-connect"]
    parts[EDGE_TO_APP] = timings["edge-upstream"] - root["ms"]
    parts[UNSEEN] = answer.latency_ms - answer.late_ms - sum(timings[t] for t in EDGE_TIMERS)
    for span in spans:
        own = span["ms"] - sum(child["ms"] for child in children[span["id"]])
        parts[_part(span, root, children[span["id"]])] += own
    return dict(parts)


def _part(span: dict, root: dict, children: list[dict]) -> str:
    name, in_root = span["name"], span["service"] == root["service"]
    if span is root:
        return RESPOND
    if name == "decode and validate":
        return PARSE if in_root else HOP_DECODE
    if name == "encode":
        return HOP_ENCODE
    if name == "decode":
        return HOP_ANSWER
    if span["kind"] == CLIENT:
        return HOP_WIRE
    if span["kind"] == SERVER:
        return HOP_SERVE
    if name == "log commit":
        return COMMIT
    if name == "compute":
        return COMPUTE
    if name in STAGES and any(child["kind"] == CLIENT for child in children):
        return HOP_CLIENT
    if name == "ingest":
        return ACCEPT
    if name in STAGES:
        return COMPUTE
    return f"other: {name}"


def complete(spans: list[dict], services: set[str]) -> bool:
    """Whether the trace is whole: one root, a server span, and the server span of every
    service of the wiring. A process exports a span after its children (they end first), so a
    service's server span there means all of its part is there too."""
    ids = {span["id"] for span in spans}
    roots = [span for span in spans if span["parent"] not in ids]
    served = {span["service"] for span in spans if span["kind"] == SERVER}
    return len(roots) == 1 and roots[0]["kind"] == SERVER and served >= services


def splittable(answer: Answer) -> bool:
    """Answered by the app, with the edge's timers: an answer the split can account for."""
    return answer.status == 200 and all(name in answer.timings for name in EDGE_TIMERS)


def round_means(answers: list[Answer], floor: list[Answer], traces: dict[str, list[dict]]) -> dict:
    """One round's mean of each part over its answered and fully traced predictions. The time
    outside the edge's timers, less the floor, is what is left unattributed: the floor is a
    separate run at the same rate and body to the edge's null endpoint (the client, the
    loopback both ways, the edge reading a call and writing an answer), its mean latency less
    the sender's lateness."""
    served = [a for a in answers if splittable(a) and a.request_id in traces]
    totals: Counter[str] = Counter()
    for answer in served:
        totals.update(split(traces[answer.request_id], answer))
    floor_ms = [a.latency_ms - a.late_ms for a in floor if a.status == 200]
    if served and floor_ms:
        totals[FLOOR] = len(served) * statistics.fmean(floor_ms)
        totals[UNSEEN] -= totals[FLOOR]
    count = max(len(served), 1)
    return {
        "sent": len(answers),
        "split": len(served),
        "latency_ms": sum(a.latency_ms for a in served) / count,
        "parts_ms": {part: value / count for part, value in totals.items()},
    }


def process_cpu(deployment: LocalDeployment) -> dict[str, float]:
    """CPU seconds so far of each program of the deployment (inference1..3 as one)."""
    used: Counter[str] = Counter()
    for name, pid in deployment.faults.programs().items():
        used[name.rstrip("0123456789")] += tree_cpu_seconds(pid)
    return dict(used)


def utilization(
    deployment: LocalDeployment, run: Callable[[], list[Answer]]
) -> tuple[list[Answer], tuple[float, dict[str, float]]]:
    """`run`'s answers, and one point of the lab's regression of utilization on throughput
    (lab/experiments/cost.py): predictions answered a second, each program's CPUs busy."""
    before, started = process_cpu(deployment), time.perf_counter()
    answers = run()
    after, elapsed = process_cpu(deployment), time.perf_counter() - started
    answered = sum(answer.status == 200 for answer in answers)
    busy = {name: (after[name] - before.get(name, 0.0)) / elapsed for name in after}
    return answers, (answered / elapsed, busy)


def idle(seconds: float) -> Callable[[], list[Answer]]:
    def wait() -> list[Answer]:
        time.sleep(seconds)
        return []

    return wait


@contextmanager
def traced_wirings(
    place: Callable[[str], Path], receiver: Received, **settings: str
) -> Iterator[dict[str, LocalDeployment]]:
    """Both wirings as local processes (each in the directory `place` gives), every request
    traced to `receiver`, and the edge's null endpoint on for the floor."""
    # Every trace, whatever the shell says (the live view's docs suggest a sampler there),
    # each service under its own name, sent within 200 ms of its end.
    traced_settings = {
        **settings, "EDGE_NULL_ENDPOINT": "1", "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url, "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_SERVICE_NAME": "", "OTEL_SDK_DISABLED": "false", "OTEL_BSP_SCHEDULE_DELAY": "200",
    }  # fmt: skip
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(local_deployment(name, place(name), **traced_settings))
            for name in WIRINGS
        }


def measure(
    record: dict,
    base: Path,
    rate: float,
    seconds: float,
    rounds: int,
    untraced: dict[str, LocalDeployment] | None = None,
    **settings: str,
) -> dict:
    """`hop_tax` on both wirings started here as local processes, traced (every span kept by
    a receiver in this process), beside the untraced twins given or started here too."""
    with ExitStack() as stack:
        receiver = stack.enter_context(otlp_receiver())
        if untraced is None:
            untraced = {
                name: stack.enter_context(
                    local_deployment(name, base / name, **settings, OTEL_TRACES_EXPORTER="none")
                )
                for name in WIRINGS
            }
        traced = stack.enter_context(
            traced_wirings(lambda name: base / f"traced-{name}", receiver, **settings)
        )
        return hop_tax(record, traced, untraced, receiver, rate, seconds, rounds)


@dataclass
class Runs:
    """One wiring's rounds: the traced answers, the untraced twin's, and its CPU points."""

    traced: list[list[Answer]] = field(default_factory=list)
    floor: list[list[Answer]] = field(default_factory=list)  # the traced edge's null endpoint
    untraced: list[list[Answer]] = field(default_factory=list)
    points: list[tuple[float, dict[str, float]]] = field(default_factory=list)


def hop_tax(
    record: dict,
    traced: dict[str, LocalDeployment],
    untraced: dict[str, LocalDeployment],
    receiver: Received,
    rate: float,
    seconds: float,
    rounds: int,
) -> dict:
    """Each wiring's split, traced, and its untraced twin's latency and CPU, in rounds that
    alternate over the wirings (ABBA). Within each: the traced run, the floor's run, the
    untraced one and an idle window of the untraced as long, whose CPU points give each
    process's CPU per prediction at this rate above what it spends idle (the lab's regression
    of utilization on throughput, over two rates a round)."""
    runs = {wiring: Runs() for wiring in traced}
    for wiring in traced:  # a first run each: connections opened, caches warm
        open_loop(traced[wiring].url, record, rate, 1)
        open_loop(untraced[wiring].url, record, rate, 1)
    for round_number in range(rounds):
        for wiring, deployment in in_turns(traced, round_number):
            twin, kept = untraced[wiring], runs[wiring]
            kept.traced.append(open_loop(deployment.url, record, rate, seconds))
            kept.floor.append(open_loop(deployment.url, record, rate, seconds / 2, NULL_PATH))
            answers, loaded = utilization(twin, partial(open_loop, twin.url, record, rate, seconds))
            kept.untraced.append(answers)
            kept.points += [loaded, utilization(twin, idle(seconds))[1]]
    whole = wait_whole(receiver, runs, SERVICES)
    return {
        "rate": rate,
        "seconds": seconds,
        "wirings": {wiring: summarise(kept, whole) for wiring, kept in runs.items()},
    }


def wait_whole(
    receiver: Received, runs: dict[str, Runs], services: dict[str, set[str]], timeout: float = 60
) -> dict[str, list[dict]]:
    """The traces of every splittable answer, once each is whole or `timeout` has passed: those
    still short then are not split, and the summary's `split` below `sent` says how many."""
    wanted = {
        answer.request_id: services[wiring]
        for wiring, kept in runs.items()
        for answers in kept.traced
        for answer in answers
        if splittable(answer)
    }
    deadline = time.monotonic() + timeout
    while True:
        traces = traces_by_request(receiver.spans)
        whole = {
            request_id: traces[request_id]
            for request_id, wiring_services in wanted.items()
            if request_id in traces and complete(traces[request_id], wiring_services)
        }
        if len(whole) == len(wanted) or time.monotonic() > deadline:
            return whole
        time.sleep(0.5)


def mean_latency(answers: list[Answer]) -> float:
    served = [answer.latency_ms for answer in answers if answer.status == 200]
    return sum(served) / max(len(served), 1)


def summarise(runs: Runs, traces: dict[str, list[dict]]) -> dict:
    """Over the rounds that split anything: each part's mean (the parts' means add up to the
    latency's) with the rounds' median, interval and range; the traced and untraced latency;
    the share attributed (1 less what is left unattributed, either way, over the latency); and
    each process's CPU per prediction (ms, the regression's slope with its interval), every
    process's together under `all`."""
    means = [
        mean
        for mean in (
            round_means(answers, floor, traces)
            for answers, floor in zip(runs.traced, runs.floor, strict=True)
        )
        if mean["split"]
    ]
    parts = sorted({part for mean in means for part in mean["parts_ms"]}, key=_order)
    throughput = [rate for rate, _ in runs.points]
    programs = sorted({name for _, busy in runs.points for name in busy})
    cpu = {
        name: fit(throughput, [busy.get(name, 0.0) for _, busy in runs.points]) for name in programs
    }
    cpu["all"] = fit(throughput, [sum(busy.values()) for _, busy in runs.points])
    summary = {
        "sent": sum(len(answers) for answers in runs.traced),
        "split": sum(mean["split"] for mean in means),
        "rounds": len(means),
        "cpu_ms_per_prediction": cpu,
    }
    if not means:
        return summary
    return summary | {
        "latency_ms": figure([mean["latency_ms"] for mean in means]),
        "untraced_latency_ms": figure([mean_latency(answers) for answers in runs.untraced]),
        "parts_ms": {
            part: figure([mean["parts_ms"].get(part, 0.0) for mean in means]) for part in parts
        },
        "attributed": figure(
            [1 - abs(mean["parts_ms"].get(UNSEEN, 0.0)) / mean["latency_ms"] for mean in means]
        ),
    }


def figure(values: list[float]) -> dict:
    """The rounds' mean beside their median, interval and range (lab.stats.spread)."""
    return {"mean": round(statistics.fmean(values), 4), **spread(values)}


def _order(part: str) -> int:
    return PARTS.index(part) if part in PARTS else len(PARTS)


def plot(hops: dict):
    """One stacked bar per wiring: each part's mean (ms) in the order a prediction meets it,
    the untraced twin's mean latency marked on it. A matplotlib figure, for its caller to save."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wirings = {name: w for name, w in hops["wirings"].items() if "parts_ms" in w}
    figure, axes = plt.subplots(figsize=(10, 1.2 + 0.9 * len(wirings)))
    colours = plt.get_cmap("tab20")
    for number, part in enumerate(PARTS):
        widths = [_mean(w["parts_ms"], part) for w in wirings.values()]
        lefts = [sum(_mean(w["parts_ms"], p) for p in PARTS[:number]) for w in wirings.values()]
        if any(widths):
            axes.barh(list(wirings), widths, left=lefts, label=part, color=colours(number))
    for row, wiring in enumerate(wirings.values()):
        untraced = wiring["untraced_latency_ms"]["mean"]
        axes.plot([untraced] * 2, [row - 0.45, row + 0.45], color="black", linewidth=2)
    axes.set_xlabel("ms per prediction, traced (mean over the rounds); | the untraced mean")
    axes.set_title(f"Where a prediction's time goes, at {hops['rate']:g}/s")
    axes.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    return figure


def _mean(parts: dict, part: str) -> float:
    return parts[part]["mean"] if part in parts else 0.0


def rows(hops: dict) -> list[tuple[str, str]]:
    """Each part's mean per wiring, then the latencies, the share attributed and the CPU."""
    wirings = hops["wirings"]

    def each(figure: Callable[[dict], str]) -> str:
        return " / ".join(figure(wirings[wiring]) if "parts_ms" in wirings[wiring] else "-"
                          for wiring in wirings)  # fmt: skip

    def part(name: str) -> Callable[[dict], str]:
        return lambda w: f"{w['parts_ms'][name]['mean']:.2f}" if name in w["parts_ms"] else "-"

    def cpu(w: dict, name: str) -> str:
        fitted = w["cpu_ms_per_prediction"].get(name)
        if fitted is None:
            return "-"
        low, high = fitted["ms_per_record_interval"]
        return f"{fitted['ms_per_record']:.2f} ({low:.2f} to {high:.2f})"

    named = " / ".join(wirings)
    split = [w for w in wirings.values() if "parts_ms" in w]
    found = [name for name in PARTS if any(name in w["parts_ms"] for w in split)]
    programs = sorted({name for w in wirings.values() for name in w["cpu_ms_per_prediction"]})
    return [
        (f"hop tax, {named}: mean latency traced, ms", each(lambda w: _ms(w["latency_ms"]))),
        ("— untraced, ms", each(lambda w: _ms(w["untraced_latency_ms"]))),
        *((f"— {name}, ms", each(part(name))) for name in found),
        (
            "— predictions split, of those sent",
            " / ".join(f"{w['split']:,} of {w['sent']:,}" for w in wirings.values()),
        ),
        (
            "— share of the latency attributed (1 less |unattributed| over the latency)",
            each(lambda w: f"{w['attributed']['mean']:.1%}"),
        ),
        *(
            (
                f"— CPU per prediction at this rate above idle, {name}, ms (95% interval)",
                " / ".join(cpu(w, name) for w in wirings.values()),
            )
            for name in programs
        ),
    ]


def _ms(figure: dict) -> str:
    return f"{figure['mean']:.2f}"


def conclusion(hops: dict, hop_floor_ms: float | None = None, sequential_hops: int = 3) -> str:
    """What the hops cost and where it goes, in statements the figures decide; with a hop's
    floor where it was measured (make bench's)."""
    wirings = hops["wirings"]
    if not all("parts_ms" in wiring for wiring in wirings.values()):
        return "The hop tax split nothing: no prediction of a wiring was answered and traced."
    micro = wirings["micro"]
    untraced = {name: w["untraced_latency_ms"]["mean"] for name, w in wirings.items()}
    added = {name: w["latency_ms"]["mean"] - untraced[name] for name, w in wirings.items()}
    hop_parts = {part: _mean(micro["parts_ms"], part) for part in HOPS}
    total = max(sum(hop_parts.values()), 1e-9)
    largest = sorted(hop_parts, key=hop_parts.get, reverse=True)[:2]
    payloads = sum(hop_parts[part] for part in (HOP_ENCODE, HOP_DECODE, HOP_ANSWER))
    floor = (
        f"; a hop's floor (the gateway's client calling a stage's `/livez`) is "
        f"{hop_floor_ms:.2f} ms, {sequential_hops * hop_floor_ms:.1f} ms for all"
        if hop_floor_ms is not None
        else ""
    )
    return (
        f"Untraced, the microservices' {sequential_hops} sequential hops add "
        f"{untraced['micro'] - untraced['monolith']:.1f} ms to a prediction's mean latency at "
        f"{hops['rate']:g}/s ({untraced['micro']:.1f} against {untraced['monolith']:.1f} "
        f"ms){floor}. Traced, the hops' parts come to {total:.1f} ms, the largest "
        + " and ".join(
            f"{part.removeprefix('hop: ')} ({hop_parts[part]:.1f} ms)" for part in largest
        )
        + f"; the payloads' encoding, decoding and validation are {payloads:.2f} ms of it "
        f"({payloads / total:.0%}). Tracing itself adds {added['micro']:.1f} ms to the "
        f"microservices' mean and {added['monolith']:.1f} ms to the monolith's, most of it "
        f"inside these parts: they overstate the untraced gap by about the difference. Each "
        f"hop removed takes its share with it (the model apart and the rest in-process keeps "
        f"one of {sequential_hops}); a leaner server on the internal hops would cut the stage's "
        f"framework at the price of a second web stack; the stage client's own time pays for "
        f"choosing a live replica, retries and the breaker."
    )
