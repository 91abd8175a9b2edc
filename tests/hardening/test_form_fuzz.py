"""Every HTML form of the staff workspace and the portal, sent hostile values by each
role: no answer is a 500, and afterwards every page of the objects touched still answers
200 for everyone else (staff dashboard, lists, board, details; the portal's; the API's).

The endpoints come from the URL configuration: every pattern of the `staff:` and
`portal:` namespaces (walked with `get_resolver()`), its arguments filled with the
objects of a small world (`_url_values`); a pattern this test cannot fill fails it, so a
new form is fuzzed the day it is added. The field names each endpoint takes are read from
the forms on the pages (every GET-able pattern, rendered for the role), so the values land
in real fields; a few names no form has are mixed in.

Every URL is also fetched with hostile query parameters: the names of the page's GET
forms (filters, searches, htmx's search-as-you-type) and a few common ones.

Each example sends to every endpoint once (on one of its objects); bounded for CI:
FORM_FUZZ_EXAMPLES (default 3) examples per role.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlparse

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from rest_framework.test import APIClient

from notifications.models import Delivery, Notification, NotificationKind
from tests.factories import (
    ChangeFactory,
    ContactFactory,
    TicketCommentFactory,
    TicketFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
    propose_window,
)
from tickets import services, workflow
from tickets.models import Change, Ticket
from tickets.services import schedule

MAX_EXAMPLES = int(os.environ.get("FORM_FUZZ_EXAMPLES", "3"))

PROVIDER_ROLES = ("agent", "qa", "peer", "ops")
ROLES = (*PROVIDER_ROLES, "alice")


# --------------------------------------------------------------------------- world


@dataclass
class World:
    cast: Any
    changes: list[Change]
    tickets: list[Ticket]
    values: dict[str, dict[str, list[Any]]] = field(default_factory=dict)


def _world(cast: Any) -> World:
    changes = []
    for status in (Change.S.DRAFT, Change.S.AWAITING_APPROVAL, Change.S.IN_TESTING):
        change = ChangeFactory(organization=cast.acme, author=cast.agent, status=status)
        propose_window(change, cast.agent)
        changes.append(change)
    released = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.TO_BE_RELEASED
    )
    propose_window(released, cast.agent, agreed_by=cast.alice)
    changes.append(released)
    tickets = []
    for status, change in (
        (Ticket.S.WAITING_FOR_SUPPORT, None),
        (Ticket.S.WAITING_FOR_CUSTOMER, None),
        (Ticket.S.TO_BE_RELEASED, None),
        (Ticket.S.IN_TESTING, changes[2]),
    ):
        ticket = TicketFactory(
            organization=cast.acme, reporter=cast.alice, status=status, change=change
        )
        TicketCommentFactory(ticket=ticket, author=cast.alice, body="Hello.")
        tickets.append(ticket)
    contact = ContactFactory(organization=cast.acme)
    notices = {}
    for user in (cast.alice, cast.agent):
        notification = Notification.objects.create(
            kind=NotificationKind.ACTION,
            ticket=tickets[1],
            subject=f"{tickets[1].key} waits",
            body_text="Please answer.",
        )
        notices[user.pk] = Delivery.objects.create(
            notification=notification, user=user, recipient=user.email
        ).pk
    files = [
        services.attachment_add(
            by=cast.alice, ticket=tickets[0].pk, file=ContentFile(b"a log", name="a.log")
        ).pk,
        services.attachment_add(
            by=cast.agent, change=changes[0].pk, file=ContentFile(b"a plan", name="plan.txt")
        ).pk,
    ]
    freeze = schedule.freeze_create(
        by=cast.ops,
        title="Quarter close",
        start=changes[0].created + timedelta(days=3),
        end=changes[0].created + timedelta(days=4),
    )
    staff_hook = WebhookEndpointFactory(owner=cast.agent, organization=None)
    portal_hook = WebhookEndpointFactory(owner=cast.alice, organization=cast.alice.organization)
    hooks = {
        "staff": {
            "pk": [staff_hook.pk],
            "did": [WebhookDeliveryFactory(endpoint=staff_hook).pk],
        },
        "portal": {
            "pk": [portal_hook.pk],
            "did": [WebhookDeliveryFactory(endpoint=portal_hook).pk],
        },
    }
    world = World(cast=cast, changes=changes, tickets=tickets)
    change_transitions = sorted({t.name for t in workflow.transitions_of(Change)})
    ticket_transitions = sorted({t.name for t in workflow.transitions_of(Ticket)})
    common = {
        "item": [c.checklist.first().pk for c in changes],
        "scenario": [c.scenarios.first().pk for c in changes],
    }
    world.values = {
        # Arguments by (namespace, what the pattern's name starts with); "" for any.
        "staff:ticket": {"ref": [t.key for t in tickets], "name": ticket_transitions},
        "staff:change": {"ref": [c.key for c in changes], "name": change_transitions},
        "staff:notice": {"notice": [notices[cast.agent.pk]]},
        "staff:attachment": {"pk": files},
        "staff:freeze": {"pk": [freeze.pk]},
        "staff:webhook": hooks["staff"],
        "staff:": common,
        "portal:webhook": hooks["portal"],
        "portal:ticket": {"ref": [t.key for t in tickets], "name": ticket_transitions},
        "portal:change": {
            "ref": [c.key for c in changes],
            "name": change_transitions + ticket_transitions,
            "ticket": [tickets[3].key],
        },
        "portal:contact": {"pk": [contact.pk]},
        "portal:notification": {"pk": [notices[cast.alice.pk]]},
        "portal:attachment": {"pk": files},
        "portal:": common,
    }
    return world


def _patterns(namespace: str) -> Iterator[URLPattern]:
    """Every URL pattern of the namespace, from the URL configuration."""
    _prefix, resolver = get_resolver().namespace_dict[namespace]
    stack: list[URLPattern | URLResolver] = list(resolver.url_patterns)
    while stack:
        entry = stack.pop()
        if isinstance(entry, URLResolver):
            stack.extend(entry.url_patterns)
        else:
            yield entry


def _urls(world: World, namespace: str) -> dict[str, list[str]]:
    """Each pattern's name: its URLs, filled with the world's objects."""
    out: dict[str, list[str]] = {}
    for pattern in _patterns(namespace):
        args = list(pattern.pattern.converters)
        tables = [
            table
            for key, table in world.values.items()
            if key.startswith(f"{namespace}:")
            and (pattern.name or "").startswith(key.split(":")[1])
        ]
        choices: dict[str, list[Any]] = {}
        for arg in args:
            for table in tables:
                if arg in table:
                    choices[arg] = table[arg]
                    break
            assert arg in choices, (
                f"{namespace}:{pattern.name} takes {arg!r}: say in _world how to fill it"
            )
        rng = random.Random(pattern.name)
        urls = set()
        for i in range(max((len(v) for v in choices.values()), default=1)):
            kwargs = {
                a: (v[i % len(v)] if a != "name" else rng.choice(v)) for a, v in choices.items()
            }
            urls.add(reverse(f"{namespace}:{pattern.name}", kwargs=kwargs))
        if "name" in choices:  # every transition name, on some object
            for name in choices["name"]:
                kwargs = {a: rng.choice(v) for a, v in choices.items()}
                kwargs["name"] = name
                urls.add(reverse(f"{namespace}:{pattern.name}", kwargs=kwargs))
        out[pattern.name or ""] = sorted(urls)
    return out


# --------------------------------------------------------------------------- forms


class _Forms(HTMLParser):
    """The forms of a page: method, action and the names of their fields; and each htmx
    `hx-get` (a search as you type) as a GET form of its own element."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, set[str], bool]] = []
        self._current: tuple[str, str, set[str], bool] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "form":
            method = (a.get("method") or "get").lower()
            multipart = (a.get("enctype") or "") == "multipart/form-data"
            self._current = (method, a.get("action") or "", set(), multipart)
            self.forms.append(self._current)
        elif (
            tag in ("input", "select", "textarea", "button")
            and self._current is not None
            and name
            and name != "csrfmiddlewaretoken"
        ):
            self._current[2].add(name)
        if a.get("hx-get") and name:
            self.forms.append(("get", a["hx-get"] or "", {name}, False))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


@dataclass
class Endpoint:
    method: str
    name: str
    urls: list[str]  # the pattern filled with different objects
    fields: list[str]
    multipart: bool


def _endpoints(client: Client, namespace: str, urls: dict[str, list[str]]) -> list[Endpoint]:
    """Every URL of the namespace, POSTed and GET, with the fields its forms send (read
    from every page the role can GET)."""
    fields: dict[tuple[str, str], set[str]] = defaultdict(set)
    multipart: set[str] = set()
    for page_urls in urls.values():
        for url in page_urls:
            page = client.get(url)
            assert page.status_code < 500, (url, page.status_code)
            if page.status_code != 200 or "html" not in page.get("Content-Type", ""):
                continue
            parser = _Forms()
            parser.feed(page.content.decode())
            for method, action, names, is_multipart in parser.forms:
                path = urlparse(action).path or url
                try:
                    name = resolve(path).url_name or ""
                except Exception:  # noqa: S112 - a form posting elsewhere (logout, ...)
                    continue
                fields[(method, name)] |= names
                if is_multipart:
                    multipart.add(name)
    return [
        Endpoint(
            method=method,
            name=name,
            urls=page_urls,
            fields=sorted(fields[(method, name)] | EXTRA_FIELDS[method]),
            multipart=method == "post" and name in multipart,
        )
        for name, page_urls in urls.items()
        for method in ("post", "get")
    ]


# --------------------------------------------------------------------------- values

EXTRA_FIELDS = {
    "post": {"id", "status", "organization", "start", "end"},
    "get": {"q", "page", "status", "ticket_search"},
}

SAMPLES = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "9999-12-31T23:00",
    "9999-12-31 23:00",
    "0001-01-01T00:00",
    "0001-01-01",
    "10000-01-01T00:00",
    "1899-12-31T23:59",
    "2201-01-01T00:00",
    "2025-02-30T25:61",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "true",
    "[]",
    "{}",
    "",
    " ",
    "<script>alert(1)</script>",
    "'; DROP TABLE tickets_ticket; --",
    "SUP-1",
    "CHG-99999999999999999999",
    "\u202e",
    "\r\n\r\n",
    "on",
]

samples = st.sampled_from(SAMPLES)
others = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Zs", "L"]), max_size=20),
    st.sampled_from(["x", "é", "\x00", "𝄞", "=1+"]).map(lambda s: s * (100_000 // len(s))),
    st.integers().map(str),
    st.datetimes().map(  # naive, years 1 to 9999
        lambda d: d.isoformat()[:16]
    ),
)


def _poison(text: str, where: int, bad: str) -> str:
    at = where % (len(text) + 1)
    return text[:at] + bad + text[at:]


# Generated text with a NUL or an unpaired surrogate somewhere in it.
poisoned = st.builds(
    _poison, st.text(max_size=30), st.integers(0, 30), st.sampled_from(["\x00", "\ud800", "\udc00"])
)
# A third each: the samples of known trouble, generated values, poisoned text.
hostile_text = st.integers(0, 2).flatmap(lambda k: (samples, others, poisoned)[k])

csv_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.tuples(hostile_text, hostile_text), max_size=5).map(
        lambda rows: "\n".join(f"{n},{e}" for n, e in rows).encode("utf-8", "surrogatepass")
    ),
    st.just(b"name,email\n" + b"Jane\x00,jane@x.example\n" + b"a" * 300 + b"@x.example\n"),
)


def _send(client: Client, endpoint: Endpoint, url: str, data: st.DataObject) -> Any:
    # Most of the form's fields, each with a hostile value; sometimes one of them twice.
    chosen = [n for n in endpoint.fields if data.draw(st.integers(0, 3), label=n) > 0]
    pairs = [(n, data.draw(hostile_text, label=n)) for n in chosen]
    if pairs and data.draw(st.booleans(), label="repeat a field"):
        pairs.append((pairs[0][0], data.draw(hostile_text)))
    if endpoint.method == "get":
        return client.get(f"{url}?{urlencode(pairs, errors='surrogatepass')}")
    if endpoint.multipart:
        form: dict[str, Any] = defaultdict(list)
        for n, v in pairs:
            # The test client encodes strictly; a browser's bytes are what Django decodes.
            form[n].append(v.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
        upload = data.draw(csv_bytes, label="file")
        form["file"] = [SimpleUploadedFile("contacts.csv", upload, content_type="text/csv")]
        return client.post(url, form)
    body = urlencode(pairs, errors="surrogatepass")
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


# --------------------------------------------------------------------------- pages


def _pages_still_answer(world: World) -> None:
    cast = world.cast
    staff_pages = ["/staff/", "/staff/tickets/", "/staff/changes/", "/staff/changes/board/"]
    staff_pages += [f"/staff/changes/{c.key}/" for c in world.changes]
    staff_pages += [f"/staff/tickets/{t.key}/" for t in world.tickets]
    for user in (cast.agent, cast.qa, cast.ops, cast.agent2):
        client = Client()
        client.force_login(user)
        for url in staff_pages:
            assert client.get(url).status_code == 200, (user.username, url)
        for c in world.changes:  # the editor, or back to the change once it is not editable
            url = f"/staff/changes/{c.key}/edit/"
            assert client.get(url).status_code in (200, 302), (user.username, url)
    portal_pages = ["/portal/", "/portal/changes/", "/portal/tickets/", "/portal/contacts/"]
    portal_pages += ["/portal/notifications/"]
    portal_pages += [f"/portal/changes/{c.key}/" for c in world.changes]
    portal_pages += [f"/portal/tickets/{t.key}/" for t in world.tickets]
    alice = Client()
    alice.force_login(cast.alice)
    for url in portal_pages:
        assert alice.get(url).status_code == 200, ("alice", url)
    bob = Client()
    bob.force_login(cast.bob)
    for url in ("/portal/", "/portal/changes/", "/portal/tickets/"):
        assert bob.get(url).status_code == 200, ("bob", url)
    for user in (cast.agent, cast.alice):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
        for url in ("/api/v1/changes/", "/api/v1/tickets/", "/api/v1/me/"):
            assert api.get(url).status_code == 200, (user.username, url)
        for c in world.changes:
            for url in (f"/api/v1/changes/{c.pk}/", f"/api/v1/changes/{c.pk}/history/"):
                assert api.get(url).status_code == 200, (user.username, url)
        for t in world.tickets:
            assert api.get(f"/api/v1/tickets/{t.pk}/comments/").status_code == 200


# --------------------------------------------------------------------------- the test


@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", ROLES)
def test_hostile_form_posts_never_answer_500(cast, role: str) -> None:
    world = _world(cast)
    user = getattr(cast, role)
    namespace = "portal" if role == "alice" else "staff"
    client = Client()
    client.force_login(user)
    endpoints = _endpoints(client, namespace, _urls(world, namespace))
    assert endpoints

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(data=st.data())
    def send_hostile_values(data: st.DataObject) -> None:
        # One example: every endpoint once, on one of its objects.
        for endpoint in endpoints:
            url = data.draw(st.sampled_from(endpoint.urls), label=endpoint.name)
            answer = _send(client, endpoint, url, data)
            assert answer.status_code < 500, (endpoint.method, url, answer.status_code)

    send_hostile_values()
    _pages_still_answer(world)
