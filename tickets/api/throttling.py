"""Request rates per user (or per client address before login), counted in the cache
(Redis outside `make run`). Rates come from the environment through settings and are read
at request time, so a test can lower them with override_settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import throttling
from rest_framework.settings import api_settings


class _RateFromSettings:
    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(getattr(self, "scope", ""))
        return str(rate) if rate else None

    def get_ident(self, request: Any) -> str:
        """The client's address. Each trusted proxy (TRUSTED_PROXY_COUNT, as for the login
        lockout in production) appends the address it received the request from to
        X-Forwarded-For; entries left of those are whatever the client chose to send."""
        count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
        header = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if count and len(forwarded) >= count:
            return forwarded[-count]
        return str(request.META.get("REMOTE_ADDR", ""))


class AnonThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    pass


class UserThrottle(_RateFromSettings, throttling.UserRateThrottle):
    pass


class LoginThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """Password attempts on the token endpoint, per client address."""

    scope = "login"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
