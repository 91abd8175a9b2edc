"""`Authorization: Token <key>` (django-rest-knox). Kept apart from the views: DRF imports
its authentication classes while its own views module is still loading."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from knox import auth as knox_auth
from rest_framework import exceptions


class TokenAuthentication(knox_auth.TokenAuthentication):
    """`Authorization: Token <key>`. A header that is not a well-formed token is a 401, not
    an error deeper down."""

    def authenticate_credentials(self, token: bytes) -> Any:
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if not text or not text.isprintable() or len(text) > 200:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token: Any) -> bool:
        """Whether the token presented has expired (then it is deleted). knox also lists
        and deletes the user's other expired tokens here, a second query on every request;
        `tickets.tasks.purge_expired_tokens` deletes those on a schedule instead, and the
        API's token list leaves them out (`services.tokens.tokens_of(live=True)`)."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False
