"""`make rollout`'s choices: what each wiring replaces for a new model, and what it refuses."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from runtimes.paths import ROOT
from runtimes.rollout import RolloutError, main, model_override, roll_out, running


def test_a_new_model_replaces_the_monolith_whole_and_the_split_wirings_model_tier():
    assert model_override("monolith").name == "model-monolith.yaml"
    assert model_override("micro") == model_override("hybrid")
    assert model_override("micro").name == "model-inference.yaml"
    assert all(model_override(arch).is_file() for arch in ("monolith", "micro", "hybrid"))


def refusal(model_dir, capsys) -> str:
    with pytest.raises(SystemExit) as refused:
        main(["micro", "--model-dir", str(model_dir)])
    assert refused.value.code == 2
    return capsys.readouterr().err


def test_a_model_directory_the_containers_cannot_serve_is_refused_before_anything_is_touched(
    tmp_path, capsys
):
    model_dir = tmp_path / "churn-new"
    model_dir.mkdir()
    model_dir.chmod(0o755)  # whatever the umask
    assert "holds no model.onnx" in refusal(model_dir, capsys)
    shutil.copy(ROOT / "models" / "current" / "model.onnx", model_dir)
    assert "holds no model_card.json" in refusal(model_dir, capsys)
    shutil.copy(ROOT / "models" / "current" / "model_card.json", model_dir)
    (model_dir / "model.onnx").chmod(0o600)  # a umask of 077: the owner's alone
    assert "model.onnx is closed to the containers' user: chmod o+r" in refusal(model_dir, capsys)
    (model_dir / "model.onnx").chmod(0o644)
    model_dir.chmod(0o700)
    assert "churn-new is closed to the containers' user: chmod o+rx" in refusal(model_dir, capsys)


def test_the_running_deployment_is_make_up_s_project_on_its_port(monkeypatch):
    monkeypatch.setenv("HYBRID_PORT", "18090")
    monkeypatch.setenv("PYTHON_IMAGE", "python:3.11-slim")
    deployment = running("hybrid")
    assert (deployment.project, deployment.url) == ("churnlab-hybrid", "http://127.0.0.1:18090")


class Container:
    def __init__(self, id_: str, running: bool = True):
        self.id, self.name, self.running, self.removed = id_, id_, running, False

    def remove(self, force: bool = False) -> None:
        self.removed = True


class Deployment:
    """A Compose project whose `up` starts new replicas, one of them crashed, then fails (or is
    interrupted, as ^C would)."""

    file = "micro"

    def __init__(self, ending: BaseException | None = None):
        self.overrides: list = []
        self.environment = {"PYTHON_IMAGE": "base"}
        self.ending = ending
        self.all = [Container("old-1"), Container("old-2"), Container("gone", running=False)]

    def containers(self, service: str, *, stopped: bool = False) -> list:
        return [c for c in self.all if not c.removed and (stopped or c.running)]

    def compose(self, *args: str, check: bool = True):
        self.all += [Container("new-1"), Container("new-2", running=False)]
        if self.ending is not None:
            raise self.ending
        return subprocess.CompletedProcess(args, 1, "", "unhealthy")


@pytest.mark.parametrize("ending", [None, KeyboardInterrupt()], ids=["unhealthy", "interrupted"])
def test_a_failed_rollout_removes_every_new_replica_and_serves_as_before(ending, tmp_path):
    deployment = Deployment(ending)
    with pytest.raises(RolloutError if ending is None else KeyboardInterrupt):
        roll_out(deployment, "inference", model_dir=tmp_path, wait_seconds=1)
    # the stopped one first (a scale counts it), then every new one, crashed or not
    assert [c.id for c in deployment.all if c.removed] == ["gone", "new-1", "new-2"]
    assert (deployment.overrides, deployment.environment) == ([], {"PYTHON_IMAGE": "base"})
