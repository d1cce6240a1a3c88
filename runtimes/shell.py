"""The docker CLI, and what scripts/runtime.sh decides for `make up-*` (the base images, the
audit key), asked of the script itself so that the tests and the lab decide alike."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from runtimes.paths import ROOT


def docker(*args: str, check: bool = True, stdin: str | None = None) -> str:
    """`docker ARGS`; a failure raises with what the CLI printed."""
    done = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def runtime_sh(commands: str) -> str:
    """The last line that `commands` print after sourcing scripts/runtime.sh."""
    done = subprocess.run(
        ["bash", "-c", f"source scripts/runtime.sh && {commands}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def build_images() -> None:
    """Both deployments' images, built the way scripts/up.sh builds them."""
    runtime_sh("build_images monolith micro")


def base_image() -> str:
    """What scripts/up.sh builds on: the official image if present, else the local one."""
    if os.environ.get("PYTHON_IMAGE"):
        return os.environ["PYTHON_IMAGE"]
    return runtime_sh('choose_base_image >/dev/null && echo "$PYTHON_IMAGE"')


def debian_image() -> str:
    """What the node and registry images build on: the local base when there is no registry."""
    return runtime_sh('choose_base_image >/dev/null && echo "$DEBIAN_IMAGE"') or (
        "debian:bookworm-slim"
    )


def audit_key_file() -> Path:
    """The key for audit reads and erasure, made as `make up-*` makes it."""
    return Path(runtime_sh('ensure_audit_key >&2 && echo "$AUDIT_KEY_FILE"'))


def audit_key() -> str:
    return audit_key_file().read_text().strip()
