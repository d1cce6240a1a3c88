"""The hop tax on both wirings as local processes (what `make bench` runs, shorter): every
prediction sent is answered, traced whole and split, and the split's parts account for its
latency within 10% over the rounds, and no round by less than 75% (the rest is what no timer
saw: on a shared VM one stall in a round of 60 requests moves its mean by a fifth), each hop
of the microservices shows, and each process's CPU per prediction comes out of the lab's
regression."""

from __future__ import annotations

from lab.bench import hops
from tests.conftest import TEST_SETTINGS


def test_the_split_accounts_for_each_wirings_latency(
    local_monolith, local_micro, tmp_path_factory, record_body
):
    # A short base: supervisord's socket path must fit a Unix socket's 108 bytes.
    figures = hops.measure(
        record_body, tmp_path_factory.mktemp("hops"), rate=20, seconds=3, rounds=2,
        untraced={"monolith": local_monolith, "micro": local_micro},
        **TEST_SETTINGS,
    )  # fmt: skip
    for name, wiring in figures["wirings"].items():
        assert wiring["split"] == wiring["sent"] == 2 * 60, name
        # The rounds' latency is accounted for within 10%, either way, and no round's within
        # less than 75%: CI's cold run once had one round of the monolith's at 81.5%.
        assert wiring["attributed"]["mean"] >= 0.9, (name, wiring["parts_ms"])
        assert wiring["attributed"]["min"] >= 0.75, (name, wiring["parts_ms"])
        # Each part is a duration: none is negative beyond the edge's millisecond timers.
        assert min(p["median"] for p in wiring["parts_ms"].values()) > -0.5, wiring["parts_ms"]
        hop_parts = set(hops.HOPS) & set(wiring["parts_ms"])
        if name == "micro":
            assert hop_parts == set(hops.HOPS)
            assert all(wiring["parts_ms"][part]["median"] > 0 for part in hop_parts)
            programs = {"edge", "gateway", "features", "inference", "ingest", "all"}
        else:
            assert not hop_parts
            programs = {"edge", "monolith", "all"}
        cpu = wiring["cpu_ms_per_prediction"]
        assert set(cpu) == programs
        assert cpu["all"]["ms_per_record"] > 0
