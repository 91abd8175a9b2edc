"""Tokens (hashed at rest, expiring, several per user, revocable), the browser session with
CSRF, and throttling per user with counters in Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.crypto import get_random_string
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework.test import APIClient

from tests.api.support import Api, ok
from tickets.tasks import purge_expired_tokens

V1 = "/api/v1"
KEY = CONSTANTS.TOKEN_KEY_LENGTH  # the stored first characters of a key


def test_a_token_for_a_username_and_password(cast) -> None:
    client = APIClient()
    answer = ok(client.post(f"{V1}/auth/token/", {"username": "alice", "password": "demo"}))
    expiry = timezone.datetime.fromisoformat(answer["expiry"])
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert timezone.now() + ttl - timedelta(minutes=1) < expiry <= timezone.now() + ttl
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer['token']}")
    me = ok(client.get(f"{V1}/me/"))
    assert (me["username"], me["kind"], me["roles"]) == ("alice", "customer", ["customer"])
    assert me["organization"] == cast.acme.pk
    # Hashed at rest: the key is nowhere in the table, only its digest and first characters.
    stored = AuthToken.objects.get(user=cast.alice)
    assert answer["token"] not in (stored.digest, stored.token_key)
    assert answer["token"].startswith(stored.token_key)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "alice", "password": "wrong"}, 401, None),
        ({"username": "nobody", "password": "demo"}, 401, None),
        ({"username": "alice"}, 400, "password"),
        ({"password": "demo"}, 400, "username"),
    ],
)
def test_bad_credentials_get_no_token(cast, body, status, field) -> None:
    answer = APIClient().post(f"{V1}/auth/token/", body, format="json")
    assert answer.status_code == status
    assert answer.json()["detail"]
    if field:
        assert field in answer.json()["fields"]
    assert not AuthToken.objects.exists()


def test_an_inactive_user_gets_no_token_and_their_tokens_stop_working(cast) -> None:
    alice = Api("alice")
    cast.alice.is_active = False
    cast.alice.save()
    assert alice.get(f"{V1}/me/").status_code == 401
    answer = APIClient().post(f"{V1}/auth/token/", {"username": "alice", "password": "demo"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "header", [None, "Token", "Token nope", "Token a b", "Bearer x", "Token \u00e9\u00e9"]
)
def test_missing_or_bad_credentials_are_401(cast, header) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    answer = client.get(f"{V1}/tickets/")
    assert answer.status_code == 401
    assert answer.json()["code"] in ("not_authenticated", "authentication_failed")
    assert answer.headers["WWW-Authenticate"] == "Token"


def test_an_expired_token_is_401(cast) -> None:
    alice = Api("alice")
    AuthToken.objects.filter(user=cast.alice).update(expiry=timezone.now() - timedelta(seconds=1))
    assert alice.get(f"{V1}/me/").status_code == 401
    # Refused, and deleted as it is presented.
    assert not AuthToken.objects.filter(user=cast.alice).exists()


def test_expired_tokens_are_never_listed_and_are_purged_on_schedule(cast) -> None:
    """Authentication reads the presented token only (one query); the user's other expired
    tokens are hidden from the list and deleted by the hourly task."""
    ci, old, laptop = Api("agent"), Api("agent"), Api("agent")
    past = timezone.now() - timedelta(seconds=1)
    expiring = [old.token[:KEY], laptop.token[:KEY]]
    AuthToken.objects.filter(token_key__in=expiring).update(expiry=past)
    listed = ok(ci.get(f"{V1}/auth/tokens/"))["results"]
    assert [t["token_key"] for t in listed] == [ci.token[:KEY]]
    assert AuthToken.objects.filter(user=cast.agent).count() == 3  # not deleted by a request
    assert laptop.get(f"{V1}/me/").status_code == 401  # this one goes as it is presented
    assert AuthToken.objects.filter(user=cast.agent).count() == 2
    ok(Api("alice").get(f"{V1}/me/"))  # another user's live token is left alone
    assert purge_expired_tokens.delay().get(timeout=10) == 1
    assert set(AuthToken.objects.values_list("token_key", flat=True)) == {
        ci.token[:KEY],
        *AuthToken.objects.filter(user=cast.alice).values_list("token_key", flat=True),
    }
    assert ci.get(f"{V1}/me/").status_code == 200


def test_several_tokens_each_revocable(cast) -> None:
    ci, laptop = Api("agent"), Api("agent")
    tokens = ok(ci.get(f"{V1}/auth/tokens/"))["results"]
    assert len(tokens) == 2
    assert [t["current"] for t in tokens].count(True) == 1
    mine = next(t for t in tokens if t["current"])
    other = next(t for t in tokens if not t["current"])
    # Revoke the laptop's token from the CI's: the laptop is locked out, the CI is not.
    assert ci.delete(f"{V1}/auth/tokens/{other['token_key']}/").status_code == 204
    assert laptop.get(f"{V1}/me/").status_code == 401
    assert ci.get(f"{V1}/me/").status_code == 200
    assert ci.delete(f"{V1}/auth/tokens/{other['token_key']}/").status_code == 404
    # Logging out revokes the token the request was made with.
    assert ci.post(f"{V1}/auth/logout/").status_code == 204
    assert ci.get(f"{V1}/me/").status_code == 401
    assert not AuthToken.objects.filter(token_key=mine["token_key"]).exists()


def test_the_browser_session_works_with_csrf(cast) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(cast.alice)
    assert ok(browser.get(f"{V1}/me/"))["username"] == "alice"
    refused = browser.post(f"{V1}/tickets/", {"title": "From the browser"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    # What a page of the app gives the browser: the CSRF cookie, echoed in the header.
    token = get_random_string(32)
    browser.cookies[settings.CSRF_COOKIE_NAME] = token
    created = browser.post(
        f"{V1}/tickets/", {"title": "From the browser"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert created.status_code == 201, created.content


def _rates(settings, **rates: str) -> None:
    rf = settings.REST_FRAMEWORK
    settings.REST_FRAMEWORK = {
        **rf,
        "DEFAULT_THROTTLE_RATES": {**rf["DEFAULT_THROTTLE_RATES"], **rates},
    }


def test_requests_are_throttled_per_user_in_redis(cast, settings) -> None:
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    _rates(settings, user="3/minute")
    alice, bob = Api.of(cast.alice), Api.of(cast.bob)
    assert [alice.get(f"{V1}/me/").status_code for _ in range(3)] == [200, 200, 200]
    throttled = alice.get(f"{V1}/me/")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert "seconds" in throttled.json()["detail"]
    assert int(throttled.headers["Retry-After"]) > 0
    # Another user has a counter of their own.
    assert bob.get(f"{V1}/me/").status_code == 200


def test_password_attempts_are_throttled(cast, settings) -> None:
    _rates(settings, login="2/minute")
    client = APIClient()
    attempts = [
        client.post(f"{V1}/auth/token/", {"username": "alice", "password": "guess"}).status_code
        for _ in range(3)
    ]
    assert attempts == [401, 401, 429]


def test_the_base_settings_keep_counters_in_redis() -> None:
    from changeprocess.settings import base

    assert base.CACHES["default"]["BACKEND"] == "changeprocess.cache.RedisCache"
    assert base.CACHES["default"]["LOCATION"] == base.REDIS_URL
