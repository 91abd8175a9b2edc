"""Issue 12, each thing seen as a plain regression test: hostile or careless input is
refused with a 4xx that says why, never a 500, and never breaks a page for anyone else."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.api.support import Api
from tests.factories import ChangeFactory, TicketFactory, propose_window
from tickets.models import Change, Contact

V1 = "/api/v1"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _json_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["detail"], body
    return body


# --------------------------------------------------------------------------- 1. year 10000


def test_a_window_at_the_end_of_year_9999_behind_utc_is_refused_in_the_portal(cast) -> None:
    cast.alice.timezone = "America/New_York"
    cast.alice.save()
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=Change.S.DRAFT)
    alice = _client(cast.alice)
    answer = alice.post(
        f"/portal/changes/{change.key}/window/",
        {"start": "9999-12-31T22:00", "end": "9999-12-31T23:00"},
    )
    assert answer.status_code == 400
    assert "between the years 1900 and 2200" in answer.content.decode()
    change.refresh_from_db()
    assert change.window_start is None
    assert alice.get("/portal/changes/").status_code == 200
    assert _client(cast.agent).get("/staff/changes/").status_code == 200


def test_a_window_in_year_1_is_refused_by_the_staff_form(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=Change.S.DRAFT)
    answer = _client(cast.agent).post(
        f"/staff/changes/{change.key}/window/",
        {"start": "0001-01-01T00:00", "end": "0001-01-01T01:00"},
    )
    assert answer.status_code == 400
    assert "between the years 1900 and 2200" in answer.content.decode()


# --------------------------------------------------------------------------- 2. nesting


def test_deeply_nested_json_to_the_token_endpoint_is_400_json(cast) -> None:
    answer = APIClient().post(f"{V1}/auth/token/", data="[" * 1000, content_type="application/json")
    body = _json_error(answer, 400)
    assert "nested" in body["detail"]


def test_nesting_deeper_than_the_limit_is_refused_even_when_python_could_parse_it(cast) -> None:
    body = {"username": "alice", "password": "demo"}
    deep: object = body
    for _ in range(40):
        deep = {"x": deep}
    answer = APIClient().post(
        f"{V1}/auth/token/", data=json.dumps(deep), content_type="application/json"
    )
    assert "nested" in _json_error(answer, 400)["detail"]


# --------------------------------------------------------------------------- 3. year 1


@pytest.mark.parametrize(
    "start",
    ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00"],
)
def test_an_api_window_out_of_range_is_400_json(cast, start) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=Change.S.DRAFT)
    answer = Api.of(cast.agent).put(
        f"{V1}/changes/{change.pk}/window/", {"start": start, "end": "2030-01-01T00:00:00Z"}
    )
    body = _json_error(answer, 400)
    assert "1900" in " ".join(body["fields"]["start"])
    change.refresh_from_db()
    assert change.window_start is None


# --------------------------------------------------------------------------- 4. CSV import


def test_a_csv_with_a_nul_byte_and_an_overlong_address_reports_both_and_keeps_the_rest(
    cast,
) -> None:
    long_email = "a" * 290 + "@acme.example"
    data = (
        "name,email\n"
        "Good One,good@acme.example\n"
        "Bad\x00Name,nul@acme.example\n"
        f"Too Long,{long_email}\n"
        "Good Two,good2@acme.example\n"
    ).encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    answer = _client(cast.alice).post(
        "/portal/contacts/import/",
        {"file": SimpleUploadedFile("c.csv", data, content_type="text/csv")},
    )
    assert answer.status_code == 200
    report = answer.context["report"]
    assert {r.row: r.reason for r in report.rejected} == {
        3: "the name contains a NUL character",
        4: "the e-mail address is longer than 254 characters",
    }
    assert set(Contact.objects.values_list("email", flat=True)) == {
        "good@acme.example",
        "good2@acme.example",
    }
    assert _client(cast.alice).get("/portal/contacts/").status_code == 200


# --------------------------------------------------------------------------- 6. search


def test_a_nul_byte_in_the_editors_ticket_search_is_refused_not_a_500(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=Change.S.DRAFT)
    agent = _client(cast.agent)
    answer = agent.get(
        f"/staff/changes/{change.key}/edit/ticket-candidates/", {"ticket_search": "a\x00b"}
    )
    assert answer.status_code == 400
    answer = agent.post(
        f"/staff/changes/{change.key}/edit/", {"find_tickets": "1", "ticket_search": "a\x00"}
    )
    assert answer.status_code == 400
    assert agent.get(f"/staff/changes/{change.key}/edit/").status_code == 200


# --------------------------------------------------------------------------- 7. sizes


def test_a_body_over_the_upload_limit_is_413_json_from_the_api(cast, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    answer = Api.of(cast.agent).post(
        f"{V1}/tickets/", {"title": "x", "description": "y" * 20_000, "organization": 1}
    )
    body = _json_error(answer, 413)
    assert "10000" in body["detail"].replace(",", "").replace(" ", "") or "KB" in body["detail"]


def test_a_huge_comment_or_summary_is_refused_naming_the_cap(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=Change.S.DRAFT)
    propose_window(change, cast.agent)
    agent = Api.of(cast.agent)
    answer = agent.patch(f"{V1}/changes/{change.pk}/", {"summary": "x" * 2_400_000})
    assert answer.status_code in (400, 413)
    answer = agent.patch(f"{V1}/changes/{change.pk}/", {"summary": "x" * 50_001})
    body = _json_error(answer, 400)
    assert "50000" in " ".join(body["fields"]["summary"])


def test_the_login_throttle_answers_429_json(cast, settings) -> None:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "2/minute"},
    }
    client = APIClient()
    for _ in range(2):
        client.post(f"{V1}/auth/token/", {"username": "alice", "password": "wrong"})
    answer = client.post(f"{V1}/auth/token/", {"username": "alice", "password": "wrong"})
    body = _json_error(answer, 429)
    assert body["code"] == "throttled" and answer["Retry-After"]


# --------------------------------------------------------------------------- 8. API docs


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_carry_the_csp_nonce_on_their_inline_code(settings, path) -> None:
    from csp.constants import NONCE, SELF

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF, NONCE],
            "style-src": [SELF, NONCE],
        }
    }
    answer = Client().get(path)
    assert answer.status_code == 200
    policy = answer["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    html = answer.content.decode()
    inline = html.count("<style") + html.count("<script>") + html.count("<script nonce")
    assert html.count(f'nonce="{nonce}"') == inline > 0
    assert "fonts.googleapis.com" not in html
    # Pages without inline code get no nonce in their policy.
    assert "nonce-" not in Client().get("/accounts/login/")["Content-Security-Policy"]


# --------------------------------------------------------------------------- 9. addresses


def _request(remote: str, forwarded: str | None = None):
    from django.test import RequestFactory

    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings) -> None:
    from changeprocess.guard import client_address

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(_request("198.51.100.1", "203.0.113.5")) == "198.51.100.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(_request("10.0.0.2", "6.6.6.6, 203.0.113.5")) == "203.0.113.5"
    # Fewer entries than proxies: something bypassed one; only the peer can be trusted.
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(_request("10.0.0.2", "203.0.113.5")) == "10.0.0.2"


def test_a_changing_x_forwarded_for_does_not_get_round_the_login_throttle(cast, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "3/minute"},
    }
    client = APIClient()
    statuses = [
        client.post(
            f"{V1}/auth/token/",
            {"username": "alice", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_production_reads_the_client_address_from_the_trusted_proxies_only() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "changeprocess.settings.production",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "changes.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/changeprocess",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    env.pop("TRUSTED_PROXY_COUNT", None)
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.TRUSTED_PROXY_COUNT, s.REST_FRAMEWORK['NUM_PROXIES'], "
        "s.AXES_CLIENT_IP_CALLABLE, s.AXES_LOCKOUT_CALLABLE)"
    )
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "0",
        "0",
        "changeprocess.guard.client_address",
        "changeprocess.guard.lockout_response",
    ]


# --------------------------------------------------------------------------- one place


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"title": "a\\u0000b", "organization": 1}', "title"),
        ('{"title": "ok", "description": "\\ud800", "organization": 1}', "description"),
        ('{"ti\\u0000tle": "x"}', "ti\ufffdtle"),
        ('{"title": "ok", "organization": 1, "x": [{"y": "\\udfff"}]}', "x.0.y"),
    ],
)
def test_nul_and_lone_surrogates_in_json_are_refused_naming_the_field(cast, body, field) -> None:
    answer = Api.of(cast.agent).client.post(
        f"{V1}/tickets/", data=body, content_type="application/json"
    )
    assert field in _json_error(answer, 400)["fields"]


def test_nul_in_a_query_parameter_is_refused_everywhere(cast) -> None:
    agent = _client(cast.agent)
    for url in ("/staff/tickets/?q=a%00", "/admin/tickets/ticket/?q=%00", "/portal/?x=%00"):
        answer = agent.get(url)
        assert answer.status_code == 400, url
        assert b"NUL character" in answer.content
    api = Api.of(cast.agent).get(f"{V1}/changes/", {"search": "a\x00"})
    assert "search" in _json_error(api, 400)["fields"]


def test_text_over_its_cap_is_refused_in_the_forms_with_the_cap(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    answer = _client(cast.alice).post(
        f"/portal/tickets/{ticket.key}/comment/", {"body": "x" * 50_001}
    )
    assert answer.status_code == 400
    assert "at most 50000 characters" in answer.content.decode()
    answer = _client(cast.agent).post(
        f"/staff/tickets/{ticket.key}/comment/", {"body": "x" * 50_001}
    )
    assert answer.status_code == 400
    assert "at most 50000 characters" in answer.content.decode()
