"""The Django admin: every model's pages render, and transitions taken as admin actions
go through the service layer, so guards and roles hold there too."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import ChangeFactory, TicketFactory, UserFactory
from tickets.models import Change, Ticket, TransitionLog


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def client_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def _urls(obj_by_model):
    for model in admin.site._registry:
        opts = model._meta
        yield reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        obj = obj_by_model.get(model)
        if obj is not None:
            yield reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def test_every_admin_page_renders(client_admin, cast) -> None:
    from tickets.services import change_transition

    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="submit")
    ticket = TicketFactory(organization=cast.acme)
    objects = {
        Change: change,
        Ticket: ticket,
        TransitionLog: TransitionLog.objects.first(),
        type(cast.acme): cast.acme,
        type(cast.agent): cast.agent,
    }
    for url in _urls(objects):
        response = client_admin.get(url)
        assert response.status_code == 200, url
    response = client_admin.get(reverse("admin:tickets_change_changelist"), {"q": change.key})
    assert change.title in response.content.decode()


def test_status_is_read_only_and_changes_cannot_be_added(client_admin, cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    url = reverse("admin:tickets_change_change", args=[change.pk])
    assert client_admin.get(reverse("admin:tickets_change_add")).status_code == 403
    page = client_admin.get(url).content.decode()
    assert 'name="status"' not in page


def _act(client, model: str, action: str, pks: list[int], **data):
    return client.post(
        reverse(f"admin:tickets_{model}_changelist"),
        {"action": action, "_selected_action": pks, **data},
        follow=True,
    )


def test_admin_action_takes_the_transition_through_the_service(client_admin, cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    response = _act(client_admin, "change", "transition_submit", [change.pk])
    assert "Submit for approval: done for 1 of 1" in response.content.decode()
    assert Change.objects.get(pk=change.pk).status == Change.S.AWAITING_APPROVAL
    log = TransitionLog.objects.get(change=change)
    assert (log.transition, log.actor.username) == ("submit", "admin")


def test_admin_action_respects_guards(client_admin, cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, changelog="")
    response = _act(client_admin, "change", "transition_submit", [change.pk])
    assert "5. Changelog" in response.content.decode()
    assert Change.objects.get(pk=change.pk).status == Change.S.DRAFT


def test_admin_action_respects_roles(client_admin, cast) -> None:
    # `accept` is the customer's: the admin (provider staff) is refused with the reason.
    ticket = TicketFactory(organization=cast.acme, status=Ticket.S.IN_TESTING)
    response = _act(client_admin, "ticket", "transition_accept", [ticket.pk])
    assert "Only a user of the customer organisation may do this." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.S.IN_TESTING


def test_admin_action_asks_for_what_the_transition_needs(client_admin, cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    first = _act(client_admin, "change", "transition_reject", [change.pk])
    assert 'name="comment"' in first.content.decode()
    assert Change.objects.get(pk=change.pk).status == Change.S.AWAITING_APPROVAL
    missing = _act(client_admin, "change", "transition_reject", [change.pk], apply="1")
    assert "This field is required" in missing.content.decode()
    done = _act(
        client_admin, "change", "transition_reject", [change.pk], apply="1", comment="Too risky."
    )
    assert "Reject: done for 1 of 1" in done.content.decode()
    assert TransitionLog.objects.get(change=change).comment == "Too risky."
