"""results.json into reports/summary.md and a self-contained reports/compare.html."""

from __future__ import annotations

import base64
import html
import io
import json
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lab.experiments.analysis import best_by_nodes
from lab.stats import overlap

COLOURS = {"monolith": "#1f77b4", "micro": "#d62728"}
LABELS = {"monolith": "monolith", "micro": "microservices"}
ARCHES = ("monolith", "micro")
FAULT_HEADER = [
    "deployment",
    "fault",
    "resilience",
    "predict answered",
    "batch answered",
    "model card answered",
    "predict p99",
    "blast radius",
    "detect",
    "recover",
    "records lost",
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


def _spread(figure: dict, suffix: str = "") -> str:
    """median [95% interval] (min to max, n runs), and a warning where the runs did not settle
    the figure."""
    interval = figure.get("ci95")
    text = _fmt(figure["median"], suffix)
    if interval:
        text += f" [{_fmt(interval[0])}, {_fmt(interval[1])}]"
    text += f" ({_fmt(figure['min'])} to {_fmt(figure['max'])}, n={figure['runs']})"
    if figure["flagged"]:
        text += " ⚠ one run" if not interval else " ⚠ interval over ±15%"
    return text


def median_steps(runs: list[dict]) -> list[dict]:
    """Per offered rate, the median over repeated runs of each step figure."""
    steps = []
    for index, first in enumerate(runs[0]["steps"]):
        step = {"offered_rps": first["offered_rps"]}
        for key in ("achieved_rps", "p50_ms", "p99_ms", "p999_ms"):
            values = [
                run["steps"][index][key] for run in runs if run["steps"][index][key] is not None
            ]
            step[key] = statistics.median(values) if values else None
        steps.append(step)
    return steps


# --- plots ------------------------------------------------------------------------------------


def latency_plot(results: dict) -> str:
    figure, (latency, achieved) = plt.subplots(1, 2, figsize=(11, 3.8))
    for arch in ARCHES:
        steps = median_steps(results["capacity"][arch]["runs"])
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
    slo = results["plan"]["slo_ms"]
    latency.axhline(slo, color="grey", linewidth=1, linestyle="--")
    latency.set(
        xlabel="offered requests / s",
        ylabel="latency from due time (ms)",
        yscale="log",
        title=f"Latency against offered load (SLO p99 {slo:g} ms)",
    )
    top = max(s["offered_rps"] for s in results["capacity"]["monolith"]["runs"][0]["steps"])
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


def loops_plot(loops: dict) -> str:
    figure, axes = plt.subplots(figsize=(6, 3.2))
    names = ["p50_ms", "p99_ms", "p999_ms"]
    for offset, (loop, colour) in ((-0.2, ("closed", "#7f7f7f")), (0.2, ("open", "#2ca02c"))):
        axes.bar(
            [i + offset for i in range(3)],
            [loops[loop][n] or 0 for n in names],
            0.4,
            color=colour,
            label=f"{loop} loop",
        )
    axes.set(
        xticks=range(3),
        xticklabels=["p50", "p99", "p99.9"],
        ylabel="ms",
        yscale="log",
        title=f"Same rate ({loops['open']['offered_rps']:g}/s), closed and open loop",
    )
    axes.legend(fontsize=8)
    return png(figure)


def scaling_plot(results: dict) -> str:
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for axis, arch in zip(axes, ARCHES, strict=True):
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
    axes.set(
        xlabel="seconds",
        ylabel="requests / s",
        title=f"{LABELS[fault['deployment']]}: {fault['fault']}{switch}",
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
    capacity, cost = results["capacity"], results["cost"]
    rows = [
        [
            f"capacity: offered/s with p99 ≤ {results['plan']['slo_ms']:g} ms, 99% answered",
            *(_spread(capacity[a]["capacity_rps"]) for a in ARCHES),
        ],
        [
            f"p99 at {results['plan']['cost_rate']:g} requests/s, the API's mix (from due time)",
            *(_spread(cost[a]["p99_ms"], " ms") for a in ARCHES),
        ],
        [
            "CPU-seconds per 1,000 predicted records",
            *(_spread(cost[a]["cpu_seconds_per_1000_predictions"]) for a in ARCHES),
        ],
        [
            "memory in use, all containers (MB)",
            *(_spread(cost[a]["memory_mb"]) for a in ARCHES),
        ],
        ["containers", *(str(cost[a]["containers"]) for a in ARCHES)],
    ]
    for arch_rows in _scaling_rows(results):
        rows.append(arch_rows)
    return rows


def _scaling_rows(results: dict) -> list[list[str]]:
    monolith, micro = results["scaling"]["monolith"], results["scaling"]["micro"]
    best = max(micro, key=lambda r: r["capacity_rps"])
    return [
        [f"capacity, monolith as {r['configuration']} (same CPU set)", _fmt(r["capacity_rps"]), ""]
        for r in monolith
    ] + [
        [
            f"capacity, microservices as {r['configuration']} (same CPU set)"
            + (" ← best split" if r is best else ""),
            "",
            _fmt(r["capacity_rps"]),
        ]
        for r in micro
    ]


def fault_rows(results: dict) -> list[list[str]]:
    rows = []
    for f in results["faults"]:
        switch = "on" if f["resilience"] else "off"
        if "error" in f:
            rows.append(
                [LABELS[f["deployment"]], f["fault"], switch, f"not applied: {f['error']}"]
                + [""] * (len(FAULT_HEADER) - 4)
            )
            continue
        routes = f["routes"]
        rows.append(
            [
                LABELS[f["deployment"]],
                f["fault"],
                switch,
                *(
                    _fmt(routes.get(route, {}).get("success"), "%")
                    for route in ("/v1/predict", "/v1/predict/batch", "/v1/model")
                ),
                _fmt(routes.get("/v1/predict", {}).get("p99_ms"), " ms"),
                ", ".join(f["blast_radius"]) or "none",
                _fmt(f["time_to_detect_s"], " s", 2),
                _fmt(f["time_to_recover_s"], " s", 2),
                str(f["records_lost"]),
            ]
        )
    return rows


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
    for arch in ARCHES:
        for index, run in enumerate(results["capacity"][arch]["runs"]):
            if not run["generator"]["valid"]:
                notes.append(
                    f"{LABELS[arch]} capacity run {index + 1}: generator at "
                    f"{_fmt(run['generator']['cpu_share'], '%')} CPU, "
                    f"{_fmt(run['generator']['late_share'], '%')} late: invalid"
                )
    for f in results["faults"]:
        if "generator" in f and not f["generator"]["valid"]:
            notes.append(f"{LABELS[f['deployment']]} {f['fault']}: the generator lagged: invalid")
    return notes


def conclusions(results: dict) -> list[str]:
    figures = {a: results["capacity"][a]["capacity_rps"] for a in ARCHES}
    capacity = {a: figures[a]["median"] for a in ARCHES}
    cost = {a: results["cost"][a]["cpu_seconds_per_1000_predictions"]["median"] for a in ARCHES}
    lines = []
    if capacity["micro"]:
        more = capacity["monolith"] / capacity["micro"]
        cheaper = cost["micro"] / cost["monolith"]
        told_apart = (
            ""
            if not overlap(figures["monolith"], figures["micro"])
            else " ⚠ their capacity intervals overlap: these runs do not tell the two apart"
        )
        lines.append(
            f"On the same CPUs and memory, the monolith sustains {more:.1f} times the "
            f"microservices' offered rate within the SLO, at {cheaper:.1f} times less CPU per "
            f"prediction.{told_apart}"
        )
    loops = results["loops"]
    lines.append(
        f"At the same {loops['open']['offered_rps']:g} requests/s, the closed loop reports a "
        f"p99 of {_fmt(loops['closed']['p99_ms'], ' ms')} and the open loop "
        f"{_fmt(loops['open']['p99_ms'], ' ms')}: "
        "a closed loop sends less while the server is slow, and so hides its queues."
    )
    crossover = results["model_cost"]["crossover"]
    if crossover["model_us"] is None:
        lines.append(
            "From the models measured, nothing shows the microservices' share of the monolith's "
            "capacity rising towards 80% on one host."
        )
    else:
        how = (
            "by the lines fitted to the models measured, which were all lighter"
            if crossover["extrapolated"]
            else "as measured"
        )
        lines.append(
            "The microservices would keep 80% of the monolith's capacity on one host once the "
            f"model costs about {crossover['model_us'] / 1000:.1f} ms per prediction ({how})."
        )
    counted = [f["records_lost"] for f in results["faults"] if "records_lost" in f]
    uncounted = len(results["faults"]) - len(counted)
    lines.append(
        f"Records lost across every fault: {sum(counted)}"
        + (f" ({uncounted} fault run(s) could not be counted)." if uncounted else ".")
    )
    return lines


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
        f"HdrHistogram percentiles) on CPU(s) {budget['generator_cpus']}. Headline capacities are "
        f"the median of {results['plan']['repeats']} run(s), (min to max) beside them."
    )


def summary_markdown(results: dict) -> str:
    parts = [
        preamble(results),
        markdown_table(["", "monolith", "microservices"], headline_rows(results)),
        markdown_table(FAULT_HEADER, fault_rows(results)),
        markdown_table(MODEL_HEADER, model_rows(results)),
        "\n".join(f"- {line}" for line in conclusions(results)),
    ]
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


def write_reports(results: dict, out: Path) -> None:
    (out / "summary.md").write_text(summary_markdown(results))
    faults = "".join(
        f"<figure>{img('fault timeline', fault_plot(f))}</figure>"
        for f in results["faults"]
        if "error" not in f
    )
    loops = results["loops"]
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
<h2>Capacity and cost</h2>
{_html_table(["", "monolith", "microservices"], headline_rows(results))}
{img("latency and achieved rate against offered load", latency_plot(results))}
<h2>Closed loop against open loop</h2>
<p>{loops["closed"]["users"]} closed-loop users achieved
{loops["closed"]["achieved_rps"]:g} predictions/s;
the open loop then offered exactly that rate.</p>
{img("closed and open loop latency", loops_plot(loops))}
<h2>Scaling on one host</h2>
{img("capacity per configuration", scaling_plot(results))}
<h2>Faults, at {results["plan"]["fault_rate"]:g} requests/s offered</h2>
<p>Answered is the share of intended requests that got a 200 during the fault.</p>
{_html_table(FAULT_HEADER, fault_rows(results))}
{faults}
<h2>When do the microservices pay?</h2>
{_html_table(MODEL_HEADER, model_rows(results))}
{img("overhead against model cost", model_cost_plot(results["model_cost"]))}
{"".join(f"<p class='invalid'>{html.escape(n)}</p>" for n in validity_notes(results))}
{swarm_section(out)}
</body></html>
"""
    (out / "compare.html").write_text(page)
