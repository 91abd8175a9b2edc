"""Helpers for the API tests (and the API journey in tests/flows): HTTP clients holding a
token obtained the way an integrator obtains one, and throttle counters of their own."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings as django_settings
from rest_framework.response import Response
from rest_framework.test import APIClient

# Each test's throttle counters in a Redis database of their own (several suites share the
# server) under a fresh prefix, so no test sees another's request counts.
API_TEST_REDIS_DB = 11


@pytest.fixture
def isolated_cache(settings: Any) -> None:
    url = urlparse(django_settings.REDIS_URL)
    settings.CACHES = {
        **django_settings.CACHES,  # the kept fragments too: keyed by content, never stale
        "default": {
            "BACKEND": "changeprocess.cache.RedisCache",
            "LOCATION": urlunparse(url._replace(path=f"/{API_TEST_REDIS_DB}")),
            "KEY_PREFIX": f"api-test-{uuid.uuid4().hex}",
            "TIMEOUT": 120,
        },
    }


class Api:
    """One integrator: a client that sends `Authorization: Token <key>` on every request."""

    def __init__(self, username: str, password: str = "demo", *, token: str = "") -> None:  # noqa: S107
        self.username = username
        self.client = APIClient()
        if not token:
            answer = self.client.post(
                "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
            )
            assert answer.status_code == 200, answer.content
            token = answer.json()["token"]
        self.token = token
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")

    @classmethod
    def of(cls, user: Any) -> Api:
        """A client with a token made directly (quicker than logging in for every test)."""
        from knox.models import AuthToken

        return cls(user.username, token=AuthToken.objects.create(user=user)[1])

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> Response:
        return self.client.get(path, params or {}, **extra)

    def post(self, path: str, data: Any = None, **extra: Any) -> Response:
        return self.client.post(path, data if data is not None else {}, format="json", **extra)

    def patch(self, path: str, data: Any, **extra: Any) -> Response:
        return self.client.patch(path, data, format="json", **extra)

    def put(self, path: str, data: Any, **extra: Any) -> Response:
        return self.client.put(path, data, format="json", **extra)

    def delete(self, path: str, **extra: Any) -> Response:
        return self.client.delete(path, **extra)


def ok(response: Response, status: int = 200) -> Any:
    """The JSON body, after checking the status (the body is in the failure message)."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    return response.json() if response.content else None
