"""Virtualenvs of servers that are not ChurnLab's own (MLServer, and the bench's peers): each in
build/, with its requirements and ChurnLab's code, installed on first use."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from runtimes.paths import ROOT


def venv_path(name: str) -> Path:
    return ROOT / "build" / f"{name.lower()}-venv"


def ensure_venv(venv: Path, requirements: Sequence[str]) -> Path:
    """`venv`'s python, with `requirements` and ChurnLab's code (not its dependencies: these
    servers run the domain code alone); made again when the requirements change."""
    python, installed = venv / "bin" / "python", venv / ".installed"
    wanted = "\n".join(requirements)
    if not installed.exists() or installed.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*install, *requirements], check=True)
        subprocess.run([*install, "--no-deps", "-e", str(ROOT)], check=True)
        installed.write_text(wanted)
    return python
