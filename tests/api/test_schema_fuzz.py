"""schemathesis over the whole published schema, in-process (WSGI), with the demo roles'
tokens: no 5xx, and no response that disagrees with the schema (status codes, media types,
bodies, headers); data the schema calls invalid must be refused with a 4xx.

Generated ids would almost never name an existing object, so most path ids are swapped for
real ones (tickets, changes, their scenarios and checklist items) before the call, and the
rest left as generated to exercise the 404s. Which role calls is drawn from the case too.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken

from changeprocess.wsgi import application
from tests.factories import (
    ChangeFactory,
    ComponentFactory,
    ComponentVersionFactory,
    TicketFactory,
    environment,
    propose_window,
)
from tickets.models import (
    Change,
    ChecklistItem,
    Component,
    Organization,
    TestScenario,
    Ticket,
)

# CI runs 25 per operation (about two minutes on two cores); raise it for a deeper run.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)

# Plus "no 5xx", asserted first in the test with the role that made the request.
CHECKS = [
    schemathesis.specs.openapi.checks.status_code_conformance,
    schemathesis.specs.openapi.checks.content_type_conformance,
    schemathesis.specs.openapi.checks.response_schema_conformance,
    schemathesis.specs.openapi.checks.response_headers_conformance,
    schemathesis.specs.openapi.checks.negative_data_rejection,
]


ROLES = ("agent", "qa", "peer", "ops", "alice", "bob")


@pytest.fixture
def in_process() -> Iterator[None]:
    """Requests run inside the test's transaction, as with Django's test client: the WSGI
    handler must not close the connection at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(cast, in_process: None, settings: Any) -> dict[str, Any]:
    """Objects in most states, in both organisations, and a token per role."""
    # Every example logs in from the same address; the login rate is tested on its own.
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "10000/minute"},
    }
    environment("production")
    for org in (cast.acme, cast.globex):
        for component in ComponentFactory.create_batch(2, organization=org):
            ComponentVersionFactory(component=component)
    T, C = Ticket.S, Change.S
    for status in (T.WAITING_FOR_SUPPORT, T.WAITING_FOR_CUSTOMER, T.TO_BE_RELEASED, T.IN_TESTING):
        TicketFactory(organization=cast.acme, reporter=cast.alice, status=status)
    TicketFactory(organization=cast.globex, reporter=cast.bob)
    for status in (C.DRAFT, C.AWAITING_APPROVAL, C.TO_BE_RELEASED, C.IN_TESTING):
        change = ChangeFactory(organization=cast.acme, author=cast.agent, status=status)
        propose_window(change, cast.agent)
    ChangeFactory(organization=cast.globex, author=cast.agent)
    tokens = {name: AuthToken.objects.create(user=getattr(cast, name))[1] for name in ROLES}
    return {"tokens": tokens}


def _pick(seq: list[Any], seed: int) -> Any:
    return seq[seed % len(seq)] if seq else None


ID_OK = re.compile(r"^(?:(?:SUP|CHG)-)?[0-9]{1,18}$")


def _real_ids(case: Any, seed: int) -> None:
    """Point most path ids at existing objects; a fifth stay as generated (404s)."""
    params = case.path_parameters or {}
    if not params or seed % 5 == 0:
        return
    path = case.path
    if "id" in params and ID_OK.match(str(params["id"])):
        for prefix, model, key in (
            ("/api/v1/tickets/", Ticket, "SUP"),
            ("/api/v1/changes/", Change, "CHG"),
            ("/api/v1/components/", Component, ""),
            ("/api/v1/organizations/", Organization, ""),
        ):
            if path.startswith(prefix):
                pk = _pick(list(model.objects.order_by("pk").values_list("pk", flat=True)), seed)
                params["id"] = f"{key}-{pk}" if key and seed % 2 else str(pk)
    change_id = re.sub(r"\D", "", str(params.get("id", "")))
    for name, model in (("sid", TestScenario), ("iid", ChecklistItem)):
        if name in params and isinstance(params[name], int) and params[name] > 0 and change_id:
            rows = model.objects.filter(change_id=int(change_id)).order_by("pk")
            params[name] = _pick(list(rows.values_list("pk", flat=True)), seed) or params[name]


def _ids(model: type) -> list[int]:
    return list(model.objects.order_by("pk").values_list("pk", flat=True))


def _real_body(case: Any, seed: int) -> None:
    """In valid bodies, most ids name existing objects, so requests reach the services."""
    body = case.body
    positive = case.meta is not None and case.meta.generation.mode.name == "POSITIVE"
    if not positive or not isinstance(body, dict) or seed % 5 == 0:
        return
    if case.path == "/api/v1/auth/token/" and seed % 2:
        body.update(username=_pick(list(ROLES), seed), password="demo")
    if isinstance(body.get("organization"), int):
        body["organization"] = _pick(_ids(Organization), seed)
    if isinstance(body.get("source_ticket"), int | str):
        body["source_ticket"] = _pick(_ids(Ticket), seed)
    if isinstance(body.get("tickets"), list):
        body["tickets"] = [_pick(_ids(Ticket), seed + i) for i, _ in enumerate(body["tickets"])]
    if isinstance(body.get("components"), list):
        body["components"] = [
            _pick(_ids(Component), seed + i) for i, _ in enumerate(body["components"])
        ]
    for i, pair in enumerate(body.get("component_versions") or []):
        if isinstance(pair, dict) and isinstance(pair.get("component"), int):
            pair["component"] = _pick(_ids(Component), seed + i)


@pytest.mark.timeout(900)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_the_api_keeps_to_its_schema(case: Any, world: dict[str, Any]) -> None:
    seed = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    _real_ids(case, seed)
    _real_body(case, seed)
    role = ROLES[seed % len(ROLES)]
    response = case.call(headers={"Authorization": f"Token {world['tokens'][role]}"})
    assert response.status_code < 500, (role, response.status_code, response.text[:1000])
    case.validate_response(response, checks=CHECKS)
