"""Every page of the staff workspace renders for every provider role, and only for staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.staff.conftest import client_for
from tickets.models import ChangeStatus, TicketStatus

ROLES = ["agent", "agent2", "qa", "peer", "ops"]


def _pages(desk) -> list[tuple[str, str]]:
    t = desk.tickets
    c = desk.changes
    pages = [
        (reverse("staff:dashboard"), "My work"),
        (reverse("staff:ticket_list"), "Ticket queue"),
        (reverse("staff:ticket_new"), "New ticket"),
        (reverse("staff:change_list"), "Changes"),
        (reverse("staff:change_board"), "Change board"),
        (reverse("staff:change_new"), "New change"),
        (reverse("staff:workflows"), "Workflows"),
        (reverse("staff:webhooks"), "Subscribe a webhook"),
        (reverse("password_change"), "Change your password"),
        (reverse("api_tokens"), "API tokens"),
    ]
    pages += [(reverse("staff:ticket_detail", args=[x.key]), x.title) for x in t.values()]
    pages += [(reverse("staff:change_detail", args=[x.key]), x.title) for x in c.values()]
    pages += [
        (reverse("staff:change_edit", args=[c[s].key]), "the nine sections")
        for s in (ChangeStatus.DRAFT, ChangeStatus.AWAITING_APPROVAL)
    ]
    return pages


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_for_every_provider_role(desk, role) -> None:
    client = client_for(desk.cast.providers()[role])
    for url, text in _pages(desk):
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url


def test_the_login_page_renders_for_anonymous_users(client) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_home_sends_each_user_where_they_work(desk, client) -> None:
    assert client.get("/")["Location"].startswith(reverse("login"))
    assert client_for(desk.cast.agent).get("/")["Location"] == reverse("staff:dashboard")
    assert client_for(desk.cast.alice).get("/")["Location"] == "/portal/"


def test_login_lands_a_provider_user_on_the_workspace(desk, client) -> None:
    response = client.post(reverse("login"), {"username": "qa", "password": "demo"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("staff:dashboard")
    assert "My work" in response.content.decode()


def test_customers_and_anonymous_users_never_reach_the_workspace(desk, client) -> None:
    change = desk.changes[ChangeStatus.DRAFT]
    urls = [
        reverse("staff:dashboard"),
        reverse("staff:ticket_list"),
        reverse("staff:change_detail", args=[change.key]),
        reverse("staff:change_edit", args=[change.key]),
    ]
    alice = client_for(desk.cast.alice)
    for url in urls:
        assert alice.get(url)["Location"] == reverse("home"), url
        assert client.get(url)["Location"].startswith(reverse("login")), url
    # A customer's POST does nothing either.
    response = alice.post(
        reverse("staff:change_transition", args=[change.key, "cancel"]), {"comment": "no"}
    )
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeStatus.DRAFT


def test_an_unknown_key_is_not_found(desk) -> None:
    client = client_for(desk.cast.agent)
    assert client.get(reverse("staff:change_detail", args=["CHG-999999"])).status_code == 404
    assert client.get(reverse("staff:ticket_detail", args=["SUP-999999"])).status_code == 404
    assert client.get(reverse("staff:change_detail", args=["SUP-1"])).status_code == 404


def test_the_conversation_shows_internal_notes_to_staff(desk) -> None:
    ticket = desk.tickets[TicketStatus.WAITING_FOR_SUPPORT]
    body = client_for(desk.cast.qa).get(reverse("staff:ticket_detail", args=[ticket.key]))
    html = body.content.decode()
    assert "Customer says hello." in html
    assert "Note to self." in html
    assert "Internal note" in html


def test_the_change_page_reads_as_the_nine_sections(desk) -> None:
    change = desk.changes[ChangeStatus.IN_TESTING]
    html = client_for(desk.cast.ops).get(reverse("staff:change_detail", args=[change.key]))
    text = html.content.decode()
    for n, name in [
        (1, "Summary"),
        (2, "Components impacted"),
        (3, "Impact"),
        (4, "Support tickets to test"),
        (5, "Changelog"),
        (6, "Deployment procedure"),
        (7, "Rollback procedure"),
        (8, "Test scenarios"),
        (9, "Checklist"),
    ]:
        assert f'id="section-{n}"' in text
        assert name in text
    for panel in ("What you can do", "Approvals", "Deployment window", "Communications"):
        assert panel in text
    assert "Timeline" in text
    assert 'aria-current="step"' in text  # the diagram highlights the status


def test_the_buttons_are_exactly_the_domains_options(desk) -> None:
    from tickets.services import transitions_for

    for user in desk.cast.providers().values():
        client = client_for(user)
        for subject, url_name in [
            *((t, "staff:ticket_detail") for t in desk.tickets.values()),
            *((c, "staff:change_detail") for c in desk.changes.values()),
        ]:
            html = client.get(reverse(url_name, args=[subject.key])).content.decode()
            offered = {o.name for o in transitions_for(subject, user)}
            for name in offered:
                assert f'id="action-{name}"' in html, (user, subject, name)
            for other in {"submit", "approve", "reject", "perform", "cancel", "start", "hold"}:
                if other not in offered:
                    assert f'id="action-{other}"' not in html, (user, subject, other)


def test_logout_and_password_change(desk) -> None:
    client = client_for(desk.cast.peer)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "demo",
            "new_password1": "a-long-new-pass",
            "new_password2": "a-long-new-pass",
        },
    )
    assert response["Location"] == reverse("password_change_done")
    assert client.get(reverse("password_change_done")).status_code == 200
    assert client.post(reverse("logout"))["Location"] == reverse("login")
    assert client.get(reverse("staff:dashboard"))["Location"].startswith(reverse("login"))
    desk.cast.peer.refresh_from_db()
    assert desk.cast.peer.check_password("a-long-new-pass")
