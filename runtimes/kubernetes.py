"""The Kubernetes overlays pinned to a registry: `make k8s-manifests REGISTRY=host[:port][/path]`
pushes each churnlab/* image the overlays run to REGISTRY and names it there by the digest the
registry gave it, so a cluster pulls exactly the image built here, under a name no one else can
register, and no later push to a tag can change what it runs. The overlays in kubernetes/ stay
the templates (churnlab/<name>:latest); the pinned ones are written to var/kubernetes/.

With them, the edge's credentials, as Secrets Kustomize generates: a certificate for its public
listener (EDGE_HOSTNAMES, signed by a CA made for it, whose `ca.crt` clients trust and whose
key is not kept) and the API keys it asks for (one made; more a line each). Both are made once
and kept: replace the files with your own (a certificate of your CA, your keys) and apply
again."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from runtimes import cluster_secrets
from runtimes.paths import ROOT
from runtimes.shell import docker

OVERLAYS = ("monolith", "micro", "hybrid")
PINNED = ROOT / "var" / "kubernetes"
# How clients reach the edge: by default through `kubectl port-forward`, on this machine.
EDGE_HOSTNAMES = os.environ.get("EDGE_HOSTNAMES", "localhost,127.0.0.1")


def render(directory: Path) -> list[dict]:
    """A Kustomize directory as the documents `kubectl apply -k` would send."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(directory)], check=True, capture_output=True, text=True
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


def containers(documents: list[dict]) -> Iterator[dict]:
    """Every container of every workload, init containers included."""
    for document in documents:
        pod = document.get("spec", {}).get("template", {}).get("spec", {})
        yield from pod.get("initContainers", [])
        yield from pod.get("containers", [])


def image_names(overlay: str) -> set[str]:
    """The images an overlay of kubernetes/ runs, without their tag (churnlab/gateway)."""
    documents = render(ROOT / "kubernetes" / overlay)
    return {container["image"].rsplit(":", 1)[0] for container in containers(documents)}


def push(name: str, registry: str) -> str:
    """The local name:latest pushed to REGISTRY/name; the digest the registry stored it by."""
    remote = f"{registry}/{name}"
    docker("tag", f"{name}:latest", f"{remote}:latest")
    docker("push", "--quiet", f"{remote}:latest")
    repo_digests = json.loads(
        docker("image", "inspect", "--format", "{{json .RepoDigests}}", remote)
    )
    [digest] = [entry.split("@", 1)[1] for entry in repo_digests if entry.startswith(f"{remote}@")]
    return digest


def write_pinned(
    overlay: str, registry: str, digests: Mapping[str, str], into: Path = PINNED
) -> Path:
    """<into>/<overlay>/: a kustomization over kubernetes/<overlay> that names every image as
    REGISTRY/name@digest (Kustomize's images transformer); `kubectl apply -k` it."""
    directory = into / overlay
    edge_credentials(directory)
    templates = render(ROOT / "kubernetes" / overlay)
    [namespace] = [d["metadata"]["name"] for d in templates if d["kind"] == "Namespace"]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,  # the generated Secrets', as the overlay's own
        "resources": [os.path.relpath(ROOT / "kubernetes" / overlay, directory)],
        "images": [
            {"name": name, "newName": f"{registry}/{name}", "digest": digests[name]}
            for name in sorted(image_names(overlay))
        ],
        "secretGenerator": [
            {"name": "edge-tls", "type": "kubernetes.io/tls", "files": ["tls.crt", "tls.key"]},
            {"name": "churnlab-api-keys", "files": ["api-keys"]},
        ],
    }
    header = "# Written by `make k8s-manifests`; the images as the registry stores them.\n"
    (directory / "kustomization.yaml").write_text(header + yaml.safe_dump(kustomization))
    return directory


def edge_credentials(directory: Path, hostnames: str = EDGE_HOSTNAMES) -> None:
    """tls.crt and tls.key for `hostnames` (comma-separated names or addresses) with the
    ca.crt that signed them, and an api-keys file of one key, in `directory`: each made only
    where it is missing."""
    if not (directory / "tls.crt").is_file():
        cluster_secrets.authority(directory)
        cluster_secrets.sign(directory, "tls", cluster_secrets.subject_names(hostnames.split(",")))
        (directory / "ca.key").unlink()  # signed: no other certificate is made with it
    keys = directory / "api-keys"
    if not keys.is_file():
        keys.touch(mode=0o600)
        keys.write_text(cluster_secrets.new_key() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("registry", help="where the cluster pulls from, e.g. registry.example/team")
    parser.add_argument("--overlay", choices=OVERLAYS, action="append")
    parser.add_argument("--into", type=Path, default=PINNED, help="default: var/kubernetes")
    args = parser.parse_args()
    registry = args.registry.rstrip("/")
    for overlay in args.overlay or OVERLAYS:
        digests = {name: push(name, registry) for name in image_names(overlay)}
        directory = write_pinned(overlay, registry, digests, args.into.resolve())
        print(f"==> {overlay}: kubectl apply -k {os.path.relpath(directory)}")
        print(f"    the edge's CA: {os.path.relpath(directory / 'ca.crt')}; its API key(s):")
        print(f"    {os.path.relpath(directory / 'api-keys')}")
        for name, digest in sorted(digests.items()):
            print(f"    {registry}/{name}@{digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
