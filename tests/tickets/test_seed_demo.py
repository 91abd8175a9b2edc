"""`manage.py seed_demo`: every status, idempotent, refused with DEBUG off."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from tickets.models import Change, Ticket, User


def _counts() -> dict[str, int]:
    return {
        m._meta.label: m.objects.count()
        for m in apps.get_models()
        if m._meta.app_label in ("tickets", "approvals", "notifications")
    }


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())


def test_demo_covers_every_status(seeded) -> None:
    assert set(Change.objects.values_list("status", flat=True)) == set(Change.S.values)
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Ticket.S.values)
    assert set(Change.objects.values_list("performer", flat=True)) == {"provider", "customer"}


def test_demo_accounts_have_their_roles(seeded) -> None:
    users = {u.username: u for u in User.objects.all()}
    assert users["agent"].is_support_agent and users["agent"].is_provider
    assert users["qa"].is_qa
    assert users["ops"].is_operations_manager
    assert users["peer"].role_names == ["engineer"]
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert users["alice"].organization.name == "Acme Corp"
    assert users["bob"].organization.name == "Globex"
    assert all(u.check_password("demo") for u in users.values())


def test_running_twice_changes_nothing(seeded) -> None:
    before = _counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert _counts() == before
    assert "nothing changed" in out.getvalue()


def test_refuses_with_debug_off(db, settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.filter(username="agent").exists()
    call_command("seed_demo", "--force", stdout=StringIO())
    assert User.objects.filter(username="agent").exists()
