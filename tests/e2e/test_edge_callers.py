"""The edge knows its callers: with keys asked for (`API_KEYS=1 make up-*`), every call but
the probes and the spec needs one in X-API-Key, however its path is spelt; calls are limited per
address (any path) and per key, each refusal a problem+json the caller can act on.

The limits here are small (5 calls a second per key, 12 per address) so that a burst on one
connection crosses them however slow the machine; the defaults are 1,000 each.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
import requests

from tests import raw_http

PER_KEY = 5
PER_SOURCE = 12
LIMITS = {"EDGE_RATE_LIMIT_PER_KEY": str(PER_KEY), "EDGE_RATE_LIMIT_PER_SOURCE": str(PER_SOURCE)}
KEYS = [secrets.token_urlsafe(24) for _ in range(3 * PER_SOURCE)]
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def url(request, tmp_path_factory) -> Iterator[str]:
    """A monolith whose edge asks for keys: as local processes (the key file given to the edge
    as it is) and in Compose through `scripts/up.sh` with API_KEYS=1 (the file as a secret)."""
    keys = tmp_path_factory.mktemp("keys") / "api-keys"
    keys.write_text("\n".join(KEYS) + "\n")
    keys.chmod(0o644)  # read by the edge's own user inside its container
    if request.param == "local":
        from runtimes.local import local_deployment

        base = tmp_path_factory.mktemp("keyed-monolith")
        with local_deployment("monolith", base, EDGE_API_KEYS_FILE=str(keys), **LIMITS) as running:
            yield running.url
    else:
        request.getfixturevalue("require_docker")
        from runtimes.compose import compose_deployment

        keyed = {"API_KEYS": "1", "API_KEYS_FILE": str(keys)}
        with compose_deployment(
            "monolith", project="churnlab-test-keys", **keyed, **LIMITS
        ) as deployment:
            yield deployment.url


@pytest.fixture
def session(url) -> Iterator[requests.Session]:
    """One keep-alive connection, after two quiet seconds: the counters are rates over a
    second, so what an earlier test sent has been forgotten."""
    time.sleep(2.5)
    with requests.Session() as client:
        yield client


def served_before_429(statuses: list[int]) -> int:
    """How many calls of a burst went through before the first 429 (all, if none)."""
    return statuses.index(429) if 429 in statuses else len(statuses)


def assert_problem(answer: requests.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == PROBLEM_JSON
    problem = answer.json()
    assert problem["status"] == status
    assert problem["title"]
    return problem


def test_a_call_without_a_key_or_with_a_wrong_one_gets_a_401(url, session, record_body):
    for headers in ({}, {"X-API-Key": "not-" + KEYS[0]}, {"X-API-Key": ""}):
        answer = session.post(f"{url}/v1/predict", json=record_body, headers=headers)
        problem = assert_problem(answer, 401)
        assert "X-API-Key" in problem["detail"]
        assert answer.headers["WWW-Authenticate"] == 'ApiKey header="X-API-Key"'
    answer = session.post(f"{url}/v1/predict", json=record_body, headers={"X-API-Key": KEYS[0]})
    assert answer.status_code == 200
    assert answer.json()["recorded"] is True


def test_probes_and_the_spec_ask_for_no_key(url, session):
    for path in ("/livez", "/readyz", "/openapi.json"):
        assert session.get(f"{url}{path}").status_code == 200, path


def test_each_key_has_its_own_rate_limit(url, session):
    burst = [session.get(f"{url}/v1/model", headers={"X-API-Key": KEYS[0]}) for _ in range(8)]
    statuses = [answer.status_code for answer in burst]
    served = served_before_429(statuses)
    # A burst that straddles the counter's one-second period may see one call more through.
    assert PER_KEY <= served <= PER_KEY + 1, statuses
    refused = burst[served]
    assert "key" in assert_problem(refused, 429)["detail"]
    assert refused.headers["Retry-After"] == "1"
    # Another key, from the same address (9 calls so far, under its 12), is served at once.
    assert session.get(f"{url}/v1/model", headers={"X-API-Key": KEYS[1]}).status_code == 200


def test_one_address_is_limited_whatever_keys_it_uses(url, session):
    burst = [session.get(f"{url}/v1/model", headers={"X-API-Key": key}) for key in KEYS[:20]]
    statuses = [answer.status_code for answer in burst]
    served = served_before_429(statuses)
    assert PER_SOURCE <= served <= PER_SOURCE + 1, statuses
    assert "address" in assert_problem(burst[served], 429)["detail"]


def test_guessing_keys_is_limited_by_address_too(url, session):
    """Wrong keys are counted before they are checked, so a guesser gets 401s, then 429s."""
    guesses = [
        session.get(f"{url}/v1/model", headers={"X-API-Key": secrets.token_urlsafe(24)})
        for _ in range(20)
    ]
    statuses = [answer.status_code for answer in guesses]
    served = served_before_429(statuses)
    assert set(statuses[:served]) == {401}, statuses
    assert PER_SOURCE <= served <= PER_SOURCE + 1, statuses
    assert_problem(guesses[served], 429)


def test_no_spelling_of_a_path_gets_past_the_key(url, session):
    """The app decodes a path once and routes //v1/model as /v1/model: the edge reads the path
    as the app will, refuses empty segments, and asks a key of every path it does not know."""
    spellings = {
        "//v1/model": 400,
        "/livez%00/v1/model": 400,  # string matching would stop at the NUL: "/livez", open
        "/%761/model": 401,
        "/v1%2Fmodel": 401,
        "/no/such/route": 401,
    }
    for spelling, status in spellings.items():
        answer = raw_http.exchange(url, raw_http.get(spelling))
        assert (answer.status, answer.content_type) == (status, PROBLEM_JSON), spelling
    known = raw_http.exchange(url, raw_http.get("/%761/model", f"X-API-Key: {KEYS[2]}".encode()))
    assert known.status == 200


def test_a_call_with_more_than_one_key_gets_a_401(url, session):
    """Two X-API-Key lines, or two keys in one: the check and the per-key counter must read the
    same key, so a call gets one or a 401."""
    for header_lines in (
        [f"X-API-Key: {KEYS[0]}", f"X-API-Key: {secrets.token_urlsafe(24)}"],
        [f"X-API-Key: {KEYS[0]}, {secrets.token_urlsafe(24)}"],
    ):
        answer = raw_http.exchange(
            url, raw_http.get("/v1/model", *(line.encode() for line in header_lines))
        )
        assert (answer.status, answer.content_type) == (401, PROBLEM_JSON), header_lines


def test_every_path_but_the_probes_counts_toward_an_addresss_limit(url, session):
    """A flood of the spec from one address is limited like the API's calls; the probes, which
    load balancers call from few addresses and often, are not."""
    statuses = [session.get(f"{url}/openapi.json").status_code for _ in range(20)]
    served = served_before_429(statuses)
    assert PER_SOURCE <= served <= PER_SOURCE + 1, statuses
    assert {session.get(f"{url}/livez").status_code for _ in range(2 * PER_SOURCE)} == {200}
