"""results.json into reports/summary.md and a self-contained reports/compare.html."""

from __future__ import annotations

import base64
import html
import io
import json
import statistics
from pathlib import Path

import jsonschema
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lab.bench import hops
from lab.experiments import crosscheck, deploys, split_when
from lab.experiments.analysis import PREDICTION_ROUTES, best_by_nodes
from lab.experiments.calibration import held, held_up_to
from lab.experiments.capacity import describe
from lab.experiments.plan import ARCHES, EXPERIMENTS, LABELS, PAIR
from lab.stats import overlap

COLOURS = {"monolith": "#1f77b4", "micro": "#d62728", "hybrid": "#2ca02c"}
POSSESSIVES = {
    "monolith": "the monolith's",
    "micro": "the microservices'",
    "hybrid": "the hybrid's",
}
HEADLINE_HEADER = ["", *(LABELS[arch] for arch in ARCHES)]
HOPS_HEADER = ["figure", "monolith / microservices"]
HOPS_INTRO = (
    "Where a prediction's time goes (lab/bench/hops.py): both wirings as local processes, every "
    "request traced and every span kept, at a steady open-loop rate in rounds alternating the "
    "wirings; each answer's latency split by its spans and the edge's timers, each part a "
    "round's mean, shown as the median of the rounds. Untraced twins in the same rounds give "
    "the latency without tracing and each process's CPU per prediction (its regression's slope "
    "and 95% interval). Not on the Compose budget: on this machine's CPUs, as make bench runs."
)
FAULT_HEADER = [
    "deployment",
    "fault",
    "resilience",
    "load",
    "runs",
    "predict answered",
    "batch answered",
    "model card answered",
    "predict p99",
    "blast radius",
    "detect",
    "recover",
    "records lost",
]


CALIBRATION_HEADER = [
    "offered",
    "calls (due)",
    "late",
    "generator CPU",
    "steal",
    "p50",
    "p99",
    "held",
]
MODEL_HEADER = ["model", "cost alone", "capacity micro / monolith", "p99 micro / monolith"]


def img(alt: str, encoded_png: str) -> str:
    return f'<img class="plot" alt="{alt}" src="data:image/png;base64,{encoded_png}">'


def png(figure) -> str:
    """The figure as base64 PNG, for an <img> inside the one HTML file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _fmt(value, suffix: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if suffix == "%":
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value}{suffix}"


def _spread(figure: dict, suffix: str = "", reads: str = "=") -> str:
    """median [interval, its coverage] (min to max, n runs), and a warning where the runs did
    not settle the figure; `reads` "≥" or "<" where censored runs make the median a bound."""
    interval = figure.get("interval")
    text = ("" if reads == "=" else f"{reads} ") + _fmt(figure["median"], suffix)
    if interval:
        text += f" [{_fmt(interval[0])}, {_fmt(interval[1])}; {figure['coverage']:.0%}]"
    text += f" ({_fmt(figure['min'])} to {_fmt(figure['max'])}, n={figure['runs']})"
    if figure["flagged"]:
        text += " ⚠ one run" if not interval else " ⚠ interval over ±15%"
    return text


def trials_by_rate(runs: list[dict]) -> list[dict]:
    """Every trial of every repeated search, by offered rate: per rate, the median of each
    figure over the trials that offered it (the longer rerun of an undecided one standing for
    it)."""
    by_rate: dict[float, list[dict]] = {}
    for run in runs:
        for trial in run["trials"]:
            by_rate.setdefault(trial["offered_rps"], []).append(trial)
    steps = []
    for rate in sorted(by_rate):
        step = {"offered_rps": rate}
        for key in ("achieved_rps", "p50_ms", "p99_ms", "p999_ms"):
            values = [t[key] for t in by_rate[rate] if t[key] is not None]
            step[key] = statistics.median(values) if values else None
        steps.append(step)
    return steps


# --- plots ------------------------------------------------------------------------------------


def latency_plot(results: dict) -> str:
    capacity = results["capacity"]
    figure, (latency, achieved) = plt.subplots(1, 2, figsize=(11, 3.8))
    for arch in ARCHES:
        steps = trials_by_rate(capacity[arch]["runs"])
        offered = [s["offered_rps"] for s in steps]
        for key, style in (("p50_ms", ":"), ("p99_ms", "-"), ("p999_ms", "--")):
            latency.plot(
                offered,
                [s[key] for s in steps],
                style,
                marker="o",
                color=COLOURS[arch],
                label=f"{LABELS[arch]} {key[:-3].replace('p999', 'p99.9')}",
            )
        achieved.plot(
            offered,
            [s["achieved_rps"] for s in steps],
            "o-",
            color=COLOURS[arch],
            label=LABELS[arch],
        )
    slo = results["plan"]["capacity"]["slo_ms"]
    latency.axhline(slo, color="grey", linewidth=1, linestyle="--")
    latency.set(
        xlabel="offered requests / s",
        ylabel="latency from due time (ms)",
        yscale="log",
        title=f"Latency of the searches' trials (SLO p99 {slo:g} ms)",
    )
    top = max(step["offered_rps"] for a in ARCHES for step in trials_by_rate(capacity[a]["runs"]))
    achieved.plot(
        [0, top], [0, top], color="grey", linewidth=1, linestyle="--", label="achieved = offered"
    )
    achieved.set(
        xlabel="offered requests / s",
        ylabel="answered requests / s",
        title="Achieved against offered",
    )
    latency.legend(fontsize=7)
    achieved.legend(fontsize=8)
    return png(figure)


SINGLE = "/v1/predict"
LOOP_CASES = ("moderate", "saturated")


def loops_plot(loops: dict) -> str:
    """Per case, the single predictions' percentiles in the closed loop and the open."""
    figure, panels = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
    names = ["p50_ms", "p99_ms", "p999_ms"]
    for axes, case in zip(panels, LOOP_CASES, strict=True):
        for offset, loop, colour in ((-0.2, "closed", "#7f7f7f"), (0.2, "open", "#2ca02c")):
            latency = loops[case][loop]["routes"].get(SINGLE, {})
            axes.bar(
                [i + offset for i in range(3)],
                [latency.get(n) or 0 for n in names],
                0.4,
                color=colour,
                label=f"{loop} loop",
            )
        axes.set(
            xticks=range(3),
            xticklabels=["p50", "p99", "p99.9"],
            ylabel="ms (single predictions)",
            yscale="log",
            title=f"{_case_label(loops, case)}: {loops[case]['open']['offered_rps']:g} calls/s",
        )
        axes.legend(fontsize=8)
    return png(figure)


def _case_label(loops: dict, case: str) -> str:
    figures = loops[case]
    if case == "saturated":
        return f"saturated ({figures['users']} users, no think time)"
    return (
        f"moderate ({figures['users']} users thinking {figures['think_seconds']:g} s, "
        f"{_fmt(figures['share'], '%')} of saturated)"
    )


def loop_rows(loops: dict) -> list[list[str]]:
    """Per case and prediction route: the closed loop's and the open loop's p50 and p99."""
    rows = []
    for case in LOOP_CASES:
        for route in PREDICTION_ROUTES:
            closed = loops[case]["closed"]["routes"].get(route)
            opened = loops[case]["open"]["routes"].get(route)
            if closed is None and opened is None:
                continue
            rows.append(
                [
                    _case_label(loops, case),
                    route,
                    *(
                        _fmt((figures or {}).get(key), " ms")
                        for figures in (closed, opened)
                        for key in ("p50_ms", "p99_ms")
                    ),
                    f"{(closed or {}).get('samples', 0):,} / {(opened or {}).get('samples', 0):,}",
                ]
            )
    return rows


LOOP_HEADER = ["case", "route", "closed p50", "closed p99", "open p50", "open p99", "samples"]


def scaling_plot(results: dict) -> str:
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for axis, arch in zip(axes, PAIR, strict=True):
        rows = results["scaling"][arch]
        axis.bar(
            [r["configuration"] for r in rows],
            [r["capacity_rps"] for r in rows],
            color=COLOURS[arch],
        )
        axis.set(ylabel="capacity at the SLO (requests/s)", title=f"{LABELS[arch]}, same CPU set")
        axis.tick_params(axis="x", labelsize=7, rotation=15)
    return png(figure)


def fault_plot(fault: dict) -> str:
    figure, axes = plt.subplots(figsize=(5, 2.2))
    seconds = range(len(fault["timeline"]["ok"]))
    axes.bar(seconds, fault["timeline"]["ok"], width=1, color="#2ca02c", label="answered")
    axes.bar(
        seconds,
        fault["timeline"]["failed"],
        width=1,
        bottom=fault["timeline"]["ok"],
        color="#d62728",
        label="failed",
    )
    axes.axvspan(*fault["fault_window_s"], color="orange", alpha=0.25, label="fault")
    switch = "" if fault["resilience"] else ", resilience off"
    # A fault runs at more than one load: each timeline says which.
    load = f", {fault['load']} load {fault['offered_rps']:g}/s" if "load" in fault else ""
    axes.set(
        xlabel="seconds",
        ylabel="requests / s",
        title=f"{LABELS[fault['deployment']]}: {fault['fault']}{switch}{load}",
    )
    axes.legend(fontsize=7, loc="lower left")
    return png(figure)


def model_cost_plot(model_cost: dict) -> str:
    figure, axes = plt.subplots(figsize=(6, 3.4))
    points = sorted(model_cost["points"], key=lambda p: p["model_us"])
    costs = [p["model_us"] / 1000 for p in points]
    axes.plot(
        costs, [p["capacity_ratio"] for p in points], "o-", label="capacity: micro / monolith"
    )
    twin = axes.twinx()
    twin.plot(
        costs,
        [p["p99_ratio"] for p in points],
        "s--",
        color="#ff7f0e",
        label="p99: micro / monolith",
    )
    axes.axhline(0.8, color="grey", linewidth=1, linestyle=":")
    axes.set(
        xscale="log",
        xlabel="model cost per prediction (ms, in-process)",
        ylabel="capacity ratio",
        title="The microservices' overhead against model cost",
    )
    twin.set_ylabel("p99 ratio")
    axes.legend(fontsize=7, loc="upper left")
    twin.legend(fontsize=7, loc="lower right")
    return png(figure)


# --- tables -----------------------------------------------------------------------------------


def headline_rows(results: dict) -> list[list[str]]:
    rows = []
    if "capacity" in results:
        capacity = results["capacity"]
        slo = results["plan"]["capacity"]["slo_ms"]
        rows.append(
            [
                f"capacity: offered/s with 99% answered within {slo:g} ms",
                *(_spread(capacity[a]["capacity_rps"], reads=capacity[a]["reads"]) for a in ARCHES),
            ]
        )
        for split in ARCHES[1:]:
            ratio = capacity.get(f"monolith_over_{split}")
            if ratio:
                rows.append(
                    _row(
                        f"capacity, monolith ÷ {LABELS[split]}, paired by block "
                        f"(n={ratio['blocks']})",
                        monolith=f"{ratio['ratio']:.2f} [{ratio['interval'][0]:.2f}, "
                        f"{ratio['interval'][1]:.2f}; {ratio['coverage']:.0%}]",
                    )
                )
    if "cost" in results:
        rows += _cost_rows(results["cost"])
    if "scaling" in results:
        rows += _scaling_rows(results)
    return rows


def _row(label: str, **by_arch: str) -> list[str]:
    """A headline row: the label, then each architecture's cell (empty where it has none)."""
    return [label, *(by_arch.get(arch, "") for arch in ARCHES)]


def _cost_rows(cost: dict) -> list[list[str]]:
    rows = []
    for mix, what in (("single", "single prediction"), ("batch", "record of a 50-record batch")):
        rows.append(
            [f"CPU per {what}, marginal (ms; regression over rates)"]
            + [_demand(cost[a][mix]["total"]) for a in ARCHES]
        )
    rows.append(
        ["background CPU, single-prediction fit (CPUs)"]
        + [_fmt((cost[a]["single"]["total"] or {}).get("background_cpus"), "", 3) for a in ARCHES]
    )
    rows.append(
        ["bottleneck container (largest CPU per single prediction)"]
        + [_bottleneck(cost[a]["single"]) for a in ARCHES]
    )
    rows.append(
        ["memory in use, all containers (MB)", *(_fmt(cost[a]["memory_mb"]) for a in ARCHES)]
    )
    rows.append(["containers", *(str(cost[a]["containers"]) for a in ARCHES)])
    return rows


def _demand(fitted: dict | None) -> str:
    if fitted is None:
        return "n/a (too few rates)"
    low, high = fitted["ms_per_record_interval"]
    return (
        f"{fitted['ms_per_record']:.3f} [{low:.3f}, {high:.3f}; 95%] "
        f"(R² {fitted['r_squared']:.2f}, {fitted['points']} rates)"
    )


def _bottleneck(regression: dict) -> str:
    name = regression["bottleneck"]
    if name is None:
        return "n/a"
    stage = name.rsplit("-", 2)[-2] if name.count("-") >= 2 else name
    return f"{stage} ({regression['containers'][name]['ms_per_record']:.3f} ms)"


def _scaling_rows(results: dict) -> list[list[str]]:
    monolith, micro = results["scaling"]["monolith"], results["scaling"]["micro"]
    best = max(micro, key=lambda r: r["capacity_rps"])
    return [
        _row(f"capacity, monolith as {r['configuration']} (same CPU set)", monolith=describe(r))
        for r in monolith
    ] + [
        _row(
            f"capacity, microservices as {r['configuration']} (same CPU set)"
            + (" ← best split" if r is best else ""),
            micro=describe(r),
        )
        for r in micro
    ]


def _redundancy(faults: list[dict]) -> str:
    """What each deployment ran as during its faults, as "monolith: monolith x2"."""
    replicas = {f["deployment"]: f["replicas"] for f in faults if "replicas" in f}
    return "; ".join(
        f"{LABELS[arch]}: "
        + ", ".join(f"{service} x{count}" for service, count in sorted(replicas[arch].items()))
        for arch in ARCHES
        if arch in replicas
    )


def fault_groups(faults: list[dict]) -> list[list[dict]]:
    """The runs of each fault at each load (repeats of one kill or pause), in run order."""
    groups: dict[tuple, list[dict]] = {}
    for f in faults:
        key = (f["deployment"], f["fault"], f["resilience"], f.get("load"), f.get("offered_rps"))
        groups.setdefault(key, []).append(f)
    return list(groups.values())


def _over_runs(values: list, suffix: str = "", digits: int = 1, missing: str = "n/a") -> str:
    """One run's figure; of repeats, the median (min to max), and how many had none."""
    present = [v for v in values if v is not None]
    if len(values) == 1 or not present:
        return _fmt(present[0], suffix, digits) if present else missing
    text = _fmt(statistics.median(present), suffix, digits)
    if min(present) != max(present):
        text += f" ({_fmt(min(present), suffix, digits)} to {_fmt(max(present), suffix, digits)})"
    absent = len(values) - len(present)
    return text + (f"; {missing} in {absent} of {len(values)}" if absent else "")


def _load(f: dict, capacity: dict | None) -> str:
    if f.get("load") == "relative" and capacity:
        singles = capacity[f["deployment"]]["capacity_rps"]["median"]
        factor = f.get("calls_per_single")
        share = f["offered_rps"] / (singles * (factor or 1))
        basis = (
            "capacity, in calls of the faults' mix by their CPU"
            if factor
            else "single-prediction capacity"
        )
        return f"{f['offered_rps']:g}/s ({share:.0%} of its {basis})"
    return f"{f['offered_rps']:g}/s (the same for every wiring)" if "offered_rps" in f else "n/a"


def _route(runs: list[dict], path: str, key: str = "success") -> list:
    return [f["routes"].get(path, {}).get(key) for f in runs]


def fault_rows(results: dict) -> list[list[str]]:
    """A row per fault and load: a single run's figures, or the median (min to max) of its
    repeats, with the records lost summed over them."""
    rows = []
    for runs in fault_groups(results["faults"]):
        first, applied = runs[0], [f for f in runs if "error" not in f]
        lead = [
            LABELS[first["deployment"]],
            first["fault"],
            "on" if first["resilience"] else "off",
            _load(first, results.get("capacity")),
            "single run" if len(runs) == 1 else f"{len(applied)} of {len(runs)} applied",
        ]
        if not applied:
            rows.append(
                lead
                + [f"not applied: {first['error']}"]
                + [""] * (len(FAULT_HEADER) - len(lead) - 1)
            )
            continue

        rows.append(
            [
                *lead,
                *(
                    _over_runs(_route(applied, path), "%")
                    for path in ("/v1/predict", "/v1/predict/batch", "/v1/model")
                ),
                _over_runs(_route(applied, "/v1/predict", "p99_ms"), " ms"),
                ", ".join(sorted({c for f in applied for c in f["blast_radius"]})) or "none",
                _over_runs([f["time_to_detect_s"] for f in applied], " s", 2),
                _over_runs(
                    [f["time_to_recover_s"] for f in applied], " s", 2, missing="not in the run"
                ),
                str(sum(f["records_lost"] for f in applied)),
            ]
        )
    return rows


def calibration_rows(calibration: list[dict]) -> list[list[str]]:
    """Each rate against the null endpoint: what was sent of what was due, how late, at what
    generator CPU and steal, the edge's answer times, and whether the generator held it."""
    rows = []
    for step in sorted(calibration, key=lambda s: s["offered_rps"]):
        generator = step["generator"]
        rows.append(
            [
                f"{step['offered_rps']:g}/s",
                f"{step['calls']} ({generator['expected_calls']})",
                _fmt(generator["late_share"], "%"),
                _fmt(generator["cpu_share"], "%"),
                _fmt(generator.get("steal_share"), "%"),
                _fmt(step["p50_ms"], " ms", 2),
                _fmt(step["p99_ms"], " ms", 2),
                "yes" if held(step) else "no",
            ]
        )
    return rows


def calibration_conclusion(calibration: list[dict]) -> str:
    rates = sorted(step["offered_rps"] for step in calibration)
    top = held_up_to(calibration)
    if top is None:
        return (
            f"The generator could not hold {rates[0]:g}/s even against the edge's null "
            "endpoint: no rate of this run says more about a deployment than about it."
        )
    if top == rates[-1]:
        return (
            "Against the edge's null endpoint the generator was shown to hold every rate tried, "
            f"up to {top:g}/s, one trial each."
        )
    above = rates[rates.index(top) + 1]
    return (
        f"Against the edge's null endpoint the generator was shown to hold up to {top:g}/s, "
        f"not {above:g}/s (one trial each): a capacity over {top:g}/s rests on its own "
        "trials' generator checks alone."
    )


def model_rows(results: dict) -> list[list[str]]:
    return [
        [
            p["model"],
            _fmt(p["model_us"], " µs"),
            _fmt(p["capacity_ratio"], "", 2),
            _fmt(p["p99_ratio"], "", 2),
        ]
        for p in sorted(results["model_cost"]["points"], key=lambda p: p["model_us"])
    ]


def validity_notes(results: dict) -> list[str]:
    """Runs whose generator saturated or lagged: their figures describe the generator."""
    notes = []
    for arch in ARCHES if "capacity" in results else ():
        for index, run in enumerate(results["capacity"][arch]["runs"]):
            for trial in run["trials"]:
                if not trial["generator"]["valid"]:
                    notes.append(
                        f"{LABELS[arch]} capacity run {index + 1}, {trial['offered_rps']:g}/s: "
                        f"the generator sent {trial['calls']} of "
                        f"{trial['generator']['expected_calls']} due, at "
                        f"{_fmt(trial['generator']['cpu_share'], '%')} CPU, "
                        f"{_fmt(trial['generator']['late_share'], '%')} late: invalid, so "
                        "that rate decided nothing and the search went on below it"
                    )
    for f in results.get("faults", []):
        if "generator" in f and not f["generator"]["valid"]:
            notes.append(f"{LABELS[f['deployment']]} {f['fault']}: the generator lagged: invalid")
    return notes + steal_notes(results)


STOLEN_SHARE = 0.05  # of the machine's CPU time: a trial the hypervisor took this much from


def steal_notes(results: dict) -> list[str]:
    """How much CPU the hypervisor took from the capacity trials' windows, and which trials
    lost more than 5% of the machine to it: their figures are the neighbours' as much as ours."""
    stolen = [
        (LABELS[arch], index, trial["offered_rps"], trial["generator"]["steal_share"])
        for arch in (ARCHES if "capacity" in results else ())
        for index, run in enumerate(results["capacity"][arch]["runs"])
        for trial in run["trials"]
        if trial["generator"].get("steal_share") is not None
    ]
    if not stolen:
        return []
    shares = [share for *_, share in stolen]
    notes = [
        f"Steal time in the capacity trials' windows: median {statistics.median(shares):.1%}, "
        f"at most {max(shares):.1%} of the machine's CPU ({len(shares)} trials)."
    ]
    notes += [
        f"{label} capacity run {index + 1}, {rate:g}/s: the hypervisor took {share:.1%} "
        "of the machine's CPU in its window"
        for label, index, rate, share in stolen
        if share > STOLEN_SHARE
    ]
    return notes


def conclusions(results: dict) -> list[str]:
    lines = []
    if "calibration" in results:
        lines.append(calibration_conclusion(results["calibration"]))
    if "crosscheck" in results:
        lines.append(crosscheck.conclusion(results["crosscheck"]))
    if "deploys" in results:
        lines.append(deploys.conclusion(results["deploys"]))
    if "capacity" in results:
        lines.append(capacity_conclusion(results["capacity"]))
    if "cost" in results:
        demand = {a: results["cost"][a]["single"]["total"] for a in ARCHES}
        for split in ARCHES[1:]:
            if demand[split] and demand["monolith"] and demand["monolith"]["ms_per_record"] > 0:
                ratio = demand[split]["ms_per_record"] / demand["monolith"]["ms_per_record"]
                lines.append(
                    f"A single prediction costs the {LABELS[split]} {ratio:.1f} times the "
                    "monolith's CPU "
                    f"({demand[split]['ms_per_record']:.2f} against "
                    f"{demand['monolith']['ms_per_record']:.2f} ms, the slopes of CPU against "
                    "rate)."
                )
    if "loops" in results:
        lines.append(loops_conclusion(results["loops"]))
    if "model_cost" in results:
        lines.append(model_conclusion(results["model_cost"]["crossover"]))
    if "hops" in results:
        lines.append(hops_conclusion(results["hops"]))
    if "faults" in results:
        counted = [f["records_lost"] for f in results["faults"] if "records_lost" in f]
        uncounted = len(results["faults"]) - len(counted)
        lines.append(
            f"Records lost across every fault: {sum(counted)}"
            + (f" ({uncounted} fault run(s) could not be counted)." if uncounted else ".")
        )
    return lines


def hops_conclusion(measured: dict) -> str:
    if "error" in measured:
        return f"The hop tax was not measured: {measured['error']}"
    return hops.conclusion(measured)


def hop_rows(measured: dict) -> list[list[str]]:
    return [] if "error" in measured else [list(row) for row in hops.rows(measured)]


def capacity_conclusion(capacity: dict) -> str:
    """The monolith's capacity against each split wiring's, with what censored or blurred it."""
    figures = {a: capacity[a]["capacity_rps"] for a in ARCHES}
    reads = {a: capacity[a]["reads"] for a in ARCHES}
    sentences = []
    for split in ARCHES[1:]:
        ratio, named = capacity.get(f"monolith_over_{split}"), POSSESSIVES[split]
        if ratio:
            how = (
                f"{ratio['ratio']:.1f} times {named} rate within the SLO "
                f"({ratio['interval'][0]:.1f} to {ratio['interval'][1]:.1f}, "
                f"{ratio['coverage']:.0%} interval over {ratio['blocks']} paired blocks)"
            )
        elif figures[split]["median"]:
            how = (
                f"{figures['monolith']['median'] / figures[split]['median']:.1f} times "
                f"{named} rate within the SLO (from medians: no paired interval)"
            )
        else:
            how = f"more than the {LABELS[split]}, which passed no rate tried"
        if not (figures["monolith"]["interval"] and figures[split]["interval"]):
            how += " ⚠ from too few runs for an interval: these runs cannot tell the two apart"
        elif overlap(figures["monolith"], figures[split]):
            how += " ⚠ their capacity intervals overlap: these runs do not tell the two apart"
        sentences.append(how)
    bounds = [f"{LABELS[a]} {reads[a]} its median" for a in ARCHES if reads[a] != "="]
    return f"On the same CPUs and memory, the monolith sustains {'; and '.join(sentences)}." + (
        f" Censored: {', '.join(bounds)}." if bounds else ""
    )


def loops_conclusion(loops: dict) -> str:
    def p99(case: str, loop: str) -> str:
        return _fmt(loops[case][loop]["routes"].get(SINGLE, {}).get("p99_ms"), " ms")

    return (
        f"Single predictions at the same rate, {_case_label(loops, 'moderate')}: the closed loop "
        f"reports a p99 of {p99('moderate', 'closed')}, the open loop {p99('moderate', 'open')}. "
        f"Saturated ({loops['saturated']['users']} users, no think time): "
        f"{p99('saturated', 'closed')} against {p99('saturated', 'open')}; there the open "
        "loop's queue grows for as long as the run lasts, so its tail is the run length's. "
        "A closed loop sends less while the server is slow, and so hides its queues "
        "(n/a: under 1,000 samples)."
    )


def model_conclusion(crossover: dict) -> str:
    if crossover["model_us"] is None:
        return (
            "From the models measured, nothing shows the microservices' share of the monolith's "
            "capacity rising towards 80% on one host."
        )
    how = (
        "by the lines fitted to the models measured, which were all lighter"
        if crossover["extrapolated"]
        else "as measured"
    )
    return (
        "The microservices would keep 80% of the monolith's capacity on one host once the "
        f"model costs about {crossover['model_us'] / 1000:.1f} ms per prediction ({how})."
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def preamble(results: dict) -> str:
    machine, budget = results["machine"], results["budget"]
    return (
        f"Measured by `{results['command']}` from {results['started']} to {results['finished']}: "
        f"{machine['cpus']} CPUs, {machine['memory_gb']} GiB, Linux {machine['kernel']}, Python "
        f"{machine['python']}. Equal budgets: every container of either deployment on CPU(s) "
        f"{budget['deployment_cpus']}, {budget['deployment_memory_mb']} MiB of memory limits in "
        "all; "
        f"the load generator (Locust, open loop, latency from each request's due time, "
        f"HdrHistogram percentiles, a p99 only from 1,000 samples, a p99.9 from 10,000) on "
        f"CPU(s) {budget['generator_cpus']}. Capacities are searched to "
        f"{results['plan']['capacity']['resolution']:.0%}; the headline ones are the median of "
        f"{results['plan']['repeats']} block(s), each a fresh deployment of each architecture "
        "in alternating order, with the median's order-statistic interval and its coverage, "
        "then (min to max, n)."
        + (
            f" Experiments run: {', '.join(results['experiments'])}."
            if len(results["experiments"]) < len(EXPERIMENTS)
            else ""
        )
    )


def summary_markdown(results: dict) -> str:
    parts = [preamble(results)]
    if headline_rows(results):
        parts.append(markdown_table(HEADLINE_HEADER, headline_rows(results)))
    if "faults" in results:
        parts.append(markdown_table(FAULT_HEADER, fault_rows(results)))
    if "loops" in results:
        parts.append(markdown_table(LOOP_HEADER, loop_rows(results["loops"])))
    if "model_cost" in results:
        parts.append(markdown_table(MODEL_HEADER, model_rows(results)))
    if "deploys" in results:
        parts.append(deploys.INTRO)
        parts.append(markdown_table(deploys.HEADER, deploys.rows(results["deploys"])))
    if "calibration" in results:
        parts.append(markdown_table(CALIBRATION_HEADER, calibration_rows(results["calibration"])))
    if crosscheck.rows(results.get("crosscheck", {})):
        parts.append(crosscheck.INTRO)
        parts.append(markdown_table(crosscheck.HEADER, crosscheck.rows(results["crosscheck"])))
    if hop_rows(results.get("hops", {"error": ""})):
        parts.append(HOPS_INTRO)
        parts.append(markdown_table(HOPS_HEADER, hop_rows(results["hops"])))
    parts.append("\n".join(f"- {line}" for line in conclusions(results)))
    parts.append(split_when.INTRO)
    parts.append(markdown_table(split_when.HEADER, split_when.rows(results)))
    notes = validity_notes(results)
    if notes:
        parts.append("\n".join(f"- {note}" for note in notes))
    return "\n\n".join(parts) + "\n"


def node_scaling_plot(scaling: list[dict]) -> str:
    """Capacity within the SLO against node count, the best configuration of each."""
    figure, axes = plt.subplots(figsize=(6, 3.4))
    for deployment, rows in best_by_nodes(scaling).items():
        counts = sorted(rows)
        axes.plot(counts, [rows[n]["capacity_rps"] for n in counts], marker="o", label=deployment)
    axes.set_xlabel("nodes (same total budget)")
    axes.set_ylabel("requests/s within the p99 SLO")
    axes.set_xticks(sorted({row["nodes"] for row in scaling}))
    axes.legend()
    return png(figure)


def swarm_section(out: Path) -> str:
    """`make compare-swarm`'s results, when they were measured into the same folder."""
    summary, measured = out / "swarm.md", out / "swarm.json"
    if not (summary.exists() and measured.exists()):
        return ""
    scaling = json.loads(measured.read_text())["scaling"]
    return (
        "<h2>On the local Swarm: scaling across nodes and node faults</h2>"
        "<p>From <code>make compare-swarm</code>: the best configuration of each architecture"
        " per node count, then every configuration and node fault.</p>"
        f"{img('capacity by node count', node_scaling_plot(scaling))}"
        f"<pre>{html.escape(summary.read_text())}</pre>"
    )


SCHEMA = Path(__file__).with_name("results.schema.json")


def rewrite_reports(out: Path) -> str | None:
    """The compare report in `out` written again (to show what was measured beside it), or why
    not: results of an older version of the lab are not of this schema, and are left alone."""
    measured = out / "results.json"
    if not measured.exists():
        return f"no {measured}: run make compare to show these beside it"
    results = json.loads(measured.read_text())
    try:
        jsonschema.validate(results, json.loads(SCHEMA.read_text()))
    except jsonschema.ValidationError as error:
        return f"{measured} is of an older lab ({error.message}): run make compare again"
    write_reports(results, out)
    return None


def write_reports(results: dict, out: Path) -> None:
    (out / "summary.md").write_text(summary_markdown(results))
    sections = []
    if headline_rows(results):
        sections.append(
            "<h2>Capacity and cost</h2>" + _html_table(HEADLINE_HEADER, headline_rows(results))
        )
    if "capacity" in results:
        sections.append(
            img("latency and achieved rate against offered load", latency_plot(results))
        )
    if "loops" in results:
        loops = results["loops"]
        sections.append(
            "<h2>Closed loop against open loop</h2>"
            "<p>In each case the closed loop ran first; the open loop then offered exactly the "
            "calls a second it achieved.</p>"
            + _html_table(LOOP_HEADER, loop_rows(loops))
            + img("closed and open loop latency", loops_plot(loops))
        )
    if "scaling" in results:
        plot = img("capacity per configuration", scaling_plot(results))
        sections.append(f"<h2>Scaling on one host</h2>{plot}")
    if "faults" in results:
        figures = "".join(
            f"<figure>{img('fault timeline', fault_plot(applied[0]))}</figure>"
            for applied in (
                [f for f in runs if "error" not in f] for runs in fault_groups(results["faults"])
            )
            if applied
        )
        sections.append(
            f"""<h2>Faults</h2>
<p>With equal redundancy: {_redundancy(results["faults"])}. At equal absolute load (the same
requests/s offered to each) and, where the run measured capacity, at equal relative load (the
same share of each one's capacity). Answered is the share of intended requests that got a 200
during the fault; repeated runs give their median (min to max); a timeline is each fault's first
run.</p>
{_html_table(FAULT_HEADER, fault_rows(results))}
{figures}"""
        )
    if "model_cost" in results:
        sections.append(
            f"""<h2>When do the microservices pay?</h2>
{_html_table(MODEL_HEADER, model_rows(results))}
{img("overhead against model cost", model_cost_plot(results["model_cost"]))}"""
        )
    if "deploys" in results:
        sections.append(
            f"""<h2>Deploys under load</h2>
<p>{html.escape(deploys.INTRO)}</p>
{_html_table(deploys.HEADER, deploys.rows(results["deploys"]))}"""
        )
    if "calibration" in results:
        sections.append(
            f"""<h2>The generator against a null endpoint</h2>
<p>A capacity trial's own calls, at each rate, answered by the edge at once without the app:
what the generator sent of what was due, how late, and at what CPU. Above the highest rate it
held here, a capacity rests on its own trials' generator checks alone.</p>
{_html_table(CALIBRATION_HEADER, calibration_rows(results["calibration"]))}"""
        )
    if crosscheck.rows(results.get("crosscheck", {})):
        sections.append(
            f"""<h2>Two generators, one curve</h2>
<p>{html.escape(crosscheck.INTRO)}</p>
{_html_table(crosscheck.HEADER, crosscheck.rows(results["crosscheck"]))}"""
        )
    if hop_rows(results.get("hops", {"error": ""})):
        sections.append(
            f"""<h2>The hop tax: where a prediction's time goes</h2>
<p>{html.escape(HOPS_INTRO)}</p>
{_html_table(HOPS_HEADER, hop_rows(results["hops"]))}
{img("each wiring's latency, part by part", png(hops.plot(results["hops"])))}"""
        )
    notes = "".join(f"<p class='invalid'>{html.escape(n)}</p>" for n in validity_notes(results))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ChurnLab: monolith vs microservices</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1150px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: .3rem; }}
</style></head><body>
<h1>Monolith or microservices, for this workload?</h1>
<p>{html.escape(preamble(results))}</p>
<ul>{"".join(f"<li>{html.escape(line)}</li>" for line in conclusions(results))}</ul>
<h2>The verdict, line by line</h2>
<p>{html.escape(split_when.INTRO)}</p>
{_html_table(split_when.HEADER, split_when.rows(results))}
{"".join(sections)}
{notes}
{swarm_section(out)}
</body></html>
"""
    (out / "compare.html").write_text(page)
