"""Turn results.json into reports/summary.md and a self-contained reports/compare.html."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"monolith": "#1f77b4", "micro": "#d62728"}
LABELS = {"monolith": "monolith", "micro": "microservices"}


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def curve_plot(results: dict) -> str:
    figure, (rate, latency) = plt.subplots(1, 2, figsize=(10, 3.6))
    for arch, data in results["curve"].items():
        users = [step["users"] for step in data["steps"]]
        rate.plot(
            users,
            [s["requests_per_second"] for s in data["steps"]],
            "o-",
            color=COLOURS[arch],
            label=LABELS[arch],
        )
        latency.plot(
            users,
            [s["p99_ms"] for s in data["steps"]],
            "o-",
            color=COLOURS[arch],
            label=LABELS[arch],
        )
    bound = next(iter(results["curve"].values()))["p99_bound_ms"]
    latency.axhline(
        bound, color="grey", linestyle="--", linewidth=1, label=f"p99 bound {bound:g} ms"
    )
    rate.set(
        xlabel="concurrent users",
        ylabel="successful predictions / s",
        title="Throughput as load rises",
    )
    latency.set(
        xlabel="concurrent users", ylabel="p99 latency (ms)", title="Tail latency", yscale="log"
    )
    rate.legend()
    latency.legend()
    return _png(figure)


def scaling_plot(results: dict) -> str:
    figure, axes = plt.subplots(figsize=(6, 3.4))
    sizes = sorted({int(n) for data in results["scaling"].values() for n in data})
    width = 0.38
    for offset, arch in ((-width / 2, "monolith"), (width / 2, "micro")):
        values = [
            results["scaling"][arch].get(str(n), {}).get("requests_per_second", 0) for n in sizes
        ]
        axes.bar(
            [n + offset for n in sizes],
            values,
            width,
            color=COLOURS[arch],
            label=f"{LABELS[arch]} ({'workers' if arch == 'monolith' else 'inference replicas'})",
        )
    axes.set(
        xticks=sizes,
        xlabel="workers / inference replicas",
        ylabel="predictions / s",
        title="Scaling on this machine",
    )
    axes.legend(fontsize=8)
    return _png(figure)


def fault_plot(fault: dict) -> str:
    figure, axes = plt.subplots(figsize=(5, 2.2))
    seconds = range(len(fault["timeline"]["ok"]))
    axes.bar(seconds, fault["timeline"]["ok"], width=1, color="#2ca02c", label="ok")
    axes.bar(
        seconds,
        fault["timeline"]["failed"],
        width=1,
        bottom=fault["timeline"]["ok"],
        color="#d62728",
        label="failed",
    )
    axes.axvspan(*fault["fault_window_s"], color="orange", alpha=0.25, label="fault")
    axes.set(
        xlabel="seconds",
        ylabel="requests / s",
        title=f"{LABELS[fault['deployment']]}: {fault['fault']} {fault['component']}",
    )
    axes.legend(fontsize=7, loc="lower left")
    return _png(figure)


def _fmt(value, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and suffix == "%":
        return f"{100 * value:.1f}%"
    return f"{value:g}{suffix}" if isinstance(value, float | int) else str(value)


def summary_rows(results: dict) -> tuple[list[list[str]], list[list[str]]]:
    curve = results["curve"]
    scaling = results["scaling"]
    sizes = sorted({int(n) for data in scaling.values() for n in data})
    headline = [
        [
            f"max sustainable predictions/s (p99 ≤ {curve['monolith']['p99_bound_ms']:g} ms)",
            *(_fmt(curve[a]["max_sustainable_rps"]) for a in ("monolith", "micro")),
        ],
        [
            "CPU-seconds per 1,000 predictions",
            *(_fmt(curve[a]["cpu_seconds_per_1000_predictions"]) for a in ("monolith", "micro")),
        ],
        [
            "memory (all containers)",
            *(f"{curve[a]['memory_mb']:g} MB" for a in ("monolith", "micro")),
        ],
        ["containers", *(str(curve[a]["containers"]) for a in ("monolith", "micro"))],
        *[
            [
                f"predictions/s with {n} worker(s) / inference replica(s)",
                *(
                    _fmt(scaling[a].get(str(n), {}).get("requests_per_second"))
                    for a in ("monolith", "micro")
                ),
            ]
            for n in sizes
        ],
    ]
    faults = [
        [
            LABELS[f["deployment"]],
            f"{f['fault']} {f['component']}",
            _fmt(f["routes"].get("/v1/predict", {}).get("success_rate"), "%"),
            _fmt(f["routes"].get("/v1/model", {}).get("success_rate"), "%"),
            _fmt(f["routes"].get("/v1/predict", {}).get("p99_ms"), " ms"),
            _fmt(f["time_to_detect_s"], " s"),
            _fmt(f["time_to_recover_s"], " s"),
            str(f["records_lost"]),
        ]
        for f in results["faults"]
        if "error" not in f
    ]
    not_applied = [
        [LABELS[f["deployment"]], f"{f['fault']} {f['component']}", f"not applied: {f['error']}"]
        + [""] * (len(FAULT_HEADER) - 3)
        for f in results["faults"]
        if "error" in f
    ]
    return headline, faults + not_applied


FAULT_HEADER = [
    "deployment",
    "fault",
    "predict success",
    "model-card success",
    "predict p99",
    "time to detect",
    "time to recover",
    "records lost",
]


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def summary_markdown(results: dict) -> str:
    headline, faults = summary_rows(results)
    machine = results["machine"]
    return (
        "\n\n".join(
            [
                f"Measured by `{results['command']}` on {results['started']}: "
                f"{machine['cpus']} CPUs, {machine['memory_gb']} GiB, Linux {machine['kernel']}, "
                f"Python {machine['python']}. Fault figures are during the fault window; "
                "success is the share of 200s.",
                _markdown_table(["", "monolith", "microservices"], headline),
                _markdown_table(FAULT_HEADER, faults),
            ]
        )
        + "\n"
    )


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_reports(results: dict, out: Path) -> None:
    headline, faults = summary_rows(results)
    (out / "summary.md").write_text(summary_markdown(results))
    images = "".join(
        f'<figure><img alt="fault timeline" src="data:image/png;base64,{fault_plot(f)}"></figure>'
        for f in results["faults"]
        if "error" not in f
    )
    machine = results["machine"]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ChurnLab: monolith vs microservices</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: .3rem; }}
</style></head><body>
<h1>Monolith or microservices, for this workload?</h1>
<p>Measured by <code>{html.escape(results["command"])}</code> on {html.escape(results["started"])}
({machine["cpus"]} CPUs, {machine["memory_gb"]} GiB, Linux {html.escape(machine["kernel"])}).
Both deployments ran the same churn workflow, one after the other, on this machine; load came
from Locust on the same machine. Fault figures are for the fault window only.</p>
<h2>Capacity and cost</h2>
{_html_table(["", "monolith", "microservices"], headline)}
<img alt="throughput and latency curves" src="data:image/png;base64,{curve_plot(results)}">
<h2>Scaling</h2>
<img alt="scaling bars" src="data:image/png;base64,{scaling_plot(results)}">
<h2>Fault isolation</h2>
{_html_table(FAULT_HEADER, faults)}
<p>Requests per second through each fault (green ok, red failed); the shaded band is the fault.</p>
{images}
</body></html>
"""
    (out / "compare.html").write_text(page)
