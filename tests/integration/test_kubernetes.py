"""The Kubernetes manifests (kubernetes/), rendered by Kustomize and validated offline against the
Kubernetes 1.32 OpenAPI schemas; and what they promise: probes that mean what the containers'
healthchecks mean, resources, disruption budgets, inference autoscaling, only the edge reachable
from outside. No cluster runs here: this checks the manifests, not a rollout."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from runtimes import kubernetes
from runtimes.paths import ROOT

KUBERNETES_VERSION = "1.32.0"
APPS = {
    "monolith": {"monolith"},
    "micro": {"gateway", "ingest", "features", "inference"},
    "hybrid": {"hybrid", "inference"},
}
ENTRY = {"monolith": "monolith", "micro": "gateway", "hybrid": "hybrid"}
IMAGES = [f"churnlab/{name}" for name in {"edge"}.union(*APPS.values())]
# Where each wiring keeps what must outlive a replica: the log, or the gateway's spool.
STATEFUL = {"monolith": {"monolith"}, "micro": {"gateway", "ingest"}, "hybrid": {"hybrid"}}
REGISTRY = "registry.example/team"


def render(directory: Path) -> list[dict]:
    if shutil.which("kubectl") is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl (with Kustomize) is missing on this CI machine")
        pytest.skip("kubectl not installed: it renders the Kustomize overlays")
    return kubernetes.render(directory)


@pytest.fixture(scope="module", params=sorted(APPS))
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(ROOT / "kubernetes" / request.param)


@pytest.fixture(scope="module")
def pinned(overlay, tmp_path_factory) -> tuple[str, list[dict]]:
    """The overlay as `make k8s-manifests REGISTRY=registry.example/team` writes it, with digests
    made up here (the swarm's tests push to a real registry and check the digests it serves)."""
    name, _ = overlay
    digests = {image: f"sha256:{hashlib.sha256(image.encode()).hexdigest()}" for image in IMAGES}
    directory = kubernetes.write_pinned(name, REGISTRY, digests, tmp_path_factory.mktemp("pinned"))
    return name, render(directory)


def of_kind(documents: list[dict], *kinds: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] in kinds}


def image_healthcheck_paths() -> dict[str, str]:
    """Each image target's healthcheck path, from the Dockerfile (the runtime's, unless the
    target sets its own)."""
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    default = re.search(r"CHURNLAB_HEALTHCHECK_PATH=(\S+)", dockerfile).group(1)
    paths = {}
    for target, body in re.findall(r"FROM runtime AS (\w+)\n(.*?)(?=\nFROM |\Z)", dockerfile, re.S):
        own = re.search(r"CHURNLAB_HEALTHCHECK_PATH=(\S+)", body)
        paths[target] = own.group(1) if own else default
    return paths


def test_checkov_finds_nothing(pinned, tmp_path):
    """checkov's Kubernetes policies (about 90 of them: probes, limits, the service account
    token, host namespaces, images by digest...) on the overlay as `make k8s-manifests` writes
    it, with checkov as scripts/install-tools.sh installs it. (The templates in kubernetes/ fail
    only CKV_K8S_14 and CKV_K8S_43: their images are `:latest` tags without a digest.)"""
    checkov = shutil.which("checkov")
    if checkov is None:
        if os.environ.get("CI"):
            pytest.fail("checkov is missing on this CI machine (scripts/install-tools.sh)")
        pytest.skip("checkov not installed: scripts/install-tools.sh checkov")
    name, documents = pinned
    rendered = tmp_path / f"{name}.yaml"
    rendered.write_text(yaml.safe_dump_all(documents))
    scan = [checkov, "-f", str(rendered), "--framework", "kubernetes", "-o", "json"]
    report = json.loads(subprocess.run(scan, capture_output=True, text=True, check=False).stdout)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] >= 100  # it ran its checks (176 monolith, 440 micro)
    assert not {check["check_id"] for check in report["results"]["failed_checks"]}


def test_pinning_changes_only_the_images_and_adds_the_edge_s_credentials(overlay, pinned):
    (name, templates), (_, documents) = copy.deepcopy(overlay), copy.deepcopy(pinned)
    secrets = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Secret"}
    documents = [d for d in documents if d["kind"] != "Secret"]
    assert len(documents) == len(templates)
    images = {container["image"] for container in kubernetes.containers(documents)}
    assert images == {
        f"{REGISTRY}/{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
        for image in kubernetes.image_names(name)
    }
    for container in kubernetes.containers(templates):
        container["image"] = "pinned"
    for container in kubernetes.containers(documents):
        container["image"] = "pinned"
    # The generated Secrets, named by their content's hash, in the overlay's namespace; the
    # edge's volumes name them so.
    [namespace] = of_kind(templates, "Namespace")
    generated = {name.rsplit("-", 1)[0]: secret for name, secret in secrets.items()}
    assert generated["edge-tls"]["type"] == "kubernetes.io/tls"
    assert set(generated["edge-tls"]["data"]) == {"tls.crt", "tls.key"}
    assert set(generated["churnlab-api-keys"]["data"]) == {"api-keys"}
    assert {s["metadata"]["namespace"] for s in secrets.values()} == {namespace}
    edge = of_kind(documents, "Deployment")["edge"]["spec"]["template"]["spec"]
    for volume in edge["volumes"]:
        if "secret" in volume:
            assert volume["secret"]["secretName"] in secrets
            volume["secret"]["secretName"] = volume["secret"]["secretName"].rsplit("-", 1)[0]
    assert documents == templates


def test_the_edge_s_generated_certificate_and_key_are_what_it_is_told(tmp_path):
    """What `make k8s-manifests` writes for the edge: a certificate for the names clients use,
    under the CA beside it, whose key is gone; one API key; and nothing remade on a rerun."""
    kubernetes.edge_credentials(tmp_path, "edge.example.org,10.0.0.7")
    verify = ["openssl", "verify", "-CAfile", tmp_path / "ca.crt"]
    for name in ("edge.example.org", "10.0.0.7"):
        check = "-verify_ip" if name[0].isdigit() else "-verify_hostname"
        assert subprocess.run([*verify, check, name, tmp_path / "tls.crt"]).returncode == 0
    assert subprocess.run([*verify, "-verify_hostname", "other.org", tmp_path / "tls.crt"],
                          capture_output=True).returncode != 0  # fmt: skip
    assert not (tmp_path / "ca.key").exists()
    [key] = (tmp_path / "api-keys").read_text().split()
    assert len(key) >= 40
    before = {f: (tmp_path / f).read_bytes() for f in ("tls.crt", "tls.key", "api-keys")}
    kubernetes.edge_credentials(tmp_path, "elsewhere.org")
    assert {f: (tmp_path / f).read_bytes() for f in before} == before


def test_every_document_is_valid_kubernetes(overlay):
    _, documents = overlay
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_every_app_workload_runs_its_compose_image_hardened_with_resources(overlay):
    name, documents = overlay
    workloads = of_kind(documents, "Deployment", "StatefulSet")
    assert set(workloads) == APPS[name] | {"edge"}
    for workload in workloads.values():
        pod = workload["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["image"] == f"churnlab/{workload['metadata']['name']}:latest"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])


def test_traces_are_off_unless_an_optional_config_map_turns_them_on(overlay):
    """Each app reads the OTEL_* variables from the ConfigMap churnlab-tracing, if there is one;
    none sets them itself, so that without it no trace is sent anywhere."""
    name, documents = overlay
    workloads = of_kind(documents, "Deployment", "StatefulSet")
    assert not of_kind(documents, "ConfigMap").get("churnlab-tracing")
    for app in APPS[name]:
        [container] = workloads[app]["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [
            {"configMapRef": {"name": "churnlab-tracing", "optional": True}}
        ]
        assert not [e for e in container.get("env", []) if e["name"].startswith("OTEL_")]


def test_probes_mean_what_the_image_healthchecks_mean(overlay):
    name, documents = overlay
    healthchecks = image_healthcheck_paths()
    for app in APPS[name]:
        [container] = of_kind(documents, "Deployment", "StatefulSet")[app]["spec"]["template"][
            "spec"
        ]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == healthchecks[app], app
        assert container["readinessProbe"]["timeoutSeconds"] <= 1
        if "startupProbe" in container:  # it must wait for the model, as readiness does
            assert container["startupProbe"]["httpGet"]["path"] == healthchecks[app], app


def test_stateful_stages_keep_their_data_on_a_volume_of_their_own(overlay):
    name, documents = overlay
    stateful = of_kind(documents, "StatefulSet")
    assert set(stateful) == STATEFUL[name]
    for workload in stateful.values():
        [claim] = workload["spec"]["volumeClaimTemplates"]
        [container] = workload["spec"]["template"]["spec"]["containers"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts[claim["metadata"]["name"]] == "/var/lib/churnlab"


def test_the_edge_finds_the_entry_through_a_headless_service(overlay):
    name, documents = overlay
    namespace = of_kind(documents, "Namespace")
    [namespace_name] = namespace
    edge = of_kind(documents, "Deployment")["edge"]["spec"]["template"]["spec"]["containers"][0]
    environment = {variable["name"]: variable["value"] for variable in edge["env"]}
    entry = ENTRY[name]
    assert environment["EDGE_UPSTREAM"] == f"{entry}.{namespace_name}.svc.cluster.local:8000"
    services = of_kind(documents, "Service")
    for app in APPS[name]:
        assert services[app]["spec"]["clusterIP"] == "None", app
    assert services["edge"]["spec"].get("clusterIP") != "None"


def test_disruption_budgets_keep_a_replica_of_every_scaled_workload(overlay):
    _, documents = overlay
    budgets = of_kind(documents, "PodDisruptionBudget")
    for name, workload in of_kind(documents, "Deployment", "StatefulSet").items():
        if workload["spec"].get("replicas", 1) > 1:
            assert budgets[name]["spec"]["minAvailable"] == 1, name
            assert budgets[name]["spec"]["selector"] == workload["spec"]["selector"]


# Who may open a connection to whom, as designed; "outside" is any other namespace or address.
DESIGNED_HOPS = {
    "monolith": {("outside", "edge"), ("edge", "monolith")},
    "micro": {("outside", "edge"), ("edge", "gateway")}
    | {("gateway", stage) for stage in ("ingest", "features", "inference")},
    "hybrid": {("outside", "edge"), ("edge", "hybrid"), ("hybrid", "inference")},
}
OUTSIDE = "outside"
APP_PORT, DNS_PORT = 8000, 53


def selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        inside = labels.get(expression["key"]) in expression["values"]
        if inside != (expression["operator"] == "In"):
            return False
    return True


def peer_matches(peer: dict, labels: dict | None) -> bool:
    """`labels` None is a peer outside the namespace: only a namespace or address block names it."""
    if labels is None:
        return "namespaceSelector" in peer or "ipBlock" in peer
    return "namespaceSelector" not in peer and selects(peer.get("podSelector", {}), labels)


def admits(policies: list[dict], direction: str, own: dict, other: dict | None, port: int) -> bool:
    """Whether the policies selecting a pod (labels `own`) let it take (Ingress) or open
    (Egress) a connection from or to `other` on `port`, as Kubernetes evaluates them."""
    peers = "from" if direction == "Ingress" else "to"
    selecting = [
        p for p in policies
        if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], own)
    ]  # fmt: skip
    if not selecting:
        return True
    return any(
        (peers not in rule or any(peer_matches(peer, other) for peer in rule[peers]))
        and ("ports" not in rule or any(entry["port"] == port for entry in rule["ports"]))
        for policy in selecting
        for rule in policy["spec"].get(direction.lower(), [])
    )


def test_network_policies_allow_only_the_designed_hops(overlay):
    """Every pod denied by default both ways; then only the edge from outside, each hop of the
    design, and DNS out. A Prometheus elsewhere would need its own rule (base's comment)."""
    name, documents = overlay
    policies = list(of_kind(documents, "NetworkPolicy").values())
    pods = {
        pod: workload["spec"]["template"]["metadata"]["labels"]
        for pod, workload in of_kind(documents, "Deployment", "StatefulSet").items()
    }

    def allowed(source: str, target: str, port: int) -> bool:
        source_labels, target_labels = pods.get(source), pods.get(target)
        opens = source == OUTSIDE or admits(policies, "Egress", pods[source], target_labels, port)
        takes = target == OUTSIDE or admits(policies, "Ingress", pods[target], source_labels, port)
        return opens and takes

    hops = {
        (source, target)
        for source in [OUTSIDE, *pods]
        for target in pods
        if source != target and allowed(source, target, APP_PORT)
    }
    assert hops == DESIGNED_HOPS[name]
    for pod in pods:
        assert not allowed(pod, OUTSIDE, APP_PORT), f"{pod} may call out of the namespace"
        assert allowed(pod, OUTSIDE, DNS_PORT), f"{pod} cannot resolve names"


def test_every_pod_meets_the_restricted_pod_security_profile(overlay):
    """The "restricted" profile's rules (Kubernetes Pod Security Standards), which the
    namespace's label makes the API server enforce: a pod that breaks one is refused."""
    _, documents = overlay
    [namespace] = of_kind(documents, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                       "persistentVolumeClaim", "projected", "secret"}  # fmt: skip
    for workload in of_kind(documents, "Deployment", "StatefulSet").values():
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")), name
        for volume in pod.get("volumes", []):
            assert set(volume) - {"name"} <= allowed_volumes, (name, volume)
        pod_context = pod.get("securityContext", {})
        for container in pod["containers"] + pod.get("initContainers", []):
            context = pod_context | container.get("securityContext", {})
            assert context.get("runAsNonRoot") is True, name
            # The kubelet can check runAsNonRoot only against a number: a name fails to start.
            assert isinstance(context.get("runAsUser"), int), name
            assert context["runAsUser"] > 0, name
            assert context["seccompProfile"]["type"] in {"RuntimeDefault", "Localhost"}, name
            assert context.get("allowPrivilegeEscalation") is False, name
            assert not context.get("privileged"), name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert set(context["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}, name
            assert not any(port.get("hostPort") for port in container.get("ports", [])), name


def test_the_edge_image_runs_as_the_user_its_pod_names():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    edge_stage = dockerfile.split("FROM ${DEBIAN_IMAGE} AS edge", 1)[1].split("\nFROM ", 1)[0]
    [user] = re.findall(r"^USER (\S+)$", edge_stage, re.M)
    edge = yaml.safe_load_all((ROOT / "kubernetes" / "base" / "edge.yaml").read_text())
    context = next(edge)["spec"]["template"]["spec"]["securityContext"]
    assert user == f"{context['runAsUser']}:{context['runAsGroup']}"


def test_the_model_tier_scales_on_cpu_wherever_it_runs_apart(overlay):
    name, documents = overlay
    autoscalers = of_kind(documents, "HorizontalPodAutoscaler")
    if name == "monolith":
        assert autoscalers == {}
        return
    target = autoscalers["inference"]["spec"]
    assert target["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "inference",
    }
    assert target["minReplicas"] == 2 < target["maxReplicas"]
    [metric] = target["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_every_mount_names_a_volume_the_pod_has(overlay):
    """Beyond the schemas: a mount of a volume nobody declared is valid YAML and a pod that
    never starts."""
    _, documents = overlay
    for workload in of_kind(documents, "Deployment", "StatefulSet").values():
        pod = workload["spec"]["template"]["spec"]
        declared = {volume["name"] for volume in pod.get("volumes", [])} | {
            claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates", [])
        }
        for container in pod["containers"]:
            mounted = {mount["name"] for mount in container.get("volumeMounts", [])}
            assert mounted <= declared, (workload["metadata"]["name"], mounted - declared)


def test_the_audit_key_is_an_optional_secret_and_a_spool_outlives_its_replica(overlay):
    name, documents = overlay
    entry = of_kind(documents, "Deployment", "StatefulSet")[ENTRY[name]]
    pod = entry["spec"]["template"]["spec"]
    [secret] = [v["secret"] for v in pod["volumes"] if "secret" in v]
    assert secret == {"secretName": "churnlab-audit-key", "optional": True}
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["CHURNLAB_AUDIT_KEY_FILE"].startswith("/etc/churnlab/secrets/")
    if name == "micro":  # a scaled-down gateway's spool is kept for the replica that returns
        retention = entry["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert retention == {"whenScaled": "Retain", "whenDeleted": "Retain"}


def test_the_edge_speaks_https_only_and_asks_for_a_key(overlay):
    """Its certificate and keys come from Secrets it cannot start without (not optional),
    mounted where the edge's settings point, readable by its group alone."""
    _, documents = overlay
    pod = of_kind(documents, "Deployment")["edge"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    secrets = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    for setting, secret_name in (
        ("EDGE_TLS_CERT", "edge-tls"),
        ("EDGE_API_KEYS_FILE", "churnlab-api-keys"),
    ):
        [(volume, secret)] = [(v, s) for v, s in secrets.items() if s["secretName"] == secret_name]
        paths = {f"{mounts[volume]}/{item['path']}" for item in secret["items"]}
        assert env[setting] in paths, setting
        assert not secret.get("optional", False)
        assert secret["defaultMode"] == 0o440
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    assert f"{env['EDGE_TLS_CERT']}.key" in {
        f"{mounts['tls']}/{item['path']}" for item in secrets["tls"]["items"]
    }
