"""The process holds in the staff workspace too (issue 10): the editor cannot leave a
live change incomplete, and says which section; nothing of the edit is kept."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import ChangeFactory
from tests.staff.conftest import client_for
from tests.staff.test_actions import editor_data
from tickets.models import Change

pytestmark = pytest.mark.django_db


def test_the_editor_refuses_to_blank_a_section_past_draft(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.TO_BE_RELEASED
    )
    data = editor_data(change, summary="Reworded.", deployment_procedure="")
    response = client_for(cast.agent).post(reverse("staff:change_edit", args=[change.key]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "6. Deployment procedure" in html
    assert "Reworded." in html  # what was typed is kept
    change.refresh_from_db()
    assert (change.status, change.summary) == (Change.S.TO_BE_RELEASED, ChangeFactory.summary)
    assert change.deployment_procedure and change.edits.count() == 0


def test_the_editor_refuses_to_remove_the_last_regression_scenario(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    regression = change.scenarios.get(kind="regression")
    data = editor_data(change)
    index = next(
        k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == regression.pk
    )
    data[f"scenarios-{index}-DELETE"] = "on"
    response = client_for(cast.agent).post(reverse("staff:change_edit", args=[change.key]), data)
    assert response.status_code == 400
    assert "8. Test scenarios" in response.content.decode()
    assert change.scenarios.filter(pk=regression.pk).exists()


def test_one_save_is_judged_by_where_it_ends(cast) -> None:
    """Replacing the only regression scenario in one save is an edit that ends complete:
    `change_edit` checks the change once, after every part of the save."""
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    regression = change.scenarios.get(kind="regression")
    data = editor_data(change)
    index = next(
        k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == regression.pk
    )
    data[f"scenarios-{index}-DELETE"] = "on"
    new = int(data["scenarios-TOTAL_FORMS"]) - 1  # the blank row the editor offers
    data[f"scenarios-{new}-kind"] = "regression"
    data[f"scenarios-{new}-description"] = "Last month's invoices still open."
    response = client_for(cast.agent).post(reverse("staff:change_edit", args=[change.key]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(
        change.scenarios.filter(kind="regression").values_list("description", flat=True)
    ) == ["Last month's invoices still open."]
