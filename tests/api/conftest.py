"""Fixtures of the API tests: an integrator per role of the cast, and throttle counters
isolated per test."""

from __future__ import annotations

import pytest

from tests.api.support import Api, isolated_cache  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _isolated_throttles(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("isolated_cache")


@pytest.fixture
def api(cast):
    """`api("alice")`: an integrator acting as that member of the cast (one token each)."""
    made: dict[str, Api] = {}

    def get(username: str) -> Api:
        if username not in made:
            made[username] = Api.of(getattr(cast, username))
        return made[username]

    return get
