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
