"""The images' hash-pinned locks (docker/requirements/, made by `make lock`): one for every pip
extra an image installs, every package pinned to one version with its hashes, every range in
pyproject.toml met, and the Dockerfile refusing anything the lock does not list."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from runtimes.paths import ROOT

LOCKS = ROOT / "docker" / "requirements"
PINNED = r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def image_extras() -> set[str]:
    """The EXTRA build argument of every Python image the compose files build ("" is core)."""
    extras = set()
    for file in (ROOT / "compose").glob("*.yaml"):
        for service in yaml.safe_load(file.read_text())["services"].values():
            build = service.get("build")
            if isinstance(build, dict) and "EXTRA" in build.get("args", {}):
                extras.add(build["args"]["EXTRA"] or "core")
    return extras


def pins(lock: str) -> dict[str, tuple[str, list[str]]]:
    """Each package of a lock: its pinned version and its hashes."""
    text = (LOCKS / f"{lock}.txt").read_text().replace("\\\n", " ")
    entries = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pinned = re.fullmatch(PINNED, line)
        assert pinned, f"not pinned to one version with hashes: {line}"
        name, version, hashes = pinned.groups()
        entries[canonicalize_name(name)] = (version, hashes.split())
    return entries


def direct_requirements(extra: str) -> list[Requirement]:
    """What pyproject.toml asks for an extra, the project's own extras (churnlab[...]) expanded."""
    wanted = [Requirement(text) for text in PROJECT["dependencies"]]
    pending = [] if extra == "core" else [extra]
    while pending:
        for text in PROJECT["optional-dependencies"][pending.pop()]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == PROJECT["name"]:
                pending.extend(requirement.extras)
            else:
                wanted.append(requirement)
    return wanted


def test_every_image_extra_has_a_lock():
    assert image_extras() >= {"core", "inference", "gateway", "monolith"}
    missing = {extra for extra in image_extras() if not (LOCKS / f"{extra}.txt").exists()}
    assert not missing


@pytest.mark.parametrize("extra", sorted(image_extras()))
def test_every_package_is_pinned_with_its_hashes(extra):
    entries = pins(extra)
    assert "setuptools" in entries  # what builds the project, offline, after the lock


@pytest.mark.parametrize("extra", sorted(image_extras()))
def test_every_range_in_pyproject_is_met_by_the_lock(extra):
    entries = pins(extra)
    for requirement in direct_requirements(extra):
        version, _ = entries[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (requirement, version)
        for wanted in requirement.extras:  # psycopg[binary] brings psycopg-binary, same version
            assert entries[canonicalize_name(f"{requirement.name}-{wanted}")][0] == version


def test_the_dockerfile_installs_only_what_the_lock_hashes():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert 'pip install --quiet --require-hashes -r "requirements/${EXTRA:-core}.txt"' in dockerfile
    # The project itself comes after, from its source, with no index to fetch anything more from.
    project_install = re.search(r"RUN /opt/venv/bin/pip install (.*)\".\$\{EXTRA", dockerfile)
    assert project_install
    assert "--no-index" in project_install.group(1)
