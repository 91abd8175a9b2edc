"""/healthz and /readyz in-process, with the test settings (routes in urls.py)."""

import json
import socket

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from changeprocess import health


def _closed_port() -> int:
    # Bound and released at once: nothing listens there for the rest of the test.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: a query would fail the test.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_and_redis(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
        "failed": [],
    }


@pytest.mark.allow_server_errors  # a 503, on purpose
@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "failed"},
        "failed": ["redis"],
    }


@pytest.mark.allow_server_errors  # a 503, on purpose
def test_readyz_names_the_database_and_keeps_the_reason_to_the_log(client, monkeypatch):
    def unreachable() -> None:
        raise OSError("connection refused by db.internal:5432")

    monkeypatch.setitem(health.READINESS_CHECKS, "database", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert "db.internal" not in response.content.decode()


def _must_not_be_called(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the probe reached the rest of the middleware chain")


def test_probe_middleware_answers_for_any_host_over_plain_http():
    # What a container health check sends: the container's address, no TLS.
    request = RequestFactory().get("/healthz", HTTP_HOST="172.18.0.5:8000")

    response = health.HealthProbeMiddleware(_must_not_be_called)(request)

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


def test_probe_middleware_passes_other_paths_on():
    request = RequestFactory().get("/healthz/extra")
    passed_on = HttpResponse("from the rest of the chain")

    response = health.HealthProbeMiddleware(lambda request: passed_on)(request)

    assert response is passed_on
