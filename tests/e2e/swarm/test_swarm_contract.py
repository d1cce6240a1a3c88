"""The contract suite, unchanged, through the edge of each stack on the swarm."""

import pytest

from tests.e2e.test_contract import *  # noqa: F403  (the same tests, collected here too)

pytestmark = [pytest.mark.docker, pytest.mark.swarm]


@pytest.fixture
def urls(stacks) -> dict[str, str]:  # replaces the imported one: the deployments on the swarm
    return stacks
