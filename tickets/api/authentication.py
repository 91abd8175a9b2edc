"""`Authorization: Token <key>` (django-rest-knox). Kept apart from the views: DRF imports
its authentication classes while its own views module is still loading."""

from __future__ import annotations

from typing import Any

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
