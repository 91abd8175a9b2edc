"""Freezes in the staff workspace: operations management declares, edits and deletes them
(the service's refusals shown next to the fields, with what was typed); everyone else
reads them. The perform action offers an override reason to operations management only,
inside a hard freeze."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ChangeFactory, approve_all, complete_checklist, propose_window
from tests.staff.conftest import client_for
from tickets.models import ChangeStatus, Freeze, FreezeOverride
from tickets.services.schedule import freeze_create

FORM = {
    "title": "Black Friday",
    "reason": "Peak sales",
    "start": "2030-11-29T00:00",
    "end": "2030-11-30T00:00",
    "timezone": "Europe/London",
    "rrule": "",
    "hard": "hard",
    "organization": "",
    "environment": "",
    "components": "",
}


def test_operations_management_declares_a_freeze_on_its_wall_clock(cast) -> None:
    response = client_for(cast.ops).post("/staff/freezes/new/", FORM)
    assert response.status_code == 302
    freeze = Freeze.objects.get(title="Black Friday")
    assert freeze.hard and freeze.timezone == "Europe/London"
    assert freeze.start.isoformat() == "2030-11-29T00:00:00+00:00"  # London = UTC in winter
    page = client_for(cast.ops).get("/staff/freezes/").content.decode()
    assert "Black Friday" in page and "Hard freeze" in page


def test_service_refusals_come_back_next_to_the_fields_with_the_input_kept(cast) -> None:
    data = {
        **FORM,
        "title": "Kept title",
        "rrule": "FREQ=HOURLY",
        "end": "2030-11-28T00:00",
        "organization": "999999",
        "components": "12, abc",
    }
    response = client_for(cast.ops).post("/staff/freezes/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Component ids are numbers" in html  # the form's shape check
    data["components"] = ""
    response = client_for(cast.ops).post("/staff/freezes/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "The freeze must end after it starts." in html
    assert "No such organisation." in html
    assert 'value="Kept title"' in html and 'value="FREQ=HOURLY"' in html
    assert not Freeze.objects.exists()
    data["end"] = FORM["end"]
    data["organization"] = ""
    html = client_for(cast.ops).post("/staff/freezes/new/", data).content.decode()
    assert "repeats at most daily" in html


def test_edit_and_delete_with_confirmation(cast) -> None:
    freeze = freeze_create(
        by=cast.ops,
        title="Old",
        start=timezone.now() + timedelta(days=1),
        end=timezone.now() + timedelta(days=2),
    )
    client = client_for(cast.ops)
    page = client.get(f"/staff/freezes/{freeze.pk}/").content.decode()
    assert 'value="Old"' in page
    response = client.post(f"/staff/freezes/{freeze.pk}/", {**FORM, "title": "New", "hard": "soft"})
    assert response.status_code == 302
    freeze.refresh_from_db()
    assert freeze.title == "New" and not freeze.hard and freeze.sequence == 1
    confirm = client.get(f"/staff/freezes/{freeze.pk}/delete/")
    assert confirm.status_code == 200 and "Delete the freeze" in confirm.content.decode()
    assert Freeze.objects.filter(pk=freeze.pk).exists()
    assert client.post(f"/staff/freezes/{freeze.pk}/delete/").status_code == 302
    assert not Freeze.objects.filter(pk=freeze.pk).exists()


@pytest.mark.parametrize("who", ["agent", "qa", "peer"])
def test_others_read_freezes_but_may_not_change_them(cast, who) -> None:
    freeze = freeze_create(
        by=cast.ops,
        title="Read me",
        start=timezone.now() + timedelta(days=1),
        end=timezone.now() + timedelta(days=2),
    )
    client = client_for(getattr(cast, who))
    listing = client.get("/staff/freezes/").content.decode()
    assert "Read me" in listing and "Declare a freeze" not in listing
    detail = client.get(f"/staff/freezes/{freeze.pk}/")
    assert detail.status_code == 200 and "<form" not in detail.content.decode().split("<main")[1]
    assert client.get("/staff/freezes/new/").status_code == 403
    assert client.post("/staff/freezes/new/", FORM).status_code == 403
    assert client.post(f"/staff/freezes/{freeze.pk}/", FORM).status_code == 403
    assert client.post(f"/staff/freezes/{freeze.pk}/delete/").status_code == 403
    assert Freeze.objects.count() == 1 and Freeze.objects.get().title == "Read me"
    assert "Declare a freeze" not in client.get("/staff/calendar/").content.decode()


# --------------------------------------------------------------------------- on a change


def _ready_to_perform(cast):
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=ChangeStatus.TO_BE_RELEASED
    )
    approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    complete_checklist(change, cast.agent)
    propose_window(change, cast.agent, agreed_by=cast.alice)
    freeze_create(
        by=cast.ops,
        title="Code freeze",
        reason="Audit",
        start=timezone.now() - timedelta(hours=1),
        end=timezone.now() + timedelta(days=5),
        organization=cast.acme.pk,
    )
    return change


def test_the_change_page_lists_its_conflicts_before_the_window_is_agreed(cast) -> None:
    change = _ready_to_perform(cast)
    html = client_for(cast.agent).get(f"/staff/changes/{change.key}/").content.decode()
    assert 'id="conflicts"' in html and "Code freeze" in html and "conflict--hard" in html
    edit = ChangeFactory(organization=cast.acme, author=cast.agent)
    propose_window(edit, cast.agent)
    html = client_for(cast.agent).get(f"/staff/changes/{edit.key}/edit/").content.decode()
    assert 'id="conflicts"' in html and "Code freeze" in html


def test_only_operations_management_is_offered_the_override(cast) -> None:
    change = _ready_to_perform(cast)
    agent_page = client_for(cast.agent).get(f"/staff/changes/{change.key}/").content.decode()
    assert "override_reason" not in agent_page
    assert "is frozen until" in agent_page  # the blocked perform says why
    ops = client_for(cast.ops)
    assert "override_reason" in ops.get(f"/staff/changes/{change.key}/").content.decode()
    # The agent posting a reason anyway is refused by the service.
    refused = client_for(cast.agent).post(
        f"/staff/changes/{change.key}/transitions/perform/", {"override_reason": "Urgent"}
    )
    assert refused.status_code == 403
    response = ops.post(
        f"/staff/changes/{change.key}/transitions/perform/",
        {"override_reason": "Security fix, agreed with the customer"},
    )
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeStatus.IN_TESTING
    override = FreezeOverride.objects.get(change=change)
    assert override.actor == cast.ops and override.freeze_title == "Code freeze"
