"""Start ChurnLab deployments as local processes, for tests, benchmarks and experiments:
the monolith on gunicorn, or the microservices under supervisord, on free loopback ports."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from churnlab.adapters.log_rows import REQUEST_COUNTS
from churnlab.localrun import PORTS
from loadtests.harness.faults import LocalFaults

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A cold machine (no .pyc, images just built, CI busy) can take a long time to boot workers.
READY_TIMEOUT_SECONDS = 180.0


def wait_ready(
    url: str, timeout: float = READY_TIMEOUT_SECONDS, running: Callable[[], bool] = lambda: True
) -> None:
    """Poll /readyz until 200. Every failure before the deadline counts as "not yet": refused
    or reset connections, read timeouts while workers boot, 503s while the model loads. Only
    `running()` turning false (the server exited) ends the wait early."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not running():
            raise TimeoutError(f"{url} exited before it was ready; last: {last}")
        try:
            response = requests.get(f"{url}/readyz", timeout=5)
            if response.status_code == 200:
                return
            last = f"{response.status_code}: {response.text[:300]}"
        except requests.RequestException as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:g} s; last: {last}")


def wait_predicting(url: str, body: dict, timeout: float = 180, in_a_row: int = 10) -> None:
    """Until `in_a_row` predictions in a row are answered 200. Ready means every stage is up,
    not yet warm: on a cold machine still busy with the previous tests, the first call through
    each replica can outlast the tests' tightened stage deadline (0.5 s); ten in a row reach
    every replica. Logged as `warm-up-<n>`."""
    deadline, attempt, answered, last = time.monotonic() + timeout, 0, 0, "no answer yet"
    while time.monotonic() < deadline:
        attempt += 1
        try:
            answer = requests.post(
                f"{url}/v1/predict", json=body, headers={"X-Request-ID": f"warm-up-{attempt}"},
                timeout=10,
            )  # fmt: skip
            answered = answered + 1 if answer.status_code == 200 else 0
            if answered >= in_a_row:
                return
            last = f"{answer.status_code}: {answer.text[:300]}"
        except requests.RequestException as error:
            answered, last = 0, f"{type(error).__name__}: {error}"
        time.sleep(0.05 if answered else 0.5)
    raise TimeoutError(f"{url}: not {in_a_row} predictions in a row in {timeout:g} s; last: {last}")


@contextmanager
def gunicorn(app: str, tmp_path: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A gunicorn server with the project's config; stopped with SIGTERM afterwards."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environment = os.environ | {
        "CHURNLAB_BIND": f"127.0.0.1:{port}",
        "CHURNLAB_PREDICTION_LOG_PATH": str(tmp_path / "prediction_log.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CHURNLAB_LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:churnlab.gunicorn_conf", app],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(url)
        except TimeoutError as error:
            log = (tmp_path / "server.log").read_text()[-3000:]
            raise TimeoutError(f"{error}; exit code {process.poll()}; server log:\n{log}") from None
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        sample, value = line.rsplit(" ", 1)
        if all(f'{key}="{wanted}"' in sample for key, wanted in labels.items()):
            total += float(value)
    return total


def audit_key_file() -> Path:
    """The key for audit reads and erasure, made as `make up-*` makes it (scripts/runtime.sh)."""
    made = subprocess.run(
        [
            "bash",
            "-c",
            'source scripts/runtime.sh && ensure_audit_key >&2 && echo "$AUDIT_KEY_FILE"',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(made.stdout.strip())


def audit_key() -> str:
    return audit_key_file().read_text().strip()


# Shorter than the defaults so the tests finish quickly; the behaviour is the same.
TEST_SETTINGS = {
    "CHURNLAB_STAGE_READ_TIMEOUT_SECONDS": "0.5",
    # Longer than ingest's own write timeout would be, as by default (2.5 s).
    "CHURNLAB_INGEST_READ_TIMEOUT_SECONDS": "1.0",
    "CHURNLAB_BREAKER_FAILURES": "3",
    "CHURNLAB_BREAKER_RESET_SECONDS": "2",
    "CHURNLAB_REPLAY_EVERY_SECONDS": "0.5",
    "CHURNLAB_LOG_LEVEL": "INFO",
}


@dataclass
class LocalDeployment:
    """`make up-monolith` / `make up-micro` without Docker, on free loopback ports."""

    name: str
    run_dir: Path
    state_dir: Path
    ports: dict[str, str]
    faults: LocalFaults

    @property
    def url(self) -> str:
        """The edge: what clients use."""
        return f"http://127.0.0.1:{self.ports['EDGE_PORT']}"

    @property
    def app_url(self) -> str:
        """The monolith or the gateway itself, behind the edge."""
        return f"http://127.0.0.1:{self.ports['APP_PORT']}"

    @property
    def pid(self) -> int:
        """supervisord's pid: the root of every process of the deployment."""
        return int((self.run_dir.parent / f"{self.name}.pid").read_text())

    def stage_url(self, stage: str) -> str:
        if stage == "inference":
            return f"http://127.0.0.1:{self.ports['INFERENCE_PORT_PREFIX']}1"
        return f"http://127.0.0.1:{self.ports[stage.upper() + '_PORT']}"

    def logged_request_ids(self) -> Counter[str]:
        """Predictions in the prediction log, by correlation id."""
        with sqlite3.connect(self.state_dir / "prediction_log.sqlite3") as log:
            return Counter(dict(log.execute(REQUEST_COUNTS).fetchall()))

    def spooled(self) -> int:
        """Records in the gateway's spool, waiting for ingest."""
        path = self.state_dir / "gateway_spool.sqlite3"
        with sqlite3.connect(path) as spool:
            return spool.execute("SELECT coalesce(sum(records), 0) FROM spooled").fetchone()[0]

    def log_text(self, component: str) -> str:
        return (self.run_dir / f"{component}.log").read_text()


def _running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _log_tails(run_dir: Path, lines: int = 15) -> str:
    tails = []
    for log in sorted(run_dir.glob("*.log")) + sorted(run_dir.glob("*.out")):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        tails.append(f"--- {log.name}\n{tail}")
    return "\n".join(tails)


def free_ports(deployment: str) -> dict[str, str]:
    """A free port for each of the deployment's, and a free prefix for the inference ones."""
    chosen = {}
    for name in PORTS[deployment]:
        if name == "INFERENCE_PORT_PREFIX":
            chosen[name] = _free_prefix()
        else:
            chosen[name] = str(free_port())
    return chosen


def _free_prefix() -> str:
    """A four-digit prefix P such that ports P1, P2 and P3 are all free."""
    while True:
        prefix = str(free_port() // 10)[:4]
        if 1024 <= int(prefix + "1") < 65530 and all(
            _port_free(int(f"{prefix}{n}")) for n in (1, 2, 3)
        ):
            return prefix


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def local_deployment(name: str, base: Path, **environment: str) -> Iterator[LocalDeployment]:
    """A local deployment on free ports, with any settings given; always stopped afterwards."""
    chosen = free_ports(name)
    overrides = {variable: chosen[port] for port, (variable, _) in PORTS[name].items()}
    env = (
        os.environ
        | overrides
        | {
            "CHURNLAB_RUN_DIR": str(base / "run"),
            "CHURNLAB_STATE_DIR": str(base / "state"),
            "CHURNLAB_AUDIT_KEY_FILE": str(audit_key_file()),
        }
        | environment
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    runner = [sys.executable, "-m", "churnlab.localrun"]
    subprocess.run([*runner, "up", name], cwd=ROOT, env=env, check=True, capture_output=True)
    run_dir = base / "run" / name
    deployment = LocalDeployment(name, run_dir, base / "state", chosen, LocalFaults(run_dir))
    try:
        try:
            wait_ready(deployment.url, running=lambda: _running(deployment.pid))
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{_log_tails(run_dir)}") from None
        yield deployment
    finally:
        subprocess.run([*runner, "down", name], cwd=ROOT, env=env, check=False, capture_output=True)


# --- Compose deployments ----------------------------------------------------------------------


@dataclass
class ComposeDeployment:
    """A Compose project of ours: `monolith` or `micro`, on a port of our choosing."""

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

    def containers(self, service: str | None = None) -> list:
        """The docker SDK's containers of this project (of one service, if given)."""
        import docker

        labels = [f"com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        containers = docker.from_env().containers.list(filters={"label": labels})
        return sorted(containers, key=lambda container: container.name)

    def cpu_seconds(self) -> float:
        total = 0
        for container in self.containers():
            total += container.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"]
        return total / 1e9

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
        service = "ingest" if self.file == "micro" else "monolith"
        query = (
            "import sqlite3;"
            "c = sqlite3.connect('/var/lib/churnlab/prediction_log.sqlite3');"
            f"print('\\n'.join(f'{{r}} {{n}}' for r, n in c.execute({REQUEST_COUNTS!r})))"
        )
        listed = self.compose("exec", "-T", service, "python3", "-c", query).stdout
        return Counter({r: int(n) for r, n in (line.split() for line in listed.splitlines())})


def base_image() -> str:
    """What scripts/up.sh builds on: the official image if present, else the local one."""
    if os.environ.get("PYTHON_IMAGE"):
        return os.environ["PYTHON_IMAGE"]
    chosen = subprocess.run(
        [
            "bash",
            "-c",
            'source scripts/runtime.sh && choose_base_image >/dev/null && echo "$PYTHON_IMAGE"',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return chosen.stdout.strip()


@contextmanager
def compose_deployment(
    file: str, project: str | None = None, **environment: str
) -> Iterator[ComposeDeployment]:
    """Up on a free port under its own project name, and always down afterwards."""
    project = project or f"churnlab-test-{file}"
    port = str(free_port())
    variable = "GATEWAY_PORT" if file == "micro" else "MONOLITH_PORT"
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
