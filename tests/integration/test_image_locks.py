"""The images' hash-pinned locks (docker/requirements/, made by `make lock`): one for every pip
extra an image installs, every package pinned to one version with its hashes, every range in
pyproject.toml met, and the Dockerfile refusing anything the lock does not list."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from runtimes.paths import ROOT
from tests.image_locks import LOCKS, image_locks, pins

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = sorted(set(image_locks().values()))


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
    assert set(EXTRAS) >= {"core", "inference", "gateway", "monolith"}
    missing = {extra for extra in EXTRAS if not (LOCKS / f"{extra}.txt").exists()}
    assert not missing


@pytest.mark.parametrize("extra", EXTRAS)
def test_every_package_is_pinned_with_its_hashes(extra):
    entries = pins(extra)
    assert "setuptools" in entries  # what builds the project, offline, after the lock


@pytest.mark.parametrize("extra", EXTRAS)
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


def test_the_trace_views_lock_pins_what_its_input_asks_and_the_image_installs_only_that():
    """MLflow's image (make live) has a lock of its own, from docker/requirements/traces.in."""
    entries = pins("traces")
    wanted = [
        Requirement(line)
        for line in (LOCKS / "traces.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert wanted
    for requirement in wanted:
        assert requirement.specifier.contains(entries[canonicalize_name(requirement.name)][0])
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "pip install --quiet --require-hashes -r /tmp/traces.txt" in dockerfile
