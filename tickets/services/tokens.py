"""API tokens (django-rest-knox): what the API's auth endpoints and the token page both
do with them. A key is shown once, when it is made, and stored hashed."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from knox.models import AuthToken

from ..errors import InvalidInput, NotVisible
from ..models import User

# The lifetimes a person may choose on the token page, in days. The API's login trade
# uses knox's TOKEN_TTL (settings, REST_KNOX).
TOKEN_LIFETIMES = (7, 30, 90)


def tokens_of(user: User, *, live: bool = False) -> QuerySet[AuthToken]:
    """The user's own tokens, newest first; with `live`, only those that still work. An
    expired one is refused and stays (the token page says it expired) until
    `tokens_purge_expired`."""
    qs = AuthToken.objects.filter(user=user)
    if live:
        qs = qs.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
    return qs.order_by("-created")


def tokens_purge_expired() -> int:
    """Delete every expired token; how many. Authentication refuses an expired token
    (and deletes it) on its own; this clears those nobody presents again."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


def token_create(*, user: User, days: int | None = None) -> tuple[AuthToken, str]:
    """A new token for `user`: (the stored row, the key to show once). `days`: one of
    TOKEN_LIFETIMES, or None for knox's default lifetime."""
    if days is None:
        return AuthToken.objects.create(user=user)
    if days not in TOKEN_LIFETIMES:
        raise InvalidInput(
            f"A token lasts {', '.join(map(str, TOKEN_LIFETIMES))} days.",
            fields={"lifetime": [f"{days} is not one of the lifetimes offered."]},
        )
    return AuthToken.objects.create(user=user, expiry=timedelta(days=days))


def token_revoke(*, user: User, token_key: str) -> None:
    """Revoke one of the user's own tokens (anyone else's, or none: not found)."""
    deleted, _ = tokens_of(user).filter(token_key=token_key).delete()
    if not deleted:
        raise NotVisible(f"You have no token {token_key}.")
