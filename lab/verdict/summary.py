"""make verdict's answer as Markdown: the verdict, each wiring's figures with the user's model,
the measured points it rests on with their intervals, and what is a model rather than a
measurement."""

from __future__ import annotations

from lab.verdict.answer import BATCH_BOUND, MAX_NODES, QUANTILE

NAMES = {"monolith": "monolith", "micro": "microservices", "hybrid": "hybrid (API + model tier)"}


def _mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


def _interval(figure: dict, scale: float = 1.0, digits: int = 2) -> str:
    low, high = figure["interval"] or (figure["min"], figure["max"])
    coverage = f"{figure['coverage']:.0%} " if figure.get("coverage") else ""
    return (
        f"{figure['median'] * scale:,.{digits}f} ({coverage}interval "
        f"{low * scale:,.{digits}f}-{high * scale:,.{digits}f})"
    )


def _machines(row: dict) -> str:
    count = row["nodes_for_rate"]
    return f"{count:,} machine" + ("" if count == 1 else "s")


def verdict_line(figures: dict) -> str:
    target, answer = figures["target"], figures["answer"]
    rows, chosen = answer["wirings"], answer["chosen"]
    goal = f"{target['rate']:,.0f} requests/s within a p99 of {target['slo_ms']:,.0f} ms"
    if chosen is None:
        return (
            f"**No wiring serves {goal}** on up to {MAX_NODES} machines like this one"
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
        f"**The {NAMES[chosen]} serves {goal} {where}**, at {row['cpu_ms_per_request']:.2f} ms "
        f"of CPU a request (the least of those needing the fewest machines). Beside it: "
        + "; ".join(others)
        + "."
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
        f"| wiring | CPU a request | capacity on this machine | with batching (bound) "
        f"| p99 at {target['rate']:,.0f}/s here | memory | machines for {target['rate']:,.0f}/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in answer["wirings"].items():
        low, high = row["capacity_rps_interval"]
        p99 = row["p99_ms_at_rate"]
        lines.append(
            f"| {NAMES[name]} | {row['cpu_ms_per_request']:.2f} ms "
            f"| {row['capacity_rps']:,.0f}/s ({low:,.0f}-{high:,.0f}) "
            f"| {row['capacity_rps_batched'] or 0:,.0f}/s "
            f"| {f'{p99:,.1f} ms' if p99 is not None else 'saturated'} "
            f"| {_mb(row['memory_bytes'])} | {row['nodes_for_rate'] or 'none'} |"
        )
    lines += ["", "## The measured points it rests on", ""]
    for point in points:
        lines += measured_point(point, answer["wirings"])
    lines += assumptions(figures)
    return "\n".join(lines) + "\n"


def measured_point(point: dict, names: dict) -> list[str]:
    """One model's cost alone, and every wiring measured serving it."""
    served, wirings = point["model"], point["wirings"]
    return [
        f"Serving {served['name']} ({_interval(served['us_per_record']['1'], 1 / 1000, 3)} ms a "
        f"record alone, {_mb(served['memory_bytes'])} held): each wiring as local processes "
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
        f"per request, of 1 / capacity and of low-load latency. Each ms of the model's own cost "
        f"added this much CPU to a request (1 would be the model and nothing more): {slopes}.",
        f"- The p{QUANTILE * 100:g} at the rate: the low-load latency, plus an M/M/c queue's "
        "wait with the cores each wiring used as its servers (lab/verdict/queueing.py).",
        "- More machines: each a copy of this one's deployment taking an equal share of the "
        "rate. The lab has not measured past one machine.",
        f"- With batching: a bound, every request's model cost at a batch of {BATCH_BOUND} "
        "(a model process's threads); what batches form under load is not measured for yours.",
        "- Memory: each wiring's measured memory serving ChurnLab's model, grown by your "
        "model's difference in each process holding a model (two in every wiring).",
    ]
