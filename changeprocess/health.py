"""Probes for container health checks and load balancers.

/healthz answers as long as the process serves requests (liveness: restart me if not).
/readyz also asks PostgreSQL and Redis (readiness: send me traffic only if it answers 200).
Both are unauthenticated and cheap, since something calls them every few seconds, and
reveal no more than which dependency failed.
"""

import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

# Kept below the container health check timeout so that a hung dependency yields a 503
# with its name rather than a probe that times out without saying why.
REDIS_TIMEOUT_SECONDS = 2


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "redis": _check_redis,
}


def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception:
            # The reason goes to the log, not to an unauthenticated client.
            logger.warning("Readiness check %r failed", name, exc_info=True)
            checks[name] = "failed"
        else:
            checks[name] = "ok"
    failed = [name for name, result in checks.items() if result != "ok"]
    return JsonResponse(
        {"status": "unavailable" if failed else "ok", "checks": checks, "failed": failed},
        status=503 if failed else 200,
    )


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}


class HealthProbeMiddleware:
    """Answers the probes before any other middleware sees the request.

    Health checks reach a container by its address over plain HTTP, so the probes must
    not depend on ALLOWED_HOSTS (CommonMiddleware validates the Host header), the HTTPS
    redirect, sessions or login throttling. Production puts this first in MIDDLEWARE;
    elsewhere the same views are reached through urls.py.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
