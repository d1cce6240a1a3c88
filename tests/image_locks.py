"""The images' locks as the tests read them: which lock each image installs, and what it pins."""

from __future__ import annotations

import re

import yaml
from packaging.utils import canonicalize_name

from runtimes.paths import ROOT

LOCKS = ROOT / "docker" / "requirements"
PINNED = r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*"


def image_locks() -> dict[str, str]:
    """Each Python image the compose files build (churnlab/gateway:latest) and the lock its
    EXTRA build argument names ("core" for none)."""
    locks = {}
    for file in (ROOT / "compose").glob("*.yaml"):
        for service in yaml.safe_load(file.read_text())["services"].values():
            build = service.get("build")
            if isinstance(build, dict) and "EXTRA" in build.get("args", {}):
                locks[service["image"]] = build["args"]["EXTRA"] or "core"
    return locks


def pins(lock: str) -> dict[str, tuple[str, list[str]]]:
    """Each package of a lock (its canonical name): its pinned version and its hashes."""
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
