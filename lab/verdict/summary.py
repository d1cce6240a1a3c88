"""make verdict's answer as Markdown: the verdict, each wiring's figures with the user's model,
the measured points it rests on with their intervals, and what is a model rather than a
measurement."""

from __future__ import annotations

from lab.verdict.answer import BATCH_BOUND, MAX_NODES, QUANTILE

NAMES = {"monolith": "monolith", "micro": "microservices", "hybrid": "hybrid (API + model tier)"}


def _mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


def _interval(figure: dict, scale: float = 1.0, digits: int = 2) -> str:
    """A median with its interval and that interval's coverage, ⚠ where flagged (too wide, or
    one run); a given figure alone."""
    median = f"{figure['median'] * scale:,.{digits}f}"
    if figure["min"] == figure["max"] and not figure.get("runs"):
        return median
    low, high = figure["interval"] or (figure["min"], figure["max"])
    coverage = f"{figure['coverage']:.0%} " if figure.get("coverage") else ""
    flag = " ⚠" if figure.get("flagged") else ""
    return (
        f"{median} ({coverage}interval {low * scale:,.{digits}f}-{high * scale:,.{digits}f})" + flag
    )


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}/s"


def _machines(row: dict) -> str:
    count = row["nodes_for_rate"]
    return f"{count:,} machine" + ("" if count == 1 else "s")


def verdict_line(figures: dict) -> str:
    target, answer = figures["target"], figures["answer"]
    rows, chosen = answer["wirings"], answer["chosen"]
    goal = f"{target['rate']:,.0f} requests/s within a p99 of {target['slo_ms']:,.0f} ms"
    if chosen is None:
        return (
            f"**By the model below, no wiring serves {goal}** on up to {MAX_NODES} machines like "
            "this one"
            + (" within the memory budget" if target["memory_bytes"] else "")
            + ": the model alone is slower than the objective, or does not fit."
        )
    row = rows[chosen]
    where = (
        "on this machine" if row["nodes_for_rate"] == 1 else f"on {_machines(row)} like this one"
    )
    others = [
        f"{NAMES[name]}: {_machines(r)}, {r['cpu_ms_per_request']:.2f} ms CPU"
        if r["nodes_for_rate"]
        else f"{NAMES[name]}: does not serve it"
        for name, r in rows.items()
        if name != chosen
    ]
    return (
        f"**By the model below, the {NAMES[chosen]} serves {goal} {where}**, at "
        f"{row['cpu_ms_per_request']:.2f} ms of CPU a request (the least of those needing the "
        "fewest machines). Beside it: " + "; ".join(others) + "."
    )


def model_line(model: dict, target: dict) -> str:
    """The user's model as measured (or given), and the target's memory budget."""
    source = (
        "given (MODEL_MS, MODEL_MB)"
        if model.get("given")
        else f"measured here on random inputs of its declared shapes ({model['onnx']})"
    )
    alone = _interval(model["us_per_record"]["1"], 1 / 1000, 3)
    line = f"Your model, {source}: {alone} ms a record alone"
    batched = model["us_per_record"].get(str(BATCH_BOUND))
    if batched:
        line += f", {batched['median'] / 1000:.3f} ms within a batch of {BATCH_BOUND}"
    line += f"; {_mb(model['memory_bytes'])} held."
    if target["memory_bytes"]:
        line += f" Memory budget: {_mb(target['memory_bytes'])} a machine."
    return line


def summary_markdown(figures: dict) -> str:
    measured, answer, target = figures["measured"], figures["answer"], figures["target"]
    model, points = measured["model"], measured["points"]
    lines = [
        f"# Verdict for your model, by `{figures['command']}` on {figures['date']} "
        f"({figures['machine']['cpus']} CPUs, {figures['machine']['cpu_model']})",
        "",
        verdict_line(figures),
        "",
        model_line(model, target),
        "",
        "Modelled from the measured points below (see what is a model, after them):",
        "",
        f"| wiring | CPU a request | capacity here (envelope) | with batching "
        f"({'measured lines' if answer.get('batching_measured') else 'estimate'}) "
        f"| p99 at {target['rate']:,.0f}/s here | memory | machines for {target['rate']:,.0f}/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in answer["wirings"].items():
        low, high = row["capacity_rps_interval"]
        p99 = row["p99_ms_at_rate"]
        lines.append(
            f"| {NAMES[name]} | {row['cpu_ms_per_request']:.2f} ms "
            f"| {row['capacity_rps']:,.0f}/s ({low:,.0f}-{high:,.0f}) "
            f"| {_rate(row['capacity_rps_batched'])} "
            f"| {f'{p99:,.1f} ms' if p99 is not None else 'saturated'} "
            f"| {_mb(row['memory_bytes'])} | {row['nodes_for_rate'] or 'none'} |"
        )
    lines += ["", "## The measured points it rests on", ""]
    for point in points:
        lines += measured_point(point, answer["wirings"])
    lines += assumptions(figures)
    return "\n".join(lines) + "\n"


def measured_point(point: dict, names: dict) -> list[str]:
    """One model's cost alone, and every wiring measured serving it (with batching on, the
    requests its model's calls scored on average)."""
    served, wirings = point["model"], point["wirings"]
    batches = wirings.get("batches")
    joined = (
        "; requests a model call scored on average: "
        + ", ".join(
            f"{NAMES[name]} {b['requests'] / b['calls']:.2f}" if b["calls"] else f"{NAMES[name]} -"
            for name, b in batches.items()
        )
        if batches
        else ""
    )
    return [
        f"Serving {served['name']}{', batching on' if point.get('batching') else ''} "
        f"({_interval(served['us_per_record']['1'], 1 / 1000, 3)} ms a record alone, "
        f"{_mb(served['memory_bytes'])} held{joined}): each wiring as local processes "
        f"behind its edge, {wirings['cpu_ms_per_request']['monolith']['runs']} rounds taking "
        "them in turns (wrk, 16 connections); median (interval, with its coverage):",
        "",
        "| wiring | CPU a request (ms) | requests/s | latency at low load (ms) | memory |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {NAMES[name]} | {_interval(wirings['cpu_ms_per_request'][name])} "
            f"| {_interval(wirings['predict_rps'][name], digits=0)} "
            f"| {_interval(wirings['p50_ms_low_load'][name])} "
            f"| {_mb(wirings['memory_bytes'][name])} |"
            for name in names
        ),
        "",
    ]


def assumptions(figures: dict) -> list[str]:
    """What the answer takes from a model rather than from a measurement."""
    answer, costs = (
        figures["answer"],
        [
            point["model"]["us_per_record"]["1"]["median"] / 1000
            for point in figures["measured"]["points"]
        ],
    )
    theirs = figures["measured"]["model"]["us_per_record"]["1"]["median"] / 1000
    slopes = ", ".join(
        f"{NAMES[name]} {row['cpu_ms_per_model_ms']:.2f}" for name, row in answer["wirings"].items()
    )
    where = (
        f"**extrapolated**: your model's {theirs:.3f} ms lies outside the {min(costs):.3f} to "
        f"{max(costs):.3f} ms the wirings were measured serving"
        if answer["extrapolated"]
        else f"interpolated: your model's {theirs:.3f} ms lies between the {min(costs):.3f} "
        f"and {max(costs):.3f} ms the wirings were measured serving"
    )
    return [
        "## What is a model, not a measurement",
        "",
        f"- Your model inside each wiring, {where}: straight lines in the model's cost of CPU "
        f"per request, of the cores kept busy and of low-load latency (capacity is the cores "
        "over the CPU; two points make each line exact, so a straight line is assumed). Each "
        "ms of the model's own cost added this much CPU to a request (1 would be the model and "
        f"nothing more): {slopes}.",
        f"- The p{QUANTILE * 100:g} at the rate: an M/M/c queue's (lab/verdict/queueing.py), "
        "its servers the cores each wiring kept busy (rounded down and up, the worse quoted: "
        + ", ".join(f"{NAMES[n]} {r['cores_busy']:.2f}" for n, r in answer["wirings"].items())
        + "), plus the path's delay beyond a service at low load. No latency was measured at "
        "your rate: confirm the choice with an open-loop run at it (make load-headless).",
        "- Capacity and CPU come from wrk's closed loop of 16 connections, on the same CPUs as "
        "the wirings: a saturated throughput, its generator's share of the machine not the "
        "wiring's. The envelope is drawn through the ends of the measured intervals, with no "
        "coverage of its own.",
        "- The two reference models' costs are the model tier's whole call (ONNX and the "
        "reasons' table); yours is the bare ONNX call.",
        "- More machines: each a copy of this one's deployment taking an equal share of the "
        "rate. The lab has not measured past one machine.",
        (
            "- With batching: read off the lines of the wirings measured with batching on, at "
            "your model's cost alone; that your model batches as the reference models do is "
            "assumed."
            if answer.get("batching_measured")
            else f"- With batching: an estimate, every request's model cost at a batch of "
            f"{BATCH_BOUND} (of a model process's 4 threads, one is being scored while 3 queue) "
            "and no gather wait; what batches form "
            "under load is not measured (make verdict BATCHING=1 measures the wirings with it)."
        ),
        "- Memory: a line through each wiring's memory serving the two reference models, "
        "against the memory each model held alone, read at yours.",
    ]
