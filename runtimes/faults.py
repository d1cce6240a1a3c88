"""Apply a fault to one component of a running deployment, and always undo it.

    python -m runtimes.faults micro-inference-1 pause --seconds 10
    python -m runtimes.faults ingest stop --runtime local --deployment micro
    python -m runtimes.faults inference kill --runtime swarm --deployment micro

Docker runtime (docker SDK): kill (`docker kill`; undone by starting it again), crash (SIGKILL
to the container's main process from the host: Docker's restart policy brings it back, nobody
else), crashloop (the same at every start, for as long as the fault lasts), stop, pause,
restart, cpu (a CPU quota: a slow service),
latency / loss (tc netem inside the container's network namespace where the kernel has it;
otherwise loss falls back to iptables random drops and latency is refused with the reason),
blackhole (iptables DROP: connections hang instead of being refused), disconnect (from its
networks). Local runtime (supervisord): kill, stop (SIGSTOP, the pause of a process), restart,
down (a clean stop until the fault ends). Swarm (the local cluster, by service name): kill,
stop, pause, cpu, blackhole on one running task, through its node's engine.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from runtimes import swarm
from runtimes.paths import run_dir
from runtimes.shell import docker

DOCKER_FAULTS = (
    "kill",
    "crash",
    "crashloop",
    "stop",
    "pause",
    "restart",
    "cpu",
    "latency",
    "loss",
    "blackhole",
    "disconnect",
)
LOCAL_FAULTS = ("kill", "stop", "restart")
SWARM_FAULTS = ("kill", "stop", "pause", "cpu", "blackhole")


class FaultUnavailableError(RuntimeError):
    """This machine cannot inject that fault (e.g. no netem in the kernel)."""


# --- local processes under supervisord ------------------------------------------------------


class LocalFaults:
    """Faults on the processes of a local deployment (compose/local/), by program name:
    edge, monolith, gateway, ingest, features, inference1..3."""

    def __init__(self, run_dir: Path) -> None:
        from supervisor.xmlrpc import SupervisorTransport

        socket_path = Path(run_dir).resolve() / "supervisor.sock"
        transport = SupervisorTransport(None, None, f"unix://{socket_path}")
        self._supervisor = xmlrpc.client.ServerProxy("http://localhost", transport=transport)

    def _name(self, component: str) -> str:
        """supervisord's full name: `group:process` for the numbered inference processes."""
        for info in self._supervisor.supervisor.getAllProcessInfo():
            if component in (info["name"], f"{info['group']}:{info['name']}"):
                return f"{info['group']}:{info['name']}"
        raise FaultUnavailableError(f"no process named {component!r} in this deployment")

    def programs(self) -> dict[str, int]:
        """Every running program's name (inference1..3 apart) and its process id."""
        return {
            info["name"]: info["pid"]
            for info in self._supervisor.supervisor.getAllProcessInfo()
            if info["pid"]
        }

    def pids(self, component: str) -> list[int]:
        """The process, and its children (a gunicorn master's workers)."""
        master = self._supervisor.supervisor.getProcessInfo(self._name(component))["pid"]
        return [*_children(master), master] if master else []

    def signal(self, component: str, signum: int) -> None:
        for pid in self.pids(component):
            with suppress(ProcessLookupError):
                os.kill(pid, signum)

    def start(self, component: str) -> None:
        self._supervisor.supervisor.startProcess(self._name(component), True)

    def stop_cleanly(self, component: str) -> None:
        """A clean stop (SIGTERM, no restart): the component is simply not there."""
        self._supervisor.supervisor.stopProcess(self._name(component), True)

    @contextmanager
    def fault(self, component: str, kind: str) -> Iterator[None]:
        if kind == "kill":  # supervisord restarts it, as Compose's restart policy would
            self.signal(component, signal.SIGKILL)
            yield
        elif kind == "stop":
            self.signal(component, signal.SIGSTOP)
            try:
                yield
            finally:
                self.signal(component, signal.SIGCONT)
        elif kind == "restart":
            self.stop_cleanly(component)
            self.start(component)
            yield
        elif kind == "down":
            self.stop_cleanly(component)
            try:
                yield
            finally:
                self.start(component)
        else:
            raise FaultUnavailableError(f"local runtime has no '{kind}' fault: {LOCAL_FAULTS}")


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(child) for child in task.read_text().split()]
    return children


# --- containers ---------------------------------------------------------------------------


class DockerFaults:
    """Faults on containers, by name (`docker ps` names, e.g. churnlab-micro-inference-1)."""

    def __init__(self) -> None:
        import docker

        self.client = docker.from_env()

    def container(self, name: str):
        return self.client.containers.get(name)

    @contextmanager
    def fault(
        self,
        name: str,
        kind: str,
        *,
        cpus: float = 0.05,
        delay_ms: int = 200,
        loss_percent: int = 30,
        port: int = 8000,
    ) -> Iterator[None]:
        container = self.container(name)
        if kind == "kill":
            container.kill()
            try:
                yield
            finally:
                container.start()
        elif kind == "crash":
            container.reload()
            os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)
            yield
        elif kind == "crashloop":
            with _killed_at_every_start(container):
                yield
        elif kind == "stop":
            container.stop(timeout=25)
            try:
                yield
            finally:
                container.start()
        elif kind == "pause":
            container.pause()
            try:
                yield
            finally:
                container.unpause()
        elif kind == "restart":
            container.restart(timeout=25)
            yield
        elif kind == "cpu":
            # The CLI, not the SDK: the SDK's update() cannot set NanoCpus, which is what
            # Compose's `cpus:` uses, and a CPU quota conflicts with it.
            before = container.attrs["HostConfig"]["NanoCpus"] / 1e9
            _docker_update(name, cpus)
            try:
                yield
            finally:
                _docker_update(name, before)
        elif kind in ("latency", "loss", "blackhole"):
            with _network_fault(container, kind, delay_ms, loss_percent, port):
                yield
        elif kind == "disconnect":
            networks = list(container.attrs["NetworkSettings"]["Networks"])
            for network in networks:
                self.client.networks.get(network).disconnect(container)
            try:
                yield
            finally:
                for network in networks:
                    self.client.networks.get(network).connect(container)
        else:
            raise FaultUnavailableError(f"unknown fault '{kind}': {DOCKER_FAULTS}")


@contextmanager
def _killed_at_every_start(container) -> Iterator[None]:
    """A crash loop: the container's main process is killed whenever it runs, so it dies at
    each start and Docker's restart policy backs off between tries. Undone, it is let be."""
    import docker

    stop = threading.Event()

    def keep_crashing() -> None:
        while not stop.is_set():
            with suppress(ProcessLookupError, docker.errors.APIError):
                container.reload()
                if container.status == "running" and container.attrs["State"]["Pid"]:
                    os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)
            stop.wait(0.1)

    crasher = threading.Thread(target=keep_crashing, daemon=True)
    crasher.start()
    try:
        yield
    finally:
        stop.set()
        crasher.join()


def _docker_update(name: str, cpus: float) -> None:
    """`docker update --cpus`; 0 means no limit."""
    subprocess.run(
        ["docker", "update", "--cpus", f"{cpus:g}", name], check=True, capture_output=True
    )


def _in_namespace(container, *command: str) -> subprocess.CompletedProcess:
    """Run a command in the container's network namespace, from the host (nsenter)."""
    container.reload()
    pid = str(container.attrs["State"]["Pid"])
    return subprocess.run(["nsenter", "-t", pid, "-n", *command], capture_output=True, text=True)


def netem_available(container) -> bool:
    probe = _in_namespace(
        container, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms"
    )
    if probe.returncode == 0:
        _in_namespace(container, "tc", "qdisc", "del", "dev", "eth0", "root")
        return True
    return False


@contextmanager
def _network_fault(container, kind: str, delay_ms: int, loss_percent: int, port: int):
    if kind != "blackhole" and netem_available(container):
        spec = ["delay", f"{delay_ms}ms"] if kind == "latency" else ["loss", f"{loss_percent}%"]
        undo = ["tc", "qdisc", "del", "dev", "eth0", "root"]
        applied = _in_namespace(
            container, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", *spec
        )
    elif kind == "latency":
        raise FaultUnavailableError(
            "this kernel has no netem (tc qdisc netem), so latency cannot be added faithfully; "
            "use the 'cpu' fault for a slow service or 'loss' (iptables) instead"
        )
    else:
        match = ["-p", "tcp", "--dport", str(port)]
        if kind == "loss":
            match += [
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                str(loss_percent / 100),
            ]
        rule = ["INPUT", *match, "-j", "DROP"]
        undo = ["iptables", "-D", *rule]
        applied = _in_namespace(container, "iptables", "-I", *rule)
    if applied.returncode != 0:
        raise FaultUnavailableError(applied.stderr.strip())
    try:
        yield
    finally:
        _in_namespace(container, *undo)


# --- tasks on the local swarm ------------------------------------------------------------


class SwarmTaskFaults:
    """Faults on one running task of a stack's service (runtimes/swarm.py), through
    the engine of the node it runs on. Swarm replaces a killed or stopped task with a new one,
    as its restart policy says; undoing covers only what Swarm would not (pause, cpu, rules)."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment

    @contextmanager
    def fault(
        self, service: str, kind: str, *, cpus: float = 0.05, port: int = 8000
    ) -> Iterator[None]:
        try:
            _, node, container = swarm.task_container(self.deployment, service)
        except RuntimeError as error:
            raise FaultUnavailableError(str(error)) from error
        engine = functools.partial(swarm.on_node, node)
        if kind in ("kill", "stop"):
            engine(kind, container)
            yield
        elif kind == "pause":
            engine("pause", container)
            try:
                yield
            finally:
                engine("unpause", container, check=False)
        elif kind == "cpu":
            before = engine("inspect", "-f", "{{.HostConfig.NanoCpus}}", container).strip()
            engine("update", "--cpus", f"{cpus:g}", container)
            try:
                yield
            finally:
                engine("update", "--cpus", f"{int(before) / 1e9:g}", container, check=False)
        elif kind == "blackhole":
            # The task's network namespace, entered from inside its node (whose PIDs these are).
            pid = engine("inspect", "-f", "{{.State.Pid}}", container).strip()
            rule = ["INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"]
            namespace = ["exec", node, "nsenter", "-t", pid, "-n", "iptables"]
            docker(*namespace, "-I", *rule)
            try:
                yield
            finally:
                docker(*namespace, "-D", *rule, check=False)
        else:
            raise FaultUnavailableError(f"swarm tasks have no '{kind}' fault: {SWARM_FAULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "component", help="container name; supervisord program (local); service (swarm)"
    )
    parser.add_argument(
        "fault", choices=sorted({*DOCKER_FAULTS, *LOCAL_FAULTS, *SWARM_FAULTS, "down"})
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the fault lasts")
    parser.add_argument("--runtime", choices=["docker", "local", "swarm"], default="docker")
    parser.add_argument(
        "--deployment", choices=["monolith", "micro"], default="micro", help="local and swarm"
    )
    parser.add_argument("--cpus", type=float, default=0.05)
    parser.add_argument("--delay-ms", type=int, default=200)
    parser.add_argument("--loss-percent", type=int, default=30)
    args = parser.parse_args()
    if args.runtime == "local":
        injector = LocalFaults(run_dir() / args.deployment)
        fault = injector.fault(args.component, args.fault)
    elif args.runtime == "swarm":
        fault = SwarmTaskFaults(args.deployment).fault(args.component, args.fault, cpus=args.cpus)
    else:
        fault = DockerFaults().fault(
            args.component,
            args.fault,
            cpus=args.cpus,
            delay_ms=args.delay_ms,
            loss_percent=args.loss_percent,
        )
    with fault:
        print(f"{args.fault} on {args.component} for {args.seconds:g} s (undone on exit)")
        time.sleep(args.seconds)
    print("undone")


if __name__ == "__main__":
    main()
