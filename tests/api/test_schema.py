"""The published OpenAPI schema: valid without a warning, complete (every path of API.md,
the error responses, the enumerations), and the docs page served from installed files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from approvals.models import ApprovalRole
from tickets.models import ChangeStatus, Resolution, TicketStatus

# API.md's resource table, as written there.
API_MD_PATHS = {
    "/api/v1/auth/token/": {"post"},
    "/api/v1/organizations/": {"get"},
    "/api/v1/components/": {"get", "post"},
    "/api/v1/tickets/": {"get", "post"},
    "/api/v1/tickets/{id}/": {"get", "patch"},
    "/api/v1/tickets/{id}/comments/": {"get", "post"},
    "/api/v1/tickets/{id}/transitions/": {"get"},
    "/api/v1/tickets/{id}/transitions/{name}/": {"post"},
    "/api/v1/tickets/{id}/history/": {"get"},
    "/api/v1/changes/": {"get", "post"},
    "/api/v1/changes/{id}/": {"get", "patch"},
    "/api/v1/changes/{id}/transitions/": {"get"},
    "/api/v1/changes/{id}/transitions/{name}/": {"post"},
    "/api/v1/changes/{id}/window/": {"put"},
    "/api/v1/changes/{id}/scenarios/": {"get", "post"},
    "/api/v1/changes/{id}/scenarios/{sid}/": {"patch"},
    "/api/v1/changes/{id}/checklist/": {"get"},
    "/api/v1/changes/{id}/checklist/{iid}/": {"patch"},
    "/api/v1/changes/{id}/communications/": {"get"},
    "/api/v1/changes/{id}/history/": {"get"},
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return APIClient().get("/api/schema/", {"format": "json"}).json()


def test_the_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi: 3")


def test_every_path_of_api_md_is_published(schema) -> None:
    published = {path: set(ops) - {"parameters"} for path, ops in schema["paths"].items()}
    for path, methods in API_MD_PATHS.items():
        assert path in published, path
        assert methods <= published[path], (path, published[path])
    assert all(p.startswith("/api/v1/") for p in published)


def test_every_operation_documents_its_errors_with_the_error_body(schema) -> None:
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "429" in responses, (method, path)
            if op.get("security") != [] and path != "/api/v1/auth/token/":
                assert "401" in responses, (method, path)
            if method != "get" and path.startswith(("/api/v1/tickets", "/api/v1/changes")):
                assert {"400", "403", "404", "409"} <= set(responses), (method, path)
            for code, response in responses.items():
                if code >= "400":
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/Error"}, (method, path, code)
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code"}
    assert set(error["properties"]) == {"detail", "code", "fields"}


def test_the_enumerations_are_the_domains(schema) -> None:
    enums = {
        name: set(body.get("enum", [])) for name, body in schema["components"]["schemas"].items()
    }
    assert enums["TicketStatusEnum"] == set(TicketStatus.values)
    assert enums["ChangeStatusEnum"] == set(ChangeStatus.values)
    assert enums["ResolutionEnum"] == set(Resolution.values)
    assert enums["ApprovalRoleEnum"] == set(ApprovalRole.values)
    assert enums["ProviderApprovalRoleEnum"] == {"qa", "peer", "operations"}
    assert enums["ChangeTransitionEnum"] == {
        "submit",
        "approve",
        "reject",
        "business_approve",
        "agree_window",
        "perform",
        "roll_back",
        "close",
        "cancel",
    }
    assert enums["TicketTransitionEnum"] == {
        "needs_work",
        "start",
        "ready_for_release",
        "accept",
        "send_back",
        "hold",
        "resume",
    }
    take = schema["paths"]["/api/v1/changes/{id}/transitions/{name}/"]["post"]
    (name,) = [p for p in take["parameters"] if p["name"] == "name"]
    assert set(name["schema"]["enum"]) == enums["ChangeTransitionEnum"]
    (ident,) = [p for p in take["parameters"] if p["name"] == "id"]
    assert re.match(ident["schema"]["pattern"], "CHG-12") and re.match(
        ident["schema"]["pattern"], "12"
    )


def test_the_docs_are_served_from_installed_files() -> None:
    client = APIClient()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    bundle = next(s for s in sources if s.endswith("swagger-ui-bundle.js"))
    assert "drf_spectacular_sidecar/swagger-ui-dist" in bundle
    assert client.get(bundle).status_code == 200
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
    assert client.get("/api/redoc/").status_code == 200


def test_unknown_api_paths_answer_json() -> None:
    for path in ("/api/v1/nothing/", "/api/v1/tickets", "/api/v2/tickets/"):
        answer = APIClient().get(path)
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"
        assert "/api/docs/" in answer.json()["detail"]
