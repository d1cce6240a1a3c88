"""The bench's comparison of the wirings: each split wiring divided by the monolith round by
round, and what each of its sequential hops adds at low load (the servers stubbed: the bench
itself runs them)."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import lab.bench.__main__ as bench
import lab.bench.wirings as wirings


def test_each_split_wiring_is_divided_by_the_monolith_of_its_own_round(monkeypatch):
    served = {"monolith": [100, 120, 110], "micro": [25, 30, 22], "hybrid": [80, 60, 88]}
    low_load_ms = {"monolith": 2.0, "micro": 8.0, "hybrid": 3.5}
    left = {name: iter(rates) for name, rates in served.items()}
    monkeypatch.setattr(
        wirings, "served_rps_and_cpu_ms", lambda deployment, *_: (next(left[deployment.url]), 1.0)
    )
    monkeypatch.setattr(
        wirings,
        "run_wrk",
        lambda url, **_: SimpleNamespace(median_ms=low_load_ms[url.split("/")[0]]),
    )
    monkeypatch.setattr(wirings, "hop_floor", lambda _: (0.1, 0.5))
    deployments = {name: SimpleNamespace(url=name) for name in served}
    figures = bench.wiring_figures({}, deployments, seconds=1, rounds=3)
    assert figures["micro"]["over_monolith"]["median"] == 0.25  # 0.25, 0.25, 0.2
    assert figures["hybrid"]["over_monolith"]["median"] == 0.8  # 0.8, 0.5, 0.8
    assert figures["micro"]["sequential_hops"] == 3
    assert figures["micro"]["added_ms_per_sequential_hop"]["median"] == 2.0
    assert figures["hybrid"]["added_ms_per_sequential_hop"]["median"] == 1.5
    assert figures["predict_rps"]["hybrid"]["runs"] == 3
    assert (figures["hop_floor_ms"], figures["hop_floor_cpu_ms"]) == (0.5, 0.1)


def test_batching_divides_each_wiring_batched_by_itself_unbatched_and_reads_its_model(
    monkeypatch, tmp_path
):
    """Each wiring's batched twin is started with CHURNLAB_BATCHING on; the batches are read
    where its model runs: the monolith's own server, the hybrid's model tier."""
    started: dict[str, dict] = {}

    @contextlib.contextmanager
    def twin(name, base, **environment):
        started[name] = environment
        yield SimpleNamespace(
            url=f"{name}-batched",
            app_url=f"{name}-app",
            stage_url=lambda stage: f"{name}-{stage}",
        )

    served = {"monolith-batched": [120, 90], "monolith": [100, 100],
              "hybrid-batched": [60, 66], "hybrid": [50, 60]}  # fmt: skip
    left = {url: iter(rates) for url, rates in served.items()}
    monkeypatch.setattr(bench, "local_deployment", twin)
    monkeypatch.setattr(
        wirings, "served_rps_and_cpu_ms", lambda deployment, *_: (next(left[deployment.url]), 1.0)
    )
    read = []
    monkeypatch.setattr(bench, "model_batches", lambda url: read.append(url) or {"calls": 1})
    plain = {name: SimpleNamespace(url=name) for name in ("monolith", "hybrid")}
    figures = bench.batching_http_figures({}, tmp_path, plain, seconds=1, rounds=2)
    assert {name: env["CHURNLAB_BATCHING"] for name, env in started.items()} == {
        "monolith": "true",
        "hybrid": "true",
    }
    assert figures["monolith"]["on_over_off_rps"]["median"] == 1.05  # 1.2 and 0.9
    assert figures["hybrid"]["on_over_off_rps"]["median"] == 1.15  # 1.2 and 1.1
    assert read == ["monolith-app", "hybrid-inference"]
    assert figures["hybrid"]["batches"] == {"calls": 1}


def test_mlserver_is_the_hybrid_s_model_tier_beside_churnlab_s_then_batching_on_and_off(
    monkeypatch, tmp_path
):
    started: list[tuple[str, dict]] = []

    @contextlib.contextmanager
    def deployment(name, base, **environment):
        started.append((name, environment))
        yield SimpleNamespace(url=base.name)

    served = {"mlserver": [80, 90, 80, 90], "churnlab": [100, 100], "mlserver-batched": [88, 99]}
    left = {url: iter(rates) for url, rates in served.items()}
    monkeypatch.setattr(bench, "local_deployment", deployment)
    monkeypatch.setattr(
        wirings, "served_rps_and_cpu_ms", lambda deployment, *_: (next(left[deployment.url]), 1.0)
    )
    hybrid = SimpleNamespace(url="churnlab")
    figures = bench.mlserver_figures({}, tmp_path, hybrid, seconds=1, rounds=2)
    assert [(name, env["MODEL_SERVER"], env.get("CHURNLAB_BATCHING")) for name, env in started] == [
        ("hybrid", "mlserver", None),
        ("hybrid", "mlserver", "true"),
    ]
    # MLServer would not batch at all without a wait (its max_batch_time)
    assert float(started[1][1]["CHURNLAB_BATCH_MAX_WAIT_SECONDS"]) > 0
    assert figures["mlserver_over_churnlab_rps"]["median"] == 0.85  # 0.8 and 0.9
    assert figures["batching"]["on_over_off_rps"]["median"] == 1.1  # 1.1 and 1.1
