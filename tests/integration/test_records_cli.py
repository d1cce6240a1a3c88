"""`python -m churnlab.records`: erasure and audit from a shell where the log lives."""

import json
import subprocess
import sys

from churnlab.adapters.prediction_log import PredictionLog
from churnlab.adapters.spool import Spool
from runtimes.paths import ROOT
from tests.integration.adapters.conftest import recording


def cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "CHURNLAB_PREDICTION_LOG_PATH": str(tmp_path / "log.sqlite3"),
        "CHURNLAB_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "churnlab.records", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_erase_reaches_the_log_and_the_spool_and_show_reads_one(tmp_path, customer):
    log, spool = PredictionLog(tmp_path / "log.sqlite3"), Spool(tmp_path / "spool.sqlite3")
    kept = recording([customer.model_copy(update={"customer_id": "OTHER"})], "other")
    log.record(kept)
    log.record(recording([customer] * 2, "theirs"))
    spool.put(recording([customer], "spooled"))
    shown = cli(tmp_path, "show", kept.predictions[0].prediction_id)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["request_id"] == "other"
    erased = cli(tmp_path, "erase", customer.customer_id)
    assert json.loads(erased.stdout)["erased"] == {"log": 2, "spool": 1}
    assert log.request_counts() == {"other": 1}
    assert spool.depth()[0] == 0
    assert cli(tmp_path, "show", "missing").returncode == 1


def test_nothing_is_created_where_there_is_no_store(tmp_path):
    refused = cli(tmp_path, "erase", "anyone")
    assert refused.returncode == 2
    assert not list(tmp_path.iterdir())
