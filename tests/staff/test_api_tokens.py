"""A user creates, sees (once) and revokes their own API tokens in the web UI."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from tests.staff.conftest import client_for


def test_a_token_is_shown_once_and_works_until_revoked(cast) -> None:
    client = client_for(cast.alice)  # customers integrate too
    url = reverse("api_tokens")
    response = client.post(url, {"lifetime": "7"})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    token = AuthToken.objects.get(user=cast.alice)
    key = response.context["created_key"]
    assert key in response.content.decode() and key.startswith(token.token_key)
    # Listed afterwards by its first characters only, never the key.
    listing = client.get(url).content.decode()
    assert token.token_key in listing and key not in listing
    api = client_for(cast.alice)
    api.logout()
    assert api.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    client.post(url, {"revoke": token.token_key})
    assert not AuthToken.objects.filter(user=cast.alice).exists()
    assert api.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_nobody_revokes_someone_elses_token(cast) -> None:
    token, _ = AuthToken.objects.create(user=cast.qa)
    client_for(cast.agent).post(reverse("api_tokens"), {"revoke": token.token_key})
    assert AuthToken.objects.filter(pk=token.pk).exists()
    assert token.token_key not in client_for(cast.agent).get(reverse("api_tokens")).content.decode()


def test_the_token_page_needs_a_login(client) -> None:
    assert client.get(reverse("api_tokens"))["Location"].startswith(reverse("login"))


def test_the_token_page_says_a_token_expired_and_revokes_it(cast) -> None:
    """An expired token stays listed, marked, until the hourly purge (the API's own list
    leaves it out); it can still be revoked from the page."""
    token, _ = AuthToken.objects.create(user=cast.agent)
    AuthToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(days=1))
    client = client_for(cast.agent)
    listing = client.get(reverse("api_tokens")).content.decode()
    assert token.token_key in listing and "Expired" in listing
    client.post(reverse("api_tokens"), {"revoke": token.token_key})
    assert not AuthToken.objects.filter(pk=token.pk).exists()


def test_every_scheduled_task_is_a_registered_task() -> None:
    """A beat entry naming a task that does not exist would fail only in production."""
    from changeprocess.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
