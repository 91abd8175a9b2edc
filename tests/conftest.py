"""Fixtures shared by the whole suite: the cast of WORKFLOW.md's roles, and the guard that
fails any test during which the application answered a 500 or logged an unhandled
exception."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.factories import CustomerUserFactory, OrganizationFactory, UserFactory
from tickets.models import Organization, User


@dataclass
class Cast:
    """One person per role of WORKFLOW.md, in two organisations."""

    acme: Organization
    globex: Organization
    agent: User  # support agent, writes changes
    agent2: User  # another support agent
    qa: User
    peer: User  # provider engineer without a special role
    ops: User  # operations management
    alice: User  # customer user of Acme
    bob: User  # customer user of Globex

    def providers(self) -> dict[str, User]:
        return {
            "agent": self.agent,
            "agent2": self.agent2,
            "qa": self.qa,
            "peer": self.peer,
            "ops": self.ops,
        }


@pytest.fixture
def cast(db: None) -> Cast:
    acme = OrganizationFactory(name="Acme Corp", slug="acme")
    globex = OrganizationFactory(name="Globex", slug="globex")
    return Cast(
        acme=acme,
        globex=globex,
        agent=UserFactory(username="agent", is_support_agent=True),
        agent2=UserFactory(username="agent2", is_support_agent=True),
        qa=UserFactory(username="qa", is_qa=True),
        peer=UserFactory(username="peer"),
        ops=UserFactory(username="ops", is_operations_manager=True),
        alice=CustomerUserFactory(username="alice", organization=acme),
        bob=CustomerUserFactory(username="bob", organization=globex),
    )


# --------------------------------------------------------------------------- no 500s


class _ServerErrors(logging.Handler):
    """Collects what Django logs at ERROR on `django.request`: every 5xx answered (by a
    view, or for an exception nothing handled), from any thread (a live server, a race)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def report(self) -> str:
        lines = []
        for record in self.records[:5]:
            lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")
            if record.exc_info and record.exc_info[1] is not None:
                lines.append(f"    {type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
        return "\n".join(lines)


_SERVER_ERRORS = pytest.StashKey[_ServerErrors]()


@pytest.fixture(autouse=True)
def _no_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test: a 500 or an unhandled exception fails it (checked right after the test
    function, in `pytest_runtest_call`). A test that provokes one on purpose says so with
    `@pytest.mark.allow_server_errors`."""
    handler = _ServerErrors()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    request.node.stash[_SERVER_ERRORS] = handler
    try:
        yield
    finally:
        logger.removeHandler(handler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    handler = item.stash.get(_SERVER_ERRORS, None)
    if handler and handler.records and not item.get_closest_marker("allow_server_errors"):
        pytest.fail(
            f"The application answered a 500 or logged an unhandled exception "
            f"({len(handler.records)} record(s) of django.request at ERROR):\n" + handler.report(),
            pytrace=False,
        )
    return result


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail at once, with what to do, when PostgreSQL or Redis is not there."""
    import socket

    from django.conf import settings

    db = settings.DATABASES["default"]
    targets = [
        ("PostgreSQL", db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432), "DATABASE_URL"),
    ]
    from urllib.parse import urlparse

    redis = urlparse(settings.REDIS_URL)
    targets.append(("Redis", redis.hostname or "127.0.0.1", redis.port or 6379, "REDIS_URL"))
    for name, host, port, var in targets:
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError:
            pytest.exit(
                f"{name} is not reachable at {host}:{port}. The tests run against real "
                f"{name}: start it (on Debian: "
                + (
                    "`pg_ctlcluster 15 main start`"
                    if name == "PostgreSQL"
                    else "`redis-server --daemonize yes`"
                )
                + f", or `docker-compose up -d db redis`) or point {var} at one.",
                returncode=3,
            )
