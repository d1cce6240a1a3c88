"""What `make compare` runs, as data: the experiments, the architectures, the faults, and the
two plans (full, and quick for CI) with every duration, rate and repeat they take."""

from __future__ import annotations

from dataclasses import dataclass

from lab.experiments.capacity import Method

ARCHES = ("monolith", "micro", "hybrid")
LABELS = {"monolith": "monolith", "micro": "microservices", "hybrid": "hybrid"}  # for readers
PAIR = ARCHES[:2]  # the monolith and the microservices
# Every experiment of `make compare` (each a section of the report), and the architectures it
# runs on: the generator's checks and the loops on the monolith alone; the capacity, the cost,
# the faults and the deploys on every wiring; scaling, heavier models and the hop tax on the
# monolith and the microservices (the hybrid's batching and models are issue 17's next items).
RUNS_ON = {
    "calibration": ("monolith",), "crosscheck": ("monolith",), "capacity": ARCHES,
    "cost": ARCHES, "loops": ("monolith",), "faults": ARCHES, "scaling": PAIR,
    "model_cost": PAIR, "hops": PAIR, "deploys": ARCHES,
}  # fmt: skip
EXPERIMENTS = tuple(RUNS_ON)


# What deploys.py rolls out under load, in each wiring.
NEW, UNLOADABLE = DEPLOYS = ("a new version", "a model that does not load")
ONCE = tuple(name for name, arches in RUNS_ON.items() if arches == ("monolith",))


@dataclass(frozen=True)
class Fault:
    deployment: str  # of ARCHES
    component: str  # the Compose service
    kind: str  # a DockerFaults kind, or "kill-while-spooling"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.component}"


FAULTS = (
    Fault("monolith", "monolith", "kill"),
    Fault("monolith", "monolith", "pause"),
    Fault("monolith", "monolith", "cpu"),
    Fault("micro", "gateway", "kill"),
    Fault("micro", "gateway", "kill-while-spooling"),
    Fault("micro", "ingest", "kill"),
    Fault("micro", "ingest", "pause"),
    Fault("micro", "features", "pause"),
    Fault("micro", "features", "blackhole"),
    Fault("micro", "features", "crashloop"),
    Fault("micro", "inference", "kill"),
    Fault("micro", "inference", "pause"),
    # The hybrid: its API (ingest and features in-process, as the monolith's), and the model
    # tier apart, behind the same client as the gateway's (retries, breaker, ejection).
    Fault("hybrid", "hybrid", "kill"),
    Fault("hybrid", "hybrid", "pause"),
    Fault("hybrid", "inference", "kill"),
    Fault("hybrid", "inference", "pause"),
)
# Run again with the stage client's resilience off (the gateway's, the hybrid API's): where
# retries, breaker, ejection or spool act. A label names the fault in every wiring it is in.
WITHOUT_RESILIENCE = {"pause ingest", "pause features", "blackhole features", "kill inference"}


@dataclass(frozen=True)
class Plan:
    repeats: int  # blocks of the headline capacity, each a fresh deployment of each architecture
    warm_up_seconds: float  # after each fresh deployment, before anything is measured
    capacity: Method  # how every capacity of the plan is measured
    calibration_rates: tuple[float, ...]  # the generator against the edge's null endpoint
    crosscheck_shares: tuple[float, ...]  # of the capacity: Locust and httperf in turn there
    crosscheck_rates: tuple[float, ...]  # single predictions a second without a capacity
    crosscheck_seconds: float  # each generator's measured window at each rate
    loop_users: int  # closed-loop users of the saturated closed/open pair (no think time)
    loop_share: float  # of the saturated throughput, the moderate pair's target load
    loop_think_seconds: float  # the moderate pair's users' mean think time
    loop_seconds: float
    settle_seconds: float  # left out at the start of the loops' and cost's runs
    cost_shares: tuple[float, ...]  # of the capacity, the rates CPU is regressed over
    cost_rates: tuple[float, ...]  # records a second to regress over without a capacity
    cost_seconds: float  # each rate's measured window, at least
    cost_calls: int  # in each rate's window, at least: a batch's rate can be a call a second
    fault_rate: float  # equal absolute load: the same requests/s offered to every wiring
    fault_share: float  # equal relative load: this share of each one's measured capacity
    fault_phases: tuple[float, float, float]  # before, during, after
    fault_repeats: int  # of each kill and pause, at each load; other faults run once
    faults: tuple[str, ...]  # labels of FAULTS
    without_resilience: tuple[str, ...]
    # Scaling: the deployments' configurations, each searched for its capacity
    monolith_replicas: tuple[int, ...]
    micro_splits: tuple[str, ...]  # names of scaling.MICRO_SPLITS
    network_widths: tuple[int, ...]  # heavier models for the model-cost experiment
    hop_rate: float  # the hop tax's steady rate, predictions a second (lab/bench/hops.py)
    hop_seconds: float  # each of its runs
    hop_rounds: int  # alternating the wirings
    deploys: tuple[str, ...]  # of deploys.DEPLOYS: a new version, and a model that does not load
    deploy_repeats: int  # of the new version's rollout; a model that does not load runs once
    deploy_seconds: tuple[float, float]  # the load before a rollout starts, and all of it
    deploy_wait_seconds: int  # for the new replicas to be healthy, before the rollout gives up


PLANS = {
    "full": Plan(
        repeats=5,
        warm_up_seconds=30,
        capacity=Method(
            slo_ms=250,
            settle_seconds=5,
            measure_seconds=30,
            calls=1000,  # a p99 from 1,000 samples
            timeout_seconds=5,  # the server's whole request budget
            start=50,
            limit=800,
            floor=5,
            resolution=0.05,
        ),
        calibration_rates=(50, 100, 200, 400, 800),  # the search's start up to its limit
        crosscheck_shares=(0.25, 0.5, 0.75),
        crosscheck_rates=(50, 100, 200),
        crosscheck_seconds=30,  # 1,000 samples for a p99 from 34/s up
        loop_users=16,
        loop_share=0.65,
        loop_think_seconds=0.5,
        loop_seconds=35,  # 30 s measured: over 1,000 single predictions (a batch p99 is n/a)
        settle_seconds=5,
        cost_shares=(0.2, 0.4, 0.6, 0.8),
        cost_rates=(10, 20, 30, 40),
        cost_seconds=30,
        cost_calls=30,
        fault_rate=40,
        fault_share=0.5,
        fault_phases=(10, 20, 20),
        fault_repeats=3,
        faults=tuple(f.label for f in FAULTS),
        without_resilience=tuple(sorted(WITHOUT_RESILIENCE)),
        monolith_replicas=(1, 2, 3),
        micro_splits=("one of each", "2 inference", "2 gateways"),
        network_widths=(1024, 2048),
        hop_rate=40,
        hop_seconds=8,
        hop_rounds=5,
        deploys=DEPLOYS,
        deploy_repeats=2,
        deploy_seconds=(10, 70),
        deploy_wait_seconds=40,
    ),
    "quick": Plan(
        repeats=1,
        warm_up_seconds=3,
        capacity=Method(
            slo_ms=250,
            settle_seconds=1,
            measure_seconds=2,
            calls=450,  # enough that Poisson rarely leaves fewer than can pass (381)
            timeout_seconds=1.5,
            start=100,  # 50/s takes 9 s for its 450 calls; a capacity under 100 is searched down to
            limit=800,
            floor=10,
            resolution=0.5,  # indicative only: no p99 is quoted from so few calls
            failure_trials=1,
        ),
        calibration_rates=(100, 400),
        crosscheck_shares=(0.5,),
        crosscheck_rates=(100,),
        crosscheck_seconds=3,
        loop_users=8,
        loop_share=0.65,
        loop_think_seconds=0.2,
        loop_seconds=4,
        settle_seconds=1,
        cost_shares=(0.25, 0.5, 0.75),
        cost_rates=(10, 20, 30),
        cost_seconds=3,
        cost_calls=6,
        fault_rate=30,
        fault_share=0.5,
        # The fault lasts 5 s: longer than the gateway's ingest timeout (2.5 s), or a paused
        # ingest only delays predictions, and resilience off would look as good as on.
        fault_phases=(2, 5, 3),
        fault_repeats=1,
        faults=("kill monolith", "pause ingest"),  # a kill and a pause: each code path once
        without_resilience=("pause ingest",),
        # One configuration beyond each deployment's own, applied and searched: the monolith as
        # 2 replicas (the microservices' "2 gateways" cost about 2 of the 17 minutes this plan
        # ran in on 2026-12-06; the full plan has it).
        monolith_replicas=(1, 2),
        micro_splits=("one of each",),
        network_widths=(1024,),
        hop_rate=20,
        hop_seconds=2,
        hop_rounds=2,  # two points of CPU each round (a run, an idle window): four to fit
        # The new version once in each wiring (about 10 s a rollout); a model that does not
        # load is refused by the same code after its wait (tests/e2e/docker/test_rollout.py).
        deploys=(NEW,),
        deploy_repeats=1,
        # A rollout took up to 18 s here; its window ends 3 s later, and 6 s before the load.
        deploy_seconds=(2, 40),
        deploy_wait_seconds=20,
    ),
}
