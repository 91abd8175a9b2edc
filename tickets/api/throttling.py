"""Request rates per user (or per client address before login), counted in the cache
(Redis outside `make run`). Rates come from the environment through settings and are read
at request time, so a test can lower them with override_settings."""

from __future__ import annotations

from typing import Any

from rest_framework import throttling
from rest_framework.settings import api_settings

from changeprocess.guard import client_address


class _RateFromSettings:
    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(getattr(self, "scope", ""))
        return str(rate) if rate else None

    def get_ident(self, request: Any) -> str:
        # Never X-Forwarded-For as the client sent it: TRUSTED_PROXY_COUNT decides.
        return client_address(request)


class AnonThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    pass


class UserThrottle(_RateFromSettings, throttling.UserRateThrottle):
    pass


class LoginThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """Password attempts on the token endpoint, per client address."""

    scope = "login"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
