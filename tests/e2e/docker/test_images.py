"""What the images are made of: each Python image holds exactly the packages of its lock
(docker/requirements/, hash-checked as it was built) and the project, and every image names the
base it was built on (OCI labels), as `make up-*` builds them."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest
from packaging.utils import canonicalize_name

from runtimes.shell import base_image, build_images, debian_image, docker, runtime_sh
from tests.image_locks import image_locks, pins

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def built(require_docker) -> None:
    build_images()


def labels(image: str) -> dict[str, str]:
    return json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", image))


@pytest.mark.parametrize("image", sorted(image_locks()))
def test_every_python_image_holds_exactly_its_lock(built, image):
    listed = docker("run", "--rm", "--entrypoint", "pip", image, "list", "--format", "json")
    installed = {canonicalize_name(entry["name"]): entry["version"] for entry in json.loads(listed)}
    assert installed.pop("churnlab") == version("churnlab")
    installed.pop("pip")  # the virtualenv's own, as the base image's Python made it
    assert installed == {name: release for name, (release, _) in pins(image_locks()[image]).items()}


BASES = [(image, base_image) for image in sorted(image_locks())] + [
    ("churnlab/edge:latest", debian_image)
]


@pytest.mark.parametrize(("image", "base"), BASES)
def test_every_image_names_the_base_it_was_built_on(built, image, base):
    """The digest the base was pulled by; a base built here, never pushed, by its image ID."""
    recorded = labels(image)
    assert recorded["org.opencontainers.image.base.name"] == base()
    assert recorded["org.opencontainers.image.base.digest"] == runtime_sh(f"image_digest {base()}")
    assert recorded["org.opencontainers.image.base.digest"].startswith("sha256:")
