"""Replace one service's containers without a gap (`make rollout`), optionally with a new model.

As many new replicas start beside the old ones and must be healthy before the old ones stop,
one at a time (gunicorn finishes their requests in flight; the edge and the gateway have moved
on). Compose's own `up --force-recreate` stops every replica at once, so even a scaled service
is briefly absent that way.

With a model directory, the new replicas serve it in place of the model baked into the image:
a new model version replaces the whole monolith, and only the model tier (inference) of the
split wirings. New replicas that are not healthy in time (a model that does not load, a crash
loop) are removed, and the old ones go on serving: the rollout fails, and says so.

    python -m runtimes.rollout monolith|micro|hybrid [SERVICE] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from churnlab.domain.model_card import CARD_FILE, ONNX_FILE
from runtimes.compose import ComposeDeployment
from runtimes.paths import ROOT
from runtimes.ports import PORTS
from runtimes.shell import base_image

# What serves the model in each wiring: what a new model version replaces.
MODEL_SERVICE = {"monolith": "monolith", "micro": "inference", "hybrid": "inference"}
# Mounts CHURNLAB_MODEL_HOST_DIR over the baked model, in each wiring's model service.
MODEL_OVERRIDES = ROOT / "compose" / "overrides"
# The edge and the gateways re-resolve names and check servers every second: this long after
# the new replicas are healthy, every caller has found them (edge/haproxy.cfg, the resolvers).
FOUND_SECONDS = 3.0
STOP_SECONDS = 25  # gunicorn's graceful timeout is 20 s (churnlab/gunicorn_conf.py)


class RolloutError(RuntimeError):
    """The new replicas never became healthy; they were removed and the old ones kept."""


@dataclass(frozen=True)
class Rollout:
    """When a rollout's steps ended, in epoch seconds."""

    service: str
    replicas: int
    started: float
    healthy: float  # every new replica healthy
    finished: float  # the last old one stopped


def model_override(deployment_file: str) -> Path:
    """The Compose file that serves CHURNLAB_MODEL_HOST_DIR in this wiring's model service."""
    return MODEL_OVERRIDES / f"model-{MODEL_SERVICE[deployment_file]}.yaml"


def serve_model(deployment: ComposeDeployment, model_dir: Path) -> None:
    """From the next container started on: `model_dir` as the model, read-only."""
    override = model_override(deployment.file)
    if override not in deployment.overrides:
        deployment.overrides.append(override)
    deployment.environment["CHURNLAB_MODEL_HOST_DIR"] = str(Path(model_dir).resolve())


def serve_baked_model(deployment: ComposeDeployment) -> None:
    """From the next container started on: the model baked into the image again."""
    override = model_override(deployment.file)
    if override in deployment.overrides:
        deployment.overrides.remove(override)
    deployment.environment.pop("CHURNLAB_MODEL_HOST_DIR", None)


def roll_out(
    deployment: ComposeDeployment,
    service: str,
    *,
    model_dir: Path | None = None,
    wait_seconds: int = 120,
) -> Rollout:
    """New replicas of `service` (serving `model_dir`, if given), then the old ones retired.
    Until the new replicas are healthy, any failure (or ^C) removes them and leaves the
    deployment serving as before; once they are, an interrupted retirement leaves both."""
    old = deployment.containers(service)
    if not old:
        raise RolloutError(f"{service} has no running container")
    running = {container.id for container in old}
    for container in deployment.containers(service, stopped=True):
        if container.id not in running:  # Compose's scale would count it, and restart it as is
            container.remove(force=True)
    serving = (list(deployment.overrides), dict(deployment.environment))
    started = time.time()
    try:
        if model_dir is not None:
            serve_model(deployment, model_dir)
        done = deployment.compose(
            "up", "-d", "--no-deps", "--no-build", "--no-recreate", "--scale",
            f"{service}={2 * len(old)}", "--wait", "--wait-timeout", str(wait_seconds), service,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RolloutError(
                f"the new {service} replicas were not healthy within {wait_seconds} s and were "
                f"removed; the old ones still serve:\n{done.stderr[-1500:]}"
            )
    except BaseException:
        overrides, environment = serving  # first: whatever the removal below meets
        deployment.overrides[:] = overrides
        deployment.environment.clear()
        deployment.environment.update(environment)
        for container in deployment.containers(service, stopped=True):
            if container.id not in running:
                container.remove(force=True)
        raise
    healthy = time.time()
    time.sleep(FOUND_SECONDS)
    for container in old:
        container.stop(timeout=STOP_SECONDS)
        container.remove()
        time.sleep(1)  # the gateways re-resolve names every second
    return Rollout(service, len(old), started, healthy, time.time())


def unservable(model_dir: Path) -> str | None:
    """Why the containers could not serve this model directory, if they could not: a file
    missing, or one their user (not the directory's owner) cannot read. Said at once, where
    the new replicas would only fail their health checks after a while."""
    for name in (ONNX_FILE, CARD_FILE):
        if not (model_dir / name).is_file():
            return f"{model_dir} holds no {name}"
    for path, needs in [
        (model_dir, stat.S_IROTH | stat.S_IXOTH),
        *((model_dir / name, stat.S_IROTH) for name in (ONNX_FILE, CARD_FILE)),
    ]:
        if path.stat().st_mode & needs != needs:
            return f"{path} is closed to the containers' user: chmod o+r{'x' * path.is_dir()}"
    return None


def running(deployment_file: str) -> ComposeDeployment:
    """The deployment `make up-*` started: its compose file's own project name, its port."""
    variable, default = PORTS[deployment_file]["EDGE_PORT"]
    return ComposeDeployment(
        deployment_file,
        project=f"churnlab-{deployment_file}",
        port=os.environ.get(variable, default),
        environment={"PYTHON_IMAGE": base_image()},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtimes.rollout", description=__doc__)
    parser.add_argument("deployment", choices=sorted(MODEL_SERVICE))
    parser.add_argument("service", nargs="?", help="default: the one serving the model")
    parser.add_argument("--model-dir", type=Path, help="a model directory (make model's)")
    args = parser.parse_args(argv)
    if args.model_dir is not None and (problem := unservable(args.model_dir)):
        parser.error(problem)
    deployment = running(args.deployment)
    service = args.service or MODEL_SERVICE[args.deployment]
    print(f"==> rolling out {service} of {args.deployment}", flush=True)
    try:
        rollout = roll_out(deployment, service, model_dir=args.model_dir)
    except RolloutError as failure:
        print(f"rollout failed: {failure}", file=sys.stderr)
        return 1
    print(
        f"==> {service} rolled out: {rollout.replicas} replica(s), healthy after "
        f"{rollout.healthy - rollout.started:.1f} s, done after "
        f"{rollout.finished - rollout.started:.1f} s"
    )
    if args.model_dir is not None:
        print(
            f"==> {args.model_dir} is mounted into these containers only: a later make "
            f"up-{args.deployment} bakes models/current into its images again"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
