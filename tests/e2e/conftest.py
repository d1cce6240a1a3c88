"""Fixtures of the end-to-end tests: the running deployments are in tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(
    scope="module",
    params=[
        "local-monolith",
        "local-micro",
        pytest.param("docker-monolith", marks=pytest.mark.docker),
        pytest.param("docker-micro", marks=pytest.mark.docker),
    ],
)
def any_deployment_url(request) -> str:
    """The edge's URL of each deployment in turn: as local processes, then in containers."""
    runtime, arch = request.param.split("-")
    return request.getfixturevalue(f"{runtime}_{arch}").url


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian's packages (scripts/install-tools.sh), driven by Selenium
    with the packaged chromedriver, so nothing is downloaded at test time."""
    import os
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail("chromium or chromedriver missing; scripts/install-tools.sh installs them")
        pytest.skip("chromium and chromium-driver not installed (scripts/install-tools.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    session.set_page_load_timeout(60)
    try:
        yield session
    finally:
        session.quit()
