"""The Swarm's edge is HTTPS only, certified by the cluster's CA, and asks for an API key when
deployed with API_KEYS=1 (scripts/up.sh, as a user would), and for none without."""

from __future__ import annotations

import os
import subprocess

import certifi
import pytest
import requests

from runtimes import swarm
from runtimes.paths import ROOT
from runtimes.shell import base_image

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.timeout(900)]
KEY = "k-swarm-" + "b" * 40


def test_the_edge_speaks_https_certified_by_the_cluster_s_ca_alone(stacks):
    url = stacks["micro"]
    assert url.startswith("https://")
    assert requests.get(f"{url}/readyz", timeout=10).status_code == 200  # the CA trusted
    with pytest.raises(requests.exceptions.SSLError):  # the public CAs do not know it
        requests.get(f"{url}/readyz", timeout=10, verify=certifi.where())
    with pytest.raises(requests.exceptions.ConnectionError):  # no plain HTTP beside it
        requests.get(url.replace("https://", "http://") + "/readyz", timeout=10)


def redeploy(deployment: str, **environment: str) -> None:
    """scripts/up.sh TARGET=swarm again, as a user switching keys on or off would."""
    port = swarm.entry_url(deployment).rsplit(":", 1)[1]
    done = subprocess.run(
        ["scripts/up.sh", deployment], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=os.environ | {
            "TARGET": "swarm", "RUNTIME": "docker", "PYTHON_IMAGE": base_image(),
            "MONOLITH_PORT" if deployment == "monolith" else "GATEWAY_PORT": port,
            **environment,
        },
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_api_keys_on_the_swarm_are_asked_when_switched_on_and_not_when_off(
    stacks, tmp_path, record_body, disturbs
):
    url, keys = stacks["micro"], tmp_path / "keys"
    keys.write_text(KEY + "\n")
    try:
        redeploy("micro", API_KEYS="1", API_KEYS_FILE=str(keys))
        refused = requests.get(f"{url}/v1/model", timeout=10)
        assert refused.status_code == 401, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        keyed = requests.post(
            f"{url}/v1/predict", json=record_body, headers={"X-API-Key": KEY}, timeout=10
        )
        assert keyed.status_code == 200, keyed.text
        assert requests.get(f"{url}/readyz", timeout=10).status_code == 200  # probes: no key
    finally:
        redeploy("micro", API_KEYS="0")
    assert requests.get(f"{url}/v1/model", timeout=10).status_code == 200
