"""The Kubernetes manifests (kubernetes/), rendered by Kustomize and validated offline against the
Kubernetes 1.32 OpenAPI schemas; and what they promise: probes that mean what the containers'
healthchecks mean, resources, disruption budgets, inference autoscaling, only the edge reachable
from outside. No cluster runs here: this checks the manifests, not a rollout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from runtimes.paths import ROOT

KUBERNETES_VERSION = "1.32.0"
APPS = {"monolith": {"monolith"}, "micro": {"gateway", "ingest", "features", "inference"}}
ENTRY = {"monolith": "monolith", "micro": "gateway"}


def render(overlay: str) -> list[dict]:
    if shutil.which("kubectl") is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl (with Kustomize) is missing on this CI machine")
        pytest.skip("kubectl not installed: it renders the Kustomize overlays")
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "kubernetes" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


@pytest.fixture(scope="module", params=sorted(APPS))
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


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


def test_stateful_stages_keep_their_data_on_a_volume_of_their_own(overlay):
    name, documents = overlay
    stateful = of_kind(documents, "StatefulSet")
    assert set(stateful) == ({"monolith"} if name == "monolith" else {"gateway", "ingest"})
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


def test_only_the_edge_takes_traffic_from_outside(overlay):
    _, documents = overlay
    policies = of_kind(documents, "NetworkPolicy").values()
    pod_labels = {
        name: workload["spec"]["template"]["metadata"]["labels"]
        for name, workload in of_kind(documents, "Deployment", "StatefulSet").items()
    }

    def selects(policy: dict, labels: dict) -> bool:
        selector = policy["spec"]["podSelector"]
        if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
            return False
        for expression in selector.get("matchExpressions", []):
            inside = labels.get(expression["key"]) in expression["values"]
            if inside != (expression["operator"] == "In"):
                return False
        return True

    def open_to_other_namespaces(policy: dict) -> bool:
        return any(
            not rule.get("from") or any("podSelector" not in peer for peer in rule["from"])
            for rule in policy["spec"]["ingress"]
        )

    for name, labels in pod_labels.items():
        covering = [policy for policy in policies if selects(policy, labels)]
        assert covering, f"no policy covers {name}"
        assert any(map(open_to_other_namespaces, covering)) == (name == "edge"), name


def test_inference_scales_on_cpu_in_the_microservices_only(overlay):
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
