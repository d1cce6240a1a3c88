"""A local multi-node Docker Swarm: nodes are containers running Debian's dockerd (image target
swarm-node), each with its own CPU and memory budget, on one bridge network with the cluster's
own registry. `make cluster-up NODES=3` / `make cluster-down`; `make up-micro TARGET=swarm`
deploys a stack onto it. Made for kernels like this one's: no IPVS (services are dnsrr, the edge
is published in host mode) and no --privileged (nodes get every capability but one).

Node 1 is the manager; it runs the edge (host ports 8000 and 8080 reach it on 127.0.0.1) and
the database's monitor. The prediction log's two PostgreSQL data nodes (compose/swarm/
database.yaml) run on two different nodes where there are two, workers first. Every worker is
labelled for inference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from churnlab.adapters.log_rows import REQUEST_COUNTS
from runtimes import cluster_secrets
from runtimes.http import wait_for, wait_ready
from runtimes.paths import ROOT
from runtimes.ports import ports
from runtimes.shell import audit_key_file, debian_image, docker

NETWORK = "churnlab-cluster"
# Fixed addresses: a node that restarts must come back where the swarm knows it. They sit in
# 198.18.0.0/15 (RFC 2544's range for benchmark networks), outside Docker's default pools:
# 172.31.250.0/24 collided in CI once Compose's networks had walked the pool up to 172.31/16.
SUBNET_PREFIX = os.environ.get("CLUSTER_SUBNET_PREFIX", "198.18.250")
REGISTRY = "churnlab-registry"
REGISTRY_PORT = os.environ.get("CLUSTER_REGISTRY_PORT", "5000")
NODE_PREFIX = "churnlab-node-"
# Inside node 1, published on the host.
ENTRY_PORTS = {"monolith": "8000", "micro": "8080", "hybrid": "8090"}
DATA_NODES = ("db-a", "db-b")  # the prediction log's PostgreSQL servers, one per node
STACK_FILES = ROOT / "compose" / "swarm"
STACK_IMAGE = re.compile(r"image: registry:5000/churnlab/([a-z-]+):latest")
STACKS_DIR = "/etc/churnlab/stacks"  # where node 1 keeps the stack files it deploys
# What compose/swarm/*.yaml read from the environment that a user may set.
STACK_SETTINGS = (
    "MONOLITH_REPLICAS", "MONOLITH_WORKERS", "GATEWAY_REPLICAS", "GATEWAY_WORKERS",
    "GATEWAY_THREADS", "HYBRID_REPLICAS", "HYBRID_WORKERS", "HYBRID_THREADS", "INGEST_REPLICAS",
    "FEATURES_REPLICAS", "INFERENCE_REPLICAS",
    "PREDICTION_LOG_SINGLE_COPY", "EDGE_RATE_LIMIT_PER_SOURCE", "EDGE_RATE_LIMIT_PER_KEY",
    "EDGE_UPLOADS_PER_SOURCE",
    # Traces: the stacks' x-tracing, as in compose/micro.yaml.
    "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SDK_DISABLED",
    # Adaptive batching at the model: the stacks' x-batching.
    "CHURNLAB_BATCHING", "CHURNLAB_BATCH_MAX_ROWS", "CHURNLAB_BATCH_MAX_WAIT_SECONDS",
)  # fmt: skip
# What a node needs beyond --cpus/--memory to run containers itself (docs §8): every
# capability but the one this host refuses, no seccomp/apparmor confinement, the host's
# cgroup tree (the node's dockerd puts its containers under the node's own cgroup).
NODE_PRIVILEGES = (
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt=seccomp=unconfined",
    "--security-opt=apparmor=unconfined",
    "--security-opt=systempaths=unconfined",
    "--cgroupns=host",
    "--volume=/sys/fs/cgroup:/sys/fs/cgroup:rw",
)


def node_name(index: int) -> str:
    return f"{NODE_PREFIX}{index}"


def nodes() -> list[str]:
    """The node containers, node 1 first."""
    names = docker("ps", "-a", "--filter", f"name=^{NODE_PREFIX}", "--format", "{{.Names}}")
    return sorted(names.split(), key=lambda name: int(name.removeprefix(NODE_PREFIX)))


def on_node(node: str, *args: str, check: bool = True, stdin: str | None = None) -> str:
    """The docker CLI of a node's own engine."""
    return docker("exec", "-i", node, "docker", *args, check=check, stdin=stdin)


def build_infrastructure() -> None:
    """The node, the registry and the database images: Debian packages, no Python."""
    for target in ("swarm-node", "registry", "postgres"):
        built = subprocess.run(
            [
                "docker", "build", "--network", "host", "--quiet",
                "--build-arg", f"DEBIAN_IMAGE={debian_image()}",
                "--target", target, "-t", f"churnlab/{target}:latest",
                "-f", "docker/Dockerfile", ".",
            ],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if built.returncode != 0:
            raise RuntimeError(f"building {target} failed:\n{built.stderr[-3000:]}")


@dataclass(frozen=True)
class Budget:
    """Each node's share of the cluster's total: the same total whatever the node count."""

    nodes: int
    total_cpus: float
    total_memory_mb: int
    cpuset: str = ""  # CPUs every node is pinned to (the experiments keep the generator apart)

    @property
    def node_cpus(self) -> float:
        return round(self.total_cpus / self.nodes, 2)

    @property
    def node_memory_mb(self) -> int:
        return self.total_memory_mb // self.nodes


def default_host_ports() -> dict[str, str]:
    """Where the host reaches each deployment's edge: the same ports as without a cluster."""
    return {deployment: ports(deployment)["EDGE_PORT"] for deployment in ENTRY_PORTS}


def entry_url(deployment: str) -> str:
    """The deployment's edge as the host reaches it: node 1's published port, over HTTPS with
    a certificate of the cluster's CA (cluster_trust)."""
    published = docker("port", node_name(1), f"{ENTRY_PORTS[deployment]}/tcp").split()[0]
    return f"https://{published}"


def cluster_trust() -> dict[str, str]:
    """The environment that makes a process, and those it starts, trust the cluster's CA
    alone: requests reads REQUESTS_CA_BUNDLE, Python's default TLS contexts (Locust's) read
    SSL_CERT_FILE, and curl CURL_CA_BUNDLE. For the tests and the lab, whose every call goes to
    127.0.0.1; a user's own client takes the file (curl --cacert var/secrets/cluster/ca.crt)."""
    authority = str(cluster_secrets.ensure() / "ca.crt")
    return dict.fromkeys(("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"), authority)


def up(budget: Budget, host_ports: dict[str, str] | None = None) -> None:
    """Nodes, registry and swarm, from nothing (an existing cluster is taken down first)."""
    host_ports = host_ports or default_host_ports()
    down()
    cluster_secrets.make()
    build_infrastructure()
    docker("network", "create", "--subnet", f"{SUBNET_PREFIX}.0/24", NETWORK)
    docker(
        "run", "-d", "--name", REGISTRY, "--network", NETWORK, "--network-alias", "registry",
        "--ip", f"{SUBNET_PREFIX}.2",
        "--publish", f"127.0.0.1:{REGISTRY_PORT}:5000", "--restart", "unless-stopped",
        "churnlab/registry:latest",
    )  # fmt: skip
    for index in range(1, budget.nodes + 1):
        published = (
            [f"--publish=127.0.0.1:{host_ports[d]}:{ENTRY_PORTS[d]}" for d in ENTRY_PORTS]
            if index == 1
            else []
        )
        docker(
            "run", "-d", "--name", node_name(index), "--hostname", f"node-{index}",
            "--network", NETWORK, "--ip", f"{SUBNET_PREFIX}.{10 + index}",
            *NODE_PRIVILEGES, *published,
            f"--cpus={budget.node_cpus}", f"--memory={budget.node_memory_mb}m",
            *([f"--cpuset-cpus={budget.cpuset}"] if budget.cpuset else []),
            "churnlab/swarm-node:latest",
        )  # fmt: skip
    for node in nodes():
        wait_for(
            lambda node=node: on_node(node, "info", "--format", "{{.ServerVersion}}"),
            f"dockerd on {node}",
        )
    manager = node_name(1)
    address = json.loads(docker("inspect", manager))[0]["NetworkSettings"]["Networks"][NETWORK]
    address = address["IPAddress"]
    on_node(manager, "swarm", "init", "--advertise-addr", address)
    token = on_node(manager, "swarm", "join-token", "-q", "worker").strip()
    for node in nodes()[1:]:
        on_node(node, "swarm", "join", "--token", token, f"{address}:2377")
    label_nodes()


def label_nodes() -> None:
    """Node 1: the edge and the database's monitor. The two data nodes on the last two nodes
    (nodes 2 and 3 of three; 1 and 2 of two; both on node 1 of one). Inference on every other
    node, and on node 1 too in a cluster of one or two (so a lost worker's inference has
    somewhere to go)."""
    hostnames = sorted(node_states(), key=lambda name: int(name.removeprefix("node-")))
    last_two = hostnames[-2:] if len(hostnames) > 1 else hostnames * 2
    data_nodes = dict(zip(DATA_NODES, last_two, strict=True))
    for hostname in hostnames:
        first = hostname == "node-1"
        labels = ["churnlab.edge=true"] if first else []
        if not first or len(hostnames) <= 2:
            labels.append("churnlab.inference=true")
        labels += [f"churnlab.{db}=true" for db, node in data_nodes.items() if node == hostname]
        for label in labels:
            on_node(node_name(1), "node", "update", "--label-add", label, hostname)


def down() -> None:
    for name in [*nodes(), REGISTRY]:
        docker("rm", "-f", "-v", name, check=False)
    docker("network", "rm", NETWORK, check=False)
    shutil.rmtree(cluster_secrets.DIRECTORY, ignore_errors=True)


def push_images(*deployments: str) -> None:
    """The images the deployments' stacks name, database.yaml's included, into the cluster's
    registry, where every node pulls them (each built by `scripts/up.sh <deployment>`)."""
    stacks = [STACK_FILES / "database.yaml", *(STACK_FILES / f"{d}.yaml" for d in deployments)]
    named = {image for stack in stacks for image in STACK_IMAGE.findall(stack.read_text())}
    for image in sorted(named):
        local = f"127.0.0.1:{REGISTRY_PORT}/churnlab/{image}:latest"
        docker("tag", f"churnlab/{image}:latest", local)
        docker("push", "--quiet", local)


def deploy(deployment: str, **environment: str) -> str:
    """The stack of compose/swarm/<deployment>.yaml with its database (database.yaml), from
    node 1; waits until it answers."""
    # A container's CPU limit may not exceed its node's (cgroup v1 refuses the quota): the
    # stacks cap every service at NODE_CPUS, the smallest node's share.
    node_cpus = min(json.loads(docker("inspect", n))[0]["HostConfig"]["NanoCpus"] for n in nodes())
    environment = {
        "NODE_CPUS": f"{node_cpus / 1e9:g}",
        "EDGE_CPUS": f"{min(0.5, node_cpus / 1e9):g}",
        # A user's choices (e.g. PREDICTION_LOG_SINGLE_COPY=true make up-monolith TARGET=swarm).
        **{name: os.environ[name] for name in STACK_SETTINGS if name in os.environ},
        **environment,
    }
    docker("exec", node_name(1), "mkdir", "-p", f"{STACKS_DIR}/secrets")
    docker("cp", f"{STACK_FILES}/.", f"{node_name(1)}:{STACKS_DIR}")
    # Swarm keeps the secrets in its store and mounts each in the tasks that name it.
    docker("cp", str(audit_key_file()), f"{node_name(1)}:{STACKS_DIR}/secrets/audit-key")
    environment |= _api_keys(f"{STACKS_DIR}/secrets/api-keys")
    settings = [f"--env={key}={value}" for key, value in environment.items()]
    database = cluster_secrets.ensure()
    docker("exec", node_name(1), "mkdir", "-p", f"{STACKS_DIR}/secrets/cluster")
    for name in cluster_secrets.DEPLOYED:
        docker("cp", str(database / name), f"{node_name(1)}:{STACKS_DIR}/secrets/cluster/{name}")
    try:
        docker(
            "exec", *settings, node_name(1), "docker", "stack", "deploy",
            "--prune", "--resolve-image", "always",
            "-c", f"{STACKS_DIR}/database.yaml", "-c", f"{STACKS_DIR}/{deployment}.yaml",
            f"churnlab-{deployment}",
        )  # fmt: skip
    finally:  # the swarm's store has them now: no copy stays on node 1's disk
        docker("exec", node_name(1), "rm", "-rf", f"{STACKS_DIR}/secrets")
    os.environ.update(cluster_trust())
    wait_converged(deployment)
    url = entry_url(deployment)
    wait_ready(url, timeout=600)  # a cold swarm on a loaded machine: images, database, keepers
    wait_replicated(deployment)  # up means replicated
    return url


def wait_converged(deployment: str, timeout: float = 300) -> None:
    """Until no service of the stack is mid-update: while one is, a redeploy's old tasks still
    answer (an edge asking no key, after a deploy that asks one)."""

    def settled() -> bool:
        stack = f"churnlab-{deployment}"
        names = on_node(node_name(1), "stack", "services", "-q", stack).split()
        updates = on_node(
            node_name(1), "service", "inspect", "--format",
            "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", *names,
        ).split()  # fmt: skip
        tasks = on_node(
            node_name(1), "stack", "ps", stack, "--filter", "desired-state=running",
            "--format", "{{.CurrentState}}",
        ).splitlines()  # fmt: skip
        running = all(state.startswith("Running") for state in tasks)
        return running and not {"updating", "rollback_started"} & set(updates)

    wait_for(settled, f"{deployment}'s services updated", timeout=timeout)


def _api_keys(target: str) -> dict[str, str]:
    """The edge's key file at `target` on node 1, and the stack's settings for it: with
    API_KEYS=1 (scripts/up.sh), the file make up-* made or API_KEYS_FILE names, asked of every
    call; otherwise a file of no key (a secret cannot be empty), and no key asked. A secret
    cannot change, so each file's digest names its own."""
    if os.environ.get("API_KEYS") != "1":
        docker("exec", node_name(1), "sh", "-c", f"echo '# no key asked' >{target}")
        return {"EDGE_API_KEYS_FILE": "", "API_KEYS_DIGEST": "none"}
    keys = Path(os.environ["API_KEYS_FILE"])
    docker("cp", str(keys), f"{node_name(1)}:{target}")
    return {
        "EDGE_API_KEYS_FILE": "/run/secrets/api-keys",
        "API_KEYS_DIGEST": hashlib.sha256(keys.read_bytes()).hexdigest()[:12],
    }


def remove(deployment: str) -> None:
    """The stack, its network and its volumes (the database's: a new deploy starts a new
    log), before returning: a new deploy of the same name would otherwise race them."""
    stack = f"churnlab-{deployment}"
    on_node(node_name(1), "stack", "rm", stack, check=False)
    wait_for(
        lambda: stack not in on_node(node_name(1), "network", "ls", "--format", "{{.Name}}"),
        f"{stack} removed",
    )
    for node in nodes():
        wait_for(lambda node=node: _volumes_removed(node, stack), f"{stack} volumes on {node}")


def _volumes_removed(node: str, stack: str) -> bool:
    """Removes the stack's volumes on the node; True once none is left (a volume stays in use
    until its task's container is gone)."""
    label = f"label=com.docker.stack.namespace={stack}"
    volumes = on_node(node, "volume", "ls", "-q", "--filter", label).split()
    if volumes:
        on_node(node, "volume", "rm", *volumes, check=False)
    return not volumes


def rebalance(deployment: str, service: str) -> None:
    """Replaces the service's tasks one by one, which the scheduler spreads over the nodes."""
    on_node(
        node_name(1), "service", "update", "--force", "--quiet", f"churnlab-{deployment}_{service}"
    )


def tasks(deployment: str, service: str) -> list[dict]:
    """The service's tasks that are meant to run, with their node and state."""
    listed = on_node(
        node_name(1), "service", "ps", f"churnlab-{deployment}_{service}", "--no-trunc",
        "--filter", "desired-state=running", "--format", "{{json .}}",
    )  # fmt: skip
    return [json.loads(line) for line in listed.splitlines() if line.strip()]


def replicas(deployment: str, service: str) -> int:
    """How many tasks the service is meant to run (its spec, not the tasks under way: a
    start-first update briefly runs one more)."""
    spec = on_node(
        node_name(1), "service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}",
        f"churnlab-{deployment}_{service}",
    )  # fmt: skip
    return int(spec.strip())


def node_states() -> dict[str, str]:
    """hostname -> Ready/Down, and Active/Drain/Pause, as the manager sees them."""
    listed = on_node(node_name(1), "node", "ls", "--format", "{{json .}}")
    return {
        (member := json.loads(line))["Hostname"]: f"{member['Status']}/{member['Availability']}"
        for line in listed.splitlines()
        if line.strip()
    }


@dataclass(frozen=True)
class Stack:
    """A deployment on the swarm as the experiments use one: where to send, what was logged.
    The log is read on every node but `lost_nodes`: a lost node's disk is lost."""

    deployment: str  # monolith | micro
    lost_nodes: frozenset[str] = frozenset()  # hostnames, e.g. node-2

    @property
    def url(self) -> str:
        return entry_url(self.deployment)

    def logged_request_ids(self) -> Counter[str]:
        return logged_request_ids(self.deployment, self.lost_nodes)


def task_container(deployment: str, service: str) -> tuple[str, str, str]:
    """(hostname, node container, container id) of the service's first running task."""
    for task in tasks(deployment, service):
        if task["CurrentState"].startswith("Running"):
            node = node_name(int(task["Node"].removeprefix("node-")))
            label = f"label=com.docker.swarm.task.id={task['ID']}"
            found = on_node(node, "ps", "-q", "--filter", label).split()
            if found:
                return task["Node"], node, found[0]
    raise RuntimeError(f"no running task of {service} in {deployment}")


def in_task(deployment: str, service: str, *command: str) -> tuple[str, str]:
    """Runs `command` in the service's running container; (its node's hostname, output)."""
    hostname, node, container = task_container(deployment, service)
    return hostname, on_node(node, "exec", container, *command)


def logged_request_ids(deployment: str, lost_nodes: frozenset[str] = frozenset()) -> Counter[str]:
    """Predictions by correlation id on the data nodes that are up, except on `lost_nodes`:
    what survives their loss (a standby has every record the primary acknowledged; of two
    copies, the larger count is kept)."""
    logged: Counter[str] = Counter()
    for data_node in DATA_NODES:
        try:
            node, listed = in_task(
                deployment, data_node,
                "psql", "-qAt", "-F", " ", "-d", "churnlab", "-c", REQUEST_COUNTS,
            )  # fmt: skip
        except RuntimeError:  # down, or no table yet: nothing read there
            continue
        if node not in lost_nodes:
            logged |= Counter(
                {r: int(n) for r, n in (line.split() for line in listed.splitlines())}
            )
    return logged


def data_node_hosts(deployment: str) -> dict[str, str]:
    """Data node -> the hostname of the node it runs on."""
    return {
        data_node: task["Node"]
        for data_node in DATA_NODES
        for task in tasks(deployment, data_node)
        if task["CurrentState"].startswith("Running")
    }


def primary_node(deployment: str, roles: dict[str, str] | None = None) -> str | None:
    """The hostname of the node whose data node takes writes now, if any."""
    hosts = data_node_hosts(deployment)
    writable = ("primary", "wait_primary", "single")
    roles = database_roles(deployment) if roles is None else roles
    primaries = [hosts.get(name) for name, role in roles.items() if role in writable]
    return primaries[0] if len(primaries) == 1 else None


def promote_on(deployment: str, hostname: str) -> bool:
    """Makes the data node on `hostname` the primary (a switchover), if it is not already;
    whether it did."""
    on_host = [name for name, host in data_node_hosts(deployment).items() if host == hostname]
    if not on_host or primary_node(deployment) == hostname:
        return False
    in_task(deployment, on_host[0], "pg_autoctl", "perform", "promotion", "--name", on_host[0])
    wait_for(lambda: database_roles(deployment).get(on_host[0]) == "primary", "promotion")
    return True


def wait_replicated(deployment: str, timeout: float = 300) -> None:
    """Until the database has a primary and a caught-up synchronous standby: before that (a
    new stack, or a data node rejoining after a fault) the primary acknowledges alone."""
    wait_for(
        lambda: (
            sorted(database_roles(deployment, reached=True).values()) == ["primary", "secondary"]
        ),
        f"{deployment}'s database replicated",
        timeout=timeout,
    )


def database_roles(deployment: str, *, reached: bool = False) -> dict[str, str]:
    """Data node -> its state as pg_auto_failover's monitor assigned it (primary, secondary,
    wait_primary...). With `reached`, a node the keeper has not yet moved to its assigned
    state shows as "<reported> -> <assigned>": a primary assigned again reports primary only
    once it requires its standby (synchronous_standby_names) again."""
    _, shown = in_task(deployment, "db-monitor", "pg_autoctl", "show", "state", "--json")
    roles = {}
    for node in json.loads(shown):
        assigned, reported = node["assigned_group_state"], node["current_group_state"]
        roles[node["nodename"]] = (
            assigned if not reached or reported == assigned else f"{reported} -> {assigned}"
        )
    return roles


@contextmanager
def node_fault(node: str, kind: str) -> Iterator[None]:
    """kill (the node's container), pause (frozen: its heartbeats stop), drain (the manager
    moves its tasks away), cut (its network dropped, from inside its own namespace)."""
    if kind == "kill":
        docker("kill", node)
        try:
            yield
        finally:
            docker("start", node)
    elif kind == "pause":
        docker("pause", node)
        try:
            yield
        finally:
            docker("unpause", node)
    elif kind == "drain":
        hostname = node.removeprefix("churnlab-")
        on_node(node_name(1), "node", "update", "--availability", "drain", hostname)
        try:
            yield
        finally:
            on_node(node_name(1), "node", "update", "--availability", "active", hostname)
    elif kind == "cut":
        rules = [("INPUT", "-i"), ("OUTPUT", "-o")]
        for chain, direction in rules:
            docker("exec", node, "iptables", "-I", chain, direction, "eth0", "-j", "DROP")
        try:
            yield
        finally:
            for chain, direction in rules:
                docker("exec", node, "iptables", "-D", chain, direction, "eth0", "-j", "DROP")
    else:
        raise ValueError(f"unknown node fault '{kind}': kill, pause, drain or cut")


def describe() -> str:
    lines = [f"{'node':<18}{'cpus':>6}{'memory':>10}  swarm"]
    states = node_states() if nodes() else {}
    for node in nodes():
        host = json.loads(docker("inspect", node))[0]["HostConfig"]
        hostname = node.removeprefix("churnlab-")
        lines.append(
            f"{node:<18}{host['NanoCpus'] / 1e9:>6g}{host['Memory'] // 2**20:>8}Mi"
            f"  {states.get(hostname, '?')}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser(
        "up", help="nodes, registry and swarm; --cpus and --memory-mb are totals"
    )
    environment = os.environ.get
    start.add_argument("--nodes", type=int, default=int(environment("NODES", "3")))
    start.add_argument(
        "--cpus", type=float, default=float(environment("CLUSTER_CPUS", os.cpu_count() or 2))
    )
    start.add_argument("--memory-mb", type=int, default=int(environment("CLUSTER_MEMORY_MB", 6144)))
    sub.add_parser("down", help="remove nodes, registry and network")
    sub.add_parser("status", help="the nodes, their budgets and swarm states")
    sub.add_parser("remove", help="remove both stacks, keep the cluster")
    fault = sub.add_parser("fault", help="a node fault for --seconds, then undone")
    fault.add_argument("node", help="e.g. node-2")
    fault.add_argument("kind", choices=["kill", "pause", "drain", "cut"])
    fault.add_argument("--seconds", type=float, default=30)
    stack = sub.add_parser("deploy", help="push the images and deploy a stack")
    stack.add_argument("deployment", choices=sorted(ENTRY_PORTS))
    args = parser.parse_args()
    if args.command == "up":
        up(Budget(args.nodes, args.cpus, args.memory_mb))
        print(describe())
    elif args.command == "down":
        down()
    elif args.command == "status":
        print(describe())
    elif args.command == "remove":
        for deployment in ENTRY_PORTS:
            remove(deployment)
    elif args.command == "fault":
        with node_fault(f"churnlab-{args.node}", args.kind):
            print(f"==> {args.kind} {args.node} for {args.seconds:g} s")
            time.sleep(args.seconds)
        print(describe())
    else:
        push_images(args.deployment)
        print(f"==> {args.deployment} on the swarm at {deploy(args.deployment)}")


if __name__ == "__main__":
    sys.exit(main())
