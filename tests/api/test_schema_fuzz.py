"""schemathesis over the whole published schema, in-process (WSGI), with the demo roles'
tokens: no 5xx, and no response that disagrees with the schema (status codes, media types,
bodies, headers); data the schema calls invalid must be refused with a 4xx.

Generated ids would almost never name an existing object, so most path ids are swapped for
real ones (tickets, changes, their scenarios and checklist items) before the call, and the
rest left as generated to exercise the 404s. Which role calls is drawn from the case too.
Among the bodies sent, some are swapped for hostile ones: JSON nested a thousand levels
deep (a 400) and bodies over the size limit (a 413), both documented in the schema.

The stateful phase chains calls along the links schemathesis infers from the schema (a
change created, then read, edited, moved), one role per scenario.
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
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, run_state_machine_as_test
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
# Scenarios of the stateful phase, each of at most STATEFUL_STEPS calls.
STATEFUL_EXAMPLES = int(os.environ.get("API_FUZZ_SCENARIOS", "60"))
STATEFUL_STEPS = 8

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
        # A generated body over the size limit is refused (413) before its content is read.
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "428",
                    "429",
                ]
            }
        },
        "phases": {
            "stateful": {
                "enabled": True,
                "max-steps": STATEFUL_STEPS,
                "inference": {"algorithms": ["location-headers", "dependency-analysis"]},
            }
        },
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)

NEGATIVE_DATA_REJECTION = schemathesis.specs.openapi.checks.negative_data_rejection
# Plus "no 5xx", asserted first in the test with the role that made the request.
CHECKS = [
    schemathesis.specs.openapi.checks.status_code_conformance,
    schemathesis.specs.openapi.checks.content_type_conformance,
    schemathesis.specs.openapi.checks.response_schema_conformance,
    schemathesis.specs.openapi.checks.response_headers_conformance,
    NEGATIVE_DATA_REJECTION,
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
    # Small enough that an oversized body costs little to send.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = BODY_LIMIT
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


BODY_LIMIT = 256 * 1024
NESTED = b"[" * 1000 + b"]" * 1000
OVERSIZED = b'{"title": "' + b"x" * (BODY_LIMIT + 1024) + b'"}'


def _hostile_body(case: Any, seed: int) -> int | None:
    """Swap the body of some cases for one nested too deep or too large; the status it
    must get."""
    method = case.method.upper()
    if method not in ("POST", "PUT", "PATCH") or method != case.operation.method.upper():
        return None
    if case.body is None or "json" not in (case.media_type or ""):
        return None  # no body the operation reads
    if seed % 13 not in (3, 8):
        return None
    case.body = NESTED if seed % 13 == 3 else OVERSIZED
    # As JSON, whatever media type a negative case had drawn.
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "content-type"}
    case.headers = {**headers, "Content-Type": "application/json"}
    return 400 if seed % 13 == 3 else 413


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
    hostile = _hostile_body(case, seed)
    role = ROLES[seed % len(ROLES)]
    response = case.call(headers={"Authorization": f"Token {world['tokens'][role]}"})
    assert response.status_code < 500, (role, response.status_code, response.text[:1000])
    if hostile is not None:
        # Refused before the view: the body, not the credentials or the id, is what is wrong.
        assert response.status_code == hostile, (role, response.status_code, response.text[:300])
        assert response.json()["detail"]
        # What was generated (valid or not) is no longer what was sent.
        checks = [c for c in CHECKS if c is not NEGATIVE_DATA_REJECTION]
        case.validate_response(response, checks=checks)
        return
    case.validate_response(response, checks=CHECKS)


@pytest.mark.timeout(600)
def test_the_api_keeps_to_its_schema_across_calls(world: dict[str, Any]) -> None:
    """The stateful phase: scenarios of linked calls, each as one role of the cast."""
    tokens = world["tokens"]

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        role = ROLES[0]

        def setup(self) -> None:
            # Each scenario starts from the same world (Hypothesis replays scenarios, and
            # which calls follow depends on what earlier ones answered).
            self.scenario = transaction.atomic()
            self.scenario.__enter__()

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        @initialize(role=st.sampled_from(ROLES))
        def act_as(self, role: str) -> None:
            # Each scenario is one role's: objects it creates are then visible to it.
            self.role = role

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            # Ids come from the links (earlier answers); a valid body names existing
            # objects, chosen by the operation alone so that a replay chooses the same.
            _real_body(case, zlib.crc32(f"{case.method} {case.path}".encode()))
            return {"headers": {"Authorization": f"Token {tokens[self.role]}"}}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            assert response.status_code < 500, (
                self.role,
                case.method,
                case.path,
                response.status_code,
                response.text[:1000],
            )
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        Scenario,
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
