"""Compose deployments (compose/*.yaml) as `make up-monolith`, `up-micro` or `up-hybrid` start them,
under a project name and on a port of the caller's choosing, and what can be read of them."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from churnlab.adapters.log_rows import REQUEST_COUNTS
from runtimes.http import wait_ready
from runtimes.paths import ROOT
from runtimes.ports import PORTS, free_port
from runtimes.shell import base_image


@dataclass
class ComposeDeployment:
    """A Compose project of ours: `monolith`, `micro` or `hybrid`, on a port of our choosing."""

    file: str
    project: str
    port: str
    environment: dict[str, str]
    overrides: list[Path] = field(default_factory=list)  # Compose files on top of its own

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(
        self, *args: str, check: bool = True, overrides: tuple[Path, ...] = ()
    ) -> subprocess.CompletedProcess:
        """`docker compose` on this project, with any override files on top of its own; a
        failure raises with what compose printed."""
        files = [f"compose/{self.file}.yaml", *map(str, [*self.overrides, *overrides])]
        file_args = [arg for file in files for arg in ("-f", file)]
        command = ["docker", "compose", "-p", self.project, *file_args, *args]
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=os.environ | self.environment,
            check=False,
            capture_output=True,
            text=True,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-2000:]}"
                f"\n{done.stderr[-2000:]}"
            )
        return done

    def up(self, *args: str) -> None:
        """Build through the README's own script, then apply any extra `up` arguments."""
        started = subprocess.run(
            ["scripts/up.sh", self.file],
            cwd=ROOT,
            text=True,
            env=os.environ | self.environment,
            capture_output=True,
        )
        if started.returncode != 0:
            raise RuntimeError(
                f"scripts/up.sh {self.file} failed:\n{started.stdout[-3000:]}\n"
                f"{started.stderr[-3000:]}"
            )
        if args:
            self.compose("up", "-d", "--no-build", "--wait", *args)
        wait_ready(self.url)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", check=False)

    def containers(self, service: str | None = None, *, stopped: bool = False) -> list:
        """The docker SDK's running containers of this project (of one service, if given), and
        its stopped, restarting and created ones too if `stopped`."""
        import docker

        labels = [f"com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        containers = docker.from_env().containers.list(all=stopped, filters={"label": labels})
        return sorted(containers, key=lambda container: container.name)

    def cpu_seconds(self) -> float:
        return sum(self.cpu_seconds_by_container().values())

    def cpu_seconds_by_container(self) -> dict[str, float]:
        """Each container's CPU-seconds so far, read from its cgroup (instant, so it can be
        read at a window's exact edges), or from the engine where the cgroup is not visible."""
        return {container.name: container_cpu_seconds(container) for container in self.containers()}

    def memory_bytes(self) -> int:
        """Resident memory as `docker stats` shows it: usage less reclaimable file cache."""
        total = 0
        for container in self.containers():
            memory = container.stats(stream=False)["memory_stats"]
            cache = memory.get("stats", {})
            total += memory.get("usage", 0) - cache.get(
                "total_inactive_file", cache.get("inactive_file", 0)
            )
        return total

    def logged_request_ids(self) -> Counter[str]:
        """Predictions in the prediction log, by correlation id (read inside the container
        that owns the log's volume)."""
        service = "ingest" if self.file == "micro" else self.file  # the monolith, the hybrid
        query = (
            "import sqlite3;"
            "c = sqlite3.connect('/var/lib/churnlab/prediction_log.sqlite3');"
            f"print('\\n'.join(f'{{r}} {{n}}' for r, n in c.execute({REQUEST_COUNTS!r})))"
        )
        listed = self.compose("exec", "-T", service, "python3", "-c", query).stdout
        return Counter({r: int(n) for r, n in (line.split() for line in listed.splitlines())})


CGROUP_CPU = (
    ("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage", 1e9),  # cgroup v1: nanoseconds
    ("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat", 1e6),  # v2, systemd: usage_usec
    ("/sys/fs/cgroup/docker/{id}/cpu.stat", 1e6),  # v2, cgroupfs
)


def container_cpu_seconds(container) -> float:
    for pattern, per_second in CGROUP_CPU:
        path = Path(pattern.format(id=container.id))
        if path.exists():
            text = path.read_text()
            if path.name == "cpu.stat":
                text = dict(line.split() for line in text.splitlines())["usage_usec"]
            return int(text) / per_second
    return container.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9


@contextmanager
def compose_deployment(
    file: str, project: str | None = None, **environment: str
) -> Iterator[ComposeDeployment]:
    """Up on a free port under its own project name, and always down afterwards."""
    project = project or f"churnlab-test-{file}"
    port = str(free_port())
    variable, _ = PORTS[file]["EDGE_PORT"]
    env = {
        "RUNTIME": "docker",
        "COMPOSE_PROJECT_NAME": project,
        variable: port,
        "PYTHON_IMAGE": base_image(),
        **environment,
    }
    deployment = ComposeDeployment(file, project, port, env)
    # A project an interrupted run left behind would lend this one its containers and its
    # volumes, with that run's predictions in them: every deployment starts from nothing.
    deployment.down()
    try:
        deployment.up()
        yield deployment
    finally:
        deployment.down()
