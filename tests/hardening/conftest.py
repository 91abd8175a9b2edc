"""Fixtures of the hardening tests: throttle counters of their own for each test (the API's
isolated cache), since they send many requests from one address."""

from __future__ import annotations

import pytest

from tests.api.support import isolated_cache  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _isolated_throttles(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("isolated_cache")
