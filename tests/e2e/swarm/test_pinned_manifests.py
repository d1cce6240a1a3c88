"""`make k8s-manifests` against a real registry, the cluster's own: every image the Kubernetes
overlays run is pushed under the registry prefix given, and named by the digest that registry
serves it by, so a cluster would pull exactly what was built here."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
import yaml

from runtimes import swarm
from runtimes.kubernetes import OVERLAYS, image_names
from runtimes.paths import ROOT

# Pushing every overlay's images to a fresh registry took over 300 s on a cold CI machine.
pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.timeout(1200)]
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


def test_every_image_is_named_by_the_digest_its_registry_serves(stacks, tmp_path):
    registry = f"127.0.0.1:{swarm.REGISTRY_PORT}/pinned"
    pinning = [sys.executable, "-m", "runtimes.kubernetes", registry, "--into", str(tmp_path)]
    done = subprocess.run(pinning, cwd=ROOT, capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, done.stderr[-3000:]
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load((tmp_path / overlay / "kustomization.yaml").read_text())
        assert {image["name"] for image in kustomization["images"]} == image_names(overlay)
        for image in kustomization["images"]:
            assert image["newName"] == f"{registry}/{image['name']}"
            repository = image["newName"].split("/", 1)[1]
            served = requests.head(
                f"http://127.0.0.1:{swarm.REGISTRY_PORT}/v2/{repository}/manifests/latest",
                headers={"Accept": MANIFEST_TYPES},
                timeout=10,
            )
            assert served.status_code == 200
            assert served.headers["Docker-Content-Digest"] == image["digest"]
